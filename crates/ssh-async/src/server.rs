//! The server: accept, authenticate with the application's policy, hand
//! out the channels the client opens.

use core::future::Future;
use core::task::Poll;
use std::sync::{Arc, Mutex};

use futures::io::{AsyncRead, AsyncWrite};
use rand::rngs::StdRng;
use ssh_auth::cert::Certificate;
use ssh_auth::server::{
    AccountVerdict, KeyboardInteractiveAnswer, PasswordVerdict, ServerConfig, ServerEvent,
};
use ssh_connection::ChannelHandle;
use ssh_keys::PublicKey;
use ssh_session::{KeepaliveConfig, ServerSession, ServerSessionEvent};
use ssh_transport::HostKey;
use ssh_wire::messages::{ChannelType, DisconnectReason, OpenFailureReason};

use crate::Error;
use crate::channel::{self, Channel};
use crate::driver::Driver;
use crate::error::ConnectionError;
use crate::global::{self, IncomingGlobalRequest};
use crate::handover::ExchangeHashSigner;
use crate::runtime::{self, Runtime};
use crate::state::{ChannelSlot, OpenState, Shared, Side, State, lock};

/// The application's authentication policy, asked in the middle of the
/// handshake.
pub trait ServerHandler: Send {
    /// Is `key` (or the certificate's key) acceptable for `user`? Asked
    /// for a query (`proof == false`) and again before a signature is
    /// checked (`proof == true`); only a verified signature authenticates.
    fn public_key(
        &mut self,
        user: &str,
        key: &PublicKey,
        certificate: Option<&Certificate>,
        proof: bool,
    ) -> impl Future<Output = bool> + Send {
        let _ = (user, key, certificate, proof);
        async { false }
    }

    /// The signature of `user`'s `publickey` request by `key` verified:
    /// the key is proven. The only call naming a key that authenticated;
    /// [`ServerHandler::public_key`] is asked before a signature is
    /// checked (and for queries), so the last key it was asked about is
    /// not the authenticated one (Go's CVE-2024-45337). Per-key policy
    /// (`authorized_keys` options) belongs to this key.
    fn public_key_verified(&mut self, user: &str, key: &PublicKey) {
        let _ = (user, key);
    }

    /// The signed USERAUTH_REQUEST behind [`ServerHandler::public_key_verified`],
    /// as the client sent it: for a privilege-separated server's worker,
    /// whose monitor checks the signature again over its own session
    /// identifier before it believes the worker.
    fn public_key_proof(&mut self, userauth_request: &[u8]) {
        let _ = userauth_request;
    }

    /// Is `password` right for `user`?
    fn password(&mut self, user: &str, password: &str) -> impl Future<Output = bool> + Send {
        let _ = (user, password);
        async { false }
    }

    /// `keyboard-interactive` starts for `user`: prompts, or a verdict.
    fn keyboard_interactive(
        &mut self,
        user: &str,
        submethods: &str,
    ) -> impl Future<Output = KeyboardInteractiveAnswer> + Send {
        let _ = (user, submethods);
        async { KeyboardInteractiveAnswer::Reject }
    }

    /// The answers to the last prompts: more prompts, or a verdict.
    fn info_response(
        &mut self,
        user: &str,
        responses: &[String],
    ) -> impl Future<Output = KeyboardInteractiveAnswer> + Send {
        let _ = (user, responses);
        async { KeyboardInteractiveAnswer::Reject }
    }

    /// `user` has passed every method it needs (`method` last): may the
    /// account log in now? sshd's account checks go here (PAM account
    /// management, an expired or locked account, `/etc/nologin`); they
    /// run whatever the method. A denial's message is shown to the user
    /// as a banner and the connection ends
    /// ([`ssh_auth::AuthError::AccountDenied`]). Asked when
    /// [`ServerOptions::auth`]'s `check_account` is set (the default of
    /// [`ServerOptions::new`]); the default answer allows.
    fn account(&mut self, user: &str, method: &str) -> impl Future<Output = AccountVerdict> + Send {
        let _ = (user, method);
        async { AccountVerdict::Allow }
    }

    /// Asked after each of the answers above: `Some(why)` ends the
    /// connection there, before any verdict is sent (sshd's
    /// `RefuseConnection` for the user's `Match` block): DISCONNECT
    /// `HOST_NOT_ALLOWED_TO_CONNECT` with `why`, and
    /// [`Server::accept`] returns [`Error::Refused`].
    fn refused(&self) -> Option<String> {
        None
    }

