//! Privilege separation of a root rsshd, from outside: the workers'
//! confinement and ids (through /proc), no host private key in a worker's
//! memory (read through /proc/PID/mem, with the monitor's as the control),
//! a killed worker costing only its own unauthenticated connections, and
//! authenticated connections served by one session process of their user.
//! Needs root (skipped otherwise).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::Server;
use ssh_os::user;

/// The server's live worker processes: pids of its children started as
/// `rsshd --privsep-worker`.
fn workers(server: &Server) -> Vec<u32> {
    let parent = server.running.0.id().to_string();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let (Ok(status), Ok(cmdline)) = (
            std::fs::read_to_string(e.path().join("status")),
            std::fs::read(e.path().join("cmdline")),
        ) else {
            continue;
        };
        let ppid = status.lines().find_map(|l| l.strip_prefix("PPid:"));
        let zombie = status
            .lines()
            .any(|l| l.starts_with("State:") && l.contains('Z'));
        let is_worker = cmdline.split(|b| *b == 0).any(|a| a == b"--privsep-worker");
        if ppid.map(str::trim) == Some(parent.as_str()) && is_worker && !zombie {
            out.push(pid);
        }
    }
    out.sort_unstable();
    out
}

/// Waits until the server has `n` workers.
fn wait_workers(server: &Server, n: usize) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let w = workers(server);
        if w.len() == n {
            return w;
        }
        assert!(
            Instant::now() < deadline,
            "{} workers, not {n}: {}",
            w.len(),
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn expected_workers() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

fn field(status: &str, name: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// The ed25519 seed in an unencrypted openssh-key-v1 file: the private
/// key is `string(seed || public)`, the public key's 32 bytes known.
fn ed25519_seed(file: &Path, public: &[u8]) -> [u8; 32] {
    use base64ct::{Base64, Encoding};
    let text = std::fs::read_to_string(file).unwrap();
    let b64: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    let blob = Base64::decode_vec(&b64).unwrap();
    let at = blob
        .windows(68)
        .position(|w| w[..4] == [0, 0, 0, 64] && w[36..] == *public)
        .expect("the private key in the file");
    blob[at + 4..at + 36].try_into().unwrap()
}

/// Whether `needle` is anywhere in the readable memory of `pid`.
fn memory_holds(pid: u32, needle: &[u8]) -> bool {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mem = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    for line in maps.lines() {
        let mut parts = line.split_whitespace();
        let (Some(range), Some(perms)) = (parts.next(), parts.next()) else {
            continue;
        };
        if !perms.starts_with('r') || line.ends_with("[vvar]") || line.ends_with("[vsyscall]") {
            continue;
        }
        let (a, b) = range.split_once('-').unwrap();
        let (a, b) = (
            u64::from_str_radix(a, 16).unwrap(),
            u64::from_str_radix(b, 16).unwrap(),
        );
        let mut buf = vec![0; usize::try_from(b - a).unwrap()];
        if mem.read_exact_at(&mut buf, a).is_err() {
            continue;
        }
        if buf.windows(needle.len()).any(|w| w == needle) {
            return true;
        }
    }
    false
}

#[test]
fn workers_are_confined_and_hold_no_host_private_key() {
    if !user::is_root() {
        println!("skipped: privilege separation needs root");
        return;
    }
    let server = Server::start("privsep-confined", "");
    assert!(server.wait_log("privilege separation"), "{}", server.log());
    let pids = wait_workers(&server, expected_workers());
    // A login through a worker: its key exchange was signed by the monitor.
    let out = server.exec("echo through", b"").expect("login");
    assert_eq!(out.stdout, b"through\n");
    let worker_account = ["sshd", "nobody"]
        .iter()
        .find_map(|n| user::User::by_name(n).ok().flatten())
        .unwrap();
    for pid in &pids {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let u = worker_account.uid;
        assert_eq!(field(&status, "Uid:"), format!("{u}\t{u}\t{u}\t{u}"));
        assert_eq!(field(&status, "NoNewPrivs:"), "1");
        assert_eq!(field(&status, "Seccomp:"), "2");
        assert_eq!(
            std::fs::read_link(format!("/proc/{pid}/root")).unwrap(),
            Path::new("/run/rsshd")
        );
    }
    // The host key's secret: in the monitor (the control: the search can
    // find it), in no worker.
    let dir = std::env::temp_dir().join(format!(
        "rsshd-test-privsep-confined-{}",
        std::process::id()
    ));
    let public = server.host_public.to_blob();
    let seed = ed25519_seed(&dir.join("host_key"), &public[public.len() - 32..]);
    assert!(
        memory_holds(server.running.0.id(), &seed),
        "the search does not find the key in the monitor"
    );
    for pid in &pids {
        assert!(
            !memory_holds(*pid, &seed),
            "worker {pid} holds the host key"
        );
    }
}

/// Connects and reads the server's version line.
fn unauthenticated(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut line = Vec::new();
    let mut b = [0];
    while !line.ends_with(b"\n") {
        s.read_exact(&mut b).unwrap();
        line.push(b[0]);
    }
    assert!(line.starts_with(b"SSH-2.0-"));
    s
}

/// Whether the server still holds the connection: what it already sent
/// (its KEXINIT) is read, then a closed connection ends (EOF or reset)
/// while a live one waits for us (the read times out).
fn still_served(mut s: TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return false,
            Ok(_) => {}
            Err(e) => {
                return matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                );
            }
        }
    }
}

