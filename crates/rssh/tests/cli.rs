//! `rssh`'s command line and configuration: `-G`, configuration
//! errors, bad arguments, unreachable hosts.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::TcpListener;

mod common;

use common::*;

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
fn bad_arguments_and_unreachable_hosts() {
    for (args, msg) in [
        (
            vec!["-L", "8080", "host"],
            "Bad local forwarding specification '8080'",
        ),
        (
            vec!["-R", "a:b:c:d:e", "host"],
            "Bad remote forwarding specification 'a:b:c:d:e'",
        ),
        (
            vec!["-D", "x:y:z", "host"],
            "Bad dynamic forwarding specification 'x:y:z'",
        ),
        (
            vec!["-W", "h", "host"],
            "Bad stdio forwarding specification 'h'",
        ),
        (vec!["-J", "u@", "host"], "Invalid ProxyJump \"u@\""),
        (
            vec!["-F", "none", "-f", "host"],
            "Cannot fork into background without a command to execute.",
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

/// ConnectTimeout covers the banner exchange as in ssh: a server that
/// accepts but never speaks is given up on (before, rssh waited forever).
#[test]
fn connect_timeout_covers_a_silent_server() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepted, held open, never answered.
    let held = std::thread::spawn(move || listener.accept().map(|(s, _)| s));
    let start = std::time::Instant::now();
    let r = rssh(
        &[
            "-F".into(),
            "none".into(),
            "-o".into(),
            "ConnectTimeout=1".into(),
            "-p".into(),
            port.to_string(),
            "127.0.0.1".into(),
            "true".into(),
        ],
        &[],
        b"",
    );
    let took = start.elapsed();
    assert_eq!(r.code, 255, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("Connection timed out during banner exchange"),
        "{}",
        r.stderr
    );
    assert!(took < std::time::Duration::from_secs(10), "took {took:?}");
    drop(held.join());
}
