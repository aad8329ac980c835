//! A user's session process: rsshd started again by the monitor as
//! `rsshd --privsep-user NAME RHOST CHROOT ARGS` (ARGS the monitor's own
//! arguments, CHROOT empty without `ChrootDirectory`), with its standard
//! input the record socket to the monitor and its standard output a pipe
//! for log lines.
//!
//! It reads the configuration while still root, opens the PAM session
//! with `UsePAM` (for the life of the process: its limits, login uid and
//! cgroup are then those of every program it starts; the first
//! connection's address is its remote host), becomes the user for good
//! (groups, group, user; root cannot be regained), and only then takes the
//! connections the monitor hands it: each is resumed from the transport
//! state the worker exported and served as in the single-process mode,
//! its re-keys signed by the monitor. When the monitor sends no more (the
//! user's last connection ended) it exits once what it serves is done.
//!
//! With a CHROOT it changes root there (sshd's ownership rules checked)
//! before it drops to the user, and serves internal-sftp itself, on a
//! thread per session: nothing can be exec'd inside the chroot, and
//! nothing else may run for such an account. Its connections' parsing is
//! then done by the user, confined, as for any other account.

use std::net::SocketAddr;
use std::os::fd::{AsFd as _, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clap::Parser as _;
use ssh_async::runtime::{self, net::TcpStream};
use ssh_async::ssh_auth::authorized_keys::KeyOptions;
use ssh_async::ssh_auth::cert::Certificate;
use ssh_async::ssh_keys::{PublicKey, RemoteKey};
use ssh_async::ssh_transport::TransportState;
use ssh_async::{HostKey, Server};
use ssh_config::server::{ServerConfig, ServerSettings};
use ssh_os::fdpass::RecordChannel;
use ssh_os::loginrec::LoginRecord;
use ssh_os::user::User;
use ssh_privsep::{ConnId, Request, WorkerFrame};
use ssh_server_kit::session::{InProcessProgram, LoginRecorder};
use zeroize::Zeroizing;

use super::MAX_RECORD;
use super::link::{self, Link, MonitorSigner};
use super::users::USER_FLAG;
use crate::auth::Account;
use crate::connection::{self, Authenticated};
use crate::internal_sftp::InProcess;

/// When started as `rsshd --privsep-user NAME ARGS`, serves as that
/// user's session process and exits; otherwise returns.
pub(crate) fn run_if_requested() {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv.get(1).is_none_or(|a| a != USER_FLAG) {
        return;
    }
    let code = match run(&argv) {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!("session process: {e}");
            eprintln!("rsshd session process: {e}");
            1
        }
    };
    std::process::exit(code);
}

/// What every connection of the process shares.
struct Context {
    config: Arc<ServerConfig>,
    settings: ServerSettings,
    transport: ssh_async::ssh_transport::Config,
    user: User,
    keys: Vec<(PublicKey, Option<Certificate>)>,
    link: Arc<Link>,
    /// The PAM session's environment, for every program.
    pam_env: Vec<(String, String)>,
    /// The user's groups, for `Match Group` (looked up while the system's
    /// databases could be read).
    groups: Vec<String>,
    /// The `ChrootDirectory` this process is confined to.
    chroot: Option<std::path::PathBuf>,
    /// Its internal-sftp, served in this process.
    internal_sftp: Arc<dyn InProcessProgram>,
}

/// Changes root to `dir` and becomes `user` for good there (sshd's
/// `safely_chroot` rules, then `permanently_set_uid`); returns the
/// internal-sftp the process serves. The system log's socket is
/// connected first (it is outside the chroot), and the umask taken for
/// internal-sftp to apply per session.
fn confine(user: &User, dir: &std::path::Path) -> Result<Arc<dyn InProcessProgram>, String> {
    ssh_os::syslog::open(c"internal-sftp", ssh_os::syslog::Facility::AUTH);
    ssh_os::chroot::enter_chroot(dir, user)
        .map_err(|e| format!("chroot(\"{}\"): {e}", dir.display()))?;
    let umask = rustix::process::umask(rustix::fs::Mode::empty()).bits();
    tracing::debug!(
        "session process of {} confined to {}",
        user.name,
        dir.display()
    );
    Ok(Arc::new(InProcess::confined(user.clone(), umask)))
}

