//! What the forwarding rows use on this machine: loopback echo and HTTP
//! servers (TCP or Unix socket) that the far end of a forward reaches, the
//! near end's connections with their SHA-256 checks, and a client running
//! in the background while the row drives traffic through it.
//!
//! Peers share this machine's network namespace, so a loopback port here
//! is the same port inside the peer; a Unix socket in the case directory
//! is seen here at [`Setup::host`] and inside the peer at [`Setup::peer`].

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::bail;
use crate::binary_setup::{Setup, sha256_hex, tail};
use crate::interop::Ctx;
use crate::util::{Context, Result};

/// How long a forward may take to appear (a listener, a socket).
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a connection through a forward may go without moving a byte.
const STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A connection to or from a forward: TCP or a Unix socket.
#[derive(Debug)]
pub(crate) enum Conn {
    /// TCP.
    Tcp(TcpStream),
    /// A Unix stream socket.
    Unix(UnixStream),
}

impl Conn {
    fn try_clone(&self) -> io::Result<Self> {
        Ok(match self {
            Self::Tcp(s) => Self::Tcp(s.try_clone()?),
            Self::Unix(s) => Self::Unix(s.try_clone()?),
        })
    }

    fn shutdown_write(&self) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.shutdown(Shutdown::Write),
            Self::Unix(s) => s.shutdown(Shutdown::Write),
        }
    }

    fn set_timeout(&self, t: Duration) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s
                .set_read_timeout(Some(t))
                .and_then(|()| s.set_write_timeout(Some(t))),
            Self::Unix(s) => s
                .set_read_timeout(Some(t))
                .and_then(|()| s.set_write_timeout(Some(t))),
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.read(buf),
            Self::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.write(buf),
            Self::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Where a forward's entry or target is.
#[derive(Clone, Debug)]
pub(crate) enum Addr {
    /// `127.0.0.1:port`.
    Tcp(u16),
    /// A Unix socket, as seen from here.
    Unix(PathBuf),
}

impl Addr {
    /// One connection attempt.
    pub(crate) fn connect(&self) -> io::Result<Conn> {
        match self {
            Self::Tcp(port) => TcpStream::connect(("127.0.0.1", *port)).map(Conn::Tcp),
            Self::Unix(path) => UnixStream::connect(path).map(Conn::Unix),
        }
    }
}

/// A loopback server here, each connection served by `serve` in its own
/// thread; stopped on drop.
pub(crate) struct Server {
    stop: Arc<AtomicBool>,
    /// Where it listens.
    pub(crate) addr: Addr,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Addr::Unix(path) = &self.addr {
            let _ = std::fs::remove_file(path);
        }
    }
}

enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

impl Listener {
    fn accept(&self) -> io::Result<Conn> {
        match self {
            Self::Tcp(l) => l.accept().map(|(s, _)| Conn::Tcp(s)),
            Self::Unix(l) => l.accept().map(|(s, _)| Conn::Unix(s)),
        }
    }
}

fn serve_with(listener: Listener, addr: Addr, serve: fn(Conn)) -> Result<Server> {
    match &listener {
        Listener::Tcp(l) => l.set_nonblocking(true),
        Listener::Unix(l) => l.set_nonblocking(true),
    }
    .context("a non-blocking listener")?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    thread::spawn(move || {
        while !flag.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok(conn) => {
                    let blocking = match &conn {
                        Conn::Tcp(s) => s.set_nonblocking(false),
                        Conn::Unix(s) => s.set_nonblocking(false),
                    };
                    if blocking.is_ok() {
                        thread::spawn(move || serve(conn));
                    }
                }
                Err(_) => thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    Ok(Server { stop, addr })
}

/// Echoes everything back; after the peer's EOF, closes its own side.
fn echo(mut conn: Conn) {
    let _ = conn.set_timeout(Duration::from_secs(120));
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if conn.write_all(buf.get(..n).unwrap_or_default()).is_err() {
                    return;
                }
            }
        }
    }
    let _ = conn.shutdown_write();
}

/// An echo server on a loopback TCP port.
pub(crate) fn echo_tcp() -> Result<Server> {
    let l = TcpListener::bind(("127.0.0.1", 0)).context("binding 127.0.0.1:0")?;
    let port = l.local_addr().context("local address")?.port();
    serve_with(Listener::Tcp(l), Addr::Tcp(port), echo)
}

