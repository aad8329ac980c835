//! Server-side forwarding: `ssh_os::sockets` (sockets made for a
//! user) and `ssh_server_kit::forward` (direct-tcpip, direct-streamlocal,
//! tcpip-forward, streamlocal-forward under a policy), with our client
//! against our server in-process.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use ssh_async::runtime::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use ssh_async::ssh_auth::authorized_keys::KeyOptions;
use ssh_async::ssh_keys::PrivateKey;
use ssh_async::ssh_wire::messages::{ChannelType, GlobalRequestKind, OpenFailureReason};
use ssh_async::{
    Channel, Client, ClientOptions, Error, GlobalReply, Server, ServerHandler, ServerOptions,
    SimpleHandler, runtime,
};
use ssh_config::server::{Forwarding, GatewayPorts};
use ssh_os::sockets::Sockets;
use ssh_server_kit::forward::{ForwardPolicy, PermitList, RemoteForwards, handle_direct};

const LIMIT: Duration = Duration::from_secs(30);

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    runtime::block_on(async { runtime::timeout(LIMIT, f).await.expect("timed out") })
}

#[test]
fn direct_sockets_listen_connect_and_files() {
    block_on(async {
        let s = Sockets::direct();
        assert!(!s.uses_helper());
        // Port 0 on "localhost": one listener per family, the same port.
        let ls = s.listen_tcp(Some("localhost"), 0).await.unwrap();
        assert!(!ls.is_empty());
        let port = ls[0].local_addr().unwrap().port();
        assert_ne!(port, 0);
        for l in &ls {
            assert!(l.local_addr().unwrap().ip().is_loopback());
            assert_eq!(l.local_addr().unwrap().port(), port);
        }
        let l4 = ls
            .iter()
            .find(|l| l.local_addr().unwrap().is_ipv4())
            .unwrap();
        let mut c = s.connect_tcp("127.0.0.1", port).await.unwrap();
        let (mut a, _) = l4.accept().await.unwrap();
        c.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        a.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        drop(ls);
        drop(a);
        // Nobody listens there any more.
        assert!(s.connect_tcp("127.0.0.1", port).await.is_err());

        let dir = s.create_private_dir("rssh-test-").await.unwrap();
        let md = std::fs::metadata(&dir).unwrap();
        assert!(md.is_dir());
        assert_eq!(md.permissions().mode() & 0o777, 0o700);
        assert!(dir.starts_with("/tmp"));
        assert!(
            dir.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("rssh-test-")
        );
        let path = dir.join("sock");
        let ul = s.listen_unix(&path).await.unwrap();
        let md = std::fs::symlink_metadata(&path).unwrap();
        assert_eq!(md.permissions().mode() & 0o777, 0o600);
        assert_eq!(md.uid(), rustix::process::geteuid().as_raw());
        // An existing file is an error.
        assert!(s.listen_unix(&path).await.is_err());
        let mut c = s.connect_unix(&path).await.unwrap();
        let (mut a, _) = ul.accept().await.unwrap();
        a.write_all(b"pong").await.unwrap();
        c.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pong");
        // The directory is not empty: rmdir fails.
        assert!(s.remove_path(&dir).await.is_err());
        s.remove_path(&path).await.unwrap();
        assert!(s.connect_unix(&path).await.is_err());
        s.remove_path(&dir).await.unwrap();
        assert!(!dir.exists());
        assert!(s.create_private_dir("a/b").await.is_err());
    });
}

struct Anyone;

impl ServerHandler for Anyone {
    async fn password(&mut self, _user: &str, _password: &str) -> bool {
        true
    }
}

fn uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// A server whose every connection forwards under `policy` (direct
/// channels and remote forwards, as ourselves), and a client to it.
async fn pair(policy: ForwardPolicy) -> Client {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let policy = Arc::new(policy);
    drop(runtime::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let key = PrivateKey::from_ed25519_seed(&[9; 32]);
        let mut o = ServerOptions::new(vec![Box::new(key)]);
        o.auth.methods = vec!["password".into()];
        o.global_requests = true;
        let conn = Server::accept(stream, o, &mut Anyone).await.unwrap();
        let sockets = Sockets::direct();
        let remote = RemoteForwards::new(conn.clone(), policy.clone(), sockets.clone());
        drop(runtime::spawn(remote.run()));
        while let Some(incoming) = conn.next_channel().await {
            let policy = policy.clone();
            let sockets = sockets.clone();
            drop(runtime::spawn(async move {
                let _ = handle_direct(incoming, &policy, &sockets).await;
            }));
        }
    }));
    let stream = TcpStream::connect(addr).await.unwrap();
    let mut h = SimpleHandler {
        host_key_check: Box::new(|_| true),
        keys: Vec::new(),
        password: Some("pw".into()),
    };
    Client::connect(stream, ClientOptions::new("u", h.methods()), &mut h)
        .await
        .unwrap()
}

