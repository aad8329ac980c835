//! Serving `session` channels with real processes: what `sshd` does after
//! authentication. A session collects `pty-req` and `env`, starts the
//! user's shell, command or subsystem (as the user, when we are root), and
//! moves bytes between the channel and the process until it ends; then it
//! sends `exit-status` or `exit-signal`, EOF and CLOSE.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use ssh_wire::messages::{ChannelRequestKind, PtyRequest};

use crate::os::process::{self, ExitStatus, SpawnOptions};
use crate::os::pty::{Pty, PtyControl, WinSize};
use crate::os::signal::Signal;
use crate::os::user::User;
use crate::{Channel, Error, IncomingRequest, ServerConnection, runtime};

/// What a session may do, decided by the server's configuration for the
/// authenticated user.
#[derive(Debug, Clone)]
pub struct SessionPolicy {
    /// Whose session it is.
    pub user: User,
    /// Switch to the user's ids before running anything (needs root);
    /// false runs as ourselves (a server run by that user).
    pub switch_user: bool,
    /// The environment every program gets (HOME, USER, LOGNAME, SHELL,
    /// PATH, MAIL, SSH_CONNECTION, SSH_CLIENT, ...).
    pub env: Vec<(String, String)>,
    /// Patterns of variable names the client may set (`AcceptEnv`).
    pub accept_env: Vec<String>,
    /// `PermitTTY`.
    pub permit_tty: bool,
    /// `Subsystem name command`.
    pub subsystems: Vec<(String, String)>,
    /// `ForceCommand`: run this instead of what the client asked
    /// (the request is kept in `SSH_ORIGINAL_COMMAND`).
    pub force_command: Option<String>,
}

/// How one session's program is started.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Start {
    Shell,
    Exec(String),
    Subsystem(String),
}

struct Setup {
    pty: Option<(Pty, String)>,
    env: Vec<(String, String)>,
}

/// Serves one `session` channel of `conn` to its end. Errors of the
/// channel end the session; a program that cannot start is refused with
/// the request.
pub async fn serve_session(
    ch: Channel,
    policy: Arc<SessionPolicy>,
    conn: ServerConnection,
) -> Result<(), Error> {
    let _ = &conn;
    let mut setup = Setup {
        pty: None,
        env: Vec::new(),
    };
    // Requests before the program starts.
    let child = loop {
        let Some(req) = ch.next_request().await else {
            return Ok(());
        };
        let start = match &req.kind {
            ChannelRequestKind::PtyReq(p) => {
                let ok = policy.permit_tty
                    && setup.pty.is_none()
                    && open_pty(&mut setup, p, &policy).is_ok();
                ch.reply(&req, ok)?;
                continue;
            }
            ChannelRequestKind::Env { name, value } => {
                let ok = accepts(&policy.accept_env, name) && is_env_name(name);
                if ok {
                    setup
                        .env
                        .push((name.clone(), String::from_utf8_lossy(value).into_owned()));
                }
                ch.reply(&req, ok)?;
                continue;
            }
            ChannelRequestKind::WindowChange {
                cols,
                rows,
                width_px,
                height_px,
            } => {
                if let Some((pty, _)) = &setup.pty {
                    let _ = pty.resize(win(*cols, *rows, *width_px, *height_px));
                }
                continue;
            }
            ChannelRequestKind::Shell => Start::Shell,
            ChannelRequestKind::Exec { command } => {
                Start::Exec(String::from_utf8_lossy(command).into_owned())
            }
            ChannelRequestKind::Subsystem { name } => Start::Subsystem(name.clone()),
            _ => {
                ch.reply(&req, false)?;
                continue;
            }
        };
        match spawn(&policy, &mut setup, &start) {
            Ok(child) => {
                ch.reply(&req, true)?;
                break child;
            }
            Err(e) => {
                tracing::info!(
                    "session for {}: cannot start {start:?}: {e}",
                    policy.user.name
                );
                ch.reply(&req, false)?;
            }
        }
    };
    run(ch, child).await
}

fn win(cols: u32, rows: u32, width_px: u32, height_px: u32) -> WinSize {
    let c = |v: u32| u16::try_from(v).unwrap_or(u16::MAX);
    WinSize {
        cols: c(cols),
        rows: c(rows),
        width_px: c(width_px),
        height_px: c(height_px),
    }
}

fn open_pty(setup: &mut Setup, p: &PtyRequest, policy: &SessionPolicy) -> std::io::Result<()> {
    let pty = Pty::open(win(p.cols, p.rows, p.width_px, p.height_px), &p.modes.modes)?;
    if policy.switch_user {
        pty.chown_slave(policy.user.uid, policy.user.gid)?;
    }
    setup.pty = Some((pty, p.term.clone()));
    Ok(())
}

/// `AcceptEnv` patterns (`*`, `?`), as sshd matches them.
fn accepts(patterns: &[String], name: &str) -> bool {
    patterns
        .iter()
        .flat_map(|p| p.split_whitespace())
        .any(|p| ssh_auth::pattern::wildcard_match(name, p))
}

fn is_env_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('=') && !name.contains('\0')
}

/// A started program and what the session moves for it.
struct Running {
    child: process::Child,
    io: Io,
}

enum Io {
    Pipes,
    Pty(
        PtyControl,
        crate::os::pty::PtyReader,
        crate::os::pty::PtyWriter,
    ),
}