fn run(argv: &[std::ffi::OsString]) -> Result<(), String> {
    let name = argv
        .get(2)
        .and_then(|n| n.to_str())
        .ok_or("no user named")?
        .to_owned();
    let rhost = argv
        .get(3)
        .and_then(|n| n.to_str())
        .ok_or("no remote host")?
        .to_owned();
    let chroot = argv
        .get(4)
        .ok_or("no chroot argument")?
        .to_str()
        .ok_or("the chroot is not UTF-8")?;
    let chroot = (!chroot.is_empty()).then(|| std::path::PathBuf::from(chroot));
    let args = crate::Args::try_parse_from(
        argv.first()
            .into_iter()
            .chain(argv.get(5..).unwrap_or_default()),
    )
    .map_err(|e| e.to_string())?;
    let configured = crate::configure(&args, true)?;
    let settings = configured.settings;
    crate::log::init_pipe(crate::log_filter(settings.log_level, &args));
    let transport = crate::transport_config(&settings)?;
    let user = User::by_name(&name)
        .map_err(|e| format!("{name}: {e}"))?
        .ok_or_else(|| format!("no user {name}"))?;
    // Before any thread, and while root (sshd: do_pam_session); kept to
    // the end of the process, when its keeper closes it.
    let pam = if settings.use_pam {
        let session =
            ssh_os::pam_session::open_for_process(crate::auth::PAM_SERVICE, &name, &rhost)
                .map_err(|e| format!("PAM session for {name}: {e}"))?;
        Some(session)
    } else {
        None
    };
    let pam_env = pam.as_ref().map(|p| p.env.clone()).unwrap_or_default();
    let monitor: OwnedFd = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| format!("the monitor's socket: {e}"))?;
    let groups = user.groups().map_err(|e| format!("{name}'s groups: {e}"))?;
    let internal_sftp: Arc<dyn InProcessProgram> = match &chroot {
        None => {
            ssh_os::user::become_user(&user).map_err(|e| format!("becoming {name}: {e}"))?;
            std::env::set_current_dir("/").map_err(|e| format!("/: {e}"))?;
            // Served here too, each session on a thread with a working
            // directory and umask of its own: no process and no pipe
            // between the channel and the server (a put's every byte
            // crossed that pipe twice). The umask, read before any other
            // thread runs, is what the user's programs inherit.
            let umask = rustix::process::umask(rustix::fs::Mode::empty());
            rustix::process::umask(umask);
            // Its request log (`-l`) under the exec'd server's name; the
            // process's own log goes to the monitor, not to syslog.
            ssh_os::syslog::open(c"internal-sftp", ssh_os::syslog::Facility::AUTH);
            Arc::new(InProcess::unconfined(user.clone(), umask.bits()))
        }
        Some(dir) => confine(&user, dir)?,
    };
    let live = Arc::new(AtomicUsize::new(0));
    let ended = Arc::new(AtomicUsize::new(0));
    let spawn_served = crate::served_spawner(crate::start_threads()?, live.clone(), ended.clone());
    runtime::block_on(async move {
        drop(runtime::spawn(crate::release_memory(ended)));
        let chan = RecordChannel::new(monitor, MAX_RECORD)
            .map_err(|e| format!("the monitor's socket: {e}"))?;
        let keys = link::host_keys(&chan).await?;
        tracing::debug!("session process {} of {name} serving", std::process::id());
        let ctx = Arc::new(Context {
            config: Arc::new(configured.config),
            settings,
            transport,
            user,
            keys,
            link: Arc::new(Link::new(chan)),
            pam_env,
            groups,
            chroot,
            internal_sftp,
        });
        loop {
            match link::recv(&ctx.link.chan).await? {
                None => break,
                Some((
                    WorkerFrame::Serve {
                        conn,
                        user,
                        peer,
                        local,
                        key_options,
                        password_change,
                        state,
                    },
                    fds,
                )) => {
                    if user != ctx.user.name {
                        return Err(format!("a connection of {user}, not of {name}"));
                    }
                    let socket = fds
                        .into_iter()
                        .next()
                        .ok_or("a connection without its socket")?;
                    let grant = Grant {
                        key_options: key_options.map(|o| *o),
                        password_change,
                    };
                    let arrival = Box::new(Arrival {
                        peer,
                        local,
                        grant,
                        state,
                        socket,
                    });
                    spawn_served(Box::pin(serve(ctx.clone(), conn, arrival)));
                }
                Some((WorkerFrame::Reply { conn, reply }, _)) => ctx.link.answered(conn, reply)?,
                Some((other, _)) => return Err(format!("unexpected frame {other:?}")),
            }
        }
        // The monitor sends no more: what is served finishes.
        while live.load(Ordering::SeqCst) > 0 {
            runtime::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    })
}

/// What the monitor granted a connection beyond its user.
struct Grant {
    /// The options of the key that authenticated it, if one did.
    key_options: Option<KeyOptions>,
    /// The password must be changed first.
    password_change: bool,
}

/// A connection as the monitor handed it over, until it is resumed.
struct Arrival {
    peer: String,
    local: String,
    grant: Grant,
    /// The worker's transport, exported.
    state: Zeroizing<Vec<u8>>,
    socket: OwnedFd,
}

