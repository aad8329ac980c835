//! `ssh_async::forward` against an in-process server whose test code
//! answers `direct-tcpip`/`direct-streamlocal@openssh.com` by connecting
//! to local echo and sink servers (spliced with `forward::splice`).

#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::Shutdown;
use std::path::PathBuf;
use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use ssh_async::forward::Dispatcher;
use ssh_async::forward::x11::X11Forwarding;
use ssh_async::forward::{self, Listeners};
use ssh_async::runtime::{
    self,
    net::{TcpListener, TcpStream, UnixListener, UnixStream},
};
use ssh_async::ssh_keys::PrivateKey;
use ssh_async::{
    Client, ClientOptions, Error, GlobalReply, IncomingChannel, Server, ServerConnection,
    ServerHandler, ServerOptions, SimpleHandler,
};
use ssh_config::forward::Endpoint;
use ssh_wire::messages::{ChannelRequestKind, ChannelType, GlobalRequestKind, OpenFailureReason};

const LIMIT: Duration = Duration::from_secs(60);

struct Anyone;
impl ServerHandler for Anyone {
    async fn password(&mut self, _user: &str, password: &str) -> bool {
        password == "pw"
    }
}

fn block<F: std::future::Future<Output = ()>>(f: F) {
    runtime::block_on(async { runtime::timeout(LIMIT, f).await.expect("timed out") });
}

/// A fresh directory under the system's temp dir.
fn temp_dir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!(
        "ssh-async-fwd-{}-{tag}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The server's answer to the client's channel opens: connect the target
/// and splice; "refused.invalid" is refused with
/// ADMINISTRATIVELY_PROHIBITED, unreachable targets with CONNECT_FAILED.
async fn serve_open(incoming: IncomingChannel) {
    let target = match &incoming.channel_type {
        ChannelType::DirectTcpip { host, port, .. } => {
            if host == "refused.invalid" {
                let _ = incoming.reject(
                    OpenFailureReason::ADMINISTRATIVELY_PROHIBITED,
                    "open refused by the test",
                );
                return;
            }
            match TcpStream::connect((host.as_str(), *port as u16)).await {
                Ok(s) => Ok(s),
                Err(e) => Err(e),
            }
            .map(Target::Tcp)
        }
        ChannelType::DirectStreamlocal { socket_path } => {
            UnixStream::connect(socket_path).await.map(Target::Unix)
        }
        _ => {
            let _ = incoming.reject(OpenFailureReason::UNKNOWN_CHANNEL_TYPE, "no");
            return;
        }
    };
    match target {
        Ok(t) => {
            let ch = incoming.accept().unwrap();
            let _ = match t {
                Target::Tcp(s) => forward::splice(ch, s).await,
                Target::Unix(s) => forward::splice(ch, s).await,
            };
        }
        Err(e) => {
            let _ = incoming.reject(OpenFailureReason::CONNECT_FAILED, &e.to_string());
        }
    }
}

enum Target {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// The port the test server "binds" for `tcpip-forward` of port 0.
const ALLOCATED: u32 = 40_123;

/// The test server's answers to global requests: forwards of
/// "refused.invalid" or "/refused" are refused, port 0 gets
/// [`ALLOCATED`], everything else succeeds (nothing listens: the test
/// opens the forwarded channels itself).
async fn answer_global_requests(conn: ServerConnection) {
    while let Some(req) = conn.next_global_request().await {
        let reply = match &req.request {
            GlobalRequestKind::TcpipForward { address, .. } if address == "refused.invalid" => None,
            GlobalRequestKind::StreamlocalForward { socket_path } if socket_path == "/refused" => {
                None
            }
            GlobalRequestKind::TcpipForward { port: 0, .. } => {
                Some(GlobalReply::BoundPort(ALLOCATED))
            }
            _ => Some(GlobalReply::Success),
        };
        let _ = match reply {
            Some(r) => req.accept(r),
            None => req.reject(),
        };
    }
}

/// Starts a server that answers opens with [`serve_open`]; returns the
/// client and the server connection.
async fn start() -> (Client, ServerConnection) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = futures::channel::oneshot::channel();
    drop(runtime::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let key = PrivateKey::from_ed25519_seed(&[5; 32]);
        let mut opts = ServerOptions::new(vec![Box::new(key)]);
        opts.global_requests = true;
        let conn = Server::accept(stream, opts, &mut Anyone).await.unwrap();
        let _ = tx.send(conn.clone());
        drop(runtime::spawn(answer_global_requests(conn.clone())));
        while let Some(incoming) = conn.next_channel().await {
            drop(runtime::spawn(serve_open(incoming)));
        }
    }));
    let stream = TcpStream::connect(addr).await.unwrap();
    let mut handler = SimpleHandler {
        host_key_check: Box::new(|_| true),
        keys: Vec::new(),
        password: Some("pw".into()),
    };
    let options = ClientOptions::new("me", handler.methods());
    let client = Client::connect(stream, options, &mut handler)
        .await
        .unwrap();
    (client, rx.await.unwrap())
}