    /// `user` is authenticated; `method` was the last method.
    fn authenticated(&mut self, user: &str, method: &str) {
        let _ = (user, method);
    }
}

/// What [`Server::accept`] needs.
pub struct ServerOptions {
    /// The host keys (at least one).
    pub host_keys: Vec<HostKey>,
    /// Methods, attempt limits, deadline, banner.
    pub auth: ServerConfig,
    /// Algorithms, re-key limits.
    pub transport: ssh_transport::Config,
    /// Windows, packet sizes, limits.
    pub connection: ssh_connection::Config,
    /// `ClientAliveInterval` and `ClientAliveCountMax` (see
    /// [`crate::ClientOptions::keepalive`]).
    pub keepalive: Option<(core::time::Duration, u32)>,
    /// The runtime the connection runs on (its clock, timers and driver
    /// task); `None`: [`runtime::default_runtime`].
    pub runtime: Option<Arc<dyn Runtime>>,
    /// Hand the client's global requests (`tcpip-forward`, ...) to
    /// [`ServerConnection::next_global_request`]; when false (the
    /// default) they are all refused.
    pub global_requests: bool,
    /// Signs the exchange hashes of host keys held by another process
    /// ([`ssh_keys::RemoteKey`] in `host_keys`); needed exactly when there
    /// are such keys.
    pub exchange_hash_signer: Option<Arc<dyn ExchangeHashSigner>>,
}

impl core::fmt::Debug for ServerOptions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ServerOptions")
            .field("host_keys", &self.host_keys.len())
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl ServerOptions {
    /// Defaults (as `sshd`'s) with these host keys.
    pub fn new(host_keys: Vec<HostKey>) -> Self {
        let auth = ServerConfig {
            host_key: host_keys.first().map(|k| k.public_key().to_blob()),
            check_account: true,
            ..ServerConfig::default()
        };
        Self {
            host_keys,
            auth,
            transport: ssh_transport::Config::server_default(),
            connection: ssh_connection::Config::default(),
            keepalive: None,
            runtime: None,
            global_requests: false,
            exchange_hash_signer: None,
        }
    }
}

/// Accepts connections.
#[derive(Debug)]
pub struct Server;

impl Server {
    /// Runs the handshake and authentication over `stream`, then starts
    /// the connection's driver task.
    pub async fn accept<S, H>(
        stream: S,
        options: ServerOptions,
        handler: &mut H,
    ) -> Result<ServerConnection, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        H: ServerHandler,
    {
        let (driver, mut session, user, rest) = handshake(stream, options, handler, false).await?;
        if let Some((interval, max_missed)) = rest.keepalive {
            session.set_keepalive(Some(KeepaliveConfig::new(interval, max_missed)))?;
        }
        let mut state = State::new(session, Side::Server);
        state.accept_incoming = true;
        state.accept_global = rest.global_requests;
        state.signer = rest.signer;
        let shared: Shared = Arc::new(Mutex::new(state));
        rest.rt
            .spawn(Box::pin(crate::driver::drive(shared.clone(), driver)));
        Ok(ServerConnection { shared, user })
    }
}

/// What [`handshake`] leaves of the options for after authentication.
pub(crate) struct AfterHandshake {
    rt: Arc<dyn Runtime>,
    keepalive: Option<(core::time::Duration, u32)>,
    global_requests: bool,
    signer: Option<Arc<dyn ExchangeHashSigner>>,
}

