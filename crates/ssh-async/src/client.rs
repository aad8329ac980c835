//! The client: connect, authenticate, open channels.

use core::future::Future;
use std::sync::{Arc, Mutex};

use futures::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use rand::rngs::StdRng;
use ssh_auth::client::{ClientConfig, ClientEvent, ClientMethod};
use ssh_connection::GlobalReply;
use ssh_keys::{Certificate, PrivateKey, PublicKey, SignatureAlgorithm};
use ssh_session::{ClientSession, ClientSessionEvent, KeepaliveConfig};
use ssh_transport::Event as TransportEvent;
use ssh_wire::messages::agent::SessionBind;
use ssh_wire::messages::userauth::InfoPrompt;
use ssh_wire::messages::{ChannelType, GlobalRequestKind};

use crate::channel::{self, Channel};
use crate::driver::Driver;
use crate::error::ConnectionError;
use crate::runtime::{self, Runtime};
use crate::state::{Shared, Side, State, lock};
use crate::{Error, IncomingChannel};
use ssh_connection::ExitStatus;

/// The application's side of a client handshake: the host key decision,
/// passwords, prompts and signatures. Methods are awaited in the middle
/// of the handshake (the connection waits for the answer).
pub trait ClientHandler: Send {
    /// The server proved it holds `key`: trust it? `false` ends the
    /// connection with [`Error::HostKeyRejected`].
    fn check_host_key(&mut self, key: &PublicKey) -> impl Future<Output = bool> + Send;

    /// The server presented a host certificate (a `*-cert-v01@openssh.com`
    /// algorithm was negotiated) for `key`, and proved it holds `key`;
    /// `certificate` is signed by the CA it names but not yet judged:
    /// trust it (a CA trusted for this host, principals, validity), or
    /// fall back to the plain key as `ssh` does? `false` ends the
    /// connection with [`Error::HostKeyRejected`]. By default the
    /// certificate is ignored and `key` judged by
    /// [`ClientHandler::check_host_key`].
    fn check_host_certificate(
        &mut self,
        key: &PublicKey,
        certificate: &Certificate,
    ) -> impl Future<Output = bool> + Send {
        let _ = certificate;
        self.check_host_key(key)
    }

    /// The server's banner (`SSH_MSG_USERAUTH_BANNER`).
    fn banner(&mut self, message: &str) {
        let _ = message;
    }

    /// The password for the `password` method; `None` skips the method.
    fn password(&mut self) -> impl Future<Output = Option<String>> + Send {
        async { None }
    }

    /// Answers for one `keyboard-interactive` round; `None` gives up the
    /// method.
    fn keyboard_interactive(
        &mut self,
        name: &str,
        instruction: &str,
        prompts: &[InfoPrompt],
    ) -> impl Future<Output = Option<Vec<String>>> + Send {
        let _ = (name, instruction, prompts);
        async { None }
    }

    /// A signature of `data` by the private half of `key` (an OpenSSH
    /// signature blob); `None` skips the key.
    fn sign(
        &mut self,
        key: &PublicKey,
        algorithm: SignatureAlgorithm,
        data: &[u8],
    ) -> impl Future<Output = Option<Vec<u8>>> + Send;

    /// A method failed (or partly succeeded); `methods` may continue.
    fn auth_failure(&mut self, methods: &[String], partial_success: bool) {
        let _ = (methods, partial_success);
    }

    /// The first key exchange is done: `bind` names this session (the
    /// server's host key, the session id, the server's signature of it;
    /// `is_forwarding` false) for `session-bind@openssh.com`. Called once,
    /// before any authentication request. A handler that signs with an
    /// agent binds its agent connection here, as `ssh` does, so that keys
    /// added with destination constraints (`ssh-add -h`) may sign.
    fn session_established(&mut self, bind: &SessionBind) -> impl Future<Output = ()> + Send {
        let _ = bind;
        async {}
    }
}

/// The binding of the session `t` carries, once its first key exchange is
/// done.
fn binding_of(t: &ssh_transport::Transport, is_forwarding: bool) -> Option<SessionBind> {
    t.session_binding()
        .map(|(host_key, session_id, signature)| SessionBind {
            host_key: host_key.to_vec(),
            session_id: session_id.to_vec(),
            signature: signature.to_vec(),
            is_forwarding,
        })
}