/// Echoes every connection of `l` until its peer's EOF, then shuts down.
async fn tcp_echo() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    drop(runtime::spawn(async move {
        loop {
            let (s, _) = l.accept().await.unwrap();
            drop(runtime::spawn(async move {
                let mut w = s.clone();
                futures::io::copy(s.clone(), &mut w).await.unwrap();
                s.shutdown_write();
            }));
        }
    }));
    port
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hf-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

async fn unix_echo(path: PathBuf) {
    let l = UnixListener::bind(&path).await.unwrap();
    drop(runtime::spawn(async move {
        loop {
            let (s, _) = l.accept().await.unwrap();
            drop(runtime::spawn(async move {
                let mut w = s.clone();
                futures::io::copy(s.clone(), &mut w).await.unwrap();
                s.shutdown_write();
            }));
        }
    }));
}

fn pattern(n: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// A socket whose write half can be shut down (`close` of the runtime's
/// streams only flushes).
trait HalfClose: AsyncRead + AsyncWrite + Clone + Unpin + Send + 'static {
    fn shutdown_write(&self);
}

impl HalfClose for TcpStream {
    fn shutdown_write(&self) {
        self.shutdown(std::net::Shutdown::Write).unwrap();
    }
}

impl HalfClose for UnixStream {
    fn shutdown_write(&self) {
        self.shutdown(std::net::Shutdown::Write).unwrap();
    }
}

/// Writes `data` to a socket (then shuts its write half down) while
/// reading everything back.
async fn round_trip<S: HalfClose>(s: S, data: Vec<u8>) -> Vec<u8> {
    let mut w = s.clone();
    let writer = runtime::spawn(async move {
        w.write_all(&data).await.unwrap();
        w.shutdown_write();
    });
    let mut r = s;
    let mut back = Vec::new();
    r.read_to_end(&mut back).await.unwrap();
    writer.await;
    back
}

/// The same on a channel, through its reader and writer.
async fn round_trip_ch(ch: Channel, data: Vec<u8>) -> Vec<u8> {
    round_trip_halves(ch.reader(), ch.writer(), data).await
}

/// A client-side echo of a channel.
async fn echo_channel(ch: Channel) {
    let mut w = ch.writer();
    futures::io::copy(ch.reader(), &mut w).await.unwrap();
    w.close().await.unwrap();
}

async fn round_trip_halves<R, W>(mut r: R, mut w: W, data: Vec<u8>) -> Vec<u8>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let writer = runtime::spawn(async move {
        w.write_all(&data).await.unwrap();
        w.close().await.unwrap();
    });
    let mut back = Vec::new();
    r.read_to_end(&mut back).await.unwrap();
    writer.await;
    back
}

fn direct_tcp(host: &str, port: u16) -> ChannelType {
    ChannelType::DirectTcpip {
        host: host.into(),
        port: u32::from(port),
        originator_address: "127.0.0.1".into(),
        originator_port: 40000,
    }
}

async fn open_fails(client: &Client, kind: ChannelType) -> OpenFailureReason {
    match client.open_channel(kind).await {
        Err(Error::ChannelOpenFailed { reason, .. }) => reason,
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("the open was not refused"),
    }
}

#[test]
fn direct_tcpip_moves_8_mib_byte_exact() {
    block_on(async {
        let echo = tcp_echo().await;
        let client = pair(ForwardPolicy::permissive(uid())).await;
        let data = pattern(8 << 20);
        let ch: Channel = client
            .open_channel(direct_tcp("127.0.0.1", echo))
            .await
            .unwrap();
        let back = round_trip_ch(ch, data.clone()).await;
        assert_eq!(back.len(), data.len());
        assert!(back == data, "the data came back changed");
        // By name, resolved on the server side (each address tried: the
        // echo server is on IPv4 only).
        let ch = client
            .open_channel(direct_tcp("localhost", echo))
            .await
            .unwrap();
        assert_eq!(round_trip_ch(ch, b"hi".to_vec()).await, b"hi");
        // Nobody listening: connect failed, and the connection goes on.
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dead = closed.local_addr().unwrap().port();
        drop(closed);
        let reason = match client.open_channel(direct_tcp("127.0.0.1", dead)).await {
            Err(Error::ChannelOpenFailed {
                reason,
                description,
            }) => {
                assert_eq!(description, "Connection refused");
                reason
            }
            other => panic!("{:?}", other.map(|_| ())),
        };
        assert_eq!(reason, OpenFailureReason::CONNECT_FAILED);
        let ch = client
            .open_channel(direct_tcp("127.0.0.1", echo))
            .await
            .unwrap();
        assert_eq!(round_trip_ch(ch, b"again".to_vec()).await, b"again");
    });
}

