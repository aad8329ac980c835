//! `rssh` against the in-process server: exec with
//! stdin/stdout/stderr and the exit status, the environment, a forced
//! PTY, the escape `~.`, the log file.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::Path;
use std::time::{Duration, Instant};

mod common;

use common::*;

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

/// OpenSSH 10.1's WarnWeakCrypto: a key exchange without a post-quantum
/// part is warned about, unless the user chose KexAlgorithms or said
/// WarnWeakCrypto no; a post-quantum one is not.
#[test]
fn a_key_exchange_that_is_not_post_quantum_is_warned_about() {
    const WARNING: &str =
        "** WARNING: connection is not using a post-quantum key exchange algorithm.";
    let classic = server_tweaked(&["password"], Vec::new(), Vec::new(), 42, |o| {
        o.transport.algorithms.kex = ssh_wire::NameList::from_names(["curve25519-sha256"]).unwrap();
    });
    let dir = scratch("weak-kex");
    std::fs::write(dir.join("known_hosts"), known_line(classic.addr.port())).unwrap();
    let ask = askpass(&dir, PASSWORD);
    let env = password_env(&ask);
    let run = |srv: &TestServer, extra: &[&str]| {
        let mut args = base_args(srv, &dir, "yes");
        args.extend(extra.iter().map(|s| s.to_string()));
        args.extend(["127.0.0.1".to_string(), "exit".to_string(), "0".to_string()]);
        let r = rssh(&args, &env, b"");
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stderr
    };
    let stderr = run(&classic, &[]);
    assert!(stderr.contains(WARNING), "{stderr}");
    assert!(stderr.contains("https://openssh.com/pq.html"), "{stderr}");
    assert!(!run(&classic, &["-o", "WarnWeakCrypto=no"]).contains(WARNING));
    assert!(!run(&classic, &["-o", "KexAlgorithms=curve25519-sha256"]).contains(WARNING));
    // The default server offers ML-KEM first: no warning.
    let pq = server(&["password"], Vec::new());
    std::fs::write(dir.join("known_hosts"), known_line(pq.addr.port())).unwrap();
    assert!(!run(&pq, &[]).contains(WARNING));
}

/// A TCP proxy to `target` that, once `armed`, flips the last byte of
/// the next chunk from the server (a MAC byte): the client must find the
/// corruption itself.
fn corrupting_proxy(
    target: std::net::SocketAddr,
    armed: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> u16 {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::atomic::Ordering;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (client, _) = listener.accept().unwrap();
        let server = TcpStream::connect(target).unwrap();
        let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while let Ok(n) = c_in.read(&mut buf) {
                if n == 0 || s_out.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
        let (mut s_in, mut c_out) = (server, client);
        let mut buf = [0u8; 65536];
        let mut done = false;
        while let Ok(n) = s_in.read(&mut buf) {
            if n == 0 {
                break;
            }
            if !done && armed.load(Ordering::SeqCst) {
                buf[n - 1] ^= 0x55;
                done = true;
            }
            if c_out.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    });
    port
}

/// A corrupted packet after authentication is found by the client, and
/// said to be so: not "closed by remote host", which would blame the
/// server for what this side detected (as ssh: ssh_dispatch_run_fatal).
#[test]
fn a_violation_found_by_the_client_is_not_reported_as_a_remote_close() {
    let srv = server(&["password"], Vec::new());
    let dir = scratch("corrupt");
    let armed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let port = corrupting_proxy(srv.addr, armed.clone());
    std::fs::write(dir.join("known_hosts"), known_line(port)).unwrap();
    let ask = askpass(&dir, PASSWORD);
    let env = password_env(&ask);
    let mut args = base_args(&srv, &dir, "yes");
    let at = args.iter().position(|a| a == "-p").unwrap();
    args[at + 1] = port.to_string();
    let args = with(args, &["-o", "ServerAliveInterval=1", "127.0.0.1", "wait"]);
    // Armed once the session runs: the next keepalive reply is corrupted.
    let arm = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        armed.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let r = rssh(&args, &env, b"");
    arm.join().unwrap();
    assert_eq!(r.code, 255, "{}", r.stderr);
    assert!(!r.stderr.contains("closed by remote host"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("ssh_dispatch_run_fatal: Connection to 127.0.0.1 port"),
        "{}",
        r.stderr
    );
}