/// How [`Client::connect`] sets up the connection.
#[derive(Debug)]
pub struct ClientOptions {
    /// The user name.
    pub user: String,
    /// The methods to try, in order, among those the server allows.
    pub methods: Vec<ClientMethod>,
    /// Algorithms, re-key limits, ...
    pub transport: ssh_transport::Config,
    /// Windows, packet sizes, limits.
    pub connection: ssh_connection::Config,
    /// `ServerAliveInterval` and `ServerAliveCountMax`: after this long
    /// without input a `keepalive@openssh.com` probe is sent; after this
    /// many unanswered probes the connection ends. `None`: no probes.
    pub keepalive: Option<(core::time::Duration, u32)>,
    /// The runtime the connection runs on (its clock, timers and driver
    /// task); `None`: [`runtime::default_runtime`].
    pub runtime: Option<Arc<dyn Runtime>>,
    /// `PubkeyAcceptedAlgorithms`: the signature algorithms user keys may
    /// sign with (`None`: every one the key type has).
    pub signature_algorithms: Option<Vec<SignatureAlgorithm>>,
}

impl ClientOptions {
    /// Defaults for `user`, with the given methods.
    pub fn new(user: &str, methods: Vec<ClientMethod>) -> Self {
        Self {
            user: user.into(),
            methods,
            transport: ssh_transport::Config::default(),
            connection: ssh_connection::Config::default(),
            keepalive: None,
            runtime: None,
            signature_algorithms: None,
        }
    }
}

/// A ready-made [`ClientHandler`]: a host-key closure, keys in memory, a
/// password.
pub struct SimpleHandler {
    /// Decides on the host key.
    pub host_key_check: HostKeyCheck,
    /// Keys for `publickey`.
    pub keys: Vec<PrivateKey>,
    /// The password, if any.
    pub password: Option<String>,
}

/// Decides whether a host key is trusted.
pub type HostKeyCheck = Box<dyn FnMut(&PublicKey) -> bool + Send>;

impl SimpleHandler {
    /// The methods this handler can answer: its keys, then `password`.
    pub fn methods(&self) -> Vec<ClientMethod> {
        let mut m: Vec<ClientMethod> = self
            .keys
            .iter()
            .map(|k| ClientMethod::PublicKey(k.public().clone()))
            .collect();
        if self.password.is_some() {
            m.push(ClientMethod::Password);
        }
        m
    }
}

impl core::fmt::Debug for SimpleHandler {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SimpleHandler")
            .field("keys", &self.keys.len())
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .finish_non_exhaustive()
    }
}

impl ClientHandler for SimpleHandler {
    fn check_host_key(&mut self, key: &PublicKey) -> impl Future<Output = bool> + Send {
        let ok = (self.host_key_check)(key);
        async move { ok }
    }

    fn password(&mut self) -> impl Future<Output = Option<String>> + Send {
        let p = self.password.clone();
        async move { p }
    }

    fn sign(
        &mut self,
        key: &PublicKey,
        algorithm: SignatureAlgorithm,
        data: &[u8],
    ) -> impl Future<Output = Option<Vec<u8>>> + Send {
        let mut rng: StdRng = rand::make_rng();
        let sig = self
            .keys
            .iter()
            .find(|k| k.public() == key)
            .and_then(|k| k.sign(algorithm, data, &mut rng).ok());
        async move { sig }
    }
}

/// What a command wrote and how it ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// Channel data.
    pub stdout: Vec<u8>,
    /// Extended data (stderr).
    pub stderr: Vec<u8>,
    /// The `exit-status` the server sent, if any.
    pub exit_status: Option<u32>,
    /// The `exit-signal` the server sent, if any (name without `SIG`).
    pub exit_signal: Option<String>,
}

/// An authenticated client connection. Its driver runs as a task of its
/// own; the connection ends when every `Client` clone and channel is
/// dropped, or at [`Client::disconnect`].
#[derive(Clone)]
pub struct Client {
    shared: Shared,
    _alive: Arc<Alive>,
}

/// Asks the driver to disconnect when the last `Client` goes.
struct Alive(Shared);

impl Drop for Alive {
    fn drop(&mut self) {
        let mut st = lock(&self.0);
        st.closing = true;
        st.wake_driver();
    }
}