#[test]
fn direct_streamlocal_reaches_a_unix_socket() {
    block_on(async {
        let dir = temp_dir("dsl");
        let path = dir.join("echo.sock");
        unix_echo(path.clone()).await;
        let client = pair(ForwardPolicy::permissive(uid())).await;
        let data = pattern(300_000);
        let ch = client
            .open_channel(ChannelType::DirectStreamlocal {
                socket_path: path.to_str().unwrap().into(),
            })
            .await
            .unwrap();
        assert!(round_trip_ch(ch, data.clone()).await == data);
        let reason = open_fails(
            &client,
            ChannelType::DirectStreamlocal {
                socket_path: dir.join("none.sock").to_str().unwrap().into(),
            },
        )
        .await;
        assert_eq!(reason, OpenFailureReason::CONNECT_FAILED);
        std::fs::remove_dir_all(&dir).unwrap();
    });
}

#[test]
fn refusals_by_policy_leave_the_connection_working() {
    block_on(async {
        let echo = tcp_echo().await;
        let dir = temp_dir("refuse");
        let path = dir.join("echo.sock");
        unix_echo(path.clone()).await;
        let unix = ChannelType::DirectStreamlocal {
            socket_path: path.to_str().unwrap().into(),
        };

        // AllowTcpForwarding no: TCP refused, Unix sockets still work.
        let mut p = ForwardPolicy::permissive(uid());
        p.allow_tcp = Forwarding::No;
        let client = pair(p).await;
        let r = open_fails(&client, direct_tcp("127.0.0.1", echo)).await;
        assert_eq!(r, OpenFailureReason::ADMINISTRATIVELY_PROHIBITED);
        let r = client
            .global_request(GlobalRequestKind::TcpipForward {
                address: "localhost".into(),
                port: 0,
            })
            .await
            .unwrap();
        assert_eq!(r, GlobalReply::Failure);
        let ch = client.open_channel(unix.clone()).await.unwrap();
        assert_eq!(round_trip_ch(ch, b"still".to_vec()).await, b"still");

        // PermitOpen: only the listed target.
        let mut p = ForwardPolicy::permissive(uid());
        p.permit_open = PermitList::from_config(&[format!("127.0.0.1:{echo}")], false);
        let client = pair(p).await;
        let r = open_fails(&client, direct_tcp("localhost", echo)).await;
        assert_eq!(r, OpenFailureReason::ADMINISTRATIVELY_PROHIBITED);
        let r = open_fails(&client, direct_tcp("127.0.0.1", echo.wrapping_add(1))).await;
        assert_eq!(r, OpenFailureReason::ADMINISTRATIVELY_PROHIBITED);
        let ch = client
            .open_channel(direct_tcp("127.0.0.1", echo))
            .await
            .unwrap();
        assert_eq!(round_trip_ch(ch, b"allowed".to_vec()).await, b"allowed");

        // The key's no-port-forwarding: TCP and Unix refused, the
        // connection goes on (a later request is still answered).
        let settings = ssh_config::server::ServerConfig::parse(
            "",
            std::path::Path::new("x"),
            &mut ssh_os::config::FsLoader,
        )
        .unwrap()
        .resolve(None);
        let mut k = KeyOptions::default();
        k.port_forwarding = false;
        let p = ForwardPolicy::from_settings(&settings, Some(&k), uid(), None);
        let client = pair(p).await;
        let r = open_fails(&client, direct_tcp("127.0.0.1", echo)).await;
        assert_eq!(r, OpenFailureReason::ADMINISTRATIVELY_PROHIBITED);
        let r = open_fails(&client, unix.clone()).await;
        assert_eq!(r, OpenFailureReason::ADMINISTRATIVELY_PROHIBITED);
        let r = client
            .global_request(GlobalRequestKind::StreamlocalForward {
                socket_path: dir.join("l.sock").to_str().unwrap().into(),
            })
            .await
            .unwrap();
        assert_eq!(r, GlobalReply::Failure);
        assert!(!dir.join("l.sock").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    });
}

/// The local addresses listening on TCP `port` (from /proc/net/tcp{,6}).
fn listening_addresses(port: u16) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for (file, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 4 || f[3] != "0A" {
                continue;
            }
            let (hex_ip, hex_port) = f[1].split_once(':').unwrap();
            if u16::from_str_radix(hex_port, 16).unwrap() != port {
                continue;
            }
            let bytes: Vec<u8> = (0..hex_ip.len() / 2)
                .map(|i| u8::from_str_radix(&hex_ip[2 * i..2 * i + 2], 16).unwrap())
                .collect();
            // /proc prints each 32-bit word in host (little-endian) order.
            let mut fixed = Vec::new();
            for w in bytes.chunks(4) {
                fixed.extend(w.iter().rev());
            }
            let ip = if v6 {
                IpAddr::from(<[u8; 16]>::try_from(fixed).unwrap())
            } else {
                IpAddr::from(<[u8; 4]>::try_from(fixed).unwrap())
            };
            out.push(ip);
        }
    }
    out
}