/// An echo server on loopback: each connection's bytes come back, and its
/// EOF is answered with EOF.
async fn echo_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    drop(runtime::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            drop(runtime::spawn(async move {
                let mut w = s.clone();
                let _ = futures::io::copy(s.clone(), &mut w).await;
                let _ = s.shutdown(Shutdown::Write);
            }));
        }
    }));
    port
}

/// A server that reads to EOF, then answers "got N" and closes.
async fn count_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    drop(runtime::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            drop(runtime::spawn(async move {
                let mut buf = Vec::new();
                s.read_to_end(&mut buf).await.unwrap();
                s.write_all(format!("got {}", buf.len()).as_bytes())
                    .await
                    .unwrap();
            }));
        }
    }));
    port
}

fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// Writes `data` to `w` and closes it while reading everything from `r`.
async fn send_and_collect<R, W>(mut r: R, mut w: W, data: &[u8]) -> Vec<u8>
where
    R: futures::io::AsyncRead + Unpin,
    W: futures::io::AsyncWrite + Unpin,
{
    let mut got = Vec::new();
    let send = async {
        w.write_all(data).await.unwrap();
        w.close().await.unwrap();
    };
    let (_, n) = futures::join!(send, r.read_to_end(&mut got));
    n.unwrap();
    got
}

fn direct(port: u16) -> ChannelType {
    ChannelType::DirectTcpip {
        host: "127.0.0.1".into(),
        port: port.into(),
        originator_address: "127.0.0.1".into(),
        originator_port: 1,
    }
}

#[test]
fn splice_moves_8_mib_both_ways_through_a_channel() {
    block(async {
        let (client, _conn) = start().await;
        let port = echo_server().await;
        let ch = client.open_channel(direct(port)).await.unwrap();
        let data = pattern(8 << 20, 1);
        let got = send_and_collect(ch.reader(), ch.writer(), &data).await;
        assert_eq!(got.len(), data.len());
        assert!(got == data, "echoed bytes differ");
        ch.wait_closed().await.unwrap();
    });
}

#[test]
fn splice_carries_half_close_both_ways() {
    block(async {
        let (client, _conn) = start().await;
        let port = count_server().await;
        let ch = client.open_channel(direct(port)).await.unwrap();
        let data = pattern(100_000, 2);
        let got = send_and_collect(ch.reader(), ch.writer(), &data).await;
        assert_eq!(got, b"got 100000");
        ch.wait_closed().await.unwrap();
    });
}

#[test]
fn splice_reports_the_byte_counts() {
    block(async {
        let (client, conn) = start().await;
        drop(conn);
        let port = count_server().await;
        // Our own splice on the client side: a local socket pair.
        let ch = client.open_channel(direct(port)).await.unwrap();
        let (a, mut b) = UnixStream::pair().unwrap();
        let task = runtime::spawn(forward::splice(ch, a));
        b.write_all(&[7; 12345]).await.unwrap();
        b.shutdown(Shutdown::Write).unwrap();
        let mut reply = Vec::new();
        b.read_to_end(&mut reply).await.unwrap();
        assert_eq!(reply, b"got 12345");
        let (down, up) = task.await.unwrap();
        assert_eq!((down, up), (9, 12345));
    });
}