impl core::fmt::Debug for Client {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

impl Client {
    /// Runs the handshake and user authentication over `stream`, then
    /// starts the connection's driver task.
    pub async fn connect<S, H>(
        stream: S,
        options: ClientOptions,
        handler: &mut H,
    ) -> Result<Self, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        H: ClientHandler,
    {
        let keepalive = options.keepalive;
        let rt = options
            .runtime
            .clone()
            .or_else(runtime::default_runtime)
            .ok_or(Error::NoRuntime)?;
        let mut auth = ClientConfig::new(&options.user, options.methods);
        auth.signature_algorithms = options.signature_algorithms;
        let mut session = Box::new(ClientSession::new(
            options.transport,
            auth,
            options.connection,
            Box::new(rand::make_rng::<StdRng>()),
        )?);
        let mut driver = Driver::new(stream, rt.clone());
        let mut authenticated = false;
        loop {
            while let Some(ev) = session.poll_event() {
                match ev {
                    ClientSessionEvent::HostKey {
                        key, certificate, ..
                    } => {
                        // Asked once: a re-key's key is checked by the
                        // session (the same key, or the connection ends).
                        let trusted = match &certificate {
                            Some(cert) => handler.check_host_certificate(&key, cert).await,
                            None => handler.check_host_key(&key).await,
                        };
                        if trusted {
                            session.accept_host_key()?;
                        } else {
                            let _ = session.reject_host_key();
                            driver.try_flush(&mut *session);
                            return Err(Error::HostKeyRejected);
                        }
                    }
                    ClientSessionEvent::Auth(ClientEvent::Banner { message, .. }) => {
                        handler.banner(&message);
                    }
                    ClientSessionEvent::Auth(ClientEvent::PasswordPrompt) => {
                        match handler.password().await {
                            Some(p) => session.password(&p)?,
                            None => session.skip()?,
                        }
                    }
                    ClientSessionEvent::Auth(ClientEvent::NeedSignature {
                        key,
                        algorithm,
                        data,
                    }) => match handler.sign(&key, algorithm, &data).await {
                        Some(sig) => session.signature(sig)?,
                        None => session.skip()?,
                    },
                    ClientSessionEvent::Auth(ClientEvent::InfoRequest {
                        name,
                        instruction,
                        prompts,
                    }) => match handler
                        .keyboard_interactive(&name, &instruction, &prompts)
                        .await
                    {
                        Some(r) => session.info_response(r)?,
                        None => session.skip()?,
                    },
                    ClientSessionEvent::Auth(ClientEvent::PasswordChangeRequest { .. }) => {
                        session.skip()?;
                    }
                    ClientSessionEvent::Auth(ClientEvent::Failure {
                        methods,
                        partial_success,
                    }) => {
                        let m: Vec<String> = methods.iter().map(str::to_owned).collect();
                        handler.auth_failure(&m, partial_success);
                    }
                    ClientSessionEvent::Transport(TransportEvent::KexDone {
                        first: true, ..
                    }) => {
                        if let Some(bind) = binding_of(session.transport(), false) {
                            handler.session_established(&bind).await;
                        }
                    }
                    ClientSessionEvent::Authenticated => authenticated = true,
                    other => tracing::debug!("session event: {other:?}"),
                }
            }
            if authenticated {
                break;
            }
            if let Some(e) = session.error() {
                return Err(Error::Session(e.clone()));
            }
            if driver.eof {
                return Err(Error::Connection(ConnectionError::StreamClosed));
            }
            if let Err(e) = driver.step(&mut *session).await {
                // What the server said before it ended the connection (a
                // banner saying why the account may not log in) is shown.
                while let Some(ev) = session.poll_event() {
                    if let ClientSessionEvent::Auth(ClientEvent::Banner { message, .. }) = ev {
                        handler.banner(&message);
                    }
                }
                return Err(e);
            }
        }
        if let Some((interval, max_missed)) = keepalive {
            session.set_keepalive(Some(KeepaliveConfig::new(interval, max_missed)))?;
        }
        let state = State::new(session, Side::Client);
        let shared: Shared = Arc::new(Mutex::new(state));
        let task = crate::driver::drive(shared.clone(), driver);
        // The task's output is observed through the shared state.
        rt.spawn(Box::pin(task));
        Ok(Self {
            _alive: Arc::new(Alive(shared.clone())),
            shared,
        })
    }

    /// Reads something of the session (negotiated algorithms, ...).
    pub fn with_transport<R>(&self, f: impl FnOnce(&ssh_transport::Transport) -> R) -> R {
        f(lock(&self.shared).session.transport())
    }

