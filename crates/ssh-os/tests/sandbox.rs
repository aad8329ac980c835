//! The pre-authentication worker's sandbox, checked from outside: a child
//! process (this test binary again) enters it; the parent reads its
//! identity, root, no_new_privs and seccomp mode from /proc, and sees a
//! call outside the list kill it with SIGSYS.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use ssh_os::user::{self, User};

const ROLE: &str = "SSH_OS_SANDBOX_ROLE";
const ROOT: &str = "SSH_OS_SANDBOX_ROOT";

/// The child's part: enter the sandbox, then do what `role` says.
fn child(role: &str) -> ! {
    let nobody = User::by_name("nobody").unwrap().unwrap();
    let root = PathBuf::from(std::env::var(ROOT).unwrap());
    ssh_os::sandbox::enter_worker_sandbox(nobody.uid, nobody.gid, &root).unwrap();
    let mut out = std::io::stdout();
    match role {
        "allowed" => {
            // Threads, memory, a pipe to stdout, reading stdin to its end.
            let t =
                std::thread::spawn(|| vec![7u8; 1 << 20].iter().map(|b| *b as u64).sum::<u64>());
            let sum = t.join().unwrap();
            // The async driver's event loop: async-io's reactor (epoll,
            // an eventfd, its own thread) and a timer on it.
            async_io::block_on(async_io::Timer::after(std::time::Duration::from_millis(20)));
            writeln!(out, "ready {sum}").unwrap();
            out.flush().unwrap();
            let mut rest = Vec::new();
            std::io::stdin().read_to_end(&mut rest).unwrap();
        }
        "open" => {
            writeln!(out, "ready").unwrap();
            out.flush().unwrap();
            let _ = std::fs::File::open("/etc/passwd");
        }
        "socket" => {
            writeln!(out, "ready").unwrap();
            out.flush().unwrap();
            let _ = std::net::TcpStream::connect("127.0.0.1:22");
        }
        "spawn" => {
            writeln!(out, "ready").unwrap();
            out.flush().unwrap();
            let _ = Command::new("/bin/true").status();
        }
        other => panic!("no role {other}"),
    }
    std::process::exit(0)
}

/// An empty directory owned by root, mode 0755.
fn empty_root(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ssh-os-sandbox-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn spawn(test: &str, role: &str, root: &PathBuf) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .env(ROOT, root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// The child's "ready" line (the test harness prints its own lines
/// first).
fn first_line(child: &mut std::process::Child) -> String {
    let mut reader = BufReader::new(child.stdout.as_mut().unwrap());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            return line;
        }
        // The harness's "test name ... " may come first on the line.
        if let Some(at) = line.find("ready") {
            return line.split_off(at);
        }
    }
}

#[test]
fn a_sandboxed_worker_runs_confined() {
    if let Ok(role) = std::env::var(ROLE) {
        child(&role);
    }
    if !user::is_root() {
        eprintln!("skipped: entering the sandbox needs root");
        return;
    }
    let root = empty_root("allowed");
    let mut c = spawn("a_sandboxed_worker_runs_confined", "allowed", &root);
    let line = first_line(&mut c);
    assert_eq!(line, format!("ready {}\n", 7u64 << 20));
    // Seen from outside while it waits on stdin.
    let status = std::fs::read_to_string(format!("/proc/{}/status", c.id())).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.split_whitespace().collect::<Vec<_>>())
            .unwrap()
    };
    let nobody = User::by_name("nobody").unwrap().unwrap();
    assert!(
        field("Uid:").iter().all(|u| *u == nobody.uid.to_string()),
        "{status}"
    );
    assert!(
        field("Gid:").iter().all(|g| *g == nobody.gid.to_string()),
        "{status}"
    );
    assert_eq!(field("Groups:"), vec![nobody.gid.to_string()]);
    assert_eq!(field("NoNewPrivs:"), vec!["1"]);
    assert_eq!(field("Seccomp:"), vec!["2"], "filter mode");
    let seen_root = std::fs::read_link(format!("/proc/{}/root", c.id())).unwrap();
    assert_eq!(seen_root, root);
    drop(c.stdin.take());
    let exit = c.wait().unwrap();
    assert_eq!(exit.code(), Some(0), "{exit:?}");
    std::fs::remove_dir(&root).unwrap();
}

#[test]
fn a_call_outside_the_list_kills_the_worker() {
    if let Ok(role) = std::env::var(ROLE) {
        child(&role);
    }
    if !user::is_root() {
        eprintln!("skipped: entering the sandbox needs root");
        return;
    }
    for role in ["open", "socket", "spawn"] {
        let root = empty_root(role);
        let mut c = spawn("a_call_outside_the_list_kills_the_worker", role, &root);
        assert_eq!(first_line(&mut c), "ready\n");
        let exit = c.wait().unwrap();
        assert_eq!(exit.signal(), Some(libc::SIGSYS), "{role}: {exit:?}");
        std::fs::remove_dir(&root).unwrap();
    }
}

#[test]
fn a_root_that_is_not_empty_is_refused() {
    if std::env::var(ROLE).is_ok() {
        std::process::exit(0);
    }
    let root = empty_root("full");
    std::fs::write(root.join("x"), b"").unwrap();
    let err = ssh_os::sandbox::enter_worker_sandbox(65534, 65534, &root).unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
    std::fs::remove_file(root.join("x")).unwrap();
    std::fs::remove_dir(&root).unwrap();
}