#[test]
fn splice_says_why_when_bytes_cannot_be_delivered() {
    block(async {
        let (client, _conn) = start().await;
        let echo = echo_server().await;
        let ch = client.open_channel(direct(echo)).await.unwrap();
        let (a, mut b) = UnixStream::pair().unwrap();
        let task = runtime::spawn(forward::splice(ch, a));
        // The local side sends 1 MiB, then goes away without reading the
        // echo: it cannot all be delivered, and splice says so.
        b.write_all(&pattern(1 << 20, 7)).await.unwrap();
        drop(b);
        // Writing fails (EPIPE) or, when the close raced the last
        // write, reading does (ECONNRESET): either way, the local side.
        let e = task.await.unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("writing the local socket") || m.contains("reading the local socket"),
            "{e}"
        );
    });
}

async fn unix_echo_server(path: &std::path::Path) {
    let l = UnixListener::bind(path).await.unwrap();
    drop(runtime::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            drop(runtime::spawn(async move {
                let mut w = s.clone();
                let _ = futures::io::copy(s.clone(), &mut w).await;
                let _ = s.shutdown(Shutdown::Write);
            }));
        }
    }));
}

fn tcp(host: &str, port: u16) -> Endpoint {
    Endpoint::Tcp {
        bind: Some(host.into()),
        port,
    }
}

/// `-L 0:target` on loopback; returns the local port.
async fn local_forward(client: &Client, target: Endpoint) -> u16 {
    let l = Listeners::bind(
        &Endpoint::Tcp {
            bind: None,
            port: 0,
        },
        false,
    )
    .await
    .unwrap();
    let port = l.local_port().unwrap();
    // Loopback only: 127.0.0.1 (and ::1 where IPv6 exists), never 0.0.0.0.
    assert!(l.local_addrs().iter().all(|a| a.ip().is_loopback()));
    assert!(l.local_addrs().iter().all(|a| a.port() == port));
    drop(runtime::spawn(forward::serve_local(
        client.clone(),
        l,
        target,
    )));
    port
}

#[test]
fn local_forward_moves_8_mib_both_ways() {
    block(async {
        let (client, _conn) = start().await;
        let echo = echo_server().await;
        let port = local_forward(&client, tcp("127.0.0.1", echo)).await;
        let s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let data = pattern(8 << 20, 3);
        let w = s.clone();
        let got = send_and_collect(s, ShutdownOnClose(w), &data).await;
        assert_eq!(got.len(), data.len());
        assert!(got == data, "echoed bytes differ");
    });
}

/// A TCP stream whose `close` shuts down its write half.
struct ShutdownOnClose(TcpStream);

impl futures::io::AsyncWrite for ShutdownOnClose {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_close(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(self.0.shutdown(Shutdown::Write))
    }
}

#[test]
fn local_forward_half_close_still_reads_the_reply() {
    block(async {
        let (client, _conn) = start().await;
        let counter = count_server().await;
        let port = local_forward(&client, tcp("127.0.0.1", counter)).await;
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(&pattern(300_000, 4)).await.unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut reply = Vec::new();
        s.read_to_end(&mut reply).await.unwrap();
        assert_eq!(reply, b"got 300000");
    });
}