/// The handshake and authentication over `stream`, up to
/// USERAUTH_SUCCESS (in hand-over mode, the session stops there).
pub(crate) async fn handshake<S, H>(
    stream: S,
    options: ServerOptions,
    handler: &mut H,
    hand_over: bool,
) -> Result<(Driver<S>, Box<ServerSession>, String, AfterHandshake), Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: ServerHandler,
{
    let rt = options
        .runtime
        .clone()
        .or_else(runtime::default_runtime)
        .ok_or(Error::NoRuntime)?;
    let signer = options.exchange_hash_signer.clone();
    let rest = AfterHandshake {
        rt: rt.clone(),
        keepalive: options.keepalive,
        global_requests: options.global_requests,
        signer: signer.clone(),
    };
    let mut session = Box::new(ServerSession::new(
        rt.now(),
        options.transport,
        options.host_keys,
        options.auth,
        options.connection,
        Box::new(rand::make_rng::<StdRng>()),
    )?);
    session.set_hand_over(hand_over);
    let mut driver = Driver::new(stream, rt.clone());
    let mut user = None;
    let mut authenticated = false;
    loop {
        while let Some(ev) = session.poll_event() {
            match ev {
                ServerSessionEvent::Auth(ServerEvent::VerifyPublicKey {
                    user,
                    key,
                    query_only,
                    certificate,
                    ..
                }) => {
                    let ok = handler
                        .public_key(&user, &key, certificate.as_deref(), !query_only)
                        .await;
                    refuse_if(handler, &mut driver, &mut session)?;
                    session
                        .answer_public_key(driver.now(), ok)
                        .map_err(|e| failed(&mut driver, &mut session, e))?;
                }
                ServerSessionEvent::Auth(ServerEvent::PublicKeyVerified { user, key, request }) => {
                    handler.public_key_verified(&user, &key);
                    handler.public_key_proof(&request);
                }
                ServerSessionEvent::Auth(ServerEvent::VerifyPassword {
                    user,
                    password,
                    new_password,
                }) => {
                    // Changing a password over SSH is not offered.
                    let ok = new_password.is_none() && handler.password(&user, &password).await;
                    refuse_if(handler, &mut driver, &mut session)?;
                    let verdict = if ok {
                        PasswordVerdict::Accept
                    } else {
                        PasswordVerdict::Reject
                    };
                    session
                        .answer_password(driver.now(), verdict)
                        .map_err(|e| failed(&mut driver, &mut session, e))?;
                }
                ServerSessionEvent::Auth(ServerEvent::KeyboardInteractive { user, submethods }) => {
                    let a = handler.keyboard_interactive(&user, &submethods).await;
                    refuse_if(handler, &mut driver, &mut session)?;
                    session
                        .answer_keyboard_interactive(driver.now(), a)
                        .map_err(|e| failed(&mut driver, &mut session, e))?;
                }
                ServerSessionEvent::Auth(ServerEvent::InfoResponse { user, responses }) => {
                    let a = handler.info_response(&user, &responses).await;
                    refuse_if(handler, &mut driver, &mut session)?;
                    session
                        .answer_keyboard_interactive(driver.now(), a)
                        .map_err(|e| failed(&mut driver, &mut session, e))?;
                }
                ServerSessionEvent::Auth(ServerEvent::CheckAccount { user, method }) => {
                    let verdict = handler.account(&user, &method).await;
                    refuse_if(handler, &mut driver, &mut session)?;
                    session
                        .answer_account(driver.now(), verdict)
                        .map_err(|e| failed(&mut driver, &mut session, e))?;
                }
                ServerSessionEvent::Auth(ServerEvent::Success {
                    user: u, method, ..
                }) => {
                    handler.authenticated(&u, &method);
                    user = Some(u);
                }
                ServerSessionEvent::Transport(ssh_transport::Event::SignExchangeHash) => {
                    let request = session.exchange_hash_request().map(|r| r.encode());
                    let signed = match (&signer, request) {
                        (Some(signer), Some(request)) => signer.sign(request).await,
                        _ => Err("no signer for a host key held elsewhere".to_owned()),
                    };
                    match signed {
                        Ok(sig) => session
                            .answer_exchange_hash_signature(sig)
                            .map_err(|e| failed(&mut driver, &mut session, e))?,
                        Err(why) => {
                            session.disconnect_with(
                                DisconnectReason::KEY_EXCHANGE_FAILED,
                                "key exchange failed",
                            );
                            driver.try_flush(&mut *session);
                            return Err(Error::HostKeySignature(why));
                        }
                    }
                }
                ServerSessionEvent::Authenticated => authenticated = true,
                other => tracing::debug!("session event: {other:?}"),
            }
        }
        if authenticated {
            break;
        }
        if let Some(e) = session.error().cloned() {
            return Err(failed(&mut driver, &mut session, e));
        }
        if driver.eof {
            return Err(Error::Connection(ConnectionError::StreamClosed));
        }
        driver.step(&mut *session).await?;
    }
    Ok((driver, session, user.unwrap_or_default(), rest))
}

/// Ends the handshake when the handler refuses the connection.
fn refuse_if<S: AsyncRead + AsyncWrite + Unpin, H: ServerHandler>(
    handler: &H,
    driver: &mut Driver<S>,
    session: &mut ServerSession,
) -> Result<(), Error> {
    let Some(why) = handler.refused() else {
        return Ok(());
    };
    session.disconnect_with(DisconnectReason::HOST_NOT_ALLOWED_TO_CONNECT, &why);
    driver.try_flush(session);
    Err(Error::Refused(why))
}

