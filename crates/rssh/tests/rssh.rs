//! The `rssh` binary against an in-process `ssh_async::Server` on
//! 127.0.0.1: exec with stdin/stdout/stderr and the exit status, public
//! keys (plain and passphrase-protected), passwords through SSH_ASKPASS,
//! known_hosts in every mode, `-G`, configuration errors, refused
//! options, the escape `~.` on a forced PTY.

#![allow(
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
use std::time::{Duration, Instant};

use futures::io::{AsyncReadExt, AsyncWriteExt};
use ssh_async::runtime::net::TcpListener as AsyncListener;
use ssh_async::ssh_keys::{PrivateKey, PublicKey};
use ssh_async::{Channel, Server, ServerHandler, ServerOptions, runtime};
use ssh_auth::server::KeyboardInteractiveAnswer;
use ssh_wire::messages::ChannelRequestKind;
use ssh_wire::messages::userauth::InfoPrompt;

const PASSWORD: &str = "secret";

fn host_key() -> PrivateKey {
    PrivateKey::from_ed25519_seed(&[42; 32])
}

/// What the server saw, for assertions.
#[derive(Default, Debug)]
struct Seen {
    env: Vec<(String, String)>,
    pty_term: Option<String>,
}

#[derive(Clone)]
struct Policy {
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
struct TestServer {
    addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
}

fn server(methods: &[&str], keys: Vec<PublicKey>) -> TestServer {
    server_with_cas(methods, keys, Vec::new())
}

fn server_with_cas(methods: &[&str], keys: Vec<PublicKey>, cas: Vec<PublicKey>) -> TestServer {
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
                    let mut o = ServerOptions::new(vec![Box::new(host_key())]);
                    o.auth.methods = methods;
                    o.auth.banner = Some("Test banner\x07\n".into());
                    let Ok(conn) = Server::accept(stream, o, &mut policy).await else {
                        return;
                    };
                    while let Some(incoming) = conn.next_channel().await {
                        let Ok(ch) = incoming.accept() else { break };
                        let seen = policy.seen.clone();
                        drop(runtime::spawn(async move {
                            let _ = serve_channel(ch, seen).await;
                        }));
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
async fn serve_channel(ch: Channel, seen: Arc<Mutex<Seen>>) -> Result<(), ssh_async::Error> {
    while let Some(req) = ch.next_request().await {
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
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rssh-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// An askpass script answering `answer` and recording the prompts.
fn askpass(dir: &Path, answer: &str) -> PathBuf {
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

fn prompts(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("prompts"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

struct Run {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

/// Runs rssh with `args` and `stdin`, with a time limit.
fn rssh(args: &[String], env: &[(&str, &Path)], stdin: &[u8]) -> Run {
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
fn base_args(srv: &TestServer, dir: &Path, strict: &str) -> Vec<String> {
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

fn with(mut v: Vec<String>, more: &[&str]) -> Vec<String> {
    v.extend(more.iter().map(|s| s.to_string()));
    v
}

fn known_line(port: u16) -> String {
    format!(
        "[127.0.0.1]:{port} {}\n",
        host_key().public().to_openssh("")
    )
}

fn password_env(ask: &Path) -> Vec<(&'static str, &Path)> {
    vec![
        ("SSH_ASKPASS", ask),
        ("SSH_ASKPASS_REQUIRE", Path::new("force")),
    ]
}

#[test]
fn exec_passes_stdin_stdout_stderr_and_the_exit_status() {
    let srv = server(&["password"], Vec::new());
    let dir = scratch("exec");
    std::fs::write(dir.join("known_hosts"), known_line(srv.addr.port())).unwrap();
    let ask = askpass(&dir, PASSWORD);
    let env = password_env(&ask);
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let r = rssh(
        &with(base_args(&srv, &dir, "yes"), &["127.0.0.1", "cat"]),
        &env,
        &data,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout == data, "stdout differs from stdin");
    assert_eq!(prompts(&dir), vec!["alice@127.0.0.1's password: "]);
    // The banner, without its control character.
    assert!(r.stderr.contains("Test banner\n"), "{}", r.stderr);

    let r = rssh(
        &with(base_args(&srv, &dir, "yes"), &["127.0.0.1", "exit", "42"]),
        &env,
        b"",
    );
    assert_eq!(r.code, 42, "{}", r.stderr);

    let r = rssh(
        &with(
            base_args(&srv, &dir, "yes"),
            &["-q", "127.0.0.1", "stderr", "oops"],
        ),
        &env,
        b"",
    );
    assert_eq!(r.code, 0);
    assert!(r.stdout.is_empty());
    // Only the remote stderr: -q hides the banner.
    assert_eq!(r.stderr, "oops");

    // Killed by a signal: 255, as ssh.
    let r = rssh(
        &with(base_args(&srv, &dir, "yes"), &["127.0.0.1", "die"]),
        &env,
        b"",
    );
    assert_eq!(r.code, 255);
}

#[test]
fn wrong_passwords_are_denied_after_three_prompts() {
    let srv = server(&["password"], Vec::new());
    let dir = scratch("denied");
    std::fs::write(dir.join("known_hosts"), known_line(srv.addr.port())).unwrap();
    let ask = askpass(&dir, "wrong");
    let r = rssh(
        &with(base_args(&srv, &dir, "yes"), &["127.0.0.1", "true"]),
        &password_env(&ask),
        b"",
    );
    assert_eq!(r.code, 255);
    assert!(
        r.stderr
            .contains("alice@127.0.0.1: Permission denied (password)."),
        "{}",
        r.stderr
    );
    assert_eq!(prompts(&dir).len(), 3);
    // BatchMode: no prompt at all.
    let dir2 = scratch("batch");
    let ask2 = askpass(&dir2, PASSWORD);
    std::fs::write(dir2.join("known_hosts"), known_line(srv.addr.port())).unwrap();
    let r = rssh(
        &with(
            base_args(&srv, &dir2, "yes"),
            &["-o", "BatchMode=yes", "127.0.0.1", "true"],
        ),
        &password_env(&ask2),
        b"",
    );
    assert_eq!(r.code, 255);
    assert!(prompts(&dir2).is_empty());
}

fn keygen(dir: &Path, name: &str, passphrase: &str) -> (PathBuf, PublicKey) {
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

#[test]
fn publickey_with_plain_and_encrypted_key_files() {
    let dir = scratch("pubkey");
    let (plain, plain_pub) = keygen(&dir, "id_plain", "");
    let (enc, enc_pub) = keygen(&dir, "id_enc", "pass phrase");
    // The .pub files go: the public half comes from the key files.
    std::fs::remove_file(enc.with_extension("pub")).unwrap();
    let srv = server(&["publickey"], vec![plain_pub, enc_pub]);
    std::fs::write(dir.join("known_hosts"), known_line(srv.addr.port())).unwrap();
    let ask = askpass(&dir, "pass phrase");
    let env = password_env(&ask);
    let r = rssh(
        &with(
            base_args(&srv, &dir, "yes"),
            &["-i", plain.to_str().unwrap(), "127.0.0.1", "hello"],
        ),
        &env,
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, b"hello\n");
    assert!(prompts(&dir).is_empty());

    let r = rssh(
        &with(
            base_args(&srv, &dir, "yes"),
            &["-i", enc.to_str().unwrap(), "127.0.0.1", "hello"],
        ),
        &env,
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        prompts(&dir),
        vec![format!("Enter passphrase for key '{}': ", enc.display())]
    );

    // A key the server does not know: denied, naming the methods.
    let (other, _) = keygen(&dir, "id_other", "");
    let r = rssh(
        &with(
            base_args(&srv, &dir, "yes"),
            &["-i", other.to_str().unwrap(), "127.0.0.1", "hello"],
        ),
        &env,
        b"",
    );
    assert_eq!(r.code, 255);
    assert!(
        r.stderr.contains("Permission denied (publickey)."),
        "{}",
        r.stderr
    );
}

#[test]
fn unknown_host_with_strict_checking_fails() {
    let srv = server(&["password"], Vec::new());
    let dir = scratch("strict");
    let ask = askpass(&dir, PASSWORD);
    let r = rssh(
        &with(base_args(&srv, &dir, "yes"), &["127.0.0.1", "true"]),
        &password_env(&ask),
        b"",
    );
    assert_eq!(r.code, 255);
    let port = srv.addr.port();
    assert!(
        r.stderr.contains(&format!(
            "No ED25519 host key is known for [127.0.0.1]:{port} and you have requested strict checking.\n\
             Host key verification failed."
        )),
        "{}",
        r.stderr
    );
    assert!(prompts(&dir).is_empty(), "no password asked");
    assert!(!dir.join("known_hosts").exists());
}

#[test]
fn accept_new_adds_the_key_and_the_next_run_knows_it() {
    let srv = server(&["password"], Vec::new());
    let dir = scratch("acceptnew");
    let ask = askpass(&dir, PASSWORD);
    let env = password_env(&ask);
    let port = srv.addr.port();
    let r = rssh(
        &with(base_args(&srv, &dir, "accept-new"), &["127.0.0.1", "one"]),
        &env,
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "Warning: Permanently added '[127.0.0.1]:{port}' (ED25519) to the list of known hosts."
        )),
        "{}",
        r.stderr
    );
    let kh = std::fs::read_to_string(dir.join("known_hosts")).unwrap();
    assert_eq!(kh, known_line(port));
    let r = rssh(
        &with(base_args(&srv, &dir, "yes"), &["127.0.0.1", "two"]),
        &env,
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, b"two\n");
    assert!(!r.stderr.contains("Warning"), "{}", r.stderr);

    // HashKnownHosts: a hashed line, found again.
    let dir = scratch("hashed");
    let ask = askpass(&dir, PASSWORD);
    let env = password_env(&ask);
    let r = rssh(
        &with(
            base_args(&srv, &dir, "accept-new"),
            &["-o", "HashKnownHosts=yes", "127.0.0.1", "one"],
        ),
        &env,
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let kh = std::fs::read_to_string(dir.join("known_hosts")).unwrap();
    assert!(kh.starts_with("|1|"), "{kh}");
    assert!(!kh.contains("127.0.0.1"));
    let r = rssh(
        &with(base_args(&srv, &dir, "yes"), &["127.0.0.1", "two"]),
        &env,
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn ask_mode_takes_yes_from_askpass() {
    let srv = server(&["password"], Vec::new());
    let dir = scratch("ask");
    // The same script answers the host key question and the password:
    // "yes" is not the password, so the answer is per prompt.
    let p = dir.join("askpass.sh");
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\ncase \"$1\" in *authenticity*) echo yes;; *) echo {PASSWORD};; esac\n",
            dir.join("prompts").display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    let r = rssh(
        &with(base_args(&srv, &dir, "ask"), &["127.0.0.1", "ok"]),
        &password_env(&p),
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let all = std::fs::read_to_string(dir.join("prompts")).unwrap();
    let port = srv.addr.port();
    assert!(
        all.starts_with(&format!(
            "The authenticity of host '[127.0.0.1]:{port} ([127.0.0.1]:{port})' can't be established.\n\
             ED25519 key fingerprint is {}.\n",
            host_key().public().fingerprint_sha256()
        )),
        "{all}"
    );
    assert!(all.contains("Are you sure you want to continue connecting (yes/no/[fingerprint])? "));
    assert_eq!(
        std::fs::read_to_string(dir.join("known_hosts")).unwrap(),
        known_line(port)
    );
}

#[test]
fn ask_mode_takes_the_fingerprint_and_refuses_no() {
    let srv = server(&["password"], Vec::new());
    let fp = host_key().public().fingerprint_sha256();
    for (answer, code) in [(fp.as_str(), 0), ("no", 255)] {
        let dir = scratch(&format!("ask-{code}"));
        let p = dir.join("askpass.sh");
        std::fs::write(
            &p,
            format!(
                "#!/bin/sh\ncase \"$1\" in *authenticity*) echo '{answer}';; *) echo {PASSWORD};; esac\n"
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        let r = rssh(
            &with(base_args(&srv, &dir, "ask"), &["127.0.0.1", "ok"]),
            &password_env(&p),
            b"",
        );
        assert_eq!(r.code, code, "{answer}: {}", r.stderr);
        assert_eq!(dir.join("known_hosts").exists(), code == 0);
        if code == 255 {
            assert!(r.stderr.contains("Host key verification failed."));
        }
    }
}

#[test]
fn a_revoked_key_is_refused() {
    let srv = server(&["password"], Vec::new());
    let dir = scratch("revoked");
    let kh = dir.join("known_hosts");
    std::fs::write(
        &kh,
        format!(
            "{}@revoked * {}\n",
            known_line(srv.addr.port()),
            host_key().public().to_openssh("")
        ),
    )
    .unwrap();
    let ask = askpass(&dir, PASSWORD);
    let r = rssh(
        &with(base_args(&srv, &dir, "no"), &["127.0.0.1", "true"]),
        &password_env(&ask),
        b"",
    );
    assert_eq!(r.code, 255);
    assert!(
        r.stderr.contains("WARNING: REVOKED HOST KEY DETECTED!"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains(&format!("Revoked key in {}:2", kh.display()))
    );
    assert!(prompts(&dir).is_empty());
}

#[test]
fn a_changed_key_is_refused_naming_file_and_line() {
    let srv = server(&["password"], Vec::new());
    let port = srv.addr.port();
    let other = PrivateKey::from_ed25519_seed(&[1; 32]);
    for mode in ["yes", "accept-new", "ask", "no"] {
        let dir = scratch(&format!("changed-{mode}"));
        let kh = dir.join("known_hosts");
        std::fs::write(
            &kh,
            format!(
                "# first\nexample.com {}\n[127.0.0.1]:{port} {}\n",
                other.public().to_openssh(""),
                other.public().to_openssh("")
            ),
        )
        .unwrap();
        let ask = askpass(&dir, PASSWORD);
        let r = rssh(
            &with(base_args(&srv, &dir, mode), &["127.0.0.1", "true"]),
            &password_env(&ask),
            b"",
        );
        assert_eq!(r.code, 255, "{mode}");
        assert!(
            r.stderr
                .contains("@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @"),
            "{}",
            r.stderr
        );
        assert!(
            r.stderr
                .contains(&format!("Offending ED25519 key in {}:3\n", kh.display())),
            "{}",
            r.stderr
        );
        assert!(r.stderr.ends_with("Host key verification failed.\n"));
        assert!(prompts(&dir).is_empty(), "{mode}: nothing asked");
    }
}

#[test]
fn send_env_set_env_and_a_forced_pty() {
    let srv = server(&["password"], Vec::new());
    let dir = scratch("env");
    std::fs::write(dir.join("known_hosts"), known_line(srv.addr.port())).unwrap();
    let ask = askpass(&dir, PASSWORD);
    let mut env = password_env(&ask);
    env.push(("RSSH_TEST_VAR", Path::new("from-env")));
    env.push(("TERM", Path::new("xterm-test")));
    let r = rssh(
        &with(
            base_args(&srv, &dir, "yes"),
            &[
                "-o",
                "SendEnv=RSSH_TEST_*",
                "-o",
                "SetEnv=FOO=bar",
                "127.0.0.1",
                "env",
            ],
        ),
        &env,
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        String::from_utf8_lossy(&r.stdout),
        "RSSH_TEST_VAR=from-env\nFOO=bar\n"
    );
    assert!(srv.seen.lock().unwrap().pty_term.is_none());

    // -tt: a PTY with our TERM although stdin is a pipe.
    let r = rssh(
        &with(base_args(&srv, &dir, "yes"), &["-tt", "127.0.0.1", "tty"]),
        &env,
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, b"pty:xterm-test\n");
    assert!(r.stderr.contains("Connection to 127.0.0.1 closed."));
    // -t alone without a local terminal: no PTY, said so.
    let r = rssh(
        &with(base_args(&srv, &dir, "yes"), &["-t", "127.0.0.1", "hi"]),
        &env,
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("Pseudo-terminal will not be allocated because stdin is not a terminal."),
        "{}",
        r.stderr
    );
}

#[test]
fn escape_dot_disconnects_a_pty_session() {
    let srv = server(&["password"], Vec::new());
    let dir = scratch("escape");
    std::fs::write(dir.join("known_hosts"), known_line(srv.addr.port())).unwrap();
    let ask = askpass(&dir, PASSWORD);
    // "wait" never ends by itself; "~." after a newline ends rssh.
    let start = Instant::now();
    let r = rssh(
        &with(base_args(&srv, &dir, "yes"), &["-tt", "127.0.0.1", "wait"]),
        &password_env(&ask),
        b"abc\n~.",
    );
    assert_eq!(r.code, 255, "{}", r.stderr);
    assert!(start.elapsed() < Duration::from_secs(30));
    // Without a PTY there are no escapes: the same input is data, and
    // the command ends only when killed; so check the filter is off with
    // `cat` instead.
    let r = rssh(
        &with(base_args(&srv, &dir, "yes"), &["127.0.0.1", "cat"]),
        &password_env(&ask),
        b"abc\n~.\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, b"abc\n~.\n");
}

#[test]
fn dump_config_resolves_host_blocks() {
    let dir = scratch("dump");
    let cfg = dir.join("config");
    std::fs::write(
        &cfg,
        "Host myalias\n  HostName 10.1.2.3\n  Port 2200\n  User carol\n\nHost *\n  Compression yes\n",
    )
    .unwrap();
    let r = rssh(
        &[
            "-F".into(),
            cfg.display().to_string(),
            "-G".into(),
            "myalias".into(),
        ],
        &[],
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = String::from_utf8_lossy(&r.stdout);
    for line in [
        "host myalias",
        "hostname 10.1.2.3",
        "port 2200",
        "user carol",
        "compression yes",
    ] {
        assert!(out.lines().any(|l| l == line), "{line} missing in\n{out}");
    }
    // -p and -o come before the file.
    let r = rssh(
        &[
            "-F".into(),
            cfg.display().to_string(),
            "-G".into(),
            "-p".into(),
            "7".into(),
            "-o".into(),
            "User=dave".into(),
            "myalias".into(),
        ],
        &[],
        b"",
    );
    let out = String::from_utf8_lossy(&r.stdout);
    assert!(out.lines().any(|l| l == "port 7"), "{out}");
    // -o User wins over user@, which wins over the file.
    let r = rssh(
        &[
            "-F".into(),
            cfg.display().to_string(),
            "-G".into(),
            "-o".into(),
            "User=erin".into(),
            "frank@myalias".into(),
        ],
        &[],
        b"",
    );
    let o = String::from_utf8_lossy(&r.stdout);
    assert!(o.lines().any(|l| l == "user erin"), "{o}");
    let r = rssh(
        &[
            "-F".into(),
            cfg.display().to_string(),
            "-G".into(),
            "frank@myalias".into(),
        ],
        &[],
        b"",
    );
    let o = String::from_utf8_lossy(&r.stdout);
    assert!(o.lines().any(|l| l == "user frank"), "{o}");
    assert!(out.lines().any(|l| l == "user dave"), "{out}");
    let ciphers = out
        .lines()
        .find_map(|l| l.strip_prefix("ciphers "))
        .expect("a ciphers line");
    assert!(ciphers.contains("aes256-gcm@openssh.com"), "{ciphers}");
}

#[test]
fn config_errors_name_file_and_line() {
    let dir = scratch("badcfg");
    let cfg = dir.join("config");
    std::fs::write(&cfg, "Host x\n  Port 22\n  NoSuchOption yes\n").unwrap();
    let r = rssh(
        &["-F".into(), cfg.display().to_string(), "x".into()],
        &[],
        b"",
    );
    assert_eq!(r.code, 255);
    assert!(
        r.stderr.contains(&format!(
            "{} line 3: Bad configuration option: NoSuchOption",
            cfg.display()
        )),
        "{}",
        r.stderr
    );
    let r = rssh(
        &[
            "-F".into(),
            "none".into(),
            "-o".into(),
            "Port=zzz".into(),
            "x".into(),
        ],
        &[],
        b"",
    );
    assert_eq!(r.code, 255);
    assert!(r.stderr.contains("command-line line 1:"), "{}", r.stderr);
    let r = rssh(
        &[
            "-F".into(),
            dir.join("missing").display().to_string(),
            "x".into(),
        ],
        &[],
        b"",
    );
    assert_eq!(r.code, 255);
    assert!(
        r.stderr.contains("Can't open user config file"),
        "{}",
        r.stderr
    );
}

#[test]
fn unsupported_options_and_bad_arguments() {
    for (args, msg) in [
        (
            vec!["-L", "8080:localhost:80", "host"],
            "rssh: option -L is not supported yet",
        ),
        (
            vec!["-R", "1:h:2", "host"],
            "rssh: option -R is not supported yet",
        ),
        (
            vec!["-D", "1080", "host"],
            "rssh: option -D is not supported yet",
        ),
        (
            vec!["-J", "jump", "host"],
            "rssh: option -J is not supported yet",
        ),
        (vec!["-A", "host"], "rssh: option -A is not supported yet"),
        (vec!["-X", "host"], "rssh: option -X is not supported yet"),
        (
            vec!["-W", "h:1", "host"],
            "rssh: option -W is not supported yet",
        ),
        (vec!["-p", "0", "host"], "Bad port '0'"),
    ] {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let r = rssh(&args, &[], b"");
        assert_eq!(r.code, 255, "{args:?}");
        assert!(r.stderr.contains(msg), "{args:?}: {}", r.stderr);
    }
    let r = rssh(&["-V".into()], &[], b"");
    assert_eq!(r.code, 0);
    assert!(r.stderr.starts_with("rssh_"), "{}", r.stderr);
    // Nothing listens on this port (bound, then closed).
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = rssh(
        &[
            "-F".into(),
            "none".into(),
            "-p".into(),
            port.to_string(),
            "127.0.0.1".into(),
        ],
        &[],
        b"",
    );
    assert_eq!(r.code, 255);
    assert!(
        r.stderr.contains(&format!(
            "connect to host 127.0.0.1 port {port}: Connection refused"
        )),
        "{}",
        r.stderr
    );
}

#[test]
fn keyboard_interactive_prompts_go_to_askpass() {
    let srv = server(&["keyboard-interactive"], Vec::new());
    let dir = scratch("kbdint");
    std::fs::write(dir.join("known_hosts"), known_line(srv.addr.port())).unwrap();
    let ask = askpass(&dir, PASSWORD);
    let r = rssh(
        &with(base_args(&srv, &dir, "yes"), &["127.0.0.1", "kbd"]),
        &password_env(&ask),
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, b"kbd\n");
    assert_eq!(prompts(&dir), vec!["Code: ", "Secret: "]);
    assert!(r.stderr.contains("Test login"), "{}", r.stderr);
}

#[test]
fn a_certificate_next_to_the_key_is_offered() {
    let dir = scratch("cert");
    let (ca, ca_pub) = keygen(&dir, "ca", "");
    let (user, _user_pub) = keygen(&dir, "id_user", "");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-s"])
        .arg(&ca)
        .args(["-I", "test", "-n", "alice"])
        .arg(user.with_extension("pub"))
        .status()
        .unwrap();
    assert!(st.success());
    assert!(dir.join("id_user-cert.pub").exists());
    // The server knows only the CA, not the key.
    let srv = server_with_cas(&["publickey"], Vec::new(), vec![ca_pub]);
    std::fs::write(dir.join("known_hosts"), known_line(srv.addr.port())).unwrap();
    let r = rssh(
        &with(
            base_args(&srv, &dir, "yes"),
            &["-i", user.to_str().unwrap(), "127.0.0.1", "certified"],
        ),
        &[],
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, b"certified\n");
    // Without the certificate the key alone is refused.
    std::fs::remove_file(dir.join("id_user-cert.pub")).unwrap();
    let r = rssh(
        &with(
            base_args(&srv, &dir, "yes"),
            &["-i", user.to_str().unwrap(), "127.0.0.1", "certified"],
        ),
        &[],
        b"",
    );
    assert_eq!(r.code, 255, "{}", r.stderr);
}

#[test]
fn agent_keys_are_used_and_identities_only_limits_them() {
    let dir = scratch("agent");
    let (key, key_pub) = keygen(&dir, "id_agent", "");
    let sock = dir.join("agent.sock");
    let mut agent = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&sock)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !sock.exists() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let st = Command::new("ssh-add")
        .arg(&key)
        .env("SSH_AUTH_SOCK", &sock)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    // The key file is gone: only the agent can sign.
    std::fs::remove_file(&key).unwrap();
    let srv = server(&["publickey"], vec![key_pub]);
    std::fs::write(dir.join("known_hosts"), known_line(srv.addr.port())).unwrap();
    let args = base_args(&srv, &dir, "yes");
    let r = rssh(
        &with(args.clone(), &["127.0.0.1", "via-agent"]),
        &[("SSH_AUTH_SOCK", &sock)],
        b"",
    );
    let r2 = rssh(
        &with(
            args,
            &["-o", "IdentitiesOnly=yes", "127.0.0.1", "via-agent"],
        ),
        &[("SSH_AUTH_SOCK", &sock)],
        b"",
    );
    let _ = agent.kill();
    let _ = agent.wait();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, b"via-agent\n");
    assert_eq!(r2.code, 255, "IdentitiesOnly without files: {}", r2.stderr);
}

#[test]
fn verbose_output_goes_to_the_log_file() {
    let srv = server(&["password"], Vec::new());
    let dir = scratch("logfile");
    std::fs::write(dir.join("known_hosts"), known_line(srv.addr.port())).unwrap();
    let ask = askpass(&dir, PASSWORD);
    let log = dir.join("log");
    let r = rssh(
        &with(
            base_args(&srv, &dir, "yes"),
            &["-v", "-E", log.to_str().unwrap(), "127.0.0.1", "x"],
        ),
        &password_env(&ask),
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("debug1"), "{}", r.stderr);
    let text = std::fs::read_to_string(&log).unwrap();
    let port = srv.addr.port();
    for needle in [
        format!("debug1: Connecting to 127.0.0.1 [127.0.0.1] port {port}."),
        "debug1: Remote protocol version 2.0, remote software version ".to_owned(),
        "debug1: kex: algorithm: ".to_owned(),
        "debug1: Server host key: ssh-ed25519 SHA256:".to_owned(),
        "debug1: Authentications that can continue: password".to_owned(),
        format!("\nAuthenticated to 127.0.0.1 ([127.0.0.1]:{port}) using \"password\"."),
    ] {
        assert!(text.contains(&needle), "{needle:?} not in\n{text}");
    }
    // -q: nothing at all on stderr, even for a failure.
    let r = rssh(
        &with(
            base_args(&srv, &dir, "yes"),
            &["-q", "-p", "1", "127.0.0.1"],
        ),
        &[],
        b"",
    );
    assert_eq!(r.code, 255);
    assert_eq!(r.stderr, "");
}