fn spawn(policy: &SessionPolicy, setup: &mut Setup, start: &Start) -> std::io::Result<Running> {
    let user = &policy.user;
    let shell = user.shell.clone();
    let mut env: Vec<(OsString, OsString)> = policy
        .env
        .iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    for (k, v) in &setup.env {
        env.retain(|(ek, _)| ek != k.as_str());
        env.push((k.into(), v.into()));
    }
    let requested = match start {
        Start::Shell => None,
        Start::Exec(c) => Some(c.clone()),
        Start::Subsystem(name) => {
            let Some((_, cmd)) = policy.subsystems.iter().find(|(n, _)| n == name) else {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("subsystem {name:?} is not configured"),
                ));
            };
            Some(cmd.clone())
        }
    };
    let command = match (&policy.force_command, start) {
        (Some(forced), _) => {
            if let Some(orig) = &requested {
                env.push(("SSH_ORIGINAL_COMMAND".into(), orig.into()));
            }
            Some(forced.clone())
        }
        (None, _) => requested,
    };
    let mut opts = SpawnOptions::new(shell.clone());
    match &command {
        Some(c) => opts.args = vec!["-c".into(), c.into()],
        None => opts.arg0 = Some(login_arg0(&shell)),
    }
    opts.cwd = user.home.clone();
    opts.user = policy.switch_user.then(|| user.clone());
    let io = match setup.pty.take() {
        Some((mut pty, term)) => {
            env.push(("TERM".into(), term.into()));
            env.push(("SSH_TTY".into(), pty.slave_name().as_os_str().to_owned()));
            opts.pty = Some(pty.take_slave()?);
            opts.env = env;
            let control = pty.control();
            let child = process::spawn(opts)?;
            let (r, w) = pty.into_master();
            return Ok(Running {
                child,
                io: Io::Pty(control, r, w),
            });
        }
        None => Io::Pipes,
    };
    opts.env = env;
    Ok(Running {
        child: process::spawn(opts)?,
        io,
    })
}

/// `-bash` for `/bin/bash`: a login shell.
fn login_arg0(shell: &Path) -> OsString {
    let base = shell
        .file_name()
        .map(|s| s.to_os_string())
        .unwrap_or_else(|| PathBuf::from("sh").into_os_string());
    let mut a = OsString::from("-");
    a.push(base);
    a
}

/// Copies `from` to `to` until `from` ends; errors of either end it too.
async fn pump<R, W>(mut from: R, mut to: W) -> u64
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 32 * 1024];
    let mut total = 0u64;
    loop {
        let n = match futures::io::AsyncReadExt::read(&mut from, &mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let Some(chunk) = buf.get(..n) else { break };
        if to.write_all(chunk).await.is_err() {
            break;
        }
        total += n as u64;
    }
    total
}

async fn run(ch: Channel, mut running: Running) -> Result<(), Error> {
    let wait = running.child.wait();
    let mut outputs: Vec<futures::future::BoxFuture<'static, u64>> = Vec::new();
    let control = match running.io {
        Io::Pipes => {
            if let Some(stdin) = running.child.stdin.take() {
                let reader = ch.reader();
                drop(runtime::spawn(async move {
                    let mut stdin = stdin;
                    pump(reader, &mut stdin).await;
                    // EOF from the client: the program's stdin ends.
                    let _ = stdin.close().await;
                }));
            }
            if let Some(out) = running.child.stdout.take() {
                outputs.push(Box::pin(runtime::spawn(pump(out, ch.writer()))));
            }
            if let Some(err) = running.child.stderr.take() {
                outputs.push(Box::pin(runtime::spawn(pump(err, ch.stderr_writer()))));
            }
            None
        }
        Io::Pty(control, r, w) => {
            let reader = ch.reader();
            drop(runtime::spawn(async move {
                pump(reader, w).await;
            }));
            outputs.push(Box::pin(runtime::spawn(pump(r, ch.writer()))));
            Some(control)
        }
    };
    // Requests while the program runs: window-change and signal.
    let child = Arc::new(running.child);
    let requests = {
        let ch = ch.control();
        let child = child.clone();
        async move {
            while let Some(req) = ch.next_request().await {
                handle_running_request(&ch, &req, control.as_ref(), &child);
            }
        }
    };
    let requests = runtime::spawn(requests);
    let status = wait.await;
    for o in outputs {
        o.await;
    }
    drop(requests);
    match status {
        Ok(ExitStatus::Code(c)) => ch.exit_status(c).await?,
        Ok(ExitStatus::Signal { name, core_dumped }) => {
            ch.exit_signal(name, core_dumped, "").await?
        }
        Err(e) => tracing::info!("waiting for the session's program: {e}"),
    }
    ch.send_eof()?;
    ch.close()?;
    Ok(())
}

fn handle_running_request(
    ch: &Channel,
    req: &IncomingRequest,
    pty: Option<&PtyControl>,
    child: &process::Child,
) {
    let ok = match &req.kind {
        ChannelRequestKind::WindowChange {
            cols,
            rows,
            width_px,
            height_px,
        } => pty.is_some_and(|p| p.resize(win(*cols, *rows, *width_px, *height_px)).is_ok()),
        ChannelRequestKind::Signal { name } => match Signal::from_ssh_name(name) {
            Some(sig) => child.signal(sig).is_ok(),
            None => false,
        },
        _ => false,
    };
    let _ = ch.reply(req, ok);
}