/// An echo server on a Unix socket at `path` (here), which anyone may
/// connect to (the server's session runs as the test account).
pub(crate) fn echo_unix(path: &Path) -> Result<Server> {
    let _ = std::fs::remove_file(path);
    let l = UnixListener::bind(path).context(format_args!("binding {}", path.display()))?;
    crate::binary_setup::set_mode(path, 0o777)?;
    serve_with(Listener::Unix(l), Addr::Unix(path.to_owned()), echo)
}

/// The body the HTTP server sends for any path: 1 MiB.
pub(crate) fn http_body() -> &'static [u8] {
    crate::binary_setup::big_data()
        .get(..1024 * 1024)
        .unwrap_or_default()
}

/// Answers one HTTP/1.x request with [`http_body`], then closes.
fn http(conn: Conn) {
    let _ = conn.set_timeout(Duration::from_secs(30));
    let Ok(mut writer) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" || line == "\n" => break,
            Ok(_) => {}
        }
    }
    let body = http_body();
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = writer.write_all(head.as_bytes());
    let _ = writer.write_all(body);
    let _ = writer.shutdown_write();
}

/// A tiny HTTP server on a loopback TCP port: every GET gets
/// [`http_body`].
pub(crate) fn http_tcp() -> Result<Server> {
    let l = TcpListener::bind(("127.0.0.1", 0)).context("binding 127.0.0.1:0")?;
    let port = l.local_addr().context("local address")?.port();
    serve_with(Listener::Tcp(l), Addr::Tcp(port), http)
}

/// Sends `data` through `conn` (then EOF) while reading what comes back,
/// and compares by length and SHA-256.
pub(crate) fn echo_through(what: &str, conn: Conn, data: &'static [u8]) -> Result<()> {
    conn.set_timeout(STALL_TIMEOUT).context("socket timeouts")?;
    let mut writer = conn.try_clone().context("cloning a socket")?;
    let sender = thread::spawn(move || -> io::Result<()> {
        writer.write_all(data)?;
        writer.shutdown_write()
    });
    let mut conn = conn;
    let mut got = Vec::with_capacity(data.len());
    let read = conn.read_to_end(&mut got);
    let sent = sender
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the sender panicked")));
    if let Err(e) = sent {
        bail!(
            "{what}: sending failed after {} bytes came back: {e}",
            got.len()
        );
    }
    if let Err(e) = read {
        bail!("{what}: reading failed after {} bytes: {e}", got.len());
    }
    if got.len() != data.len() || sha256_hex(&got) != sha256_hex(data) {
        bail!(
            "{what}: sent {} bytes (SHA-256 {}), got back {} bytes (SHA-256 {})",
            data.len(),
            sha256_hex(data),
            got.len(),
            sha256_hex(&got)
        );
    }
    Ok(())
}

/// A free loopback TCP port (bound then released).
pub(crate) fn free_port() -> Result<u16> {
    let l = TcpListener::bind(("127.0.0.1", 0)).context("binding 127.0.0.1:0")?;
    Ok(l.local_addr().context("local address")?.port())
}

/// A client running in the background; its output is collected as it
/// comes. Killed on drop.
pub(crate) struct Bg {
    child: Child,
    label: String,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<thread::JoinHandle<()>>,
}

fn collect(
    mut pipe: impl Read + Send + 'static,
    into: Arc<Mutex<Vec<u8>>>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => into
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend_from_slice(buf.get(..n).unwrap_or_default()),
            }
        }
    })
}