#[test]
fn local_forward_to_a_unix_socket_and_from_one() {
    block(async {
        let (client, _conn) = start().await;
        let dir = temp_dir("unix");
        let target = dir.join("echo.sock");
        unix_echo_server(&target).await;
        // TCP listener -> direct-streamlocal to the Unix socket.
        let port = local_forward(&client, Endpoint::Unix(target.clone())).await;
        let s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let data = pattern(1 << 20, 5);
        let got = send_and_collect(s.clone(), ShutdownOnClose(s), &data).await;
        assert!(got == data);
        // Unix listener -> direct-tcpip.
        let echo = echo_server().await;
        let listen = dir.join("listen.sock");
        let l = Listeners::bind(&Endpoint::Unix(listen.clone()), false)
            .await
            .unwrap();
        assert_eq!(l.local_port(), None);
        assert_eq!(l.unix_path(), Some(listen.as_path()));
        // The path exists now: a second bind fails.
        assert!(
            Listeners::bind(&Endpoint::Unix(listen.clone()), false)
                .await
                .is_err()
        );
        drop(runtime::spawn(forward::serve_local(
            client.clone(),
            l,
            tcp("127.0.0.1", echo),
        )));
        let mut u = UnixStream::connect(&listen).await.unwrap();
        u.write_all(b"through a unix listener").await.unwrap();
        u.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        u.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"through a unix listener");
        let _ = std::fs::remove_dir_all(&dir);
    });
}

#[test]
fn a_refused_open_closes_only_that_connection() {
    block(async {
        let (client, _conn) = start().await;
        let refused = local_forward(&client, tcp("refused.invalid", 1)).await;
        let echo = echo_server().await;
        let ok = local_forward(&client, tcp("127.0.0.1", echo)).await;
        for _ in 0..3 {
            let mut s = TcpStream::connect(("127.0.0.1", refused)).await.unwrap();
            let mut got = Vec::new();
            // The forwarder closes the connection without a byte.
            s.read_to_end(&mut got).await.unwrap();
            assert!(got.is_empty());
            let s = TcpStream::connect(("127.0.0.1", ok)).await.unwrap();
            let got = send_and_collect(s.clone(), ShutdownOnClose(s), b"still fine").await;
            assert_eq!(got, b"still fine");
        }
    });
}

/// `-D 0` on loopback; returns its port.
async fn dynamic_forward(client: &Client) -> u16 {
    let l = Listeners::bind(&tcp("127.0.0.1", 0), false).await.unwrap();
    let port = l.local_port().unwrap();
    drop(runtime::spawn(forward::serve_dynamic(client.clone(), l)));
    port
}

/// Sends `hello`, reads `reply_len` bytes of SOCKS reply, then echoes a
/// line through.
async fn socks_roundtrip(proxy: u16, hello: &[u8], reply_len: usize) -> (Vec<u8>, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", proxy)).await.unwrap();
    s.write_all(hello).await.unwrap();
    let mut reply = vec![0; reply_len];
    s.read_exact(&mut reply).await.unwrap();
    let granted = if reply_len == 8 {
        reply[1] == 90
    } else {
        reply[3] == 0
    };
    if !granted {
        return (reply, Vec::new());
    }
    s.write_all(b"ping through socks").await.unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).await.unwrap();
    (reply, got)
}

