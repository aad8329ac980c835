//! Shared by the `rssh` binary tests: an in-process `ssh_async::Server`
//! on 127.0.0.1 (sessions with a few test commands, `direct-tcpip` to
//! real sockets, `tcpip-forward` with real listeners), scratch
//! directories, askpass scripts, and running `rssh` with a time limit.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use ssh_async::GlobalReply;
use ssh_async::runtime::net::TcpListener as AsyncListener;
use ssh_async::ssh_keys::{PrivateKey, PublicKey};
use ssh_async::{Channel, Server, ServerHandler, ServerOptions, runtime};
use ssh_auth::server::KeyboardInteractiveAnswer;
use ssh_wire::messages::userauth::InfoPrompt;
use ssh_wire::messages::{ChannelRequestKind, ChannelType, GlobalRequestKind, OpenFailureReason};

pub const PASSWORD: &str = "secret";

pub fn host_key() -> PrivateKey {
    PrivateKey::from_ed25519_seed(&[42; 32])
}

/// Another host key, for a second server.
pub fn host_key_seed(seed: u8) -> PrivateKey {
    PrivateKey::from_ed25519_seed(&[seed; 32])
}

/// What the server saw, for assertions.
#[derive(Default, Debug)]
pub struct Seen {
    pub env: Vec<(String, String)>,
    pub pty_term: Option<String>,
    /// `direct-tcpip` targets asked for, with the originator.
    pub direct: Vec<(String, u32, String, u32)>,
    /// Channel requests by name (`x11-req`, `auth-agent-req@openssh.com`).
    pub requests: Vec<String>,
    /// Global requests by name, with the port a `tcpip-forward` bound.
    pub globals: Vec<(String, u32)>,
    /// The connections, to end them from a test.
    pub conns: Vec<ssh_async::ServerConnection>,
}

#[derive(Clone)]
pub struct Policy {
    /// Keys accepted as they are.
    keys: Vec<PublicKey>,
    /// CA keys whose user certificates are accepted.
    cas: Vec<PublicKey>,
    seen: Arc<Mutex<Seen>>,
}

impl ServerHandler for Policy {
    async fn password(&mut self, user: &str, password: &str) -> bool {
        user == "alice" && password == PASSWORD
    }
    async fn public_key(
        &mut self,
        user: &str,
        key: &PublicKey,
        cert: Option<&ssh_auth::cert::Certificate>,
        _proof: bool,
    ) -> bool {
        match cert {
            Some(c) => user == "alice" && self.cas.contains(&c.signature_key),
            None => user == "alice" && self.keys.contains(key),
        }
    }
    async fn keyboard_interactive(&mut self, _user: &str, _sub: &str) -> KeyboardInteractiveAnswer {
        KeyboardInteractiveAnswer::Prompts {
            name: "Test login".into(),
            instruction: String::new(),
            prompts: vec![
                InfoPrompt {
                    prompt: "Code: ".into(),
                    echo: true,
                },
                InfoPrompt {
                    prompt: "Secret: ".into(),
                    echo: false,
                },
            ],
        }
    }
    async fn info_response(
        &mut self,
        user: &str,
        responses: &[String],
    ) -> KeyboardInteractiveAnswer {
        if user == "alice" && responses.iter().all(|r| r == PASSWORD) {
            KeyboardInteractiveAnswer::Accept
        } else {
            KeyboardInteractiveAnswer::Reject
        }
    }
}

/// A server on 127.0.0.1 with `methods`, accepting `keys`, until the
/// test process ends.
pub struct TestServer {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Seen>>,
}

pub fn server(methods: &[&str], keys: Vec<PublicKey>) -> TestServer {
    server_with_cas(methods, keys, Vec::new())
}

pub fn server_with_cas(methods: &[&str], keys: Vec<PublicKey>, cas: Vec<PublicKey>) -> TestServer {
    server_full(methods, keys, cas, 42)
}

/// A server whose host key is made of `seed`.
pub fn server_full(
    methods: &[&str],
    keys: Vec<PublicKey>,
    cas: Vec<PublicKey>,
    seed: u8,
) -> TestServer {
    server_tweaked(methods, keys, cas, seed, |_| {})
}

