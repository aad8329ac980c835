//! Serving `session` channels with real processes: what `sshd` does after
//! authentication. A session collects `pty-req` and `env`, starts the
//! user's shell, command or subsystem (as the user, when we are root), and
//! moves bytes between the channel and the process until it ends; then it
//! sends `exit-status` or `exit-signal`, EOF and CLOSE. Before the program
//! starts, a session may also forward X11 ([`x11`]) and the agent
//! ([`agent`]); what they listen on goes away with the session.

mod agent;
mod env;
mod in_process;
mod login_message;
mod password_change;
mod records;
mod running;
mod x11;

use env::{accepts, base_env, env_fits, is_env_name, set_var};
pub use in_process::{InProcessProgram, InternalSftp, Stdio};
pub use login_message::LoginMessage;
use records::Recorded;
pub use records::{LoginRecorder, RemoteHost};
use running::{Io, Running, run};

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::io::AsyncWriteExt;
use ssh_wire::messages::{ChannelRequestKind, ChannelType, PtyRequest};

use ssh_async::{Channel, Error, ServerConnection, runtime};
use ssh_os::process::{self, SpawnOptions};
use ssh_os::pty::{Pty, WinSize};
use ssh_os::sockets::Sockets;
use ssh_os::user::User;

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
    /// What serves a command `internal-sftp [options]`.
    pub internal_sftp: InternalSftp,
    /// `ChrootDirectory`, expanded: only `internal-sftp` can run; any
    /// other program is refused (rsshd does not run binaries from inside
    /// a chroot). For a server running as root, an exec'd internal-sftp
    /// confines itself there (see `ssh_os::chroot::enter_chroot`) after
    /// the parent checked sshd's ownership rules; an in-process one runs
    /// in a process already confined. Otherwise it is ignored.
    pub chroot: Option<PathBuf>,
    /// `X11Forwarding` (and the key's `no-x11-forwarding`): `x11-req` is
    /// accepted.
    pub x11_forwarding: bool,
    /// `X11DisplayOffset`: the first display number tried (sshd: 10).
    pub x11_display_offset: u32,
    /// `X11UseLocalhost`: listen on the loopback addresses only and set
    /// `DISPLAY=localhost:N`; otherwise every address and
    /// `DISPLAY=<hostname>:N`.
    pub x11_use_localhost: bool,
    /// `XAuthLocation`: the `xauth` program that files the client's cookie
    /// for the user. X11 forwarding is refused when it is missing.
    pub xauth_location: PathBuf,
    /// `AllowAgentForwarding` (and the key's `no-agent-forwarding`):
    /// `auth-agent-req@openssh.com` is accepted.
    pub agent_forwarding: bool,
    /// The user's password has expired (sshd's `force_pwchange`): a
    /// session on a terminal runs only `passwd`, after sshd's warning;
    /// without a terminal the program is refused with its message.
    pub password_change: bool,
    /// Told to the connection's first program if it is a login shell on a
    /// terminal ("Last login: ..."; sshd's `loginmsg`).
    pub login_message: LoginMessage,
    /// `PrintMotd`: the file a login shell on a terminal is shown after
    /// the login message (`/etc/motd`); `None` shows none.
    pub motd: Option<PathBuf>,
    /// sshd's `/etc/nologin` check at the start of each program, for a
    /// server that does not leave it to PAM (`UsePAM no`) and a user who
    /// is not root: while this file exists, the session's program is not
    /// run; its text goes to the client's stderr and the exit status is
    /// 254. `None`: no check.
    pub nologin: Option<PathBuf>,
    /// Where the forwarding listeners are made; `None`: made from `user`
    /// when first needed ([`Sockets::for_user`] when `switch_user`,
    /// [`Sockets::direct`] otherwise).
    pub sockets: Option<Sockets>,
    /// Login records (utmp, wtmp, lastlog) of sessions with a terminal, as
    /// from this remote host; `None`: none kept (only root can write them).
    pub login_records: Option<RemoteHost>,
    /// Who writes those records: `None`, this process (it must be root);
    /// otherwise the process that can (rsshd's monitor, for a user's
    /// session process).
    pub login_recorder: Option<Arc<dyn LoginRecorder>>,
}

