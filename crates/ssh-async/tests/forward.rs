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
use ssh_async::forward;
use ssh_async::runtime::{
    self,
    net::{TcpListener, TcpStream, UnixListener, UnixStream},
};
use ssh_async::ssh_keys::PrivateKey;
use ssh_async::{
    Client, ClientOptions, IncomingChannel, Server, ServerConnection, ServerHandler, ServerOptions,
    SimpleHandler,
};
use ssh_wire::messages::{ChannelType, OpenFailureReason};

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

/// Starts a server that answers opens with [`serve_open`]; returns the
/// client and the server connection.
async fn start() -> (Client, ServerConnection) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = futures::channel::oneshot::channel();
    drop(runtime::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let key = PrivateKey::from_ed25519_seed(&[5; 32]);
        let opts = ServerOptions::new(vec![Box::new(key)]);
        let conn = Server::accept(stream, opts, &mut Anyone).await.unwrap();
        let _ = tx.send(conn.clone());
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

#[allow(dead_code)]
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

#[allow(dead_code)]
fn unused() {
    let _ = temp_dir("x");
}
