//! Local listeners: `-L` (each connection becomes a `direct-tcpip` or
//! `direct-streamlocal@openssh.com` channel) and `-D` (SOCKS, then
//! `direct-tcpip`).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::future::{self, Either};
use futures::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use ssh_config::forward::Endpoint;
use ssh_wire::messages::{ChannelType, OpenFailureReason};

use super::socks::{self, Parser, Step};
use ssh_async::runtime::net::{TcpListener, TcpStream, ToSocketAddrs, UnixListener, UnixStream};
use ssh_async::splice;
use ssh_async::{Channel, Client, Error, runtime};

/// Local listening sockets of one `-L` or `-D` (TCP: one per address
/// bound; or one Unix socket).
#[derive(Debug)]
pub struct Listeners {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Tcp(Vec<TcpListener>),
    Unix(UnixListener, PathBuf),
}

/// One accepted connection.
enum Accepted {
    Tcp(TcpStream, SocketAddr),
    Unix(UnixStream),
}

/// The addresses to bind for a client-side listener, following
/// OpenSSH's `channel_fwd_bind_addr` for the client: no address means
/// loopback (all addresses with `gateway_ports`), `""` and `"*"` all
/// addresses, `"localhost"` loopback, anything else that address (or
/// what that name resolves to).
async fn bind_addrs(
    bind: Option<&str>,
    port: u16,
    gateway_ports: bool,
) -> io::Result<Vec<SocketAddr>> {
    let loopback = || {
        vec![
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port),
        ]
    };
    // IPv6 first: on Linux "::" also takes IPv4 unless bindv6only, and
    // then 0.0.0.0 on the same port fails (skipped); without IPv6,
    // 0.0.0.0 binds.
    let all = || {
        vec![
            SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port),
            SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
        ]
    };
    Ok(match bind {
        None if gateway_ports => all(),
        None | Some("localhost") => loopback(),
        Some("" | "*") => all(),
        Some(host) => {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            if let Ok(ip) = host.parse::<IpAddr>() {
                vec![SocketAddr::new(ip, port)]
            } else {
                let mut v: Vec<SocketAddr> = (host, port).to_socket_addrs().await?.collect();
                v.dedup();
                v
            }
        }
    })
}

impl Listeners {
    /// Binds `listen` with OpenSSH's rules: no bind address (or
    /// `"localhost"`) is loopback only, unless `gateway_ports` for the
    /// former; `""`/`"*"` all addresses; anything else that address. TCP
    /// binds every address it names (IPv4 and IPv6; with port 0 the later
    /// ones take the port the first got); failing addresses are skipped
    /// while one succeeds. Unix: the path, an error if it exists.
    pub async fn bind(listen: &Endpoint, gateway_ports: bool) -> io::Result<Listeners> {
        Self::bind_with(listen, gateway_ports, false).await
    }

    /// [`Listeners::bind`], and with `stream_local_bind_unlink`
    /// (`StreamLocalBindUnlink`) a socket file already at a Unix path is
    /// removed first (only a socket: another kind of file stays, and the
    /// bind fails).
    pub async fn bind_with(
        listen: &Endpoint,
        gateway_ports: bool,
        stream_local_bind_unlink: bool,
    ) -> io::Result<Listeners> {
        match listen {
            Endpoint::Unix(path) => {
                if stream_local_bind_unlink {
                    remove_socket_file(path);
                }
                let l = UnixListener::bind(path).await?;
                Ok(Listeners {
                    inner: Inner::Unix(l, path.clone()),
                })
            }
            Endpoint::Tcp { bind, port } => {
                let addrs = bind_addrs(bind.as_deref(), *port, gateway_ports).await?;
                let mut listeners: Vec<TcpListener> = Vec::new();
                let mut first_err = None;
                let mut chosen = *port;
                for mut a in addrs {
                    if a.port() == 0 {
                        a.set_port(chosen);
                    }
                    match bind_one(a).await {
                        Ok(l) => {
                            if chosen == 0 {
                                chosen = l.local_addr()?.port();
                            }
                            listeners.push(l);
                        }
                        Err(e) => {
                            tracing::debug!("bind {a}: {e}");
                            first_err.get_or_insert(e);
                        }
                    }
                }
                if listeners.is_empty() {
                    return Err(first_err.unwrap_or_else(|| {
                        io::Error::new(io::ErrorKind::AddrNotAvailable, "no address to bind")
                    }));
                }
                Ok(Listeners {
                    inner: Inner::Tcp(listeners),
                })
            }
        }
    }

    /// The TCP port listened on (the one chosen for port 0); `None` for a
    /// Unix socket.
    pub fn local_port(&self) -> Option<u16> {
        match &self.inner {
            Inner::Tcp(ls) => ls
                .iter()
                .find_map(|l| l.local_addr().ok())
                .map(|a| a.port()),
            Inner::Unix(..) => None,
        }
    }