#[test]
fn a_killed_worker_costs_only_its_own_unauthenticated_connections() {
    if !user::is_root() {
        println!("skipped: privilege separation needs root");
        return;
    }
    let n = expected_workers();
    let server = Server::start("privsep-kill", "");
    let pids = wait_workers(&server, n);
    // An authenticated connection, served by the user's session process
    // from now on.
    let me = user::User::current().unwrap().name;
    let host_public = server.host_public.clone();
    let port = server.port;
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        ssh_async::runtime::block_on(async move {
            let stream = ssh_async::runtime::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .unwrap();
            let mut handler = ssh_async::SimpleHandler {
                host_key_check: Box::new(move |k| *k == host_public),
                keys: vec![ssh_async::ssh_keys::PrivateKey::from_ed25519_seed(
                    &common::USER_SEED,
                )],
                password: None,
            };
            let options = ssh_async::ClientOptions::new(&me, handler.methods());
            let client = ssh_async::Client::connect(stream, options, &mut handler)
                .await
                .unwrap();
            let first = client.exec("echo before").await.unwrap();
            done_tx.send(first.stdout).unwrap();
            // After the worker is killed: the same connection goes on.
            rx.recv().unwrap();
            let second = client.exec("echo after").await.unwrap();
            done_tx.send(second.stdout).unwrap();
            client.disconnect().await.unwrap();
        });
    });
    let wait = Duration::from_secs(30);
    assert_eq!(done_rx.recv_timeout(wait).unwrap(), b"before\n");
    // One unauthenticated connection per worker (given out in turn).
    let waiting: Vec<TcpStream> = (0..n).map(|_| unauthenticated(server.port)).collect();
    let victim = pids[0];
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &victim.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert!(
        server.wait_log(&format!("worker {victim} ended")),
        "{}",
        server.log()
    );
    // Exactly the killed worker's connection is gone.
    let served = waiting
        .into_iter()
        .filter(|s| still_served(s.try_clone().unwrap()))
        .count();
    assert_eq!(served, n - 1, "{}", server.log());
    tx.send(()).unwrap();
    assert_eq!(done_rx.recv_timeout(wait).unwrap(), b"after\n");
    // A new worker takes the dead one's place, and new logins work.
    let again = wait_workers(&server, n);
    assert!(!again.contains(&victim));
    let out = server.exec("echo new", b"").expect("a new login");
    assert_eq!(out.stdout, b"new\n");
}

/// The cmdline of `pid`, its arguments joined by spaces.
fn cmdline(pid: u32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&raw).replace('\0', " ")
}

