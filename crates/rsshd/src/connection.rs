//! One client connection: the server options from sshd_config, the
//! handshake and authentication in this process (the single-process mode),
//! and serving an authenticated connection, whichever process
//! authenticated it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ssh_async::runtime::{self, net::TcpStream};
use ssh_async::ssh_auth::authorized_keys::KeyOptions;
use ssh_async::ssh_wire::messages::{ChannelType, OpenFailureReason};
use ssh_async::{HostKey, Server, ServerConnection, ServerOptions};
use ssh_config::server::ServerSettings;
use ssh_os::sockets::Sockets;
use ssh_os::user::User;
use ssh_server_kit::forward::{ForwardPolicy, RemoteForwards, handle_direct};
use ssh_server_kit::penalties::Penalty;
use ssh_server_kit::session::{
    InProcessProgram, InternalSftp, LoginMessage, LoginRecorder, RemoteHost, SessionPolicy,
    serve_session,
};

use crate::Setup;
use crate::auth::{Account, Policy};
use crate::session::session_policy;

/// Counts a connection until it authenticates or ends.
pub(crate) struct Startup(Arc<AtomicUsize>, bool);

impl Startup {
    /// Counts one more connection in `active`.
    pub(crate) fn new(active: Arc<AtomicUsize>) -> Self {
        active.fetch_add(1, Ordering::SeqCst);
        Self(active, false)
    }

