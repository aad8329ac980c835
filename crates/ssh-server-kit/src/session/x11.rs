//! X11 forwarding in a session (RFC 4254 §6.3), as sshd does it: an
//! `x11-req` makes the server listen for a display (TCP 6000+N from
//! `X11DisplayOffset` upward, and the Unix socket `/tmp/.X11-unix/XN`
//! when it can be made), the program gets `DISPLAY`, the client's cookie
//! is added to the user's authority file with `xauth`, and every X client
//! connection becomes an `x11` channel to the client.

use std::ffi::OsString;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use futures::future::AbortHandle;
use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures::stream::{BoxStream, StreamExt};
use ssh_wire::messages::ChannelType;

use ssh_async::runtime::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use ssh_async::{ServerConnection, runtime};
use ssh_os::process::{self, ExitStatus, SpawnOptions};
use ssh_os::sockets::Sockets;
use ssh_os::user::User;

/// The only X11 authentication protocol accepted.
pub(crate) const MIT_MAGIC_COOKIE: &str = "MIT-MAGIC-COOKIE-1";

/// Longest cookie accepted, in hexadecimal digits (an MIT-MAGIC-COOKIE-1
/// is 16 bytes: 32 digits).
const MAX_COOKIE_HEX: usize = 256;

/// How many display numbers are tried from the offset up (OpenSSH's
/// `MAX_DISPLAYS`).
const MAX_DISPLAYS: u32 = 1000;

/// How long `xauth` may take before the program starts without it.
const XAUTH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Where X servers put their Unix sockets.
const X11_UNIX_DIR: &str = "/tmp/.X11-unix";

/// What the client asked for in its `x11-req`.
#[derive(Debug, Clone)]
pub(crate) struct X11Request {
    pub(crate) single_connection: bool,
    pub(crate) auth_protocol: String,
    pub(crate) auth_cookie: String,
    pub(crate) screen: u32,
}

/// Checks the authentication part of an `x11-req`: the protocol must be
/// MIT-MAGIC-COOKIE-1 and the cookie an even number of hexadecimal digits
/// (at most [`MAX_COOKIE_HEX`]). These strings go into `xauth`'s input:
/// nothing else may pass.
pub(crate) fn check_auth(protocol: &str, cookie: &str) -> Result<(), String> {
    if protocol != MIT_MAGIC_COOKIE {
        return Err(format!(
            "authentication protocol {:?} is not {MIT_MAGIC_COOKIE}",
            protocol.escape_debug().to_string()
        ));
    }
    if cookie.is_empty() || cookie.len() > MAX_COOKIE_HEX || !cookie.len().is_multiple_of(2) {
        return Err(format!(
            "cookie of {} characters (an even number from 2 to {MAX_COOKIE_HEX} expected)",
            cookie.len()
        ));
    }
    if !cookie.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("cookie is not hexadecimal".to_owned());
    }
    Ok(())
}

/// The `xauth` input that replaces the entry of `auth_display` with the
/// cookie, as sshd writes it.
pub(crate) fn xauth_input(auth_display: &str, protocol: &str, cookie: &str) -> String {
    format!("remove {auth_display}\nadd {auth_display} {protocol} {cookie}\n")
}

/// `DISPLAY` for the program and the display name given to `xauth`:
/// `localhost:N.S` and `unix:N.S` with `X11UseLocalhost` (xauth files the
/// entry under this host's name, which is what an X client connecting to
/// `localhost:N` by TCP looks up), `<hostname>:N.S` for both otherwise.
pub(crate) fn display_names(
    use_localhost: bool,
    hostname: &str,
    number: u32,
    screen: u32,
) -> (String, String) {
    if use_localhost {
        (
            format!("localhost:{number}.{screen}"),
            format!("unix:{number}.{screen}"),
        )
    } else {
        let d = format!("{hostname}:{number}.{screen}");
        (d.clone(), d)
    }
}