async fn forward(client: &Client, address: &str, port: u32) -> GlobalReply {
    client
        .global_request(GlobalRequestKind::TcpipForward {
            address: address.into(),
            port,
        })
        .await
        .unwrap()
}

async fn refused(addr: SocketAddr) -> bool {
    for _ in 0..100 {
        if TcpStream::connect(addr).await.is_err() {
            return true;
        }
        runtime::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[test]
fn tcpip_forward_port_0_cancel_and_end_of_connection() {
    block_on(async {
        let client = pair(ForwardPolicy::permissive(uid())).await;
        // Waiting for the server's opens before any can come (until the
        // first call they are refused).
        let c2 = client.clone();
        let incoming = runtime::spawn(async move { c2.next_channel().await.unwrap() });
        let GlobalReply::BoundPort(port) = forward(&client, "localhost", 0).await else {
            panic!("no port allocated");
        };
        let port = u16::try_from(port).unwrap();
        assert_ne!(port, 0);
        // GatewayPorts no: loopback only.
        let addrs = listening_addresses(port);
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(IpAddr::is_loopback), "{addrs:?}");

        // A connection to it comes to the client as forwarded-tcpip.
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let conn = TcpStream::connect(addr).await.unwrap();
        let me = conn.local_addr().unwrap();
        let incoming = incoming.await;
        assert_eq!(
            incoming.channel_type,
            ChannelType::ForwardedTcpip {
                address: "localhost".into(),
                port: u32::from(port),
                originator_address: "127.0.0.1".into(),
                originator_port: u32::from(me.port()),
            }
        );
        let ch = incoming.accept().unwrap();
        // The client echoes.
        let echo = runtime::spawn(echo_channel(ch));
        let data = pattern(1 << 20);
        assert!(round_trip(conn, data.clone()).await == data);
        echo.await;

        // A fixed port too, then cancel: the port refuses connections.
        let free = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fixed = free.local_addr().unwrap().port();
        drop(free);
        assert_eq!(
            forward(&client, "127.0.0.1", u32::from(fixed)).await,
            GlobalReply::Success
        );
        let cancel = |address: &str, port: u16| GlobalRequestKind::CancelTcpipForward {
            address: address.into(),
            port: u32::from(port),
        };
        assert_eq!(
            client
                .global_request(cancel("localhost", port))
                .await
                .unwrap(),
            GlobalReply::Success
        );
        assert!(TcpStream::connect(addr).await.is_err());
        // Unknown now, and the other still there.
        assert_eq!(
            client
                .global_request(cancel("localhost", port))
                .await
                .unwrap(),
            GlobalReply::Failure
        );
        let fixed_addr = SocketAddr::from(([127, 0, 0, 1], fixed));
        drop(TcpStream::connect(fixed_addr).await.unwrap());
        // The client ends: the listener is closed.
        client.disconnect().await.unwrap();
        assert!(
            refused(fixed_addr).await,
            "listener outlived the connection"
        );
    });
}

#[test]
fn gateway_ports_decide_the_bind_address() {
    block_on(async {
        let mut p = ForwardPolicy::permissive(uid());
        p.gateway_ports = GatewayPorts::No;
        let client = pair(p).await;
        // The client asks for every address: loopback it is.
        let GlobalReply::BoundPort(port) = forward(&client, "", 0).await else {
            panic!("refused");
        };
        let addrs = listening_addresses(u16::try_from(port).unwrap());
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(IpAddr::is_loopback), "{addrs:?}");

        let mut p = ForwardPolicy::permissive(uid());
        p.gateway_ports = GatewayPorts::ClientSpecified;
        let client = pair(p).await;
        let GlobalReply::BoundPort(port) = forward(&client, "", 0).await else {
            panic!("refused");
        };
        let addrs = listening_addresses(u16::try_from(port).unwrap());
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(IpAddr::is_unspecified), "{addrs:?}");
        let GlobalReply::BoundPort(port) = forward(&client, "127.0.0.1", 0).await else {
            panic!("refused");
        };
        assert_eq!(
            listening_addresses(u16::try_from(port).unwrap()),
            vec![IpAddr::from([127, 0, 0, 1])]
        );

        // PermitListen: only the listed port.
        let mut p = ForwardPolicy::permissive(uid());
        p.permit_listen = PermitList::from_config(&["localhost:*".into()], true);
        let client = pair(p).await;
        assert!(matches!(
            forward(&client, "localhost", 0).await,
            GlobalReply::BoundPort(_)
        ));
        assert_eq!(forward(&client, "", 0).await, GlobalReply::Failure);
    });
}