    /// The connection authenticated (or ended): it no longer counts.
    pub(crate) fn done(&mut self) {
        if !self.1 {
            self.1 = true;
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for Startup {
    fn drop(&mut self) {
        self.done();
    }
}

/// The options of a connection up to authentication, from sshd_config:
/// `host_keys` are the private keys (single process) or their public
/// halves signed for by the monitor (a worker).
pub(crate) fn server_options(
    s: &ServerSettings,
    transport: &ssh_async::ssh_transport::Config,
    root: bool,
    host_keys: Vec<HostKey>,
    banner: Option<String>,
) -> ServerOptions {
    let mut options = ServerOptions::new(host_keys);
    options.transport = transport.clone();
    let mut methods = Vec::new();
    if s.pubkey_authentication {
        methods.push("publickey".to_owned());
    }
    if root && s.kbd_interactive_authentication {
        methods.push("keyboard-interactive".to_owned());
    }
    if root && s.password_authentication {
        methods.push("password".to_owned());
    }
    options.auth.methods = methods;
    options.auth.required = s.authentication_methods.clone();
    options.auth.max_tries = s.max_auth_tries;
    // LoginGraceTime 0: no limit (a deadline past the end of time).
    options.auth.deadline = s.login_grace_time.unwrap_or(Duration::MAX);
    options.auth.banner = banner;
    options.connection.max_sessions = usize::try_from(s.max_sessions).unwrap_or(usize::MAX);
    if !s.client_alive_interval.is_zero() {
        options.keepalive = Some((s.client_alive_interval, s.client_alive_count_max));
    }
    // tcpip-forward and streamlocal-forward@openssh.com reach us.
    options.global_requests = true;
    options
}

/// The banner file's text (sshd's `Banner`), if one is configured.
pub(crate) fn banner(s: &ServerSettings) -> Option<String> {
    s.banner
        .as_ref()
        .and_then(|b| std::fs::read_to_string(b).ok())
}

/// The PerSourcePenalties class of a connection that ended before it
/// authenticated.
pub(crate) fn penalty(grace_exceeded: bool, policy: &Policy) -> Penalty {
    if grace_exceeded {
        Penalty::GraceExceeded
    } else if policy.refused.is_some() {
        Penalty::RefuseConnection
    } else if policy.invalid_user {
        Penalty::InvalidUser
    } else if policy.attempted {
        Penalty::AuthFail
    } else {
        Penalty::NoAuth
    }
}

/// A connection served from its first byte to its end in this process.
pub(crate) async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    root: bool,
    me: Arc<User>,
    setup: Arc<Setup>,
    active: Arc<AtomicUsize>,
) {
    // The handshake's state (the authentication policy, the session being
    // set up) is large and ends with it: boxed, so that a connection keeps
    // for its life only what serving it needs (an idle connection's memory
    // is what a server holds per user).
    let handshake = Box::pin(authenticate(stream, peer, root, me, setup, active));
    let Some((conn, auth, pam)) = handshake.await else {
        return;
    };
    serve_authenticated(conn, auth, root).await;
    drop(pam);
}

/// The handshake and authentication of a connection: the connection, what
/// serving it needs, and the PAM session a root server of one process
/// holds for it. `None` when it ended there (logged and penalised).
async fn authenticate(
    stream: TcpStream,
    peer: SocketAddr,
    root: bool,
    me: Arc<User>,
    setup: Arc<Setup>,
    active: Arc<AtomicUsize>,
) -> Option<(
    ServerConnection,
    Authenticated,
    Option<ssh_os::pam_session::ConnectionPamSession>,
)> {
    let mut startup = Startup::new(active);
    let mut local = stream.local_addr().unwrap_or(peer);
    local.set_ip(local.ip().to_canonical());
    let s = &setup.settings;
    let host_keys = setup
        .keys
        .iter()
        .map(crate::hostkeys::Loaded::host_key)
        .collect();
    let options = server_options(s, &setup.transport, root, host_keys, banner(s));
    let mut policy = Policy::new(setup.config.clone(), peer, local, root, (*me).clone());
    let accepted = Server::accept(stream, options, &mut policy).await;
    startup.done();
    let conn = match accepted {
        Ok(c) => c,
        Err(e) => {
            tracing::info!(
                "Connection closed by {} port {}: {e}",
                peer.ip(),
                peer.port()
            );
            let grace = matches!(
                &e,
                ssh_async::Error::Session(ssh_async::ssh_session::Error::Auth(
                    ssh_async::ssh_auth::AuthError::Timeout
                ))
            );
            setup
                .penalties
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .penalise(
                    peer.ip(),
                    penalty(grace, &policy),
                    std::time::Instant::now(),
                );
            return None;
        }
    };
    let user = conn.user().to_owned();
    let Some(mut auth) = Authenticated::from_policy(&mut policy, &user) else {
        conn.disconnect();
        return None;
    };
    // A root server of one process (`-d`) holds the connection's PAM
    // session itself, as sshd's monitor does; it stays root to close it.
    let pam = if root && auth.account.settings.use_pam {
        let rhost = peer.ip().to_string();
        match ssh_os::pam_session::open_for_connection(crate::auth::PAM_SERVICE, &user, &rhost) {
            Ok(session) => {
                auth.env.extend(session.env.iter().cloned());
                Some(session)
            }
            Err(e) => {
                tracing::error!("PAM session for {user}: {e}");
                conn.disconnect();
                return None;
            }
        }
    } else {
        None
    };
    Some((conn, auth, pam))
}

/// What serving an authenticated connection needs to know of it.
pub(crate) struct Authenticated {
    pub(crate) peer: SocketAddr,
    pub(crate) local: SocketAddr,
    /// The user, with the settings for this connection.
    pub(crate) account: Account,
    /// The options of the key that authenticated, if one did.
    pub(crate) key_options: Option<KeyOptions>,
    /// The password has expired: sessions run only `passwd`, and nothing
    /// is forwarded (sshd's `force_pwchange`).
    pub(crate) password_change: bool,
    /// Who writes the login records of PTY sessions, when this process
    /// cannot (a user's session process asks the monitor).
    pub(crate) login_recorder: Option<Arc<dyn LoginRecorder>>,
    /// More environment for the sessions' programs (PAM's), after the
    /// usual variables: a name given again replaces it.
    pub(crate) env: Vec<(String, String)>,
    /// internal-sftp served by this process (a session process confined
    /// to the account's `ChrootDirectory`), not exec'd.
    pub(crate) internal_sftp: Option<Arc<dyn InProcessProgram>>,
}

impl Authenticated {
    /// From the policy that authenticated `user` in this process.
    pub(crate) fn from_policy(policy: &mut Policy, user: &str) -> Option<Self> {
        Some(Self {
            peer: policy.peer,
            local: policy.local,
            account: policy.account(user)?,
            key_options: policy.proven_key.as_ref().map(|(_, _, o)| o.clone()),
            password_change: policy.password_change.as_deref() == Some(user),
            login_recorder: None,
            env: Vec::new(),
            internal_sftp: None,
        })
    }
}

/// Serves an authenticated connection: its sessions, forwarding, and the
/// log line at its end. `root`: forwarding goes through a helper running
/// as the user (we are root, not the user).
///
/// Not an `async fn`: its arguments would stay in the future's state for
/// the connection's life (an `async fn` keeps them, moved out or not), and
/// `Authenticated` is large; only what serving needs goes into the future.
pub(crate) fn serve_authenticated(
    conn: ServerConnection,
    auth: Authenticated,
    root: bool,
) -> impl Future<Output = ()> + Send + 'static {
    let peer = auth.peer;
    let user = conn.user().to_owned();
    let (session_policy, forward_policy, sockets) = policies(auth, &user, root);
    serve_channels(conn, user, peer, session_policy, forward_policy, sockets)
}

/// The channels and global requests of an authenticated connection until
/// it ends, then its last log line.
async fn serve_channels(
    conn: ServerConnection,
    user: String,
    peer: SocketAddr,
    session_policy: Arc<SessionPolicy>,
    forward_policy: Arc<ForwardPolicy>,
    sockets: Option<Sockets>,
) {
    let remote = sockets.as_ref().map(|sockets| {
        runtime::spawn(
            RemoteForwards::new(conn.clone(), forward_policy.clone(), sockets.clone()).run(),
        )
    });
    while let Some(incoming) = conn.next_channel().await {
        // In a function of its own: the tasks' futures are built there,
        // not in this one's state, which a connection keeps for its life.
        dispatch(
            incoming,
            &conn,
            &session_policy,
            &forward_policy,
            sockets.as_ref(),
        );
    }
    // The remote forwards' listeners are closed once the connection ended.
    if let Some(remote) = remote {
        remote.await;
    }
    match conn.closed().await {
        Ok(()) => tracing::info!(
            "Disconnected from user {user} {} port {}",
            peer.ip(),
            peer.port()
        ),
        Err(e) => tracing::info!(
            "Connection from user {user} {} port {} ended: {e}",
            peer.ip(),
            peer.port()
        ),
    }
}

/// The policies of an authenticated connection's sessions and forwards,
/// and the sockets its forwards use (`None`: forwarding is off).
fn policies(
    auth: Authenticated,
    user: &str,
    root: bool,
) -> (Arc<SessionPolicy>, Arc<ForwardPolicy>, Option<Sockets>) {
    let Authenticated {
        peer,
        local,
        mut account,
        key_options,
        password_change,
        login_recorder,
        env,
        internal_sftp,
    } = auth;
    if password_change {
        // As sshd's auth_restrict_session: no forwarding of any kind.
        account.settings.disable_forwarding = true;
        account.settings.x11_forwarding = false;
        account.settings.allow_agent_forwarding = false;
    }
    let forward_policy = Arc::new(ForwardPolicy::from_settings(
        &account.settings,
        key_options.as_ref(),
        account.user.uid,
        Some(peer),
    ));
    // Everything forwarded is connected and listened to as the user: a
    // helper process running as the user when we are root.
    let sockets = if root {
        match Sockets::for_user(&account.user) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::error!("forwarding for {user} is off: {e}");
                None
            }
        }
    } else {
        Some(Sockets::direct())
    };
    let mut session_policy = session_policy(&account, key_options, peer, local);
    session_policy.password_change = password_change;
    if account.settings.print_last_log {
        // Read before this connection's first terminal session records
        // its own login (sshd's store_lastlog_message, at authentication).
        let path = std::path::Path::new(ssh_os::loginrec::LASTLOG);
        match ssh_os::loginrec::LastLogin::read(path, account.user.uid) {
            Ok(Some(last)) => session_policy.login_message = LoginMessage::new(last.message()),
            Ok(None) => {}
            Err(e) => tracing::debug!("reading {}: {e}", path.display()),
        }
    }
    // One helper per connection: sessions' agent and X11 sockets too.
    session_policy.sockets = sockets.clone();
    for (name, value) in env {
        session_policy.env.retain(|(n, _)| *n != name);
        session_policy.env.push((name, value));
    }
    if let Some(program) = internal_sftp {
        session_policy.internal_sftp = InternalSftp::InProcess(program);
    }
    if let Some(recorder) = login_recorder {
        session_policy.login_records = Some(RemoteHost {
            name: peer.ip().to_string(),
            addr: peer.ip(),
        });
        session_policy.login_recorder = Some(recorder);
    }
    (Arc::new(session_policy), forward_policy, sockets)
}