    /// The TCP addresses listened on (empty for a Unix socket).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        match &self.inner {
            Inner::Tcp(ls) => ls.iter().filter_map(|l| l.local_addr().ok()).collect(),
            Inner::Unix(..) => Vec::new(),
        }
    }

    /// The Unix socket's path, if this is one.
    pub fn unix_path(&self) -> Option<&Path> {
        match &self.inner {
            Inner::Tcp(_) => None,
            Inner::Unix(_, p) => Some(p),
        }
    }

    /// Accepts connections on every listener, calling `f` for each, until
    /// `f`'s caller stops polling. Errors of `accept` (descriptor
    /// exhaustion, ...) are logged and retried after a pause.
    async fn accept_each<F>(&self, f: F)
    where
        F: Fn(Accepted) + Clone,
    {
        match &self.inner {
            Inner::Unix(l, _) => loop {
                match l.accept().await {
                    Ok((s, _)) => f(Accepted::Unix(s)),
                    Err(e) => accept_failed(&e).await,
                }
            },
            Inner::Tcp(ls) => {
                let loops = ls.iter().map(|l| {
                    let f = f.clone();
                    async move {
                        loop {
                            match l.accept().await {
                                Ok((s, peer)) => f(Accepted::Tcp(s, peer)),
                                Err(e) => accept_failed(&e).await,
                            }
                        }
                    }
                });
                future::join_all(loops).await;
            }
        }
    }
}

/// Removes `path` if it is a socket (`StreamLocalBindUnlink`).
fn remove_socket_file(path: &Path) {
    use std::os::unix::fs::FileTypeExt;
    let is_socket = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket());
    if is_socket && let Err(e) = std::fs::remove_file(path) {
        tracing::error!("unlink({}): {e}", path.display());
    }
}

async fn bind_one(a: SocketAddr) -> io::Result<TcpListener> {
    TcpListener::bind(a).await
}

async fn accept_failed(e: &io::Error) {
    tracing::error!("accept: {e}");
    runtime::sleep(core::time::Duration::from_millis(100)).await;
}

/// OpenSSH's reason texts (`channels.c`, `reason2txt`).
pub(crate) fn reason_text(r: OpenFailureReason) -> &'static str {
    match r {
        OpenFailureReason::ADMINISTRATIVELY_PROHIBITED => "administratively prohibited",
        OpenFailureReason::CONNECT_FAILED => "connect failed",
        OpenFailureReason::UNKNOWN_CHANNEL_TYPE => "unknown channel type",
        OpenFailureReason::RESOURCE_SHORTAGE => "resource shortage",
        _ => "unknown reason",
    }
}

/// Numbers forwarded connections for the log.
static CONNECTIONS: AtomicU64 = AtomicU64::new(0);

/// Opens `kind`; a refusal is logged as OpenSSH's `ssh` logs it.
async fn open_logged(client: &Client, kind: ChannelType) -> Result<Channel, Error> {
    let n = CONNECTIONS.fetch_add(1, Ordering::Relaxed);
    match client.open_channel(kind).await {
        Ok(ch) => Ok(ch),
        Err(Error::ChannelOpenFailed {
            reason,
            description,
        }) => {
            tracing::error!(
                "channel {n}: open failed: {}: {description}",
                reason_text(reason)
            );
            Err(Error::ChannelOpenFailed {
                reason,
                description,
            })
        }
        Err(e) => {
            tracing::error!("channel {n}: open failed: {e}");
            Err(e)
        }
    }
}

/// The originator fields of a connection: the peer's address and port,
/// "127.0.0.1"/0 for a Unix socket (as OpenSSH sends).
fn originator(a: &Accepted) -> (String, u32) {
    match a {
        Accepted::Tcp(_, peer) => (peer.ip().to_canonical().to_string(), peer.port().into()),
        Accepted::Unix(_) => ("127.0.0.1".into(), 0),
    }
}

/// Runs `fut` until it ends or the client's connection ends.
async fn until_closed<F: core::future::Future<Output = ()>>(client: &Client, fut: F) {
    let fut = core::pin::pin!(fut);
    let closed = core::pin::pin!(client.closed());
    match future::select(fut, closed).await {
        Either::Left(_) | Either::Right(_) => {}
    }
}

