//! The `rsshd` binary: `-t` on good and bad files, and a real session
//! with our client library (publickey from an `authorized_keys` file,
//! exec with stdout, stderr and the exit status, the sshd-style log).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{Server, free_port, host_key, rsshd};
use ssh_os::user::User;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

fn temp_dir(name: &str) -> PathBuf {
    common::temp_dir("rsshd-test", name)
}

#[test]
fn dash_t_accepts_a_good_file_and_names_the_line_of_a_bad_one() {
    let dir = temp_dir("t");
    let (key, _) = host_key(&dir);
    let good = dir.join("good");
    std::fs::write(&good, format!("HostKey {}\nPort 2200\n", key.display())).unwrap();
    let out = rsshd().arg("-t").arg("-f").arg(&good).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad = dir.join("bad");
    std::fs::write(
        &bad,
        format!(
            "HostKey {}\n\nPasswordAuthentication maybe\n",
            key.display()
        ),
    )
    .unwrap();
    let out = rsshd().arg("-t").arg("-f").arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(255));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains(&bad.display().to_string()), "{err}");
}

#[test]
fn a_session_with_our_client() {
    let server = Server::start("session", "");
    let me = User::current().unwrap().name;
    let out = match server.exec("cat; echo oops >&2; exit 7", b"some input") {
        Ok(out) => out,
        Err(e) => {
            std::thread::sleep(Duration::from_millis(200));
            panic!("{e}; rsshd's log:\n{}", server.log());
        }
    };
    assert_eq!(out.stdout, b"some input");
    assert_eq!(out.stderr, b"oops\n");
    assert_eq!(out.exit_status, Some(7));
    std::thread::sleep(Duration::from_millis(200));
    let log = server.log();
    drop(server);
    assert!(
        log.contains(&format!("Accepted publickey for {me} from 127.0.0.1 port")),
        "{log}"
    );
    assert!(log.contains("ssh2: ED25519 SHA256:"), "{log}");
}