/// Serves one channel the client opened: a task for a session or a
/// forward, a refusal for anything else.
fn dispatch(
    incoming: ssh_async::IncomingChannel,
    conn: &ServerConnection,
    session_policy: &Arc<SessionPolicy>,
    forward_policy: &Arc<ForwardPolicy>,
    sockets: Option<&Sockets>,
) {
    match &incoming.channel_type {
        ChannelType::Session => match incoming.accept() {
            Ok(ch) => {
                let p = session_policy.clone();
                let c = conn.clone();
                drop(runtime::spawn(async move {
                    if let Err(e) = serve_session(ch, p, c).await {
                        tracing::debug!("session: {e}");
                    }
                }));
            }
            Err(e) => tracing::debug!("accept channel: {e}"),
        },
        ChannelType::DirectTcpip { .. } | ChannelType::DirectStreamlocal { .. } => {
            let Some(sockets) = sockets.cloned() else {
                let _ = incoming.reject(
                    OpenFailureReason::ADMINISTRATIVELY_PROHIBITED,
                    "forwarding unavailable",
                );
                return;
            };
            let p = forward_policy.clone();
            drop(runtime::spawn(async move {
                if let Err(e) = handle_direct(incoming, &p, &sockets).await {
                    tracing::debug!("forwarded channel: {e}");
                }
            }));
        }
        other => {
            tracing::info!("refused channel of type {}", other.name());
            let _ = incoming.reject(
                OpenFailureReason::ADMINISTRATIVELY_PROHIBITED,
                "unknown channel type",
            );
        }
    }
}