impl Bg {
    /// Starts `cmd` with stdin from /dev/null.
    pub(crate) fn spawn(mut cmd: Command, label: String) -> Result<Self> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().context(format_args!("cannot run {label}"))?;
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        if let Some(p) = child.stdout.take() {
            readers.push(collect(p, stdout.clone()));
        }
        if let Some(p) = child.stderr.take() {
            readers.push(collect(p, stderr.clone()));
        }
        Ok(Self {
            child,
            label,
            stdout,
            stderr,
            readers,
        })
    }

    /// Its stderr so far.
    pub(crate) fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap_or_else(PoisonError::into_inner))
            .into_owned()
    }

    /// `r`, with the client's stderr added to an error (a failure while
    /// the client still runs says what it printed).
    pub(crate) fn explain<T>(&self, r: Result<T>) -> Result<T> {
        r.map_err(|e| {
            crate::util::Error(format!(
                "{}; the client's stderr so far:\n{}",
                e.0,
                tail(self.stderr().as_bytes())
            ))
        })
    }

    /// Fails if the client has exited (it should be serving forwards).
    fn check_running(&mut self, waiting_for: &str) -> Result<()> {
        if let Ok(Some(status)) = self.child.try_wait() {
            thread::sleep(Duration::from_millis(100));
            bail!(
                "the client exited ({status}) while waiting for {waiting_for}; its stderr:\n{}",
                tail(self.stderr().as_bytes())
            );
        }
        Ok(())
    }

    /// Connects to `addr` as soon as it accepts (the forward is up).
    pub(crate) fn connect_when_ready(&mut self, addr: &Addr) -> Result<Conn> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match addr.connect() {
                Ok(c) => return Ok(c),
                Err(e) => {
                    self.check_running(&format!("{addr:?}"))?;
                    if Instant::now() > deadline {
                        bail!(
                            "{addr:?} did not accept within {} s ({e}); the client's stderr:\n{}",
                            READY_TIMEOUT.as_secs(),
                            tail(self.stderr().as_bytes())
                        );
                    }
                    thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }

    /// Waits for a stderr line containing `needle`; returns the line.
    pub(crate) fn wait_stderr_line(&mut self, needle: &str) -> Result<String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(line) = self.stderr().lines().find(|l| l.contains(needle)) {
                return Ok(line.to_owned());
            }
            self.check_running(&format!("{needle:?} on stderr"))?;
            if Instant::now() > deadline {
                bail!(
                    "no {needle:?} on the client's stderr within {} s:\n{}",
                    READY_TIMEOUT.as_secs(),
                    tail(self.stderr().as_bytes())
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the client to exit (killed after `timeout`); its output is
    /// recorded for the failure report.
    pub(crate) fn finish(mut self, ctx: &mut Ctx<'_>, timeout: Duration) -> Result<Output> {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().context("waiting")? {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let err = self.stderr();
                ctx.record(format!("{} (killed)", self.label), err.as_bytes());
                bail!(
                    "the client did not exit within {} s after the row's traffic; its stderr:\n{}",
                    timeout.as_secs(),
                    tail(err.as_bytes())
                );
            }
            thread::sleep(Duration::from_millis(20));
        };
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        let stdout = self
            .stdout
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let stderr = self
            .stderr
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        ctx.record(format!("{} (exit {status})", self.label), &stderr);
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A remote command that keeps the session open until the file `go`
/// (a path inside the peer) exists (at most two minutes), then prints
/// `session-ok`: the row drives its traffic meanwhile, then lets the
/// session end by itself.
pub(crate) fn wait_for_go(setup: &Setup) -> String {
    let go = setup.peer("go");
    format!(
        "i=0; while [ ! -e {go} ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done; echo session-ok"
    )
}

/// Lets a [`wait_for_go`] session end.
pub(crate) fn go(setup: &Setup) -> Result<()> {
    std::fs::write(setup.host("go"), "").context("writing the go file")
}

/// Whether a client's stderr says that something was refused or failed.
pub(crate) fn says_refused(stderr: &str) -> bool {
    let s = stderr.to_ascii_lowercase();
    ["fail", "refus", "denied", "prohibit"]
        .iter()
        .any(|w| s.contains(w))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn echo_server_returns_everything() {
        let server = echo_tcp().unwrap();
        let conn = server.addr.connect().unwrap();
        let data = crate::binary_setup::big_data().get(..3_000_000).unwrap();
        echo_through("echo", conn, data).unwrap();
    }

    #[test]
    fn http_server_serves_the_body() {
        let server = http_tcp().unwrap();
        let mut conn = server.addr.connect().unwrap();
        conn.write_all(b"GET /x HTTP/1.0\r\nHost: a\r\n\r\n")
            .unwrap();
        let mut got = Vec::new();
        conn.read_to_end(&mut got).unwrap();
        let at = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"));
        assert_eq!(got.get(at + 4..).unwrap(), http_body());
    }

    #[test]
    fn refusals_are_recognised() {
        assert!(says_refused(
            "channel 2: open failed: administratively prohibited: open failed"
        ));
        assert!(says_refused(
            "Warning: remote port forwarding failed for listen port 7"
        ));
        assert!(!says_refused("Allocated port 4 for remote forward"));
    }
}
