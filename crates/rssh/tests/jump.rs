//! `rssh` reaching a host through others: `-J`/`ProxyJump` through an
//! in-process jump server to a second server (each host key checked
//! under its own name), `ProxyCommand` (here `rssh -W` itself), and
//! `-W` on its own.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::Path;

mod common;

use common::*;

/// A configuration with `jump` and `target` host blocks (password
/// authentication, known_hosts in `dir`, strict checking), `extra` lines
/// for `target`.
fn config(dir: &Path, jump: u16, target: u16, extra: &str) -> String {
    let common = format!(
        "  HostName 127.0.0.1\n  User alice\n  UserKnownHostsFile {}\n  \
         GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  IdentityFile none\n",
        dir.join("known_hosts").display()
    );
    let text = format!(
        "Host jump jump2\n  Port {jump}\n{common}\nHost target\n  Port {target}\n{extra}{common}"
    );
    let path = dir.join("config");
    std::fs::write(&path, &text).unwrap();
    path.display().to_string()
}

fn known(seed: u8, port: u16) -> String {
    format!(
        "[127.0.0.1]:{port} {}\n",
        host_key_seed(seed).public().to_openssh("")
    )
}

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn jump_host_carries_the_connection_and_each_host_key_is_checked() {
    let jump = server_full(&["password"], Vec::new(), Vec::new(), 7);
    let target = server_full(&["password"], Vec::new(), Vec::new(), 42);
    let (jp, tp) = (jump.addr.port(), target.addr.port());
    let dir = scratch("jump");
    std::fs::write(dir.join("known_hosts"), known(7, jp) + &known(42, tp)).unwrap();
    let ask = askpass(&dir, PASSWORD);
    let cfg = config(&dir, jp, tp, "");
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let r = rssh(
        &args(&["-F", &cfg, "-J", "jump", "target", "cat"]),
        &password_env(&ask),
        &data,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout == data, "stdout differs from stdin");
    // One password for each hop.
    assert_eq!(prompts(&dir).len(), 2, "{:?}", prompts(&dir));
    // The jump server was asked for the target as -W asks for it.
    assert_eq!(
        jump.seen.lock().unwrap().direct,
        vec![(
            "127.0.0.1".to_owned(),
            u32::from(tp),
            "127.0.0.1".to_owned(),
            65535
        )]
    );
    assert!(target.seen.lock().unwrap().direct.is_empty());

    // ProxyJump in the file, user@host:port on the command line: the
    // same. The jump host named by address takes no host block; its
    // known_hosts entry is [127.0.0.1]:port either way.
    let cfg2 = config(&dir, jp, tp, "  ProxyJump jump\n");
    let r = rssh(
        &args(&["-F", &cfg2, "target", "exit", "3"]),
        &password_env(&ask),
        b"",
    );
    assert_eq!(r.code, 3, "{}", r.stderr);

    // Another name for the same server is a hop, not a loop; the same
    // name is a loop.
    let r = rssh(
        &args(&["-F", &cfg, "-J", "jump", "jump2", "exit", "5"]),
        &password_env(&ask),
        b"",
    );
    assert_eq!(r.code, 5, "{}", r.stderr);
    let r = rssh(
        &args(&["-F", &cfg, "-J", "jump", "jump", "true"]),
        &password_env(&ask),
        b"",
    );
    assert_eq!(r.code, 255);
    assert!(r.stderr.contains("jumphost loop via jump"), "{}", r.stderr);

    // A wrong key for the jump host: refused there, the target is never
    // reached.
    let before = jump.seen.lock().unwrap().direct.len();
    std::fs::write(dir.join("known_hosts"), known(9, jp) + &known(42, tp)).unwrap();
    let r = rssh(
        &args(&["-F", &cfg, "-J", "jump", "target", "true"]),
        &password_env(&ask),
        b"",
    );
    assert_eq!(r.code, 255);
    assert!(
        r.stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("Host key verification failed."),
        "{}",
        r.stderr
    );
    assert_eq!(jump.seen.lock().unwrap().direct.len(), before);

    // A wrong key for the target only: the jump succeeds, the target is
    // refused.
    std::fs::write(dir.join("known_hosts"), known(7, jp) + &known(9, tp)).unwrap();
    let r = rssh(
        &args(&["-F", &cfg, "-J", "jump", "target", "true"]),
        &password_env(&ask),
        b"",
    );
    assert_eq!(r.code, 255);
    assert!(
        r.stderr.contains(&format!("[127.0.0.1]:{tp}")),
        "{}",
        r.stderr
    );
    assert_eq!(jump.seen.lock().unwrap().direct.len(), before + 1);

    // The target does not answer behind the jump host.
    std::fs::write(dir.join("known_hosts"), known(7, jp)).unwrap();
    let cfg3 = config(&dir, jp, unused_port(), "");
    let r = rssh(
        &args(&["-F", &cfg3, "-J", "jump", "target", "true"]),
        &password_env(&ask),
        b"",
    );
    assert_eq!(r.code, 255);
    assert!(
        r.stderr
            .contains("channel 0: open failed: connect failed: Connection refused"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("stdio forwarding failed"), "{}", r.stderr);
}

#[test]
fn stdio_forwarding_joins_stdin_and_stdout_to_a_port() {
    let jump = server_full(&["password"], Vec::new(), Vec::new(), 7);
    let jp = jump.addr.port();
    let dir = scratch("stdio");
    std::fs::write(dir.join("known_hosts"), known(7, jp)).unwrap();
    let ask = askpass(&dir, PASSWORD);
    let cfg = config(&dir, jp, 1, "");
    let echo = echo_server();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 13 % 256) as u8).collect();
    let r = rssh(
        &args(&["-F", &cfg, "-W", &format!("127.0.0.1:{echo}"), "jump"]),
        &password_env(&ask),
        &data,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout == data, "echo differs");
    let closed = unused_port();
    let r = rssh(
        &args(&["-F", &cfg, "-W", &format!("127.0.0.1:{closed}"), "jump"]),
        &password_env(&ask),
        b"",
    );
    assert_eq!(r.code, 255);
    assert!(
        r.stderr.contains(
            "channel 0: open failed: connect failed: Connection refused\nstdio forwarding failed"
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn proxy_command_is_the_transport() {
    let jump = server_full(&["password"], Vec::new(), Vec::new(), 7);
    let target = server_full(&["password"], Vec::new(), Vec::new(), 42);
    let (jp, tp) = (jump.addr.port(), target.addr.port());
    let dir = scratch("proxycmd");
    std::fs::write(dir.join("known_hosts"), known(7, jp) + &known(42, tp)).unwrap();
    let ask = askpass(&dir, PASSWORD);
    let cfg = config(&dir, jp, tp, "");
    // rssh -W through the jump host as the ProxyCommand; %h and %p are
    // the target's.
    let proxy = format!(
        "ProxyCommand={} -F {cfg} -W %h:%p jump",
        env!("CARGO_BIN_EXE_rssh")
    );
    let r = rssh(
        &args(&["-F", &cfg, "-o", &proxy, "target", "cat"]),
        &password_env(&ask),
        b"through the proxy",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, b"through the proxy");
    assert_eq!(
        jump.seen.lock().unwrap().direct,
        vec![(
            "127.0.0.1".to_owned(),
            u32::from(tp),
            "127.0.0.1".to_owned(),
            65535
        )]
    );
    // ProxyJump and ProxyCommand: the first one given wins (here -o
    // ProxyCommand before the -J that comes later from the file).
    let cfg2 = config(&dir, jp, tp, "  ProxyJump nosuchhost.invalid\n");
    let r = rssh(
        &args(&["-F", &cfg2, "-o", &proxy, "target", "exit", "4"]),
        &password_env(&ask),
        b"",
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    // A proxy command that exits at once: a clean failure.
    let r = rssh(
        &args(&["-F", &cfg, "-o", "ProxyCommand=false", "target", "true"]),
        &password_env(&ask),
        b"",
    );
    assert_eq!(r.code, 255);
    assert!(
        r.stderr.contains("Connection closed by UNKNOWN port 65535")
            || r.stderr.contains("Connection reset by UNKNOWN port 65535"),
        "{}",
        r.stderr
    );
}

#[test]
fn proxy_command_refuses_shell_metacharacters_in_typed_names() {
    // A name given to rssh (say by a repository URL) must not run
    // commands through ProxyCommand's %h/%n/%r (as OpenSSH's
    // valid_hostname/valid_ruser, CVE-2023-51385).
    let dir = scratch("proxyinject");
    let mark = dir.join("injected");
    let host = format!("x$(touch {})", mark.display());
    let r = rssh(
        &args(&[
            "-F",
            "/dev/null",
            "-o",
            "ProxyCommand=true %n",
            "-o",
            "BatchMode=yes",
            &host,
            "true",
        ]),
        &[],
        b"",
    );
    assert_eq!(r.code, 255, "{}", r.stderr);
    assert!(
        r.stderr.contains("hostname contains invalid characters"),
        "{}",
        r.stderr
    );
    let user = format!("u`touch {}`@host", mark.display());
    let r = rssh(
        &args(&[
            "-F",
            "/dev/null",
            "-o",
            "ProxyCommand=true %r",
            "-o",
            "BatchMode=yes",
            &user,
            "true",
        ]),
        &[],
        b"",
    );
    assert_eq!(r.code, 255, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("remote username contains invalid characters"),
        "{}",
        r.stderr
    );
    assert!(!mark.exists(), "the name ran a command");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn stdio_forwarding_keeps_sending_after_the_target_half_closes() {
    // The target says hello and shuts down its write half, then reads
    // what comes: stdin given after the channel's EOF must still reach
    // it, and its EOF end the run (ssh -W keeps the half-close).
    let jump = server_full(&["password"], Vec::new(), Vec::new(), 7);
    let jp = jump.addr.port();
    let dir = scratch("stdiohalf");
    std::fs::write(dir.join("known_hosts"), known(7, jp)).unwrap();
    let ask = askpass(&dir, PASSWORD);
    let cfg = config(&dir, jp, 1, "");
    let target = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let tport = target.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut s, _) = target.accept().unwrap();
        s.write_all(b"hello\n").unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        let _ = tx.send(got);
    });
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rssh"))
        .args(args(&[
            "-F",
            &cfg,
            "-W",
            &format!("127.0.0.1:{tport}"),
            "jump",
        ]))
        .env_remove("SSH_AUTH_SOCK")
        .env("SSH_ASKPASS", &ask)
        .env("SSH_ASKPASS_REQUIRE", "force")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut line = [0u8; 6];
    std::io::Read::read_exact(&mut stdout, &mut line).unwrap();
    assert_eq!(&line, b"hello\n");
    // The channel's EOF has come by now (the target wrote and shut down
    // at once); give it time to be handled.
    std::thread::sleep(std::time::Duration::from_millis(500));
    std::io::Write::write_all(&mut stdin, b"after eof").unwrap();
    drop(stdin);
    let got = rx.recv_timeout(std::time::Duration::from_secs(20));
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(got.ok().as_deref(), Some(&b"after eof"[..]));
    let _ = std::fs::remove_dir_all(&dir);
}
