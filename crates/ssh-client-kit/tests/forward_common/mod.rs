//! What the forwarding tests share: an in-process server whose test
//! code answers `direct-tcpip`/`direct-streamlocal@openssh.com` by
//! connecting to local echo and sink servers (spliced with
//! `forward::splice`), and those servers.

#![allow(dead_code)]

use std::net::Shutdown;
use std::path::PathBuf;
use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use ssh_async::runtime::{
    self,
    net::{TcpListener, TcpStream, UnixListener, UnixStream},
};
use ssh_async::ssh_keys::PrivateKey;
use ssh_async::{
    Client, ClientOptions, GlobalReply, IncomingChannel, Server, ServerConnection, ServerHandler,
    ServerOptions, SimpleHandler,
};
use ssh_client_kit::Listeners;
use ssh_config::forward::Endpoint;
use ssh_wire::messages::{ChannelType, GlobalRequestKind, OpenFailureReason};

pub const LIMIT: Duration = Duration::from_secs(60);

pub struct Anyone;
impl ServerHandler for Anyone {
    async fn password(&mut self, _user: &str, password: &str) -> bool {
        password == "pw"
    }
}

pub fn block<F: std::future::Future<Output = ()>>(f: F) {
    runtime::block_on(async { runtime::timeout(LIMIT, f).await.expect("timed out") });
}

/// A fresh directory under the system's temp dir.
pub fn temp_dir(tag: &str) -> PathBuf {
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
pub async fn serve_open(incoming: IncomingChannel) {
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
                Target::Tcp(s) => ssh_async::splice(ch, s).await,
                Target::Unix(s) => ssh_async::splice(ch, s).await,
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
pub const ALLOCATED: u32 = 40_123;

/// The test server's answers to global requests: forwards of
/// "refused.invalid" or "/refused" are refused, port 0 gets
/// [`ALLOCATED`], a fixed port or a socket path forwarded already (not
/// cancelled) is refused as in use, everything else succeeds (nothing listens: the
/// test opens the forwarded channels itself).
pub async fn answer_global_requests(conn: ServerConnection) {
    let mut in_use = std::collections::HashSet::new();
    while let Some(req) = conn.next_global_request().await {
        let taken = match &req.request {
            GlobalRequestKind::TcpipForward { address, port } if *port != 0 => {
                !in_use.insert((address.clone(), *port))
            }
            GlobalRequestKind::CancelTcpipForward { address, port } => {
                in_use.remove(&(address.clone(), *port));
                false
            }
            GlobalRequestKind::StreamlocalForward { socket_path } => {
                !in_use.insert((socket_path.clone(), 0))
            }
            GlobalRequestKind::CancelStreamlocalForward { socket_path } => {
                in_use.remove(&(socket_path.clone(), 0));
                false
            }
            _ => false,
        };
        let reply = match &req.request {
            _ if taken => None,
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
pub async fn start() -> (Client, ServerConnection) {
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
pub async fn echo_server() -> u16 {
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
pub async fn count_server() -> u16 {
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

pub fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// Writes `data` to `w` and closes it while reading everything from `r`.
pub async fn send_and_collect<R, W>(mut r: R, mut w: W, data: &[u8]) -> Vec<u8>
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

pub fn direct(port: u16) -> ChannelType {
    ChannelType::DirectTcpip {
        host: "127.0.0.1".into(),
        port: port.into(),
        originator_address: "127.0.0.1".into(),
        originator_port: 1,
    }
}

pub async fn unix_echo_server(path: &std::path::Path) {
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

pub fn tcp(host: &str, port: u16) -> Endpoint {
    Endpoint::Tcp {
        bind: Some(host.into()),
        port,
    }
}

/// `-L 0:target` on loopback; returns the local port.
pub async fn local_forward(client: &Client, target: Endpoint) -> u16 {
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
    drop(runtime::spawn(ssh_client_kit::serve_local(
        client.clone(),
        l,
        target,
    )));
    port
}