/// `-L`: each accepted connection opens `direct-tcpip` (originator = the
/// peer's address and port; "127.0.0.1"/0 for a Unix listener) or
/// `direct-streamlocal@openssh.com` (a Unix `target`) and is spliced with
/// the channel. Runs until the client's connection ends. A refused open
/// is logged as `channel N: open failed: <reason>: <description>` (as
/// OpenSSH's `ssh` does) and closes only that connection.
pub async fn serve_local(client: Client, listeners: Listeners, target: Endpoint) -> io::Result<()> {
    let target = Arc::new(target);
    let c2 = client.clone();
    let each = move |a: Accepted| {
        let client = c2.clone();
        let target = target.clone();
        drop(runtime::spawn(async move {
            let (orig_addr, orig_port) = originator(&a);
            let kind = match &*target {
                Endpoint::Tcp { bind, port } => ChannelType::DirectTcpip {
                    host: bind.clone().unwrap_or_else(|| "localhost".into()),
                    port: u32::from(*port),
                    originator_address: orig_addr,
                    originator_port: orig_port,
                },
                Endpoint::Unix(p) => ChannelType::DirectStreamlocal {
                    socket_path: p.to_string_lossy().into_owned(),
                },
            };
            let Ok(ch) = open_logged(&client, kind).await else {
                return; // the connection is dropped: closed
            };
            let res = match a {
                Accepted::Tcp(s, _) => splice(ch, s).await,
                Accepted::Unix(s) => splice(ch, s).await,
            };
            if let Err(e) = res {
                tracing::debug!("forwarded connection: {e}");
            }
        }));
    };
    until_closed(&client, listeners.accept_each(each)).await;
    Ok(())
}

/// `-D`: SOCKS4, SOCKS4a and SOCKS5 (no authentication, CONNECT; IPv4,
/// IPv6 and domain names, resolved by the server) on each accepted
/// connection, then `direct-tcpip` to the target, the SOCKS reply
/// (success, or failure when the server refused the open), and the
/// splice. Runs until the client's connection ends.
pub async fn serve_dynamic(client: Client, listeners: Listeners) -> io::Result<()> {
    let c2 = client.clone();
    let each = move |a: Accepted| {
        let client = c2.clone();
        drop(runtime::spawn(async move {
            let (orig_addr, orig_port) = originator(&a);
            let res = match a {
                Accepted::Tcp(s, _) => socks_to_channel(&client, s, orig_addr, orig_port).await,
                Accepted::Unix(s) => socks_to_channel(&client, s, orig_addr, orig_port).await,
            };
            if let Err(e) = res {
                tracing::debug!("dynamic forward: {e}");
            }
        }));
    };
    until_closed(&client, listeners.accept_each(each)).await;
    Ok(())
}

/// One SOCKS connection of `-D`.
async fn socks_to_channel<S>(
    client: &Client,
    mut s: S,
    originator_address: String,
    originator_port: u32,
) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (req, rest) = socks_handshake(&mut s).await?;
    let kind = ChannelType::DirectTcpip {
        host: req.host.clone(),
        port: u32::from(req.port),
        originator_address,
        originator_port,
    };
    let ch = match open_logged(client, kind).await {
        Ok(ch) => ch,
        Err(e) => {
            let code = match &e {
                Error::ChannelOpenFailed {
                    reason,
                    description,
                } => socks_code(*reason, description),
                _ => socks::rep::GENERAL_FAILURE,
            };
            s.write_all(&socks::failure_reply(req.version, code))
                .await?;
            s.close().await?;
            return Ok(());
        }
    };
    s.write_all(&socks::success_reply(req.version)).await?;
    if !rest.is_empty() {
        let mut w = ch.writer();
        w.write_all(&rest).await?;
    }
    splice(ch, s).await.map(drop)
}

/// A SOCKS5 reply code for a refused `direct-tcpip`.
fn socks_code(reason: OpenFailureReason, description: &str) -> u8 {
    match reason {
        OpenFailureReason::ADMINISTRATIVELY_PROHIBITED => socks::rep::NOT_ALLOWED,
        OpenFailureReason::CONNECT_FAILED => {
            let d = description.to_ascii_lowercase();
            if d.contains("refused") {
                socks::rep::CONNECTION_REFUSED
            } else if d.contains("network") {
                socks::rep::NETWORK_UNREACHABLE
            } else {
                socks::rep::HOST_UNREACHABLE
            }
        }
        _ => socks::rep::GENERAL_FAILURE,
    }
}

/// Runs the SOCKS negotiation on `s` up to the request: its target and
/// the bytes the client sent after it. Refusals are answered (when the
/// dialect has an answer) and returned as errors.
pub(crate) async fn socks_handshake<S>(s: &mut S) -> io::Result<(socks::Request, Vec<u8>)>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut parser = Parser::new();
    let mut buf = [0u8; 512];
    loop {
        match parser.step() {
            Ok(Step::NeedMore) => {
                let n = s.read(&mut buf).await?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the SOCKS client closed before its request",
                    ));
                }
                parser.feed(buf.get(..n).unwrap_or_default());
            }
            Ok(Step::Reply(r)) => s.write_all(&r).await?,
            Ok(Step::Request(req)) => return Ok((req, parser.into_rest())),
            Err(e) => {
                if let Some(r) = &e.reply {
                    s.write_all(r).await?;
                }
                let _ = s.close().await;
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
        }
    }
}