#[test]
fn socks5_with_a_domain_name_reaches_the_echo_server() {
    block(async {
        let (client, _conn) = start().await;
        let echo = echo_server().await;
        let proxy = dynamic_forward(&client).await;
        let mut hello = vec![5, 1, 0, 5, 1, 0, 3, 9];
        hello.extend_from_slice(b"localhost");
        hello.extend_from_slice(&echo.to_be_bytes());
        // The method choice (2 bytes) and the reply (10 bytes).
        let (reply, got) = socks_roundtrip(proxy, &hello, 12).await;
        assert_eq!(reply, [5, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(got, b"ping through socks");
    });
}

#[test]
fn socks4_and_socks4a_reach_the_echo_server() {
    block(async {
        let (client, _conn) = start().await;
        let echo = echo_server().await;
        let proxy = dynamic_forward(&client).await;
        let p = echo.to_be_bytes();
        let v4 = [4, 1, p[0], p[1], 127, 0, 0, 1, b'u', 0];
        let (reply, got) = socks_roundtrip(proxy, &v4, 8).await;
        assert_eq!(reply[..2], [0, 90]);
        assert_eq!(got, b"ping through socks");
        let mut v4a = vec![4, 1, p[0], p[1], 0, 0, 0, 1, 0];
        v4a.extend_from_slice(b"localhost\0");
        let (reply, got) = socks_roundtrip(proxy, &v4a, 8).await;
        assert_eq!(reply[..2], [0, 90]);
        assert_eq!(got, b"ping through socks");
    });
}

#[test]
fn socks_to_an_unreachable_target_gets_the_failure_reply() {
    block(async {
        let (client, _conn) = start().await;
        let proxy = dynamic_forward(&client).await;
        // A port nothing listens on: bind one and close it.
        let closed = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap().port()
        };
        let p = closed.to_be_bytes();
        let v5 = [5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, p[0], p[1]];
        let (reply, got) = socks_roundtrip(proxy, &v5, 12).await;
        assert_eq!(reply[..2], [5, 0]);
        assert_eq!(reply[2], 5);
        assert_ne!(reply[3], 0, "a failure code, not success");
        assert!(got.is_empty());
        let v4 = [4, 1, p[0], p[1], 127, 0, 0, 1, 0];
        let (reply, _) = socks_roundtrip(proxy, &v4, 8).await;
        assert_eq!(reply[..2], [0, 91]);
        // Refused by the server's policy: "not allowed".
        let mut v5 = vec![5, 1, 0, 5, 1, 0, 3, 15];
        v5.extend_from_slice(b"refused.invalid");
        v5.extend_from_slice(&[0, 80]);
        let (reply, _) = socks_roundtrip(proxy, &v5, 12).await;
        assert_eq!(reply[3], 2);
        // Not SOCKS at all: closed without a reply.
        let mut s = TcpStream::connect(("127.0.0.1", proxy)).await.unwrap();
        s.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).await.unwrap();
        assert!(got.is_empty());
    });
}

fn forwarded(address: &str, port: u32) -> ChannelType {
    ChannelType::ForwardedTcpip {
        address: address.into(),
        port,
        originator_address: "192.0.2.1".into(),
        originator_port: 5555,
    }
}

/// The server side opens `kind`, sends `data`, EOF, and reads to the end.
async fn server_roundtrip(
    conn: &ServerConnection,
    kind: ChannelType,
    data: &[u8],
) -> Result<Vec<u8>, Error> {
    let ch = conn.open_channel(kind).await?;
    Ok(send_and_collect(ch.reader(), ch.writer(), data).await)
}

#[test]
fn remote_forward_port_0_reaches_a_local_target() {
    block(async {
        let (client, conn) = start().await;
        let echo = echo_server().await;
        let d = Dispatcher::start(&client);
        let listen = Endpoint::Tcp {
            bind: None,
            port: 0,
        };
        let port = d
            .request_remote(&listen, Some(tcp("127.0.0.1", echo)))
            .await
            .unwrap();
        assert_eq!(port, Some(ALLOCATED as u16));
        // OpenSSH's servers name the address the client sent: "localhost".
        let data = pattern(2 << 20, 6);
        let got = server_roundtrip(&conn, forwarded("localhost", ALLOCATED), &data)
            .await
            .unwrap();
        assert!(got == data);
        // Several at once.
        let many = (0..10).map(|i| {
            let conn = conn.clone();
            async move {
                let data = pattern(50_000, i);
                let got = server_roundtrip(&conn, forwarded("localhost", ALLOCATED), &data)
                    .await
                    .unwrap();
                assert!(got == data, "connection {i}");
            }
        });
        futures::future::join_all(many).await;
        // A port nobody asked for is refused.
        let e = conn
            .open_channel(forwarded("localhost", 9))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::ChannelOpenFailed { .. }), "{e:?}");
        // Cancelled: refused from then on.
        d.cancel_remote(&listen).await.unwrap();
        let e = conn
            .open_channel(forwarded("localhost", ALLOCATED))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::ChannelOpenFailed { .. }), "{e:?}");
    });
}

