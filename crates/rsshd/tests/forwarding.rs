//! Forwarding through the `rsshd` binary with our client library:
//! direct-tcpip, direct-streamlocal, tcpip-forward (port 0) with the
//! forwarded-tcpip channel coming back, and refusals by sshd_config and
//! by `authorized_keys` options, with sshd's log lines.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::host_key;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use ssh_async::runtime::net::{TcpListener, TcpStream, UnixListener};
use ssh_async::ssh_keys::{PrivateKey, PublicKey};
use ssh_async::ssh_wire::messages::{ChannelType, GlobalRequestKind, OpenFailureReason};
use ssh_async::{Channel, Client, ClientOptions, Error, GlobalReply, SimpleHandler, runtime};
use ssh_os::user::User;

fn temp_dir(name: &str) -> PathBuf {
    common::temp_dir("rsshd-fwd", name)
}

struct Server {
    child: Child,
    port: u16,
    host_public: PublicKey,
    log: Arc<Mutex<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits up to 5 s for `needle` in the log.
    fn wait_log(&self, needle: &str) -> bool {
        for _ in 0..100 {
            if self.log().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

/// rsshd with `extra` configuration lines, our key authorized with
/// `key_options` (may be empty).
fn start(name: &str, extra: &str, key_options: &str) -> (Server, PrivateKey) {
    let dir = temp_dir(name);
    let (key, host_public) = host_key(&dir);
    let user_key = PrivateKey::from_ed25519_seed(&[6; 32]);
    let prefix = if key_options.is_empty() {
        String::new()
    } else {
        format!("{key_options} ")
    };
    std::fs::write(
        dir.join("authorized_keys"),
        format!("{prefix}{}\n", user_key.public().to_openssh("test")),
    )
    .unwrap();
    let cfg = dir.join("cfg");
    std::fs::write(
        &cfg,
        format!(
            "HostKey {}\nListenAddress 127.0.0.1\nAuthorizedKeysFile {}/authorized_keys\nPasswordAuthentication no\n{extra}",
            key.display(),
            dir.display()
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rsshd"))
        .args(["-D", "-e", "-d", "-f"])
        .arg(&cfg)
        .args(["-p", &port.to_string()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    {
        let log = log.clone();
        std::thread::spawn(move || {
            use std::io::BufRead as _;
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if line.contains("Server listening on") {
                    let _ = ready_tx.send(());
                }
                let mut l = log.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
    }
    let server = Server {
        child,
        port,
        host_public,
        log,
    };
    assert!(
        ready_rx.recv_timeout(Duration::from_secs(20)).is_ok(),
        "rsshd did not listen: {}",
        server.log()
    );
    (server, user_key)
}

async fn connect(server: &Server, key: PrivateKey) -> Result<Client, Error> {
    let stream = TcpStream::connect(("127.0.0.1", server.port)).await?;
    let host_public = server.host_public.clone();
    let mut handler = SimpleHandler {
        host_key_check: Box::new(move |k| *k == host_public),
        keys: vec![key],
        password: None,
    };
    let me = User::current().unwrap().name;
    let options = ClientOptions::new(&me, handler.methods());
    Client::connect(stream, options, &mut handler).await
}

async fn tcp_echo() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    drop(runtime::spawn(async move {
        loop {
            let (s, _) = l.accept().await.unwrap();
            drop(runtime::spawn(async move {
                let mut w = s.clone();
                futures::io::copy(s.clone(), &mut w).await.unwrap();
                s.shutdown(std::net::Shutdown::Write).unwrap();
            }));
        }
    }));
    port
}

/// Sends `data` on the channel, then EOF, and reads everything back.
async fn through(ch: Channel, data: &[u8]) -> Vec<u8> {
    let mut w = ch.writer();
    let data = data.to_vec();
    let writer = runtime::spawn(async move {
        w.write_all(&data).await.unwrap();
        w.close().await.unwrap();
    });
    let mut back = Vec::new();
    ch.reader().read_to_end(&mut back).await.unwrap();
    writer.await;
    back
}

fn direct(port: u16) -> ChannelType {
    ChannelType::DirectTcpip {
        host: "127.0.0.1".into(),
        port: u32::from(port),
        originator_address: "127.0.0.1".into(),
        originator_port: 40000,
    }
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn run<F: std::future::Future>(server: &Server, f: F) -> F::Output {
    match runtime::block_on(runtime::timeout(Duration::from_secs(60), f)) {
        Some(v) => v,
        None => panic!("timed out; rsshd's log:\n{}", server.log()),
    }
}

#[test]
fn direct_and_remote_forwarding_through_rsshd() {
    let (server, key) = start("ok", "", "");
    let dir = temp_dir("ok-sock");
    let sock = dir.join("echo.sock");
    run(&server, async {
        let echo = tcp_echo().await;
        let ul = UnixListener::bind(&sock).await.unwrap();
        drop(runtime::spawn(async move {
            let (s, _) = ul.accept().await.unwrap();
            let mut w = s.clone();
            futures::io::copy(s.clone(), &mut w).await.unwrap();
            s.shutdown(std::net::Shutdown::Write).unwrap();
        }));
        let client = connect(&server, key).await.unwrap();
        let c2 = client.clone();
        let incoming = runtime::spawn(async move { c2.next_channel().await.unwrap() });

        // direct-tcpip, 2 MiB both ways.
        let data = pattern(2 << 20);
        let ch = client.open_channel(direct(echo)).await.unwrap();
        assert!(through(ch, &data).await == data);

        // direct-streamlocal.
        let ch = client
            .open_channel(ChannelType::DirectStreamlocal {
                socket_path: sock.to_str().unwrap().into(),
            })
            .await
            .unwrap();
        assert_eq!(through(ch, b"over unix").await, b"over unix");

        // tcpip-forward port 0, a connection to it comes back.
        let reply = client
            .global_request(GlobalRequestKind::TcpipForward {
                address: "localhost".into(),
                port: 0,
            })
            .await
            .unwrap();
        let GlobalReply::BoundPort(port) = reply else {
            panic!("{reply:?}");
        };
        let port = u16::try_from(port).unwrap();
        let mut conn = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let incoming = incoming.await;
        assert!(
            matches!(
                &incoming.channel_type,
                ChannelType::ForwardedTcpip { address, port: p, .. }
                    if address == "localhost" && *p == u32::from(port)
            ),
            "{:?}",
            incoming.channel_type
        );
        let ch = incoming.accept().unwrap();
        conn.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        ch.reader().read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        ch.writer().write_all(b"pong").await.unwrap();
        conn.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pong");
        drop(ch);
        drop(conn);

        // Cancelled: the port is closed.
        let reply = client
            .global_request(GlobalRequestKind::CancelTcpipForward {
                address: "localhost".into(),
                port: u32::from(port),
            })
            .await
            .unwrap();
        assert_eq!(reply, GlobalReply::Success);
        assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
        client.disconnect().await.unwrap();
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

async fn refused(client: &Client, kind: ChannelType) -> OpenFailureReason {
    match client.open_channel(kind).await {
        Err(Error::ChannelOpenFailed { reason, .. }) => reason,
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("not refused"),
    }
}

#[test]
fn allow_tcp_forwarding_no_refuses_and_the_connection_goes_on() {
    let (server, key) = start("no", "AllowTcpForwarding no\n", "");
    run(&server, async {
        let echo = tcp_echo().await;
        let client = connect(&server, key).await.unwrap();
        assert_eq!(
            refused(&client, direct(echo)).await,
            OpenFailureReason::ADMINISTRATIVELY_PROHIBITED
        );
        let reply = client
            .global_request(GlobalRequestKind::TcpipForward {
                address: "localhost".into(),
                port: 0,
            })
            .await
            .unwrap();
        assert_eq!(reply, GlobalReply::Failure);
        let out = client.exec("echo still here").await.unwrap();
        assert_eq!(out.stdout, b"still here\n");
        client.disconnect().await.unwrap();
        let line = format!(
            "refused local port forward: originator 127.0.0.1 port 40000, target 127.0.0.1 port {echo}"
        );
        assert!(server.wait_log(&line), "{}", server.log());
    });
}

#[test]
fn key_options_restrict_and_permitopen() {
    let (server, key) = start("restrict", "", "restrict");
    run(&server, async {
        let echo = tcp_echo().await;
        let client = connect(&server, key).await.unwrap();
        assert_eq!(
            refused(&client, direct(echo)).await,
            OpenFailureReason::ADMINISTRATIVELY_PROHIBITED
        );
        client.disconnect().await.unwrap();
    });
    drop(server);

    let echo = runtime::block_on(tcp_echo());
    let (server, key) = start(
        "permitopen",
        "",
        &format!("permitopen=\"127.0.0.1:{echo}\""),
    );
    run(&server, async {
        let client = connect(&server, key).await.unwrap();
        let other = echo.wrapping_add(1);
        assert_eq!(
            refused(&client, direct(other)).await,
            OpenFailureReason::ADMINISTRATIVELY_PROHIBITED
        );
        let ch = client.open_channel(direct(echo)).await.unwrap();
        assert_eq!(through(ch, b"permitted").await, b"permitted");
        client.disconnect().await.unwrap();
        let line =
            format!("to connect to host 127.0.0.1 port {other}, but the request was denied.");
        assert!(server.wait_log(&line), "{}", server.log());
    });
}
