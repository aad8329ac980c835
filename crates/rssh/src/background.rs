//! `-f`: going to the background after authentication.
//!
//! OpenSSH forks once authenticated. Forking a running multithreaded
//! async process is unsafe, so `rssh -f` starts a copy of itself at once
//! (same arguments, stdin from `/dev/null`, [`NOTIFY_ENV`] naming a Unix
//! socket in a private directory) and waits. The copy connects and
//! authenticates (prompts go to `/dev/tty`: it is still in the
//! terminal's foreground process group), sets up its forwards, then
//! starts a session of its own (`setsid`, off the terminal) and says
//! "ok" on the socket: the first copy exits 0. If the copy ends first,
//! the first one exits with its status.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The variable that makes a copy the background one: the socket to
/// report to.
pub const NOTIFY_ENV: &str = "RSSH_BACKGROUND_NOTIFY";

/// The report of a copy that is ready.
const READY: &[u8] = b"ok";

/// Whether this process is the background copy.
pub fn is_child() -> bool {
    std::env::var_os(NOTIFY_ENV).is_some_and(|v| !v.is_empty())
}

/// A private directory for the socket.
fn private_dir() -> std::io::Result<PathBuf> {
    let base = std::env::temp_dir();
    let mut last = None;
    for _ in 0..8 {
        let tag: u64 = rand::random();
        let dir = base.join(format!("rssh-bg-{}-{tag:016x}", std::process::id()));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::ErrorKind::AlreadyExists.into()))
}

/// In the foreground process: starts the background copy with `args`
/// (without the program name) and waits for its report; the exit
/// status.
pub fn run_parent(args: &[OsString]) -> i32 {
    match parent(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rssh: fork: {}", crate::config::io_message(&e));
            255
        }
    }
}

fn parent(args: &[OsString]) -> std::io::Result<i32> {
    let dir = private_dir()?;
    let path = dir.join("ready");
    let result = wait_for_child(&path, args);
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_dir(&dir);
    result
}

fn wait_for_child(path: &std::path::Path, args: &[OsString]) -> std::io::Result<i32> {
    let listener = std::os::unix::net::UnixListener::bind(path)?;
    listener.set_nonblocking(true)?;
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .args(args)
        .env(NOTIFY_ENV, path)
        .stdin(Stdio::null())
        .spawn()?;
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                let _ = s.set_nonblocking(false);
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = Vec::new();
                let _ = s.take(16).read_to_end(&mut buf);
                if buf == READY {
                    return Ok(0);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        if let Some(status) = child.try_wait()? {
            return Ok(status.code().unwrap_or(255));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// In the background copy, once authenticated (and forwards set up):
/// leaves the terminal's session and tells the first process to exit.
pub fn detach() {
    let Some(path) = std::env::var_os(NOTIFY_ENV).filter(|v| !v.is_empty()) else {
        return;
    };
    if let Err(e) = rustix::process::setsid() {
        tracing::debug!("setsid: {e}");
    }
    match std::os::unix::net::UnixStream::connect(&path) {
        Ok(mut s) => {
            let _ = s.write_all(READY);
        }
        Err(e) => tracing::debug!("background report: {e}"),
    }
}