/// [`server_full`] with its options changed by `tweak` (algorithms, ...).
pub fn server_tweaked(
    methods: &[&str],
    keys: Vec<PublicKey>,
    cas: Vec<PublicKey>,
    seed: u8,
    tweak: fn(&mut ServerOptions),
) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let policy = Policy {
        keys,
        cas,
        seen: seen.clone(),
    };
    let methods: Vec<String> = methods.iter().map(|m| m.to_string()).collect();
    std::thread::spawn(move || {
        runtime::block_on(async move {
            let listener = AsyncListener::from(listener);
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    break;
                };
                let mut policy = policy.clone();
                let methods = methods.clone();
                drop(runtime::spawn(async move {
                    let mut o = ServerOptions::new(vec![Box::new(host_key_seed(seed))]);
                    o.auth.methods = methods;
                    o.auth.banner = Some("Test banner\x07\n".into());
                    o.global_requests = true;
                    tweak(&mut o);
                    let Ok(conn) = Server::accept(stream, o, &mut policy).await else {
                        return;
                    };
                    policy.seen.lock().unwrap().conns.push(conn.clone());
                    drop(runtime::spawn(serve_global_requests(
                        conn.clone(),
                        policy.seen.clone(),
                    )));
                    while let Some(incoming) = conn.next_channel().await {
                        let seen = policy.seen.clone();
                        match incoming.channel_type.clone() {
                            ChannelType::DirectTcpip {
                                host,
                                port,
                                originator_address,
                                originator_port,
                            } => {
                                seen.lock().unwrap().direct.push((
                                    host.clone(),
                                    port,
                                    originator_address,
                                    originator_port,
                                ));
                                let target = ssh_async::runtime::net::TcpStream::connect((
                                    host.as_str(),
                                    u16::try_from(port).unwrap_or(0),
                                ))
                                .await;
                                match target {
                                    Ok(sock) => {
                                        let Ok(ch) = incoming.accept() else { break };
                                        drop(runtime::spawn(async move {
                                            let _ = splice(ch, sock).await;
                                        }));
                                    }
                                    Err(_) => {
                                        let _ = incoming.reject(
                                            OpenFailureReason::CONNECT_FAILED,
                                            "Connection refused",
                                        );
                                    }
                                }
                            }
                            ChannelType::Session => {
                                let Ok(ch) = incoming.accept() else { break };
                                drop(runtime::spawn(async move {
                                    let _ = serve_channel(ch, seen).await;
                                }));
                            }
                            _ => {
                                let _ = incoming.reject(
                                    OpenFailureReason::UNKNOWN_CHANNEL_TYPE,
                                    "unknown channel type",
                                );
                            }
                        }
                    }
                }));
            }
        });
    });
    TestServer { addr, seen }
}

/// Commands: `cat` (stdin back, status 0), `exit N`, `stderr TEXT`,
/// `env` (the variables received), `die` (exit-signal TERM), `wait`
/// (until the client goes), `tty` (the PTY's TERM); a shell says
/// "shell".
pub async fn serve_channel(ch: Channel, seen: Arc<Mutex<Seen>>) -> Result<(), ssh_async::Error> {
    while let Some(req) = ch.next_request().await {
        seen.lock()
            .unwrap()
            .requests
            .push(req.kind.name().to_owned());
        let command = match &req.kind {
            ChannelRequestKind::Env { name, value } => {
                let v = String::from_utf8_lossy(value).into_owned();
                seen.lock().unwrap().env.push((name.clone(), v));
                ch.reply(&req, true)?;
                continue;
            }
            ChannelRequestKind::PtyReq(p) => {
                seen.lock().unwrap().pty_term = Some(p.term.clone());
                ch.reply(&req, true)?;
                continue;
            }
            ChannelRequestKind::Exec { command } => String::from_utf8_lossy(command).into_owned(),
            ChannelRequestKind::Shell => "shell".to_owned(),
            _ => {
                ch.reply(&req, false)?;
                continue;
            }
        };
        ch.reply(&req, true)?;
        let mut out = ch.writer();
        let mut err = ch.stderr_writer();
        let mut status = 0;
        if command == "cat" {
            let mut data = Vec::new();
            ch.reader().read_to_end(&mut data).await?;
            out.write_all(&data).await?;
        } else if let Some(n) = command.strip_prefix("exit ") {
            status = n.parse().unwrap_or(1);
        } else if let Some(t) = command.strip_prefix("stderr ") {
            err.write_all(t.as_bytes()).await?;
        } else if command == "env" {
            let env = seen.lock().unwrap().env.clone();
            for (k, v) in env {
                out.write_all(format!("{k}={v}\n").as_bytes()).await?;
            }
        } else if command == "die" {
            ch.exit_signal("TERM", false, "").await?;
            ch.send_eof()?;
            ch.close()?;
            return Ok(());
        } else if command == "wait" {
            let mut sink = Vec::new();
            let _ = ch.reader().read_to_end(&mut sink).await;
            futures::future::pending::<()>().await;
        } else if command == "tty" {
            let t = seen.lock().unwrap().pty_term.clone();
            out.write_all(format!("pty:{}\n", t.unwrap_or_default()).as_bytes())
                .await?;
        } else {
            out.write_all(format!("{command}\n").as_bytes()).await?;
        }
        ch.exit_status(status).await?;
        ch.send_eof()?;
        ch.close()?;
    }
    Ok(())
}

