//! Spawning a session's program (RFC 4254 §6.5: `shell`, `exec`,
//! `subsystem`) as sshd does: in a new session, on a PTY or on pipes, as
//! the authenticated user, with exactly the environment given; its exit as
//! RFC 4254 §6.10 `exit-status` or `exit-signal`.

use std::ffi::{CString, OsString};
use std::future::Future;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::Stdio;

use nix::unistd::{Gid, Uid};

use super::pty::PtySlave;
use super::signal::{self, Signal};
use super::user::{self, User};

pub use async_process::{ChildStderr, ChildStdin, ChildStdout};

/// What to run and how.
#[derive(Debug)]
pub struct SpawnOptions {
    /// The program, such as the user's shell; a name without `/` is looked
    /// up in the `PATH` of [`SpawnOptions::env`].
    pub program: PathBuf,
    /// The arguments after `argv[0]`, such as `["-c", command]`.
    pub args: Vec<OsString>,
    /// `argv[0]` when it is not the program, such as `"-bash"` for a login
    /// shell.
    pub arg0: Option<OsString>,
    /// The whole environment: nothing of ours is inherited.
    pub env: Vec<(OsString, OsString)>,
    /// The working directory, usually the user's home; when the child
    /// cannot enter it, it starts in `/` as with sshd.
    pub cwd: PathBuf,
    /// Run as this user (supplementary groups, group, then user id). Needs
    /// root unless it is the user we already are; `None` keeps our ids.
    pub user: Option<User>,
    /// Run on this terminal (stdin, stdout and stderr, controlling
    /// terminal); `None` gives the child three pipes. Spawning consumes and
    /// closes it, so that the master reads end when the child is done.
    pub pty: Option<PtySlave>,
}

impl SpawnOptions {
    /// Runs `program` with no arguments, an empty environment, in `/`, as
    /// ourselves, on pipes.
    pub fn new(program: impl Into<PathBuf>) -> SpawnOptions {
        SpawnOptions {
            program: program.into(),
            args: Vec::new(),
            arg0: None,
            env: Vec::new(),
            cwd: PathBuf::from("/"),
            user: None,
            pty: None,
        }
    }
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code (`exit-status`).
    Code(u32),
    /// A signal killed it (`exit-signal`).
    Signal {
        /// The RFC 4254 name without `SIG` (`"TERM"`), or
        /// [`signal::OTHER_SIGNAL_NAME`] for a signal RFC 4254 does not
        /// name.
        name: &'static str,
        /// Whether it dumped core.
        core_dumped: bool,
    },
}

impl ExitStatus {
    fn from_std(status: std::process::ExitStatus) -> io::Result<ExitStatus> {
        if let Some(code) = status.code() {
            // A wait status holds 8 bits of exit code: never negative.
            return Ok(ExitStatus::Code(u32::try_from(code).unwrap_or(255)));
        }
        if let Some(sig) = status.signal() {
            return Ok(ExitStatus::Signal {
                name: signal::ssh_name_of_raw(sig),
                core_dumped: status.core_dumped(),
            });
        }
        Err(io::Error::other(format!("unexpected wait status {status}")))
    }
}

/// A running child. Dropping it neither kills nor waits for it; it is
/// reaped in the background.
#[derive(Debug)]
pub struct Child {
    /// The write end of its stdin pipe (`None` on a PTY or once taken).
    pub stdin: Option<ChildStdin>,
    /// The read end of its stdout pipe (`None` on a PTY or once taken).
    pub stdout: Option<ChildStdout>,
    /// The read end of its stderr pipe (`None` on a PTY or once taken).
    pub stderr: Option<ChildStderr>,
    inner: async_process::Child,
    pid: u32,
    /// Refers to this very process even after it was reaped, so a signal
    /// can never reach a stranger that reused the pid.
    pidfd: Option<OwnedFd>,
}

impl Child {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Sends `sig` to the child (not its process group). Fails with
    /// `ESRCH` once it has been reaped.
    pub fn signal(&self, sig: Signal) -> io::Result<()> {
        if let Some(pidfd) = &self.pidfd {
            let sig = rustix::process::Signal::from_named_raw(sig.as_raw())
                .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
            rustix::process::pidfd_send_signal(pidfd, sig)?;
            return Ok(());
        }
        let pid =
            i32::try_from(self.pid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig.to_nix())?;
        Ok(())
    }