#[test]
fn remote_forward_fixed_port_unix_target_and_refusals() {
    block(async {
        let (client, conn) = start().await;
        let dir = temp_dir("remote");
        let sock = dir.join("echo.sock");
        unix_echo_server(&sock).await;
        let d = Dispatcher::start(&client);
        // A fixed port, "*" sent as "", to a Unix socket.
        let listen = Endpoint::Tcp {
            bind: Some("*".into()),
            port: 7001,
        };
        let port = d
            .request_remote(&listen, Some(Endpoint::Unix(sock.clone())))
            .await
            .unwrap();
        assert_eq!(port, None);
        let got = server_roundtrip(&conn, forwarded("", 7001), b"to unix")
            .await
            .unwrap();
        assert_eq!(got, b"to unix");
        // A remote Unix socket forward.
        let remote = Endpoint::Unix("/run/remote.sock".into());
        assert_eq!(
            d.request_remote(&remote, Some(Endpoint::Unix(sock.clone())))
                .await
                .unwrap(),
            None
        );
        let kind = ChannelType::ForwardedStreamlocal {
            socket_path: "/run/remote.sock".into(),
        };
        let got = server_roundtrip(&conn, kind, b"streamlocal").await.unwrap();
        assert_eq!(got, b"streamlocal");
        // Refusals by the server.
        let e = d
            .request_remote(&tcp("refused.invalid", 80), Some(tcp("127.0.0.1", 1)))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::RequestRefused("tcpip-forward")), "{e:?}");
        let e = d
            .request_remote(&Endpoint::Unix("/refused".into()), None)
            .await
            .unwrap_err();
        assert!(
            matches!(e, Error::RequestRefused("streamlocal-forward@openssh.com")),
            "{e:?}"
        );
        // The refused forward's address is not routed.
        let e = conn
            .open_channel(forwarded("refused.invalid", 80))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::ChannelOpenFailed { .. }));
        // A target that is not listening: refused with CONNECT_FAILED.
        let closed = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap().port()
        };
        d.request_remote(&tcp("127.0.0.1", 7002), Some(tcp("127.0.0.1", closed)))
            .await
            .unwrap();
        match conn.open_channel(forwarded("127.0.0.1", 7002)).await {
            Err(Error::ChannelOpenFailed { reason, .. }) => {
                assert_eq!(reason, OpenFailureReason::CONNECT_FAILED);
            }
            other => panic!("{other:?}"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    });
}

#[test]
fn remote_dynamic_forward_answers_socks_on_the_channel() {
    block(async {
        let (client, conn) = start().await;
        let echo = echo_server().await;
        let d = Dispatcher::start(&client);
        d.request_remote(
            &Endpoint::Tcp {
                bind: None,
                port: 1080,
            },
            None,
        )
        .await
        .unwrap();
        let ch = conn
            .open_channel(forwarded("localhost", 1080))
            .await
            .unwrap();
        let (mut r, mut w) = (ch.reader(), ch.writer());
        let p = echo.to_be_bytes();
        w.write_all(&[5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, p[0], p[1]])
            .await
            .unwrap();
        let mut reply = [0; 12];
        r.read_exact(&mut reply).await.unwrap();
        assert_eq!(reply, [5, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        let got = send_and_collect(r, w, b"dynamic").await;
        assert_eq!(got, b"dynamic");
    });
}

#[test]
fn agent_channels_reach_the_agent_socket_once_enabled() {
    block(async {
        let (client, conn) = start().await;
        let dir = temp_dir("agent");
        let sock = dir.join("agent.sock");
        unix_echo_server(&sock).await;
        let d = Dispatcher::start(&client);
        let e = conn.open_channel(ChannelType::AuthAgent).await.unwrap_err();
        assert!(matches!(e, Error::ChannelOpenFailed { .. }));
        d.enable_agent(sock);
        let got = server_roundtrip(&conn, ChannelType::AuthAgent, b"\0\0\0\x01\x0b")
            .await
            .unwrap();
        assert_eq!(got, b"\0\0\0\x01\x0b");
        let _ = std::fs::remove_dir_all(&dir);
    });
}

/// A fake X server on a Unix socket: for each connection, sends back
/// the authorization data it got after the 12-byte header and 20-byte
/// name ("MIT-MAGIC-COOKIE-1" padded), then echoes.
async fn fake_x_server(
    path: &std::path::Path,
) -> futures::channel::mpsc::UnboundedReceiver<Vec<u8>> {
    let l = UnixListener::bind(path).await.unwrap();
    let (tx, rx) = futures::channel::mpsc::unbounded();
    drop(runtime::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let mut setup = vec![0; 12 + 20 + 16];
            s.read_exact(&mut setup).await.unwrap();
            let _ = tx.unbounded_send(setup.clone());
            s.write_all(&setup[32..]).await.unwrap();
            let mut w = s.clone();
            let _ = futures::io::copy(s.clone(), &mut w).await;
            let _ = s.shutdown(Shutdown::Write);
        }
    }));
    rx
}