/// A scratch directory.
pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rssh-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// An askpass script answering `answer` and recording the prompts.
pub fn askpass(dir: &Path, answer: &str) -> PathBuf {
    let p = dir.join("askpass.sh");
    let script = format!(
        "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\nprintf '%s\\n' '{answer}'\n",
        dir.join("prompts").display()
    );
    std::fs::write(&p, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

pub fn prompts(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("prompts"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

/// Runs rssh with `args` and `stdin`, with a time limit.
pub fn rssh(args: &[String], env: &[(&str, &Path)], stdin: &[u8]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rssh"));
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("SSH_ASKPASS")
        .env_remove("SSH_ASKPASS_REQUIRE")
        .env_remove("DISPLAY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    // Output is collected while the child runs (a full pipe would stop it).
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("rssh did not finish within a minute");
        }
    };
    let _ = feeder.join();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The usual arguments: no config files, known_hosts in `dir`, no
/// default keys (and no agent: [`rssh`] clears SSH_AUTH_SOCK).
pub fn base_args(srv: &TestServer, dir: &Path, strict: &str) -> Vec<String> {
    [
        "-F",
        "none",
        "-p",
        &srv.addr.port().to_string(),
        "-o",
        &format!("UserKnownHostsFile={}", dir.join("known_hosts").display()),
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        &format!("StrictHostKeyChecking={strict}"),
        "-o",
        "IdentityFile=none",
        "-l",
        "alice",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

pub fn with(mut v: Vec<String>, more: &[&str]) -> Vec<String> {
    v.extend(more.iter().map(|s| s.to_string()));
    v
}

pub fn known_line(port: u16) -> String {
    format!(
        "[127.0.0.1]:{port} {}\n",
        host_key().public().to_openssh("")
    )
}

pub fn password_env(ask: &Path) -> Vec<(&'static str, &Path)> {
    vec![
        ("SSH_ASKPASS", ask),
        ("SSH_ASKPASS_REQUIRE", Path::new("force")),
    ]
}

pub fn keygen(dir: &Path, name: &str, passphrase: &str) -> (PathBuf, PublicKey) {
    let path = dir.join(name);
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", passphrase, "-C", "test", "-f"])
        .arg(&path)
        .status()
        .unwrap();
    assert!(st.success());
    let line = std::fs::read_to_string(path.with_extension("pub")).unwrap();
    let (key, _) = PublicKey::from_openssh(line.trim()).unwrap();
    (path, key)
}

/// Copies a channel and a socket both ways until both ended (the test
/// servers' own relay: `ssh_server_kit::forward` is not used here).
pub async fn splice(ch: Channel, sock: ssh_async::runtime::net::TcpStream) -> std::io::Result<()> {
    let (mut sr, mut sw) = (sock.clone(), sock.clone());
    let mut cr = ch.reader();
    let mut cw = ch.writer();
    let up = async {
        let r = futures::io::copy(&mut sr, &mut cw).await;
        let _ = cw.close().await;
        r
    };
    let down = async {
        let r = futures::io::copy(&mut cr, &mut sw).await;
        let _ = sw.shutdown(std::net::Shutdown::Write);
        r
    };
    let (a, b) = futures::join!(up, down);
    let _ = ch.close();
    a.and(b).map(|_| ())
}

/// Answers `tcpip-forward` with a real listener on 127.0.0.1 (port 0:
/// the one the system picks, sent back) whose connections become
/// `forwarded-tcpip` channels; a port that cannot be bound is refused.
/// Other requests are recorded and refused.
pub async fn serve_global_requests(conn: ssh_async::ServerConnection, seen: Arc<Mutex<Seen>>) {
    while let Some(req) = conn.next_global_request().await {
        let GlobalRequestKind::TcpipForward { address, port } = req.request.clone() else {
            seen.lock()
                .unwrap()
                .globals
                .push((req.request.name().to_owned(), 0));
            let _ = req.reject();
            continue;
        };
        let Ok(listener) =
            AsyncListener::bind(("127.0.0.1", u16::try_from(port).unwrap_or(0))).await
        else {
            seen.lock()
                .unwrap()
                .globals
                .push(("tcpip-forward refused".to_owned(), port));
            let _ = req.reject();
            continue;
        };
        let bound = u32::from(listener.local_addr().unwrap().port());
        seen.lock()
            .unwrap()
            .globals
            .push(("tcpip-forward".to_owned(), bound));
        let reply = if port == 0 {
            GlobalReply::BoundPort(bound)
        } else {
            GlobalReply::Success
        };
        let _ = req.accept(reply);
        let conn = conn.clone();
        drop(runtime::spawn(async move {
            while let Ok((sock, peer)) = listener.accept().await {
                let kind = ChannelType::ForwardedTcpip {
                    address: address.clone(),
                    port: bound,
                    originator_address: peer.ip().to_string(),
                    originator_port: u32::from(peer.port()),
                };
                let Ok(ch) = conn.open_channel(kind).await else {
                    continue;
                };
                drop(runtime::spawn(async move {
                    let _ = splice(ch, sock).await;
                }));
            }
        }));
    }
}

/// A TCP echo server on 127.0.0.1 (EOF answered with EOF); its port.
pub fn echo_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { break };
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                loop {
                    match std::io::Read::read(&mut s, &mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
                let _ = s.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    port
}

/// A port nothing listened on a moment ago.
pub fn unused_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
