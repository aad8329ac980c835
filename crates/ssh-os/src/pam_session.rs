//! A PAM session for the life of a process (`pam_setcred` and
//! `pam_open_session`, and at its end `pam_close_session` and the
//! credentials deleted), as sshd opens one around a user's session.
//!
//! Modules act on the process that opens the session: `pam_limits` sets
//! its resource limits, `pam_loginuid` its audit login id, `pam_systemd`
//! moves it into the login session's cgroup. So it is opened by the
//! process that will be the user's programs' ancestor, while it is still
//! root, before it becomes the user. Closing needs root too: a child
//! forked at the opening (the *keeper*, which keeps root and the PAM
//! handle) waits for that process to end and then closes the session.

use std::ffi::{CStr, CString};
use std::io::{self, Read as _};
use std::os::fd::OwnedFd;

use pam_client2::{Context, ConversationHandler, ErrorCode, Flag, SessionToken};

/// An open PAM session: its environment (`pam_getenvlist`), for the
/// user's programs. Keep it for the life of the process: when the process
/// ends (or this is dropped), the keeper closes the session.
#[derive(Debug)]
pub struct PamSession {
    /// `NAME=value` pairs the modules set (`pam_env`, `pam_systemd`'s
    /// `XDG_RUNTIME_DIR`, ...).
    pub env: Vec<(String, String)>,
    /// The keeper waits for this end of a pipe to close.
    _alive: OwnedFd,
}

/// Opens a PAM session of `service` (`"sshd"`) for `user` coming from
/// `rhost`, with `"ssh"` as the terminal (as sshd), for the life of this
/// process. Account management is not asked again here (the caller's
/// monitor did, before authentication succeeded).
///
/// The process must have one thread (it forks the keeper); `Err` if not,
/// or when PAM refuses or fails (sshd ends the connection then).
pub fn open_for_process(service: &str, user: &str, rhost: &str) -> io::Result<PamSession> {
    let threads = std::fs::read_to_string("/proc/self/status")?
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .map(|n| n.trim().to_owned());
    if threads.as_deref() != Some("1") {
        return Err(io::Error::other(
            "a PAM session is opened before any thread is started",
        ));
    }
    let (mut ctx, token, env) = open(service, user, rhost)?;
    let (watch, alive) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    // SAFETY: `fork` in a process with one thread (checked above): the
    // child has a consistent copy of everything, allocator and PAM's
    // state included, and may run any code. It only waits on the pipe,
    // closes the session, and exits without returning to the caller.
    #[allow(unsafe_code)]
    let forked = unsafe { nix::unistd::fork() }.map_err(io::Error::from)?;
    match forked {
        nix::unistd::ForkResult::Child => {
            drop(alive);
            let mut watch = std::fs::File::from(watch);
            // Any read returns at the writer's end: EOF, or an error.
            let _ = watch.read(&mut [0]);
            drop(ctx.unleak_session(token));
            drop(ctx);
            std::process::exit(0);
        }
        nix::unistd::ForkResult::Parent { .. } => {
            // The keeper ends the handle (pam_end); this copy is left as it
            // is, never ended twice.
            std::mem::forget(ctx);
            drop(watch);
            Ok(PamSession { env, _alive: alive })
        }
    }
}

/// A PAM session held for one connection by a server that stays root
/// (rsshd's single-process mode, `-d`, as sshd's monitor holds one): the
/// same items and calls as [`open_for_process`], made on the calling
/// thread, and closed (`pam_close_session`, credentials deleted,
/// `pam_end`) when this is dropped.
pub struct ConnectionPamSession {
    /// `NAME=value` pairs the modules set, for the user's programs.
    pub env: Vec<(String, String)>,
    ctx: Context<Silent>,
    token: Option<SessionToken>,
}

impl std::fmt::Debug for ConnectionPamSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionPamSession")
            .field("env", &self.env)
            .finish_non_exhaustive()
    }
}

// SAFETY: the PAM handle inside is owned by this value alone and used by
// one thread at a time (it is moved, never shared: no `Sync`), which is
// all PAM asks of a handle; the conversation (`Silent`) holds no state.
#[allow(unsafe_code)]
unsafe impl Send for ConnectionPamSession {}

/// Opens a PAM session of `service` for `user` from `rhost` (terminal
/// `"ssh"`), held until the returned value is dropped. The modules act on
/// this whole process (its limits, cgroup) and on the calling thread
/// (`pam_loginuid` can set the login uid only of the thread that is the
/// process's main one): call it from the main thread of a process that
/// serves one connection. `Err` when PAM refuses or fails.
pub fn open_for_connection(
    service: &str,
    user: &str,
    rhost: &str,
) -> io::Result<ConnectionPamSession> {
    let (ctx, token, env) = open(service, user, rhost)?;
    Ok(ConnectionPamSession {
        env,
        ctx,
        token: Some(token),
    })
}

impl Drop for ConnectionPamSession {
    fn drop(&mut self) {
        if let Some(token) = self.token.take() {
            drop(self.ctx.unleak_session(token));
        }
    }
}

/// PAM's environment as `NAME=value` pairs.
type Env = Vec<(String, String)>;

/// `pam_start`, the items sshd sets (the remote host, `"ssh"` as the
/// terminal), `pam_setcred` and `pam_open_session`; the handle, the open
/// session's token and PAM's environment.
fn open(
    service: &str,
    user: &str,
    rhost: &str,
) -> io::Result<(Context<Silent>, SessionToken, Env)> {
    if [service, user, rhost].iter().any(|s| s.contains('\0')) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a NUL byte in a PAM item",
        ));
    }
    let mut ctx = Context::new(service, Some(user), Silent)
        .map_err(|e| io::Error::other(format!("PAM unavailable (pam_start): {e}")))?;
    let _ = ctx.set_rhost(Some(rhost));
    let _ = ctx.set_tty(Some("ssh"));
    let session = ctx
        .open_session(Flag::NONE)
        .map_err(|e| io::Error::other(format!("pam_open_session: {e}")))?;
    let env = session
        .envlist()
        .iter_tuples()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .collect();
    let token = session.leak();
    Ok((ctx, token, env))
}

/// A conversation for session modules, which do not prompt: every prompt
/// is refused, messages dropped.
struct Silent;

impl ConversationHandler for Silent {
    fn prompt_echo_on(&mut self, _prompt: &CStr) -> Result<CString, ErrorCode> {
        Err(ErrorCode::CONV_ERR)
    }

    fn prompt_echo_off(&mut self, _prompt: &CStr) -> Result<CString, ErrorCode> {
        Err(ErrorCode::CONV_ERR)
    }

    fn text_info(&mut self, _msg: &CStr) {}

    fn error_msg(&mut self, _msg: &CStr) {}
}