#[test]
fn authenticated_connections_are_served_by_one_process_of_their_user() {
    if !user::is_root() {
        println!("skipped: privilege separation needs root");
        return;
    }
    // Re-keys every MiB: the session process asks the monitor to sign.
    let server = Server::start("privsep-user", "RekeyLimit 1M\n");
    let me = user::User::current().unwrap();
    let parent_of = |out: &[u8]| -> u32 {
        let text = String::from_utf8_lossy(out);
        text.lines().next().unwrap().trim().parse().unwrap()
    };
    std::thread::scope(|scope| {
        let first = scope.spawn(|| server.exec("echo $PPID; sleep 6", b"").unwrap());
        std::thread::sleep(Duration::from_secs(1));
        let second = server
            .exec("echo $PPID; head -c 3000000 /dev/zero", b"")
            .unwrap();
        // That process is the user's session process, a child of the
        // monitor, with the user's ids (root's here: the tests' user);
        // looked at while the first connection keeps it.
        let b = parent_of(&second.stdout);
        let line = cmdline(b);
        let status = std::fs::read_to_string(format!("/proc/{b}/status")).unwrap_or_default();
        let first = first.join().unwrap();
        let a = parent_of(&first.stdout);
        assert_eq!(a, b, "two connections of one user, one process");
        assert_eq!(
            second.stdout.len(),
            "\n".len() + b.to_string().len() + 3_000_000
        );
        assert!(
            line.contains(&format!("--privsep-user {}", me.name)),
            "{line}"
        );
        assert_eq!(
            field(&status, "PPid:"),
            server.running.0.id().to_string(),
            "{}",
            server.log()
        );
        assert_eq!(
            field(&status, "Uid:"),
            format!("{0}\t{0}\t{0}\t{0}", me.uid)
        );
        // Its user's last connection ended: it finishes.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Path::new(&format!("/proc/{a}/cmdline")).exists()
            && cmdline(a).contains("--privsep-user")
        {
            assert!(Instant::now() < deadline, "still there: {}", server.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        // A new connection gets a new process.
        let out = server.exec("echo $PPID", b"").unwrap();
        assert_ne!(parent_of(&out.stdout), a);
    });
}

#[test]
fn a_worker_that_keeps_a_connection_past_the_grace_time_is_replaced() {
    if !user::is_root() {
        println!("skipped: privilege separation needs root");
        return;
    }
    let n = expected_workers();
    let server = Server::start("privsep-grace", "LoginGraceTime 2\n");
    let pids = wait_workers(&server, n);
    // A stopped worker ends nothing: as a worker that is stuck, or that
    // an attacker holds, would.
    let stuck = pids[0];
    let stopped = std::process::Command::new("kill")
        .args(["-STOP", &stuck.to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    // Silent connections, one for each worker in turn.
    let held: Vec<TcpStream> = (0..n)
        .map(|_| TcpStream::connect(("127.0.0.1", server.port)).unwrap())
        .collect();
    // At LoginGraceTime (2 s) plus the monitor's margin (10 s) it is
    // killed and another takes its place.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !server
        .log()
        .contains(&format!("worker {stuck} kept a connection"))
    {
        assert!(Instant::now() < deadline, "{}", server.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let again = wait_workers(&server, n);
    assert!(!again.contains(&stuck), "{again:?}");
    let out = server.exec("echo in", b"").expect("a login after");
    assert_eq!(out.stdout, b"in\n");
    drop(held);
}

/// SFTP packets: `type || body`, each with its length.
fn sftp_packets(packets: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in packets {
        out.extend_from_slice(&u32::try_from(p.len()).unwrap().to_be_bytes());
        out.extend_from_slice(p);
    }
    out
}

/// A request `kind` with id `id` and one string argument.
fn sftp_request(kind: u8, id: u32, path: &[u8]) -> Vec<u8> {
    let mut p = vec![kind];
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&u32::try_from(path.len()).unwrap().to_be_bytes());
    p.extend_from_slice(path);
    p
}

/// The replies in `out`, as (type, body after the type).
fn sftp_replies(mut out: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut replies = Vec::new();
    while out.len() >= 5 {
        let len = u32::from_be_bytes(out[..4].try_into().unwrap()) as usize;
        replies.push((out[4], out[5..4 + len].to_vec()));
        out = &out[4 + len..];
    }
    replies
}

#[test]
fn a_chrooted_account_is_served_by_its_own_process_confined_there() {
    if !user::is_root() {
        println!("skipped: privilege separation needs root");
        return;
    }
    // sshd's rules: root's, and no directory on the way writable by
    // others (so not under /tmp).
    let jail = std::path::PathBuf::from(format!("/run/rsshd-test-jail-{}", std::process::id()));
    std::fs::create_dir_all(&jail).unwrap();
    std::fs::write(jail.join("marker"), b"jailed\n").unwrap();
    let server = Server::start(
        "privsep-chroot",
        &format!(
            "Subsystem sftp internal-sftp\nChrootDirectory {}\nForceCommand internal-sftp\n",
            jail.display()
        ),
    );
    let me = user::User::current().unwrap();
    let init: &[u8] = &[1, 0, 0, 0, 3];
    let realpath = sftp_request(16, 1, b".");
    let stat = sftp_request(17, 2, b"/marker");
    let input = sftp_packets(&[init, &realpath, &stat]);
    let out = server.subsystem("sftp", &input);
    let replies = sftp_replies(&out);
    // VERSION 3; "." is "/" (the home is not inside); /marker is the
    // jail's, 7 bytes (flags with SIZE, then the size).
    assert_eq!(replies.len(), 3, "{replies:?} {}", server.log());
    assert_eq!(replies[0].0, 2);
    assert_eq!(replies[1].0, 104, "{replies:?}");
    assert_eq!(&replies[1].1[8..13], &[0, 0, 0, 1, b'/']);
    assert_eq!(replies[2].0, 105, "{replies:?}");
    assert_eq!(&replies[2].1[8..16], &7u64.to_be_bytes());
    // The process that served it lingers a few seconds after: the user's
    // (root's here), a child of the monitor, confined to the jail.
    let monitor = server.running.0.id().to_string();
    let confined: Vec<u32> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| cmdline(*pid).contains("--privsep-user"))
        .filter(|pid| {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            field(&status, "PPid:") == monitor
                && field(&status, "Uid:") == format!("{0}\t{0}\t{0}\t{0}", me.uid)
        })
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/root"))
                .ok()
                .as_deref()
                == Some(&jail)
        })
        .collect();
    drop(server);
    std::fs::remove_dir_all(&jail).unwrap();
    assert_eq!(confined.len(), 1, "no session process confined to the jail");
}

/// The pids of the processes whose command line holds `needle`.
fn processes_with(needle: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| cmdline(*pid).contains(needle))
        .collect()
}

/// Whether process `pid` has a thread named `name`.
fn has_thread(pid: u32, name: &str) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|tasks| {
            tasks.flatten().any(|t| {
                std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == name)
            })
        })
        .unwrap_or(false)
}