impl SessionPolicy {
    /// A policy for `user` with sshd's defaults where it has them: the
    /// given environment, no `AcceptEnv`, a TTY allowed, no subsystems, no
    /// forced command, X11 forwarding off (display offset 10, loopback
    /// only, `/usr/bin/xauth`), agent forwarding on.
    pub fn new(user: User, switch_user: bool, env: Vec<(String, String)>) -> SessionPolicy {
        SessionPolicy {
            user,
            switch_user,
            env,
            accept_env: Vec::new(),
            permit_tty: true,
            subsystems: Vec::new(),
            force_command: None,
            internal_sftp: InternalSftp::Shell,
            chroot: None,
            x11_forwarding: false,
            x11_display_offset: 10,
            x11_use_localhost: true,
            xauth_location: PathBuf::from("/usr/bin/xauth"),
            agent_forwarding: true,
            password_change: false,
            login_message: LoginMessage::default(),
            motd: None,
            nologin: None,
            sockets: None,
            login_records: None,
            login_recorder: None,
        }
    }

    /// The sockets of the forwardings.
    fn sockets(&self) -> std::io::Result<Sockets> {
        if let Some(s) = &self.sockets {
            return Ok(s.clone());
        }
        if self.switch_user {
            Sockets::for_user(&self.user)
        } else {
            Ok(Sockets::direct())
        }
    }
}

/// How one session's program is started.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Start {
    Shell,
    Exec(String),
    Subsystem(String),
    /// `passwd`, whatever was asked (an expired password).
    PasswordChange,
}

struct Setup {
    pty: Option<(Pty, String)>,
    /// What the client set with `env`.
    env: Vec<(String, String)>,
    /// `DISPLAY`, `SSH_AUTH_SOCK`: set after the client's.
    forwarded_env: Vec<(String, String)>,
    sockets: Option<Sockets>,
    /// Whether `xauth` has run for the display.
    xauth_done: bool,
}

impl Setup {
    fn sockets(&mut self, policy: &SessionPolicy) -> std::io::Result<Sockets> {
        if let Some(s) = &self.sockets {
            return Ok(s.clone());
        }
        let s = policy.sockets()?;
        self.sockets = Some(s.clone());
        Ok(s)
    }
}

/// What a session forwards; closed when it ends.
#[derive(Default)]
struct Forwards {
    agent: Option<agent::AgentSocket>,
    x11: Option<x11::X11Display>,
}

impl Forwards {
    /// Stops listening, removes the sockets and the agent's directory.
    async fn close(mut self) {
        if let Some(a) = self.agent.take() {
            a.close().await;
        }
        if let Some(x) = self.x11.take() {
            x.close().await;
        }
    }
}

impl Drop for Forwards {
    /// A session dropped before its end (its task cancelled) still cleans
    /// up, in the background.
    fn drop(&mut self) {
        if let Some(a) = self.agent.take() {
            drop(runtime::spawn(a.close()));
        }
        if let Some(x) = self.x11.take() {
            drop(runtime::spawn(x.close()));
        }
    }
}

/// Serves one `session` channel of `conn` to its end. Errors of the
/// channel end the session; a program that cannot start is refused with
/// the request.
pub async fn serve_session(
    ch: Channel,
    policy: Arc<SessionPolicy>,
    conn: ServerConnection,
) -> Result<(), Error> {
    let mut forwards = Forwards::default();
    let r = serve(ch, &policy, &conn, &mut forwards).await;
    forwards.close().await;
    r
}