/// The session failed during the handshake: what it still has to send
/// (a denial banner, its DISCONNECT) is written if the stream takes it at
/// once, so that the client learns why.
fn failed<S: AsyncRead + AsyncWrite + Unpin>(
    driver: &mut Driver<S>,
    session: &mut ServerSession,
    e: ssh_session::Error,
) -> Error {
    driver.try_flush(session);
    Error::Session(e)
}

/// An authenticated server connection; its driver runs as a task.
#[derive(Debug, Clone)]
pub struct ServerConnection {
    shared: Shared,
    user: String,
}

impl ServerConnection {
    pub(crate) fn new(shared: Shared, user: String) -> Self {
        Self { shared, user }
    }

    /// The authenticated user.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Reads something of the session (negotiated algorithms, ...).
    pub fn with_transport<R>(&self, f: impl FnOnce(&ssh_transport::Transport) -> R) -> R {
        f(lock(&self.shared).session.transport())
    }

    /// The next channel the client asks to open; `None` once the
    /// connection ended.
    pub async fn next_channel(&self) -> Option<IncomingChannel> {
        next_incoming(&self.shared).await
    }

    /// The next global request of the client (`tcpip-forward`,
    /// `streamlocal-forward@openssh.com`, their cancels, ...), when
    /// [`ServerOptions::global_requests`] is set; `None` once the
    /// connection ended. `keepalive@openssh.com`,
    /// `no-more-sessions@openssh.com` and unknown requests are answered by
    /// the connection layer.
    pub async fn next_global_request(&self) -> Option<IncomingGlobalRequest> {
        if !lock(&self.shared).accept_global {
            // Refused as they come; only the end is worth waiting for.
            let _ = channel::wait_end(&self.shared).await;
            return None;
        }
        global::next(&self.shared).await
    }

    /// Opens a channel to the client (`forwarded-tcpip`, `x11`, ...).
    pub async fn open_channel(&self, kind: ChannelType) -> Result<Channel, Error> {
        channel::open(&self.shared, kind).await
    }

    /// Sends DISCONNECT.
    pub fn disconnect(&self) {
        let mut st = lock(&self.shared);
        st.closing = true;
        st.wake_driver();
    }

    /// Waits until the connection ends: `Ok` for a DISCONNECT or a closed
    /// stream, the failure otherwise.
    pub async fn closed(&self) -> Result<(), Error> {
        channel::wait_end(&self.shared).await
    }
}

/// The peer's next channel open; `None` once the connection ended. Opens
/// are queued from the first call on (the server's from the handshake).
pub(crate) async fn next_incoming(shared: &Shared) -> Option<IncomingChannel> {
    futures::future::poll_fn(|cx| {
        let mut st = lock(shared);
        st.accept_incoming = true;
        if let Some(p) = st.incoming.pop_front() {
            return Poll::Ready(Some(IncomingChannel {
                shared: shared.clone(),
                handle: Some(p.handle),
                channel_type: p.channel_type,
            }));
        }
        if st.ended.is_some() {
            return Poll::Ready(None);
        }
        st.incoming_waker = Some(cx.waker().clone());
        Poll::Pending
    })
    .await
}

/// A channel the peer asked to open. Dropped unanswered, it is refused.
#[derive(Debug)]
pub struct IncomingChannel {
    shared: Shared,
    handle: Option<ChannelHandle>,
    /// The type and its fields.
    pub channel_type: ChannelType,
}

impl IncomingChannel {
    /// Confirms the channel.
    pub fn accept(mut self) -> Result<Channel, Error> {
        let Some(h) = self.handle.take() else {
            return Err(Error::Connection(ConnectionError::StreamClosed));
        };
        let mut st = lock(&self.shared);
        st.conn()?.accept(h)?;
        st.chans.insert(h, ChannelSlot::new(OpenState::Open, 1));
        st.wake_driver();
        drop(st);
        Ok(Channel::from_parts(self.shared.clone(), h))
    }

    /// Refuses the channel.
    pub fn reject(mut self, reason: OpenFailureReason, description: &str) -> Result<(), Error> {
        let Some(h) = self.handle.take() else {
            return Ok(());
        };
        let mut st = lock(&self.shared);
        st.conn()?.reject(h, reason, description)?;
        st.wake_driver();
        Ok(())
    }
}

impl Drop for IncomingChannel {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            let mut st = lock(&self.shared);
            if let Ok(conn) = st.conn() {
                let _ = conn.reject(h, OpenFailureReason::ADMINISTRATIVELY_PROHIBITED, "refused");
            }
            st.wake_driver();
        }
    }
}