    /// Waits for the child to end. The future holds no borrow of the
    /// child, so [`Child::signal`] stays usable while it is pending. The
    /// child's pipes stay open: close [`Child::stdin`] first if it reads
    /// until end of file.
    pub fn wait(
        &mut self,
    ) -> impl Future<Output = io::Result<ExitStatus>> + Send + 'static + use<> {
        let status = self.inner.status();
        async move { ExitStatus::from_std(status.await?) }
    }
}

/// The ids a child switches to, computed before the fork (group lookups
/// read files and allocate, which the child must not do).
#[derive(Debug)]
struct Ids {
    uid: Uid,
    gid: Gid,
    groups: Vec<Gid>,
}

fn ids_for(user: Option<&User>) -> io::Result<Option<Ids>> {
    let Some(user) = user else {
        return Ok(None);
    };
    if user::is_root() {
        let groups = user.group_ids()?.into_iter().map(Gid::from_raw).collect();
        return Ok(Some(Ids {
            uid: Uid::from_raw(user.uid),
            gid: Gid::from_raw(user.gid),
            groups,
        }));
    }
    if user.uid == nix::unistd::geteuid().as_raw() {
        // Already this user: nothing to change, nothing we could.
        return Ok(None);
    }
    Err(io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("only root can run programs as {}", user.name),
    ))
}

/// Starts the program described by `opts`.
///
/// In the child, in this order: a new session (`setsid`), the PTY as
/// controlling terminal (`TIOCSCTTY`), supplementary groups (`setgroups`
/// of the user's `getgrouplist`: `initgroups` done before the fork),
/// `setgid`, `setuid` (checked irreversible), `chdir` to
/// [`SpawnOptions::cwd`] or `/`, every descriptor above 2 marked
/// close-on-exec, then `execve`. Errors of any step
/// before `execve` come back here as the `Err`.
pub fn spawn(opts: SpawnOptions) -> io::Result<Child> {
    let SpawnOptions {
        program,
        args,
        arg0,
        env,
        cwd,
        user,
        pty,
    } = opts;
    let ids = ids_for(user.as_ref())?;
    let cwd = CString::new(cwd.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "working directory with a NUL"))?;

    let mut cmd = std::process::Command::new(&program);
    cmd.args(&args);
    if let Some(arg0) = &arg0 {
        cmd.arg0(arg0);
    }
    cmd.env_clear();
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    let (stdin, stdout, stderr, ctty) = match &pty {
        Some(slave) => (
            Stdio::from(slave.try_clone_fd()?),
            Stdio::from(slave.try_clone_fd()?),
            Stdio::from(slave.try_clone_fd()?),
            Some(slave.try_clone_fd()?),
        ),
        None => (Stdio::piped(), Stdio::piped(), Stdio::piped(), None),
    };
    install_child_setup(&mut cmd, ChildSetup { ctty, ids, cwd });

    let mut cmd = async_process::Command::from(cmd);
    cmd.stdin(stdin).stdout(stdout).stderr(stderr);
    let spawned = cmd.spawn();
    // The parent keeps no descriptor of the slave: the copies given to the
    // command and the setup closure go with it.
    drop(cmd);
    drop(pty);
    let mut inner = spawned?;

    let pid = inner.id();
    // The reaper of async-process reaps only once `status` is polled, so
    // this pid is still ours here.
    let pidfd = rustix::process::Pid::from_raw(pid.try_into().unwrap_or(0))
        .and_then(|p| rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok());
    Ok(Child {
        stdin: inner.stdin.take(),
        stdout: inner.stdout.take(),
        stderr: inner.stderr.take(),
        inner,
        pid,
        pidfd,
    })
}

/// What the child does between fork and exec; everything in it is
/// prepared by the parent.
struct ChildSetup {
    /// The PTY slave to make the controlling terminal.
    ctty: Option<OwnedFd>,
    ids: Option<Ids>,
    cwd: CString,
}