async fn serve(
    ch: Channel,
    policy: &SessionPolicy,
    conn: &ServerConnection,
    forwards: &mut Forwards,
) -> Result<(), Error> {
    let mut setup = Setup {
        pty: None,
        env: Vec::new(),
        forwarded_env: Vec::new(),
        sockets: None,
        xauth_done: false,
    };
    // Requests before the program starts.
    let started = loop {
        let Some(req) = ch.next_request().await else {
            return Ok(());
        };
        tracing::debug!("session_input_channel_req: req {}", req.kind.name());
        let start = match &req.kind {
            ChannelRequestKind::PtyReq(p) => {
                let ok = policy.permit_tty
                    && setup.pty.is_none()
                    && open_pty(&mut setup, p, policy).is_ok();
                ch.reply(&req, ok)?;
                continue;
            }
            ChannelRequestKind::Env { name, value } => {
                let value = String::from_utf8_lossy(value);
                let mut ok = accepts(&policy.accept_env, name) && is_env_name(name);
                if ok && !env_fits(&setup.env, name, &value) {
                    tracing::debug!("ignoring env request {name}: too many or too large");
                    ok = false;
                }
                if ok {
                    set_var(&mut setup.env, name, &value);
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
            ChannelRequestKind::X11Req {
                single_connection,
                auth_protocol,
                auth_cookie,
                screen,
            } => {
                let req_x11 = x11::X11Request {
                    single_connection: *single_connection,
                    auth_protocol: auth_protocol.clone(),
                    auth_cookie: auth_cookie.clone(),
                    screen: *screen,
                };
                let ok = match start_x11(policy, conn, &mut setup, forwards, &req_x11).await {
                    Ok(()) => true,
                    Err(why) => {
                        tracing::info!(
                            "session for {}: X11 forwarding refused: {why}",
                            policy.user.name
                        );
                        false
                    }
                };
                ch.reply(&req, ok)?;
                continue;
            }
            ChannelRequestKind::AuthAgentReq | ChannelRequestKind::AgentReq => {
                // RFC 9987's `agent-req` is answered with `agent-connect`
                // channels, OpenSSH's with `auth-agent@openssh.com` ones.
                let kind = match &req.kind {
                    ChannelRequestKind::AgentReq => ChannelType::AgentConnect,
                    _ => ChannelType::AuthAgent,
                };
                let ok = match start_agent(policy, conn, &mut setup, forwards, kind).await {
                    Ok(()) => true,
                    Err(why) => {
                        tracing::info!(
                            "session for {}: agent forwarding refused: {why}",
                            policy.user.name
                        );
                        false
                    }
                };
                ch.reply(&req, ok)?;
                continue;
            }
            _ => {
                ch.reply(&req, false)?;
                continue;
            }
        };
        if let Some(display) = &forwards.x11
            && !setup.xauth_done
        {
            // sshd files the cookie before the program runs.
            setup.xauth_done = true;
            let user = policy.switch_user.then(|| policy.user.clone());
            if let Err(e) = display
                .run_xauth(
                    &policy.xauth_location,
                    user,
                    base_env(policy, &setup),
                    policy.user.home.clone(),
                )
                .await
            {
                tracing::info!(
                    "session for {}: X11 forwarding: xauth: {e}",
                    policy.user.name
                );
            }
        }
        if let Some(text) = nologin(policy) {
            ch.reply(&req, true)?;
            return refuse_program(ch, &text).await;
        }
        let shell_on_tty = matches!(start, Start::Shell) && setup.pty.is_some();
        login_message::show(
            &policy.login_message,
            policy.motd.as_deref(),
            shell_on_tty,
            &policy.user.home,
            &ch,
        )
        .await?;
        let start = if policy.password_change {
            if setup.pty.is_none() {
                ch.reply(&req, true)?;
                return password_change::refuse_without_tty(ch).await;
            }
            password_change::warn(&ch).await?;
            Start::PasswordChange
        } else {
            start
        };
        match spawn(policy, &mut setup, &start) {
            Ok(started) => {
                ch.reply(&req, true)?;
                break started;
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
    match started {
        Started::Program(running) => run(ch, running).await,
        Started::InProcess(started) => in_process::run(ch, started).await,
        Started::SftpOnly => refuse_non_sftp(ch, policy).await,
    }
}

/// Ends a shell or exec session on which `ForceCommand internal-sftp`
/// would have run the SFTP server, as sshd's child does
/// (`SUBSYSTEM_INT_SFTP_ERROR`): its words on stdout, exit status 1.
async fn refuse_non_sftp(ch: Channel, policy: &SessionPolicy) -> Result<(), Error> {
    // "IP port PORT", sshd's remote_id, from SSH_CONNECTION.
    let remote = policy
        .env
        .iter()
        .find(|(n, _)| n == "SSH_CONNECTION")
        .and_then(|(_, v)| {
            let mut words = v.split(' ');
            Some(format!("{} port {}", words.next()?, words.next()?))
        })
        .unwrap_or_else(|| "UNKNOWN".to_owned());
    tracing::error!("Connection from {remote}: refusing non-sftp session");
    let mut out = ch.writer();
    out.write_all(b"This service allows sftp connections only.\n")
        .await?;
    out.flush().await?;
    ch.exit_status(1).await?;
    ch.send_eof()?;
    ch.close()?;
    Ok(())
}

/// The text of the nologin file when it exists (the program must not run).
fn nologin(policy: &SessionPolicy) -> Option<Vec<u8>> {
    let path = policy.nologin.as_ref()?;
    if !path.exists() {
        return None;
    }
    tracing::info!(
        "User {} not allowed because {} exists",
        policy.user.name,
        path.display()
    );
    // As sshd: the text when it can be read, nothing otherwise; bounded.
    let mut text = std::fs::read(path).unwrap_or_default();
    text.truncate(64 * 1024);
    Some(text)
}

/// Ends a session whose program may not run as sshd's child does: `text`
/// on stderr, exit status 254.
async fn refuse_program(ch: Channel, text: &[u8]) -> Result<(), Error> {
    let mut err = ch.stderr_writer();
    err.write_all(text).await?;
    err.flush().await?;
    ch.exit_status(254).await?;
    ch.send_eof()?;
    ch.close()?;
    Ok(())
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

/// What a session's program request started.
enum Started {
    Program(Running),
    InProcess(in_process::Started),
    /// `ForceCommand internal-sftp` on a session that is not a subsystem.
    SftpOnly,
}

/// Answers `x11-req`: the error says why it is refused.
async fn start_x11(
    policy: &SessionPolicy,
    conn: &ServerConnection,
    setup: &mut Setup,
    forwards: &mut Forwards,
    req: &x11::X11Request,
) -> Result<(), String> {
    if !policy.x11_forwarding {
        return Err("X11 forwarding is disabled".to_owned());
    }
    if forwards.x11.is_some() {
        return Err("X11 forwarding is already active in this session".to_owned());
    }
    let sockets = setup.sockets(policy).map_err(|e| e.to_string())?;
    let x = x11::start(
        req,
        policy.x11_display_offset,
        policy.x11_use_localhost,
        &policy.xauth_location,
        &sockets,
        conn,
    )
    .await?;
    tracing::debug!(
        "session for {}: X11 display {} (DISPLAY={})",
        policy.user.name,
        x.number,
        x.display
    );
    set_var(&mut setup.forwarded_env, "DISPLAY", &x.display);
    forwards.x11 = Some(x);
    Ok(())
}

/// Answers `auth-agent-req@openssh.com`: the error says why it is refused.
async fn start_agent(
    policy: &SessionPolicy,
    conn: &ServerConnection,
    setup: &mut Setup,
    forwards: &mut Forwards,
    channel_type: ChannelType,
) -> Result<(), String> {
    if !policy.agent_forwarding {
        return Err("agent forwarding is disabled".to_owned());
    }
    if forwards.agent.is_some() {
        return Err("agent forwarding is already active in this session".to_owned());
    }
    let sockets = setup.sockets(policy).map_err(|e| e.to_string())?;
    let socket = agent::start(&sockets, conn, channel_type)
        .await
        .map_err(|e| format!("cannot listen for the agent: {e}"))?;
    set_var(
        &mut setup.forwarded_env,
        "SSH_AUTH_SOCK",
        &socket.path.display().to_string(),
    );
    forwards.agent = Some(socket);
    Ok(())
}

fn spawn(policy: &SessionPolicy, setup: &mut Setup, start: &Start) -> std::io::Result<Started> {
    let user = &policy.user;
    let shell = user.shell.clone();
    let mut env = base_env(policy, setup);
    let requested = match start {
        Start::Shell | Start::PasswordChange => None,
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
        (_, Start::PasswordChange) => None,
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
    if matches!(start, Start::PasswordChange) {
        password_change::passwd(&mut opts);
    }
    opts.cwd = user.home.clone();
    opts.user = policy.switch_user.then(|| user.clone());
    // sshd splits the command into words too (without its quoting).
    let internal_words = command
        .as_deref()
        .map(str::split_whitespace)
        .filter(|w| w.clone().next() == Some("internal-sftp"))
        .map(|w| w.skip(1));
    // As sshd's do_exec: internal-sftp is the server only as the command
    // of a subsystem request (`Subsystem`, or forced on one). Forced on a
    // shell or an exec, the session is refused; a client's own `exec
    // internal-sftp` is a command like any other, for the shell.
    let subsystem = matches!(start, Start::Subsystem(_));
    let forced = policy.force_command.is_some() && !matches!(start, Start::PasswordChange);
    if internal_words.is_some() && !subsystem && forced {
        return Ok(Started::SftpOnly);
    }
    let internal_words = internal_words.filter(|_| subsystem);
    if let (InternalSftp::InProcess(program), Some(words)) =
        (&policy.internal_sftp, internal_words.clone())
    {
        return Ok(Started::InProcess(in_process::Started {
            program: program.clone(),
            args: words.map(str::to_owned).collect(),
            env,
        }));
    }
    let in_process = matches!(policy.internal_sftp, InternalSftp::InProcess(_));
    let chroot = policy
        .chroot
        .as_ref()
        .filter(|_| policy.switch_user || in_process);
    let mut internal = false;
    if let (InternalSftp::Program(program), Some(words)) = (&policy.internal_sftp, internal_words) {
        internal = true;
        let root = chroot.map(|d| d.as_os_str()).unwrap_or_default();
        opts.program = program.clone();
        opts.arg0 = Some("internal-sftp".into());
        opts.args = [
            OsStr::new("--internal-sftp"),
            OsStr::new(&user.name),
            user.home.as_os_str(),
            root,
        ]
        .into_iter()
        .map(OsString::from)
        .chain(words.map(OsString::from))
        .collect();
        if let Some(dir) = chroot {
            // Checked here so that a refusal is logged by the server;
            // internal-sftp checks again, sets the groups, chroots and
            // drops to the user before it reads any request.
            ssh_os::chroot::check_chroot(dir)?;
            opts.user = None;
            opts.cwd = PathBuf::from("/");
            // Exec'd as root: no variable of the client's (AcceptEnv,
            // key options) may reach it (LD_PRELOAD and the like would
            // run their code as root); it needs none.
            env.clear();
        }
    }
    if chroot.is_some() && !internal {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "ChrootDirectory is set: only internal-sftp can run",
        ));
    }
    let io = match setup.pty.take() {
        Some((mut pty, term)) => {
            env.push(("TERM".into(), term.into()));
            env.push(("SSH_TTY".into(), pty.slave_name().as_os_str().to_owned()));
            opts.pty = Some(pty.take_slave()?);
            opts.env = env;
            let control = pty.control();
            let child = process::spawn(opts)?;
            let record = policy.login_records.as_ref().map(|from| {
                Recorded::login(
                    pty.slave_name(),
                    user,
                    from,
                    child.pid(),
                    policy.login_recorder.clone(),
                )
            });
            let (r, w) = pty.into_master();
            return Ok(Started::Program(Running {
                child,
                io: Io::Pty(control, r, w),
                record,
            }));
        }
        None => Io::Pipes,
    };
    opts.env = env;
    Ok(Started::Program(Running {
        child: process::spawn(opts)?,
        io,
        record: None,
    }))
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
