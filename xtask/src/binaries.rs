//! Our binaries for the interop cases: where `rssh` and `rsshd` are, building
//! them before a run, and running a client under a pseudo-terminal.
//!
//! - `XTASK_RSSH=/usr/bin/ssh`: the client of the `rssh>sshd` rows (a path
//!   on this machine), e.g. OpenSSH's `ssh` to check the harness;
//! - `XTASK_RSSHD=peer:/usr/sbin/sshd`: the server of the `ssh>rsshd` rows,
//!   `peer:` meaning a path inside the peer (OpenSSH's own `sshd` there);
//!   without `peer:` a path on this machine, copied into the peer.
//!
//! Without them: `target/{debug,release}/rssh` and `rsshd` of the
//! `CARGO_TARGET_DIR` in use (else the workspace's `target/`), the newer
//! of the two, which `cargo xtask interop` builds first.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::bail;
use crate::interop::Case;
use crate::util::{self, Context, Result};

/// One of our two binaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bin {
    /// The client.
    Rssh,
    /// The server.
    Rsshd,
}

impl Bin {
    /// Its package and file name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Rssh => "rssh",
            Self::Rsshd => "rsshd",
        }
    }

    /// The environment variable replacing it.
    pub const fn env(self) -> &'static str {
        match self {
            Self::Rssh => "XTASK_RSSH",
            Self::Rsshd => "XTASK_RSSHD",
        }
    }

    /// The prefix of the rows that use it.
    pub const fn row_prefix(self) -> &'static str {
        match self {
            Self::Rssh => "rssh>",
            Self::Rsshd => "ssh>",
        }
    }
}

/// Where a binary is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A file on this machine.
    Host(PathBuf),
    /// A path inside the peer (`peer:` in the environment variable).
    Peer(String),
}

/// The `target/` directories where cargo puts builds.
fn target_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        let dir = PathBuf::from(dir);
        dirs.push(if dir.is_absolute() {
            dir
        } else {
            util::workspace_root().join(dir)
        });
    }
    dirs.push(util::workspace_target());
    dirs
}

/// Finds `bin`: its environment variable, else the newest build.
pub fn locate(bin: Bin) -> Result<Location> {
    if let Some(value) = std::env::var_os(bin.env()) {
        let value = value.to_string_lossy().into_owned();
        if let Some(path) = value.strip_prefix("peer:") {
            return Ok(Location::Peer(path.to_owned()));
        }
        let path = PathBuf::from(&value);
        if !path.is_file() {
            bail!("{}={value}: no such file", bin.env());
        }
        return Ok(Location::Host(path));
    }
    let newest = target_dirs()
        .into_iter()
        .flat_map(|dir| ["debug", "release"].map(|p| dir.join(p).join(bin.name())))
        .filter_map(|p| {
            let modified = fs::metadata(&p).and_then(|m| m.modified()).ok()?;
            Some((modified, p))
        })
        .max();
    match newest {
        Some((_, path)) => Ok(Location::Host(path)),
        None => bail!(
            "build {} first: cargo build -p {} (or set {} to another program)",
            bin.name(),
            bin.name(),
            bin.env()
        ),
    }
}

/// Builds `rssh` and `rsshd` (`cargo build -p ...`, the cargo running
/// this task) when rows using them are selected and no environment
/// variable replaces them. A failed build is reported; the rows then fail
/// saying what is missing.
pub fn prepare(cases: &[Case]) {
    for bin in [Bin::Rssh, Bin::Rsshd] {
        // `rssh>sshd:jump-rsshd-sshd` also runs rsshd.
        let used = |c: &Case| {
            c.name.starts_with(bin.row_prefix()) || (bin == Bin::Rsshd && c.name.contains("rsshd"))
        };
        if std::env::var_os(bin.env()).is_some() || !cases.iter().any(used) {
            continue;
        }
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet", "-p", bin.name()])
            .current_dir(util::workspace_root());
        println!("building {}: {}", bin.name(), util::describe(&cmd));
        match cmd.output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => {
                let text = String::from_utf8_lossy(&out.stderr);
                let tail: Vec<&str> = text.lines().rev().take(8).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                println!(
                    "could not build {} ({}); its rows will fail:\n{}",
                    bin.name(),
                    out.status,
                    tail.join("\n")
                );
            }
            Err(e) => println!("could not run cargo to build {}: {e}", bin.name()),
        }
    }
}

/// What a command under a pseudo-terminal produced.
#[derive(Debug)]
pub struct PtyOutput {
    /// How it ended.
    pub status: ExitStatus,
    /// Everything written to the terminal (stdout and stderr both go there
    /// unless `stderr` was separate).
    pub terminal: Vec<u8>,
    /// Its stderr, kept apart from the terminal.
    pub stderr: Vec<u8>,
}

/// Opens a pseudo-terminal of `rows` x `cols`: (master, slave).
fn open_pty(rows: u16, cols: u16) -> Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)> {
    use rustix::fs::{Mode, OFlags};
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
        .context("opening a pseudo-terminal")?;
    grantpt(&master).context("grantpt")?;
    unlockpt(&master).context("unlockpt")?;
    let name = ptsname(&master, Vec::new()).context("ptsname")?;
    let slave = rustix::fs::open(
        name.as_c_str(),
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .context("opening the terminal's slave side")?;
    set_size(&master, rows, cols)?;
    Ok((master, slave))
}

fn set_size(fd: &std::os::fd::OwnedFd, rows: u16, cols: u16) -> Result<()> {
    rustix::termios::tcsetwinsize(
        fd,
        rustix::termios::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        },
    )
    .context("setting the terminal size")
}