#[test]
fn an_unconfined_account_gets_internal_sftp_on_a_thread_with_its_own_umask() {
    use futures::io::{AsyncReadExt as _, AsyncWriteExt as _};
    if !user::is_root() {
        println!("skipped: privilege separation needs root");
        return;
    }
    let dir = common::temp_dir("rsshd-test", "isftp-thread");
    let server = Server::start(
        "privsep-isftp-thread",
        &format!("Subsystem sftp internal-sftp -u 077 -d {}\n", dir.display()),
    );
    // What the user's programs must still get: the umask rsshd inherited.
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let inherited = field(&status, "Umask:");
    // INIT, then OPEN "made" (relative: in the -d directory) with
    // WRITE|CREAT and permissions 0666; -u 077 leaves 0600.
    let init: &[u8] = &[1, 0, 0, 0, 3];
    let mut open = sftp_request(3, 1, b"made");
    open.extend_from_slice(&0x0au32.to_be_bytes());
    open.extend_from_slice(&4u32.to_be_bytes());
    open.extend_from_slice(&0o666u32.to_be_bytes());
    let input = sftp_packets(&[init, &open]);
    let (replies, umask_during, umask_after, in_thread, exec_d) = server.session(async |client| {
        let sftp = client.open_session().await.unwrap();
        sftp.subsystem("sftp").await.unwrap();
        let mut w = sftp.writer();
        w.write_all(&input).await.unwrap();
        // Both replies, while the session stays open.
        let mut out = Vec::new();
        let mut r = sftp.reader();
        while sftp_replies(&out).len() < 2 {
            let mut buf = [0u8; 4096];
            let n = r.read(&mut buf).await.unwrap();
            assert!(n > 0, "the sftp session ended early: {out:?}");
            out.extend_from_slice(&buf[..n]);
        }
        let in_thread = processes_with("--privsep-user")
            .into_iter()
            .any(|pid| has_thread(pid, "in-process"));
        let exec_d = processes_with("--internal-sftp");
        // A program of the same process meanwhile: the process's umask.
        let during = client.exec("umask").await.unwrap();
        w.close().await.unwrap();
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).await.unwrap();
        assert_eq!(
            sftp.wait_closed().await.unwrap(),
            Some(ssh_async::ExitStatus::Code(0))
        );
        let after = client.exec("umask").await.unwrap();
        (
            sftp_replies(&out),
            String::from_utf8_lossy(&during.stdout).trim().to_owned(),
            String::from_utf8_lossy(&after.stdout).trim().to_owned(),
            in_thread,
            exec_d,
        )
    });
    let log = server.log();
    drop(server);
    let mode = std::fs::metadata(dir.join("made")).map(|m| m.permissions());
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(replies[0].0, 2, "{replies:?} {log}");
    assert_eq!(replies[1].0, 102, "no handle: {replies:?} {log}");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(mode.unwrap().mode() & 0o7777, 0o600);
    assert!(in_thread, "no in-process thread in the session process");
    assert!(exec_d.is_empty(), "internal-sftp was exec'd: {exec_d:?}");
    assert_eq!(umask_during, inherited);
    assert_eq!(umask_after, inherited);
}