/// This host's name, as `gethostname` gives it.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// A display forwarded for one session. [`X11Display::close`] stops
/// listening and removes the Unix socket.
#[derive(Debug)]
pub(crate) struct X11Display {
    /// The number N of `:N`.
    pub(crate) number: u32,
    /// `DISPLAY` for the session's programs.
    pub(crate) display: String,
    /// The display name the cookie is filed under.
    auth_display: String,
    protocol: String,
    cookie: String,
    unix_socket: Option<PathBuf>,
    abort: AbortHandle,
    sockets: Sockets,
}

/// One accepted X client connection.
enum Accepted {
    Tcp(TcpStream, SocketAddr),
    Unix(UnixStream),
}

/// Finds a free display from `offset` up, listens on it and starts
/// accepting X client connections, each of which opens an `x11` channel
/// on `conn`. The error says why not.
pub(crate) async fn start(
    req: &X11Request,
    offset: u32,
    use_localhost: bool,
    xauth_location: &Path,
    sockets: &Sockets,
    conn: &ServerConnection,
) -> Result<X11Display, String> {
    check_auth(&req.auth_protocol, &req.auth_cookie)?;
    if std::fs::metadata(xauth_location).is_err() {
        return Err(format!(
            "no xauth program ({} is missing): cannot forward X11",
            xauth_location.display()
        ));
    }
    let (number, tcp) = bind_display(sockets, offset, use_localhost)
        .await
        .map_err(|e| format!("cannot listen for an X11 display: {e}"))?;
    let unix_socket = Path::new(X11_UNIX_DIR).join(format!("X{number}"));
    let unix = match listen_unix(sockets, &unix_socket).await {
        Ok(l) => Some(l),
        Err(e) => {
            tracing::debug!(
                "X11 display {number}: no Unix socket {}: {e}",
                unix_socket.display()
            );
            None
        }
    };
    let unix_socket = unix.as_ref().map(|_| unix_socket);
    let (display, auth_display) = display_names(use_localhost, &hostname(), number, req.screen);

    let mut incoming: Vec<BoxStream<'static, io::Result<Accepted>>> = Vec::new();
    for l in tcp {
        incoming.push(tcp_incoming(l));
    }
    if let Some(l) = unix {
        incoming.push(unix_incoming(l));
    }
    let (task, abort) = futures::future::abortable(serve(
        futures::stream::select_all(incoming),
        conn.clone(),
        req.single_connection,
        number,
    ));
    drop(runtime::spawn(task));
    Ok(X11Display {
        number,
        display,
        auth_display,
        protocol: req.auth_protocol.clone(),
        cookie: req.auth_cookie.clone(),
        unix_socket,
        abort,
        sockets: sockets.clone(),
    })
}

/// The first display number from `offset` whose TCP port 6000+N can be
/// bound on every address family (a port taken on one family skips the
/// number, so that no X client reaches someone else's server) and that
/// no local X server uses.
async fn bind_display(
    sockets: &Sockets,
    offset: u32,
    use_localhost: bool,
) -> io::Result<(u32, Vec<TcpListener>)> {
    let addrs: [&str; 2] = if use_localhost {
        ["127.0.0.1", "::1"]
    } else {
        ["0.0.0.0", "::"]
    };
    for number in offset..offset.saturating_add(MAX_DISPLAYS) {
        let Some(port) = number.checked_add(6000).and_then(|p| u16::try_from(p).ok()) else {
            break;
        };
        if local_server_has(number) {
            continue;
        }
        let mut bound = Vec::new();
        let mut in_use = false;
        let mut last = None;
        for addr in addrs {
            match sockets.listen_tcp(Some(addr), port).await {
                Ok(ls) => bound.extend(ls),
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                    in_use = true;
                    break;
                }
                // A family this host does not have.
                Err(e) => last = Some(e),
            }
        }
        if in_use {
            continue;
        }
        if bound.is_empty() {
            return Err(last.unwrap_or_else(|| io::Error::other("no address to listen on")));
        }
        return Ok((number, bound));
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        format!(
            "no free display from {offset} to {}",
            offset.saturating_add(MAX_DISPLAYS - 1)
        ),
    ))
}

/// Whether a local X server has display `number` (its lock file or its
/// Unix socket exists).
fn local_server_has(number: u32) -> bool {
    let lock = PathBuf::from(format!("/tmp/.X{number}-lock"));
    let socket = Path::new(X11_UNIX_DIR).join(format!("X{number}"));
    std::fs::symlink_metadata(lock).is_ok() || std::fs::symlink_metadata(socket).is_ok()
}