/// Runs `cmd` in a new session whose controlling terminal is a fresh
/// pseudo-terminal of `rows` x `cols` (stdin, stdout on it; stderr apart),
/// through `setsid -w -c`. When the terminal shows `resize_after`, the
/// terminal is resized to `resize` (the kernel sends SIGWINCH). Killed
/// after `timeout`.
pub fn run_in_pty(
    cmd: &Command,
    (rows, cols): (u16, u16),
    resize: Option<(&str, u16, u16)>,
    timeout: Duration,
) -> Result<PtyOutput> {
    let (master, slave) = open_pty(rows, cols)?;
    let mut wrapped = Command::new("setsid");
    wrapped.args(["-w", "-c"]).arg(cmd.get_program());
    wrapped.args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => wrapped.env(k, v),
            None => wrapped.env_remove(k),
        };
    }
    let slave_out = slave.try_clone().context("dup")?;
    wrapped
        .stdin(Stdio::from(slave))
        .stdout(Stdio::from(slave_out))
        .stderr(Stdio::piped());
    let what = util::describe(&wrapped);
    let mut child = wrapped.spawn().context(format_args!("cannot run {what}"))?;
    // The slave's copies are closed with `wrapped`'s Stdio: drop it now, so
    // reading the master ends (EIO) when the child is gone.
    drop(wrapped);
    let terminal = Arc::new(Mutex::new(Vec::new()));
    let master = Arc::new(master);
    let reader = {
        let terminal = terminal.clone();
        let master = master.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match rustix::io::read(&*master, &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => terminal
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .extend_from_slice(buf.get(..n).unwrap_or_default()),
                }
            }
        })
    };
    let stderr = child.stderr.take().map(|mut pipe| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            buf
        })
    });
    let deadline = Instant::now() + timeout;
    let mut pending_resize = resize;
    let status = loop {
        if let Some(status) = child.try_wait().context("waiting")? {
            break status;
        }
        if let Some((marker, r, c)) = pending_resize {
            let seen =
                String::from_utf8_lossy(&terminal.lock().unwrap_or_else(PoisonError::into_inner))
                    .contains(marker);
            if seen {
                set_size(&master, r, c)?;
                pending_resize = None;
            }
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let text =
                String::from_utf8_lossy(&terminal.lock().unwrap_or_else(PoisonError::into_inner))
                    .into_owned();
            bail!(
                "{what} ran longer than {} s and was killed; its terminal:\n{text}",
                timeout.as_secs()
            );
        }
        thread::sleep(Duration::from_millis(20));
    };
    // Whatever is left in the terminal (a grandchild may hold the slave:
    // do not wait forever).
    let done = Instant::now() + Duration::from_secs(2);
    while !reader.is_finished() && Instant::now() < done {
        thread::sleep(Duration::from_millis(20));
    }
    let stderr = stderr.and_then(|t| t.join().ok()).unwrap_or_default();
    let terminal = terminal
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    Ok(PtyOutput {
        status,
        terminal,
        stderr,
    })
}

/// Copies a host binary into the peer's scratch directory; returns its
/// path inside the peer.
pub fn copy_into_peer(host: &Path, scratch_host: &Path, scratch_peer: &str) -> Result<String> {
    let name = host
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "server".to_owned());
    let dir = scratch_host.join("bin");
    fs::create_dir_all(&dir).context(format_args!("creating {}", dir.display()))?;
    let dest = dir.join(&name);
    let fresh = match (fs::metadata(host), fs::metadata(&dest)) {
        (Ok(a), Ok(b)) => a.len() != b.len() || a.modified().ok() > b.modified().ok(),
        _ => true,
    };
    if fresh {
        fs::copy(host, &dest).context(format_args!(
            "copying {} to {}",
            host.display(),
            dest.display()
        ))?;
    }
    Ok(format!("{scratch_peer}/bin/{name}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_pty_command_sees_its_size_and_a_resize() {
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "stty size; echo READY; i=0; while [ \"$(stty size)\" = '33 101' ] && [ $i -lt 100 ]; \
             do sleep 0.05; i=$((i+1)); done; stty size; tty",
        ]);
        let out = run_in_pty(
            &cmd,
            (33, 101),
            Some(("READY", 50, 120)),
            Duration::from_secs(20),
        )
        .unwrap();
        let text = String::from_utf8_lossy(&out.terminal);
        assert!(out.status.success(), "{text}");
        assert!(text.contains("33 101"), "{text}");
        assert!(text.contains("50 120"), "{text}");
        assert!(text.contains("/dev/pts/"), "{text}");
    }

    #[test]
    fn peer_prefix_means_inside_the_peer() {
        // Only the parsing: the variable is not set in tests.
        assert_eq!(Bin::Rsshd.env(), "XTASK_RSSHD");
        assert!("ssh>rsshd:sftp".starts_with(Bin::Rsshd.row_prefix()));
        assert!(!"ssh>rsshd:sftp".starts_with(Bin::Rssh.row_prefix()));
    }
}