#[test]
fn streamlocal_forward_opens_forwarded_streamlocal_and_removes_the_socket() {
    block_on(async {
        let dir = temp_dir("slf");
        let path = dir.join("remote.sock");
        let spath: String = path.to_str().unwrap().into();
        let client = pair(ForwardPolicy::permissive(uid())).await;
        let c2 = client.clone();
        let incoming = runtime::spawn(async move { c2.next_channel().await.unwrap() });
        let r = client
            .global_request(GlobalRequestKind::StreamlocalForward {
                socket_path: spath.clone(),
            })
            .await
            .unwrap();
        assert_eq!(r, GlobalReply::Success);
        let md = std::fs::symlink_metadata(&path).unwrap();
        assert_eq!(md.permissions().mode() & 0o777, 0o600);
        // A second one on the same path fails (the file exists).
        let r = client
            .global_request(GlobalRequestKind::StreamlocalForward {
                socket_path: spath.clone(),
            })
            .await
            .unwrap();
        assert_eq!(r, GlobalReply::Failure);

        let conn = UnixStream::connect(&path).await.unwrap();
        let incoming = incoming.await;
        assert_eq!(
            incoming.channel_type,
            ChannelType::ForwardedStreamlocal {
                socket_path: spath.clone()
            }
        );
        let ch = incoming.accept().unwrap();
        let echo = runtime::spawn(echo_channel(ch));
        assert_eq!(round_trip(conn, b"unix".to_vec()).await, b"unix");
        echo.await;

        let r = client
            .global_request(GlobalRequestKind::CancelStreamlocalForward {
                socket_path: spath.clone(),
            })
            .await
            .unwrap();
        assert_eq!(r, GlobalReply::Success);
        assert!(!path.exists(), "socket file left after the cancel");

        // Again, then the end of the connection removes it.
        let r = client
            .global_request(GlobalRequestKind::StreamlocalForward {
                socket_path: spath.clone(),
            })
            .await
            .unwrap();
        assert_eq!(r, GlobalReply::Success);
        assert!(path.exists());
        client.disconnect().await.unwrap();
        let mut gone = false;
        for _ in 0..100 {
            if !path.exists() {
                gone = true;
                break;
            }
            runtime::sleep(Duration::from_millis(50)).await;
        }
        assert!(gone, "socket file outlived the connection");
        std::fs::remove_dir_all(&dir).unwrap();
    });
}

#[test]
fn streamlocal_forward_over_a_stale_socket_needs_stream_local_bind_unlink() {
    block_on(async {
        let dir = temp_dir("slu");
        let path = dir.join("stale.sock");
        let spath: String = path.to_str().unwrap().into();
        // A socket file left behind by a listener that is gone.
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let request = GlobalRequestKind::StreamlocalForward {
            socket_path: spath.clone(),
        };

        // StreamLocalBindUnlink no (the default): the bind fails, as sshd's.
        let client = pair(ForwardPolicy::permissive(uid())).await;
        let r = client.global_request(request.clone()).await.unwrap();
        assert_eq!(r, GlobalReply::Failure);
        assert!(path.exists());
        client.disconnect().await.unwrap();

        // yes: the stale socket is removed and the forward listens.
        let mut policy = ForwardPolicy::permissive(uid());
        policy.stream_local_bind_unlink = true;
        let client = pair(policy).await;
        let r = client.global_request(request).await.unwrap();
        assert_eq!(r, GlobalReply::Success);
        assert!(UnixStream::connect(&path).await.is_ok());
        client.disconnect().await.unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    });
}