fn x11_setup(order: u8, cookie: &[u8]) -> Vec<u8> {
    let u16b = |v: u16| {
        if order == b'B' {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut v = vec![order, 0];
    v.extend_from_slice(&u16b(11));
    v.extend_from_slice(&u16b(0));
    v.extend_from_slice(&u16b(18));
    v.extend_from_slice(&u16b(cookie.len() as u16));
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(b"MIT-MAGIC-COOKIE-1\0\0");
    v.extend_from_slice(cookie);
    while v.len() % 4 != 0 {
        v.push(0);
    }
    v
}

fn x11_open() -> ChannelType {
    ChannelType::X11 {
        originator_address: "127.0.0.1".into(),
        originator_port: 40000,
    }
}

fn fake_cookie(x: &X11Forwarding) -> Vec<u8> {
    let ChannelRequestKind::X11Req { auth_cookie, .. } = x.request() else {
        panic!("not an x11-req");
    };
    (0..auth_cookie.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&auth_cookie[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn x11_channels_get_the_real_cookie_and_wrong_ones_are_refused() {
    use futures::StreamExt;
    block(async {
        let (client, conn) = start().await;
        let dir = temp_dir("x11");
        let sock = dir.join("X5");
        let mut seen = fake_x_server(&sock).await;
        let real = vec![0xa5; 16];
        let display = format!("{}:5", sock.display());
        let x = X11Forwarding::with_cookie(&display, Some(real.clone())).unwrap();
        let fake = fake_cookie(&x);
        assert_ne!(fake, real);
        let d = Dispatcher::start(&client);
        // Not enabled yet: refused.
        assert!(conn.open_channel(x11_open()).await.is_err());
        d.enable_x11(x);
        for order in [b'B', b'l'] {
            let mut data = x11_setup(order, &fake);
            data.extend_from_slice(b"requests");
            let got = server_roundtrip(&conn, x11_open(), &data).await.unwrap();
            // The X server saw the real cookie, in the client's byte order.
            let setup = seen.next().await.unwrap();
            assert_eq!(setup, x11_setup(order, &real));
            let mut expected = real.clone();
            expected.extend_from_slice(b"requests");
            assert_eq!(got, expected);
        }
        // A wrong cookie: the channel is closed, the X server sees nothing.
        let mut wrong = fake.clone();
        wrong[15] ^= 1;
        let got = server_roundtrip(&conn, x11_open(), &x11_setup(b'B', &wrong))
            .await
            .unwrap();
        assert!(got.is_empty());
        // Another protocol name with the right data.
        let mut other = x11_setup(b'l', &fake);
        other[12..30].copy_from_slice(b"XDM-AUTHORIZATION1");
        let got = server_roundtrip(&conn, x11_open(), &other).await.unwrap();
        assert!(got.is_empty());
        // Still working afterwards, and the rejected ones never reached X.
        let got = server_roundtrip(&conn, x11_open(), &x11_setup(b'l', &fake))
            .await
            .unwrap();
        assert_eq!(got, real);
        assert_eq!(seen.next().await.unwrap(), x11_setup(b'l', &real));
        assert!(
            seen.try_recv().is_err(),
            "nothing else reached the X server"
        );
        let _ = std::fs::remove_dir_all(&dir);
    });
}

#[test]
fn x11_without_xauth_data_passes_the_fake_cookie_through() {
    use futures::StreamExt;
    block(async {
        let (client, conn) = start().await;
        let dir = temp_dir("x11fake");
        let sock = dir.join("X6");
        let mut seen = fake_x_server(&sock).await;
        // An "xauth" that knows nothing.
        let xauth = dir.join("xauth");
        std::fs::write(&xauth, "#!/bin/sh\nexit 1\n").unwrap();
        set_executable(&xauth);
        let display = format!("{}:6", sock.display());
        let x = X11Forwarding::new(&display, false, &xauth).await.unwrap();
        assert_eq!(x.warning(), Some(ssh_async::forward::x11::NO_XAUTH_DATA));
        let fake = fake_cookie(&x);
        Dispatcher::start(&client).enable_x11(x);
        let got = server_roundtrip(&conn, x11_open(), &x11_setup(b'B', &fake))
            .await
            .unwrap();
        assert_eq!(got, fake);
        assert_eq!(seen.next().await.unwrap(), x11_setup(b'B', &fake));
        let _ = std::fs::remove_dir_all(&dir);
    });
}

#[test]
fn x11_new_reads_the_cookie_from_xauth_list() {
    block(async {
        let dir = temp_dir("xauth");
        let xauth = dir.join("xauth");
        // Prints what `xauth list unix:7` prints, and the arguments.
        std::fs::write(
            &xauth,
            format!(
                "#!/bin/sh\necho \"$@\" > {}/args\n\
                 echo 'myhost/unix:7  MIT-MAGIC-COOKIE-1  000102030405060708090a0b0c0d0e0f'\n",
                dir.display()
            ),
        )
        .unwrap();
        set_executable(&xauth);
        let x = X11Forwarding::new("localhost:7.1", true, &xauth)
            .await
            .unwrap();
        assert_eq!(x.warning(), None);
        // "localhost:N" is looked up as "unix:N", as OpenSSH does.
        let args = std::fs::read_to_string(dir.join("args")).unwrap();
        assert_eq!(args.trim(), "list unix:7.1");
        let ChannelRequestKind::X11Req { screen, .. } = x.request() else {
            panic!()
        };
        assert_eq!(screen, 1);
        let _ = std::fs::remove_dir_all(&dir);
    });
}

fn set_executable(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn listeners_follow_openssh_bind_rules() {
    block(async {
        // GatewayPorts without an address: every address.
        let l = Listeners::bind(
            &Endpoint::Tcp {
                bind: None,
                port: 0,
            },
            true,
        )
        .await
        .unwrap();
        assert!(!l.local_addrs().is_empty());
        assert!(l.local_addrs().iter().all(|a| a.ip().is_unspecified()));
        // "*" and "" are every address too, even without GatewayPorts.
        for any in ["*", ""] {
            let l = Listeners::bind(&tcp(any, 0), false).await.unwrap();
            assert!(l.local_addrs().iter().all(|a| a.ip().is_unspecified()));
        }
        // "localhost" stays loopback even with GatewayPorts.
        let l = Listeners::bind(&tcp("localhost", 0), true).await.unwrap();
        assert!(l.local_addrs().iter().all(|a| a.ip().is_loopback()));
        // An explicit address is that address only.
        let l = Listeners::bind(&tcp("127.0.0.1", 0), true).await.unwrap();
        let port = l.local_port().unwrap();
        assert_eq!(
            l.local_addrs(),
            vec![std::net::SocketAddr::from(([127, 0, 0, 1], port))]
        );
        // A port in use: an error, as for ssh's "bind: Address already in use".
        let e = Listeners::bind(&tcp("127.0.0.1", port), false)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
    });
}