impl ChildSetup {
    /// Runs in the forked child. Only direct system calls (no allocation,
    /// no locks, no NSS lookups): `setsid`, `ioctl`, `setgroups`,
    /// `setgid`, `setuid`, `chdir`, `close_range`, `sigaction`. Errors are `io::Error`s built from an
    /// errno or an `ErrorKind`, which do not allocate.
    fn run(&self) -> io::Result<()> {
        rustix::process::setsid()?;
        if let Some(tty) = &self.ctty {
            rustix::process::ioctl_tiocsctty(tty)?;
        }
        if let Some(ids) = &self.ids {
            nix::unistd::setgroups(&ids.groups)?;
            nix::unistd::setgid(ids.gid)?;
            nix::unistd::setuid(ids.uid)?;
            // As sshd's permanently_set_uid: a dropped root must not be
            // able to come back.
            if !ids.uid.is_root() && nix::unistd::setuid(Uid::from_raw(0)).is_ok() {
                return Err(io::Error::from(io::ErrorKind::PermissionDenied));
            }
        }
        if rustix::process::chdir(self.cwd.as_c_str()).is_err() {
            rustix::process::chdir(c"/")?;
        }
        close_on_exec_from_3();
        default_signals();
        Ok(())
    }
}

/// Every signal back to its default action, as sshd's child does: an
/// ignored signal survives `execve`, so a server started under `nohup`
/// (SIGHUP ignored) or by a supervisor that ignores SIGINT/SIGQUIT would
/// otherwise hand that to every user's programs, and a hung-up terminal
/// would no longer end them. (The blocked mask is already cleared by
/// std.)
#[allow(unsafe_code)]
fn default_signals() {
    // The standard signals (1 to 31 on Linux); real-time ones are not
    // ignored by anyone that matters.
    for sig in 1..32 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: `signal` is async-signal-safe (a `sigaction` system
        // call); SIG_DFL installs no Rust code as a handler, and an
        // invalid number only makes it fail, which is ignored.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
        }
    }
}

/// Marks every descriptor above stderr close-on-exec, as sshd's
/// `closefrom(STDERR_FILENO + 1)`: descriptors a library opened without
/// `O_CLOEXEC` (PAM and NSS modules, whatever started us) must not reach
/// the user's programs. Close-on-exec rather than closed, so that std's
/// own error pipe to the parent keeps working until `execve`. Best effort:
/// kernels before 5.11 lack the flag.
#[allow(unsafe_code)]
fn close_on_exec_from_3() {
    // SAFETY: `close_range` is a plain system call (async-signal-safe) that
    // takes integers only; with CLOSE_RANGE_CLOEXEC it closes nothing, so no
    // descriptor owned by Rust code becomes dangling.
    unsafe {
        libc::close_range(
            3,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC as libc::c_int,
        );
    }
}

#[allow(unsafe_code)]
fn install_child_setup(cmd: &mut std::process::Command, setup: ChildSetup) {
    // SAFETY: `pre_exec` requires the closure to be safe to run in a child
    // forked from a possibly multi-threaded process, where only
    // async-signal-safe functions may be called. `ChildSetup::run` only
    // makes system calls through thin wrappers (setsid, ioctl(TIOCSCTTY),
    // setgroups, setgid, setuid, chdir, close_range) on data prepared
    // before the fork
    // (a descriptor, a gid array, a C string): no allocation, no lock, no
    // user-database lookup. Its errors are `io::Error`s from an errno or a
    // bare `ErrorKind`, which allocate nothing. The descriptor it borrows
    // is owned by the closure, so it is open in the child.
    unsafe {
        cmd.pre_exec(move || setup.run());
    }
}

/// Gives the calling thread a file system context of its own (Linux's
/// `unshare(CLONE_FS)`), starting in `dir` (`/` when it cannot go there,
/// as [`spawn`] does) with umask `mask`: what the thread does to its
/// working directory and umask from then on no longer touches the rest
/// of the process, nor does what the process does touch the thread. A
/// program served on a thread (internal-sftp) gets what the process it
/// would have been exec'd into would have had, while the process's
/// umask stays what its spawned programs inherit.
pub fn own_thread_fs(dir: &std::path::Path, mask: u32) -> io::Result<()> {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_FS).map_err(io::Error::from)?;
    if std::env::set_current_dir(dir).is_err() {
        std::env::set_current_dir("/")?;
    }
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(mask));
    Ok(())
}