/// Resumes and serves one connection, then tells the monitor it ended.
/// (What the connection arrived with is boxed: an `async fn`'s arguments
/// stay in its state for its whole life.)
async fn serve(ctx: Arc<Context>, conn: ConnId, arrival: Box<Arrival>) {
    // Resuming (decoding the exported transport, the account's settings)
    // is boxed and ends before serving: a connection keeps for its life
    // only what serving it needs.
    let resuming = Box::pin(resume(&ctx, conn, arrival));
    // The serving future is built in the match, boxed, and awaited after
    // it. Awaited inside the arm, it sat in this future's state beside
    // slots for what the resume gave (`Authenticated` is large, moved out
    // or not), and a connection keeps this state for its life: 2,096
    // bytes; now 56, and the serving future's own 320.
    let serving = match resuming.await {
        Ok((served, auth)) => Some(Box::pin(connection::serve_authenticated(
            served, auth, false,
        ))),
        Err(e) => {
            tracing::error!("{e}");
            None
        }
    };
    if let Some(serving) = serving {
        serving.await;
    }
    // Boxed too: sending on the record socket is a large future, and
    // only the connection's end needs it.
    Box::pin(closed(&ctx, conn)).await;
}

/// Tells the monitor that the connection ended.
async fn closed(ctx: &Context, conn: ConnId) {
    let frame = Request::Closed {
        conn,
        grace_exceeded: false,
    };
    if let Err(e) = ctx.link.chan.send(&frame.encode(), &[]).await {
        tracing::debug!("closing {conn:?}: {e}");
    }
}

/// The connection resumed from the state the worker exported, with what
/// serving it needs.
async fn resume(
    ctx: &Arc<Context>,
    conn: ConnId,
    arrival: Box<Arrival>,
) -> Result<(ssh_async::ServerConnection, Authenticated), String> {
    let Arrival {
        peer,
        local,
        grant,
        state,
        socket,
    } = *arrival;
    resume_from(ctx, conn, (&peer, &local), grant, state, socket)
        .await
        .map_err(|e| format!("resuming a connection from {peer}: {e}"))
}

async fn resume_from(
    ctx: &Arc<Context>,
    conn: ConnId,
    (peer, local): (&str, &str),
    grant: Grant,
    state: Zeroizing<Vec<u8>>,
    socket: OwnedFd,
) -> Result<(ssh_async::ServerConnection, Authenticated), String> {
    let peer: SocketAddr = peer.parse().map_err(|_| format!("peer {peer}"))?;
    let local: SocketAddr = local.parse().map_err(|_| format!("local {local}"))?;
    let state = TransportState::decode(&state).map_err(|e| e.to_string())?;
    let host_keys: Vec<HostKey> = ctx
        .keys
        .iter()
        .map(|(k, c)| Box::new(RemoteKey::new(k.clone(), c.clone())) as HostKey)
        .collect();
    let mut options =
        connection::server_options(&ctx.settings, &ctx.transport, true, host_keys, None);
    options.exchange_hash_signer = Some(Arc::new(MonitorSigner {
        conn,
        link: ctx.link.clone(),
    }));
    let stream = TcpStream::from(std::net::TcpStream::from(socket));
    let served = Server::resume(stream, options, state, ctx.user.name.clone())
        .await
        .map_err(|e| e.to_string())?;
    let account = Account::authenticated(
        &ctx.config,
        ctx.user.clone(),
        ctx.groups.clone(),
        peer,
        local,
    );
    let chroot = account
        .settings
        .expand_chroot_directory(&ctx.user.name, &ctx.user.home);
    if chroot != ctx.chroot {
        // The monitor chose this process by the account's chroot: the
        // configuration read here says otherwise (changed on disk since).
        return Err(format!(
            "the connection's ChrootDirectory is {chroot:?}, this process's {:?}",
            ctx.chroot
        ));
    }
    let recorder = MonitorRecorder {
        conn,
        link: ctx.link.clone(),
    };
    let auth = Authenticated {
        peer,
        local,
        account,
        key_options: grant.key_options,
        password_change: grant.password_change,
        login_recorder: Some(Arc::new(recorder)),
        env: ctx.pam_env.clone(),
        internal_sftp: Some(ctx.internal_sftp.clone()),
    };
    Ok((served, auth))
}

/// Login records of a connection's PTY sessions, written by the monitor
/// (utmp, wtmp and lastlog are root's).
struct MonitorRecorder {
    conn: ConnId,
    link: Arc<Link>,
}

impl std::fmt::Debug for MonitorRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitorRecorder")
            .field("conn", &self.conn)
            .finish_non_exhaustive()
    }
}

impl MonitorRecorder {
    fn send(&self, login: bool, record: &LoginRecord) {
        let frame = Request::LoginRecord {
            conn: self.conn,
            login,
            line: record.line.clone(),
            pid: record.pid,
        }
        .encode();
        let link = self.link.clone();
        drop(runtime::spawn(async move {
            if let Err(e) = link.chan.send(&frame, &[]).await {
                tracing::info!("login records: {e}");
            }
        }));
    }
}

impl LoginRecorder for MonitorRecorder {
    fn login(&self, record: &LoginRecord) -> std::io::Result<()> {
        self.send(true, record);
        Ok(())
    }

    fn logout(&self, record: &LoginRecord) -> std::io::Result<()> {
        self.send(false, record);
        Ok(())
    }
}