/// MaxStartups silent connections (one says nothing, one sends only its
/// version line, one stops after the key exchange's first packet) are
/// closed at LoginGraceTime, counted from the accept: a login after that
/// gets in. Before, the grace time started at the service request and
/// such connections held their MaxStartups slots for ever.
/// MaxStartups start:rate:full: from `start` unauthenticated connections
/// on, new ones are dropped at random (here rate 100: all), with sshd's
/// notice; before, only `full` counted.
#[test]
fn max_startups_drops_from_start_with_a_notice() {
    use std::io::Read as _;
    let server = Server::start("startups", "MaxStartups 2:100:10\n");
    let addr = ("127.0.0.1", server.port);
    let held: Vec<_> = (0..2)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    // Both counted as unauthenticated before the third arrives.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.log().matches("Connection from").count() < 2 {
        assert!(std::time::Instant::now() < deadline, "{}", server.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    let mut third = std::net::TcpStream::connect(addr).unwrap();
    third
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut got = Vec::new();
    let _ = third.read_to_end(&mut got);
    assert_eq!(
        String::from_utf8_lossy(&got),
        "Not allowed at this time\r\n",
        "{}",
        server.log()
    );
    assert!(server.wait_log("drop connection #2"), "{}", server.log());
    drop(held);
}

#[test]
fn silent_connections_are_dropped_at_login_grace_time_and_free_their_slots() {
    use std::io::{Read as _, Write as _};
    // Without penalties: three grace-exceeded connections would (rightly,
    // as sshd 9.8+) keep 127.0.0.1 out for 30 s.
    let server = Server::start(
        "grace",
        "LoginGraceTime 2\nMaxStartups 3\nPerSourcePenalties no\n",
    );
    let addr = ("127.0.0.1", server.port);
    let mut socks = Vec::new();
    let silent = std::net::TcpStream::connect(addr).unwrap();
    socks.push(silent);
    let mut banner_only = std::net::TcpStream::connect(addr).unwrap();
    banner_only.write_all(b"SSH-2.0-Silent\r\n").unwrap();
    socks.push(banner_only);
    let mut half_kex = std::net::TcpStream::connect(addr).unwrap();
    half_kex.write_all(b"SSH-2.0-Stalled\r\n").unwrap();
    // A packet header promising more than is ever sent.
    half_kex.write_all(&[0, 0, 1, 0, 4, 20]).unwrap();
    socks.push(half_kex);
    std::thread::sleep(Duration::from_millis(500));
    // All three slots are taken: a login now is refused.
    assert!(server.exec("true", b"").is_err(), "{}", server.log());
    // Each silent connection is closed by the server at the deadline.
    let started = std::time::Instant::now();
    for s in &mut socks {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
                Err(e) => panic!("not closed by the server: {e}; {}", server.log()),
            }
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    std::thread::sleep(Duration::from_millis(200));
    let out = server.exec("echo in", b"");
    assert_eq!(
        out.map(|o| o.stdout).unwrap_or_default(),
        b"in\n",
        "{}",
        server.log()
    );
}

/// PerSourcePenalties: a source that keeps connecting without
/// authenticating is refused for a while (with sshd's notice), unless
/// exempt; its penalty runs out.
#[test]
fn per_source_penalties_refuse_a_misbehaving_source_for_a_while() {
    use std::io::Read as _;
    let silent_visit = |port: u16| {
        let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.shutdown(std::net::Shutdown::Both).unwrap();
    };
    let refused = |port: u16| {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = [0u8; 64];
        let n = s.read(&mut got).unwrap_or(0);
        got[..n].starts_with(b"Not allowed at this time")
    };
    // noauth 3 s, active above 2 s: the first silent visit counts.
    let server = Server::start("penalties", "PerSourcePenalties noauth:3s min:2s\n");
    silent_visit(server.port);
    // The server has seen it end (its penalty is recorded right after).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !server.log().contains("Connection closed by 127.0.0.1") {
        assert!(std::time::Instant::now() < deadline, "{}", server.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert!(refused(server.port), "{}", server.log());
    assert!(
        server.wait_log("penalty: connections without attempting authentication"),
        "{}",
        server.log()
    );
    assert!(server.exec("true", b"").is_err());
    // Once the penalty has run out (three seconds, a little more for
    // the refused attempts' timing), the source is let in again.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let out = loop {
        std::thread::sleep(Duration::from_millis(500));
        match server.exec("echo in", b"") {
            Ok(out) => break out,
            Err(e) => assert!(
                std::time::Instant::now() < deadline,
                "still refused: {e}; {}",
                server.log()
            ),
        }
    };
    assert_eq!(out.stdout, b"in\n");
    // Exempt: never refused.
    let exempt = Server::start(
        "penalties-exempt",
        "PerSourcePenalties noauth:3s min:2s\nPerSourcePenaltyExemptList 127.0.0.0/8\n",
    );
    silent_visit(exempt.port);
    std::thread::sleep(Duration::from_millis(500));
    assert!(!refused(exempt.port), "{}", exempt.log());
}

/// RefuseConnection (OpenSSH 10.1) in the user's Match block: the
/// connection ends as soon as the user is known, logged as sshd does.
#[test]
fn refuse_connection_in_a_match_block_ends_the_connection() {
    let me = User::current().unwrap().name;
    let server = Server::start(
        "refuse",
        &format!("PerSourcePenalties no\nMatch User {me}\n  RefuseConnection yes\n"),
    );
    let e = server.exec("true", b"").expect_err("refused");
    assert!(e.to_string().contains("administratively prohibited"), "{e}");
    assert!(
        server.wait_log(&format!(
            "administratively prohibited connection for {me} from 127.0.0.1"
        )),
        "{}",
        server.log()
    );
}

/// Under a systemd unit of Type=notify: READY=1 once listening; on
/// SIGTERM STOPPING=1, and the PidFile goes with the listener (sshd 10).
#[test]
fn notifies_systemd_and_removes_its_pid_file_on_sigterm() {
    let dir = temp_dir("notify");
    let (key, _) = host_key(&dir);
    let notify = dir.join("notify");
    let manager = std::os::unix::net::UnixDatagram::bind(&notify).unwrap();
    manager
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let pid_file = dir.join("rsshd.pid");
    let cfg = dir.join("cfg");
    std::fs::write(
        &cfg,
        format!(
            "HostKey {}\nListenAddress 127.0.0.1\nPidFile {}\n",
            key.display(),
            pid_file.display()
        ),
    )
    .unwrap();
    let mut child = rsshd()
        .args(["-D", "-e", "-f"])
        .arg(&cfg)
        .args(["-p", &free_port().to_string()])
        .env("NOTIFY_SOCKET", &notify)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 256];
    let n = manager.recv(&mut buf).expect("no READY=1");
    assert_eq!(&buf[..n], b"READY=1");
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    assert_eq!(pid.trim(), child.id().to_string());
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let n = manager.recv(&mut buf).expect("no STOPPING=1");
    assert_eq!(&buf[..n], b"STOPPING=1");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "rsshd did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!pid_file.exists(), "the pid file outlived the server");
}

/// Without `-D` it detaches as sshd does: the command returns 0 at once,
/// and the pid file names the daemon, another process, which serves and
/// stops on SIGTERM (removing the pid file).
#[test]
fn detaches_without_dash_d() {
    use std::io::Read as _;
    let dir = temp_dir("detach");
    let (key, _) = host_key(&dir);
    let pid_file = dir.join("rsshd.pid");
    let cfg = dir.join("cfg");
    std::fs::write(
        &cfg,
        format!(
            "HostKey {}\nListenAddress 127.0.0.1\nPidFile {}\n",
            key.display(),
            pid_file.display()
        ),
    )
    .unwrap();
    let port = free_port();
    let mut child = rsshd()
        .args(["-e", "-f"])
        .arg(&cfg)
        .args(["-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("rsshd without -D stayed in the foreground");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let daemon = loop {
        if let Ok(text) = std::fs::read_to_string(&pid_file)
            && let Ok(pid) = text.trim().parse::<u32>()
        {
            break pid;
        }
        assert!(std::time::Instant::now() < deadline, "no pid file");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_ne!(daemon, child.id());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut stream = loop {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => break s,
            Err(e) => assert!(std::time::Instant::now() < deadline, "{e}"),
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut banner = [0u8; 8];
    stream.read_exact(&mut banner).unwrap();
    assert_eq!(&banner, b"SSH-2.0-");
    drop(stream);
    let killed = Command::new("kill")
        .args(["-TERM", &daemon.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while pid_file.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the daemon did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