    /// The `session-bind@openssh.com` request that binds an agent
    /// connection to this session (OpenSSH `PROTOCOL.agent` §1): for
    /// authentication (`is_forwarding` false) or for a forwarded agent.
    /// `None` before the first key exchange completed.
    pub fn session_bind(&self, is_forwarding: bool) -> Option<SessionBind> {
        self.with_transport(|t| binding_of(t, is_forwarding))
    }

    /// The server understands RFC 9987's agent forwarding names
    /// (`agent-req`, `agent-connect`): it advertised `agent-forward`.
    pub fn server_supports_agent_forward(&self) -> bool {
        self.with_transport(|t| t.peer_supports_agent_forward())
    }

    /// Opens a `session` channel.
    pub async fn open_session(&self) -> Result<Channel, Error> {
        channel::open(&self.shared, ChannelType::Session).await
    }

    /// Opens a channel of any type (`direct-tcpip`, ...).
    pub async fn open_channel(&self, kind: ChannelType) -> Result<Channel, Error> {
        channel::open(&self.shared, kind).await
    }

    /// The next channel the server asks to open (`forwarded-tcpip`,
    /// `forwarded-streamlocal@openssh.com`, `x11`,
    /// `auth-agent@openssh.com`); `None` once the connection ended. Until
    /// the first call, the server's opens are refused.
    pub async fn next_channel(&self) -> Option<IncomingChannel> {
        crate::server::next_incoming(&self.shared).await
    }

    /// Sends a global request (`tcpip-forward`, ...) and waits for the
    /// server's answer ([`GlobalReply::Failure`] when refused).
    pub async fn global_request(&self, request: GlobalRequestKind) -> Result<GlobalReply, Error> {
        crate::global::request(&self.shared, request).await
    }

    /// Sends a global request that wants no answer
    /// (`no-more-sessions@openssh.com`, ...).
    pub fn send_global_request(&self, request: GlobalRequestKind) -> Result<(), Error> {
        crate::global::send(&self.shared, request)
    }

    /// Runs `command` with no input and collects its output.
    pub async fn exec(&self, command: &str) -> Result<ExecOutput, Error> {
        self.exec_with_stdin(command, &[]).await
    }

    /// Runs `command` on a new `session` channel, sends `stdin` and EOF,
    /// and collects stdout, stderr and the exit status until the server
    /// closes the channel.
    pub async fn exec_with_stdin(&self, command: &str, stdin: &[u8]) -> Result<ExecOutput, Error> {
        let ch = self.open_session().await?;
        ch.exec(command).await?;
        let mut writer = ch.writer();
        let mut out_r = ch.reader();
        let mut err_r = ch.stderr();
        let input = async {
            writer.write_all(stdin).await?;
            writer.close().await
        };
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let (a, b, c) = futures::join!(
            input,
            out_r.read_to_end(&mut stdout),
            err_r.read_to_end(&mut stderr)
        );
        // The server may close before taking all of stdin.
        if let Err(e) = a
            && e.kind() != std::io::ErrorKind::BrokenPipe
        {
            return Err(Error::Io(e));
        }
        b?;
        c?;
        let exit = ch.wait_closed().await?;
        let (exit_status, exit_signal) = match exit {
            Some(ExitStatus::Code(c)) => (Some(c), None),
            Some(ExitStatus::Signal { name, .. }) => (None, Some(name)),
            // A kind this version does not know, or nothing said.
            Some(_) | None => (None, None),
        };
        Ok(ExecOutput {
            stdout,
            stderr,
            exit_status,
            exit_signal,
        })
    }

    /// Starts a key exchange now.
    pub fn rekey(&self) -> Result<(), Error> {
        let mut st = lock(&self.shared);
        st.session.force_rekey()?;
        st.wake_driver();
        Ok(())
    }

    /// Sends DISCONNECT and waits until the driver wrote it and stopped.
    pub async fn disconnect(self) -> Result<(), Error> {
        {
            let mut st = lock(&self.shared);
            st.closing = true;
            st.wake_driver();
        }
        channel::wait_end(&self.shared).await
    }

    /// Waits until the connection ends: `Ok` for a DISCONNECT or a closed
    /// stream, the failure otherwise.
    pub async fn closed(&self) -> Result<(), Error> {
        channel::wait_end(&self.shared).await
    }
}