/// Listens on `/tmp/.X11-unix/XN`. The directory is made (root's, mode
/// 1777, as X servers make it) when we are root and it is missing. A
/// directory that is not root's sticky one is not used: its owner could
/// put a socket of its own in the place of ours and collect the cookies
/// of the user's X clients.
async fn listen_unix(sockets: &Sockets, path: &Path) -> io::Result<UnixListener> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    let dir = Path::new(X11_UNIX_DIR);
    if std::fs::symlink_metadata(dir).is_err() && ssh_os::user::is_root() {
        std::fs::DirBuilder::new().mode(0o1777).create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o1777))?;
    }
    let meta = std::fs::symlink_metadata(dir)?;
    if !meta.is_dir() || meta.uid() != 0 || meta.mode() & 0o1000 == 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{X11_UNIX_DIR} is not root's sticky directory"),
        ));
    }
    sockets.listen_unix(path).await
}

fn tcp_incoming(l: TcpListener) -> BoxStream<'static, io::Result<Accepted>> {
    futures::stream::unfold(l, |l| async move {
        let r = l.accept().await.map(|(s, a)| Accepted::Tcp(s, a));
        Some((r, l))
    })
    .boxed()
}

fn unix_incoming(l: UnixListener) -> BoxStream<'static, io::Result<Accepted>> {
    futures::stream::unfold(l, |l| async move {
        let r = l.accept().await.map(|(s, _)| Accepted::Unix(s));
        Some((r, l))
    })
    .boxed()
}

/// Accepts X client connections until aborted, until the connection
/// ended (a program that outlives it keeps no listener open), or after
/// the first with `single_connection`; each is spliced with a new `x11`
/// channel.
async fn serve(
    incoming: futures::stream::SelectAll<BoxStream<'static, io::Result<Accepted>>>,
    conn: ServerConnection,
    single_connection: bool,
    number: u32,
) {
    use futures::FutureExt;
    let ended = conn.clone();
    futures::select! {
        () = accept_all(incoming, conn, single_connection, number).fuse() => {}
        _ = ended.closed().fuse() => {}
    }
}

async fn accept_all(
    mut incoming: futures::stream::SelectAll<BoxStream<'static, io::Result<Accepted>>>,
    conn: ServerConnection,
    single_connection: bool,
    number: u32,
) {
    while let Some(accepted) = incoming.next().await {
        let accepted = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of descriptors and the like: wait instead of spinning.
                tracing::debug!("X11 display {number}: accept: {e}");
                runtime::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let conn = conn.clone();
        drop(runtime::spawn(async move {
            match accepted {
                Accepted::Tcp(s, peer) => {
                    let ip = peer.ip().to_canonical();
                    forward(&conn, s, ip.to_string(), u32::from(peer.port()), number).await;
                }
                Accepted::Unix(s) => {
                    forward(&conn, s, "127.0.0.1".to_owned(), 0, number).await;
                }
            }
        }));
        if single_connection {
            // RFC 4254 §6.3.1: "only a single connection should be
            // forwarded".
            break;
        }
    }
}

async fn forward<S>(
    conn: &ServerConnection,
    stream: S,
    originator_address: String,
    originator_port: u32,
    number: u32,
) where
    S: futures::io::AsyncRead + futures::io::AsyncWrite + Unpin + Send + 'static,
{
    let kind = ChannelType::X11 {
        originator_address,
        originator_port,
    };
    match conn.open_channel(kind).await {
        Ok(ch) => {
            if let Err(e) = ssh_async::splice(ch, stream).await {
                tracing::debug!("X11 display {number}: {e}");
            }
        }
        Err(e) => tracing::info!("X11 display {number}: the client refused the channel: {e}"),
    }
}

impl X11Display {
    /// Files the cookie under the display for the user with
    /// `xauth -q -` (run as `user` when given, with `env`, in `cwd`).
    pub(crate) async fn run_xauth(
        &self,
        xauth_location: &Path,
        user: Option<User>,
        env: Vec<(OsString, OsString)>,
        cwd: PathBuf,
    ) -> io::Result<()> {
        let input = xauth_input(&self.auth_display, &self.protocol, &self.cookie);
        run_xauth(xauth_location, user, env, cwd, &input).await
    }

    /// Stops listening and removes the Unix socket.
    pub(crate) async fn close(self) {
        self.abort.abort();
        if let Some(path) = &self.unix_socket
            && let Err(e) = self.sockets.remove_path(path).await
        {
            tracing::debug!(
                "X11 display {}: removing {}: {e}",
                self.number,
                path.display()
            );
        }
    }
}

async fn run_xauth(
    xauth_location: &Path,
    user: Option<User>,
    env: Vec<(OsString, OsString)>,
    cwd: PathBuf,
    input: &str,
) -> io::Result<()> {
    let mut opts = SpawnOptions::new(xauth_location);
    opts.args = vec!["-q".into(), "-".into()];
    opts.env = env;
    opts.cwd = cwd;
    opts.user = user;
    let mut child = process::spawn(opts)?;
    let wait = child.wait();
    let mut output = Vec::new();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let collect = async {
        let mut out = Vec::new();
        if let Some(mut s) = stdout {
            let _ = s.read_to_end(&mut out).await;
        }
        if let Some(mut s) = stderr {
            let _ = s.read_to_end(&mut out).await;
        }
        out
    };
    let feed = async {
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(input.as_bytes()).await?;
            stdin.close().await?;
        }
        Ok::<(), io::Error>(())
    };
    let run = async {
        let (fed, out) = futures::join!(feed, collect);
        (fed, out, wait.await)
    };
    let Some((fed, out, status)) = runtime::timeout(XAUTH_TIMEOUT, run).await else {
        let _ = child.signal(ssh_os::signal::Signal::KILL);
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "{} did not finish within {} s",
                xauth_location.display(),
                XAUTH_TIMEOUT.as_secs()
            ),
        ));
    };
    output.extend(out);
    let status = status?;
    fed?;
    if status != ExitStatus::Code(0) {
        let text = String::from_utf8_lossy(&output);
        return Err(io::Error::other(format!(
            "{} exited with {status:?}: {}",
            xauth_location.display(),
            text.trim()
        )));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn only_mit_magic_cookies_in_hex_pass() {
        assert!(check_auth("MIT-MAGIC-COOKIE-1", "00112233445566778899aabbccddeeff").is_ok());
        assert!(check_auth("MIT-MAGIC-COOKIE-1", "AB").is_ok());
        assert!(check_auth("XDM-AUTHORIZATION-1", "00112233").is_err());
        assert!(check_auth("mit-magic-cookie-1", "00112233").is_err());
        assert!(check_auth("MIT-MAGIC-COOKIE-1", "").is_err());
        assert!(check_auth("MIT-MAGIC-COOKIE-1", "abc").is_err());
        assert!(check_auth("MIT-MAGIC-COOKIE-1", "0g").is_err());
        // Would add a second xauth command.
        assert!(check_auth("MIT-MAGIC-COOKIE-1", "00\nremove :0\n").is_err());
        assert!(check_auth("MIT-MAGIC-COOKIE-1", "00 11").is_err());
        assert!(check_auth("MIT-MAGIC-COOKIE-1", &"a".repeat(MAX_COOKIE_HEX)).is_ok());
        assert!(check_auth("MIT-MAGIC-COOKIE-1", &"a".repeat(MAX_COOKIE_HEX + 2)).is_err());
    }

    #[test]
    fn display_names_follow_x11_use_localhost() {
        assert_eq!(
            display_names(true, "box", 10, 0),
            ("localhost:10.0".to_owned(), "unix:10.0".to_owned())
        );
        assert_eq!(
            display_names(false, "box", 12, 1),
            ("box:12.1".to_owned(), "box:12.1".to_owned())
        );
    }

    #[test]
    fn xauth_input_replaces_the_entry() {
        assert_eq!(
            xauth_input("unix:10.0", MIT_MAGIC_COOKIE, "0a1b"),
            "remove unix:10.0\nadd unix:10.0 MIT-MAGIC-COOKIE-1 0a1b\n"
        );
    }
}
