//! The server session: transport, then `ssh-userauth` on request, then the
//! connection.

use std::collections::VecDeque;
use std::time::Instant;

use rand_core::CryptoRng;
use ssh_auth::server::{
    AccountVerdict, KeyboardInteractiveAnswer, PasswordVerdict, ServerAuth, ServerConfig,
    ServerEvent,
};
use ssh_connection::Connection;
use ssh_transport::{Event as TransportEvent, HostKey, Transport};
use ssh_wire::messages::DisconnectReason;
use ssh_wire::msg::Layer;

use crate::error::Error;
use crate::layers::KeepaliveConfig;
use crate::layers::{Core, Incoming, SERVICE_USERAUTH};

/// What a [`ServerSession`] tells the application.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerSessionEvent {
    /// A transport event for information (peer version, key exchange
    /// done, debug messages, ...). Events the session answers itself
    /// (service request, writable) are not reported.
    Transport(TransportEvent),
    /// An authentication event. Questions (`VerifyPublicKey`,
    /// `VerifyPassword`, ...) are answered with the session's `answer_*`
    /// methods; `Success` is followed by
    /// [`ServerSessionEvent::Authenticated`] once USERAUTH_SUCCESS went
    /// into the transport.
    Auth(ServerEvent),
    /// USERAUTH_SUCCESS was sent: [`ServerSession::connection_mut`] is
    /// available from now on.
    Authenticated,
    /// A connection event (channels, requests).
    Connection(ssh_connection::Event),
}

/// One SSH server connection, sans-IO. The same vocabulary as
/// [`crate::ClientSession`].
pub struct ServerSession {
    core: Core,
    auth_config: Option<ServerConfig>,
    auth: Option<ServerAuth>,
    /// `LoginGraceTime` from the accept: the whole way to USERAUTH_SUCCESS
    /// (version exchange, key exchange, service request, authentication)
    /// must fit before it. `None`: no limit.
    login_deadline: Option<Instant>,
    events: VecDeque<ServerSessionEvent>,
}

impl core::fmt::Debug for ServerSession {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ServerSession")
            .field("transport", &self.core.transport)
            .field("authenticated", &self.core.connection.is_some())
            .field("failed", &self.core.failed)
            .finish_non_exhaustive()
    }
}

impl ServerSession {
    /// A server session proving possession of `host_keys`, for a
    /// connection accepted at `now`. `auth.deadline` (`LoginGraceTime`)
    /// counts from `now` and covers everything until authentication
    /// succeeds: a client that stays silent, stops in the version or key
    /// exchange, or never asks for a service is dropped as one that fails
    /// to authenticate in time ([`ssh_auth::AuthError::Timeout`]).
    pub fn new(
        now: Instant,
        transport: ssh_transport::Config,
        host_keys: Vec<HostKey>,
        auth: ServerConfig,
        connection: ssh_connection::Config,
        rng: Box<dyn CryptoRng + Send>,
    ) -> Result<Self, Error> {
        let transport = Transport::server(transport, host_keys, rng)?;
        let mut core = Core::new(transport, ssh_connection::Role::Server, connection);
        core.now = Some(now);
        Ok(Self {
            core,
            login_deadline: now.checked_add(auth.deadline),
            auth_config: Some(auth),
            auth: None,
            events: VecDeque::new(),
        })
    }

    pub(crate) fn from_core(core: Core, events: VecDeque<ServerSessionEvent>) -> Self {
        Self {
            core,
            login_deadline: None,
            auth_config: None,
            auth: None,
            events,
        }
    }

    pub(crate) fn core(&self) -> &Core {
        &self.core
    }

    pub(crate) fn core_mut(&mut self) -> &mut Core {
        &mut self.core
    }

    // ---- getters ----

    /// The transport, for its getters.
    pub fn transport(&self) -> &Transport {
        &self.core.transport
    }

    /// The transport itself. Payloads sent through it bypass the
    /// session's ordering; meant for tests and transport features the
    /// session does not wrap.
    pub fn transport_mut(&mut self) -> &mut Transport {
        &mut self.core.transport
    }

    /// The connection, once authenticated.
    pub fn connection(&self) -> Option<&Connection> {
        self.core.connection.as_ref()
    }

    /// Sends channel data (extended data of `data_type`, e.g. 1 for
    /// stderr) as [`Connection::send_data`] does, with one copy less: when
    /// nothing is queued before it, the bytes are sealed into packets
    /// straight from `data`. Returns how many bytes were taken; a short
    /// count marks the channel write-blocked ([`ssh_connection::Event::Writable`]
    /// follows), as with `send_data`.
    pub fn send_channel_data(
        &mut self,
        h: ssh_connection::ChannelHandle,
        data_type: Option<u32>,
        data: &[u8],
    ) -> Result<usize, ssh_connection::ApiError> {
        self.core.send_channel_data(h, data_type, data)
    }

    /// The connection's channel API, once authenticated. Call
    /// [`ServerSession::flush`] or [`ServerSession::poll_transmit`]
    /// afterwards.
    pub fn connection_mut(&mut self) -> Option<&mut Connection> {
        if self.core.failed.is_some() {
            return None;
        }
        self.core.connection.as_mut()
    }

    /// The connection, also once the session failed or ended: what the
    /// peer sent before the end (channel data, EOF, replies, exit status)
    /// is still read from it. Nothing it queues is sent any more.
    pub fn connection_to_read(&mut self) -> Option<&mut Connection> {
        self.core.connection.as_mut()
    }

    /// True once USERAUTH_SUCCESS was sent.
    pub fn is_authenticated(&self) -> bool {
        self.core.connection.is_some()
    }

    /// The error that ended the session, if any.
    pub fn error(&self) -> Option<&Error> {
        self.core.failed.as_ref()
    }

    // ---- input ----

    /// Gives back the memory of buffers and queues that hold nothing, for
    /// a connection gone idle (a server holds thousands): they grow again
    /// on their next use, and nothing in them is dropped. The async
    /// driver calls it after a few seconds without traffic.
    pub fn release_buffers(&mut self) {
        self.core.release_buffers();
        // After success, with nothing left in it, the auth machine goes:
        // `route` does without it what it would do (as for a session
        // taken over from another process).
        if self.core.connection.is_some() && self.auth.as_ref().is_some_and(ServerAuth::is_drained)
        {
            self.auth = None;
        }
        if self.events.is_empty() {
            self.events = VecDeque::new();
        }
    }

    /// How many bytes [`ServerSession::input_buffer`] would lend for `max`,
    /// and [`ServerSession::handle_input`] would take now, found without
    /// growing any buffer: a caller that reads a little at a time into
    /// its own memory (an idle connection) offers exactly this much.
    pub fn input_room(&self, max: usize) -> usize {
        self.core.input_room(max)
    }

    /// Lends the transport's input buffer (at most `max` bytes) for the
    /// caller's socket read: the bytes land where the packet is decrypted
    /// in place. Follow with [`ServerSession::commit_input`]. Empty when the
    /// transport holds enough unprocessed input (it waits for an answer).
    pub fn input_buffer(&mut self, max: usize) -> &mut [u8] {
        self.core.input_buffer(max)
    }

    /// Takes `n` bytes read into [`ServerSession::input_buffer`] as input,
    /// as [`ServerSession::handle_input`] does with bytes it is given.
    pub fn commit_input(&mut self, now: Instant, n: usize) -> Result<(), Error> {
        self.core.commit_input(now, n)?;
        self.process()
    }

    /// Takes bytes from the client; returns how many were taken: fewer
    /// than offered when the transport's input buffer is full, and none
    /// while our unsent output is backlogged (a client that does not read
    /// what it asked for); offer the rest again after
    /// [`ServerSession::poll_transmit`] and a write.
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) -> Result<usize, Error> {
        let n = self.core.handle_input(now, data)?;
        self.process()?;
        Ok(n)
    }

    /// When [`ServerSession::handle_timeout`] should be called next: the
    /// earliest of the transport's re-key timer, a held-back auth FAILURE,
    /// the login deadline (until authenticated) and the next keepalive
    /// probe.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.core.failed.is_some() {
            return None;
        }
        [
            self.core.transport.poll_timeout(),
            self.auth.as_ref().and_then(ServerAuth::poll_timeout),
            self.login_deadline.filter(|_| !self.is_authenticated()),
            self.core.keepalive_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Tells the session the time.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        self.core.check()?;
        self.core.now = Some(now);
        let r = self.core.transport.handle_timeout(now).map_err(Error::from);
        self.core.guard(r)?;
        let r = self.core.keepalive_timeout(now);
        self.core.guard(r)?;
        if self.login_deadline.is_some_and(|d| now >= d) && !self.is_authenticated() {
            let r = Err(Error::Auth(ssh_auth::AuthError::Timeout));
            return self.core.guard(r);
        }
        if let Some(auth) = &mut self.auth {
            let r = auth.handle_timeout(now).map_err(Error::from);
            self.core.guard(r)?;
        }
        self.process()
    }

    // ---- output ----

    /// Moves the output of the auth and connection layers into the
    /// transport (as far as it takes them).
    pub fn flush(&mut self) -> Result<(), Error> {
        self.core.check()?;
        let r = self.drain_auth();
        self.core.guard(r)?;
        let r = self.core.flush();
        self.core.guard(r)?;
        self.note_authenticated();
        Ok(())
    }

    /// Moves every byte ready for the client to the end of `out`.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) {
        // A failure is recorded in the session and shows in `error()`.
        let _ = self.flush();
        self.core.transport.poll_transmit(out);
    }

    /// The next event: the session's own first, then the connection's.
    pub fn poll_event(&mut self) -> Option<ServerSessionEvent> {
        if let Some(e) = self.events.pop_front() {
            return Some(e);
        }
        self.core
            .next_connection_event()
            .map(ServerSessionEvent::Connection)
    }

    // ---- answers ----

    /// The exchange hash to sign after
    /// `ServerSessionEvent::Transport(TransportEvent::SignExchangeHash)`,
    /// for a host key held by another process (privilege separation).
    pub fn exchange_hash_request(&self) -> Option<&ssh_transport::kex::ExchangeHashRequest> {
        self.core.transport.exchange_hash_request()
    }

    /// Answers [`TransportEvent::SignExchangeHash`] with the key holder's
    /// signature; the key exchange goes on (a signature that does not
    /// verify ends the session).
    pub fn answer_exchange_hash_signature(&mut self, signature: Vec<u8>) -> Result<(), Error> {
        self.core.check()?;
        let r = self
            .core
            .transport
            .answer_exchange_hash_signature(signature)
            .map_err(Error::from);
        self.core.guard(r)?;
        self.process()
    }

    fn answer(
        &mut self,
        now: Instant,
        f: impl FnOnce(&mut ServerAuth) -> Result<(), ssh_auth::AuthError>,
    ) -> Result<(), Error> {
        self.core.check()?;
        self.core.now = Some(now);
        let Some(auth) = &mut self.auth else {
            return Err(Error::Misuse("authentication has not started"));
        };
        let r = f(auth).map_err(Error::from);
        if r.is_err() {
            // What the auth layer left to send before it failed (an
            // account's denial banner) goes out before the DISCONNECT.
            while let Some(p) = auth.poll_outgoing(now) {
                self.core.queue(p)?;
            }
        }
        self.core.guard(r)?;
        self.process()
    }

    /// Answers [`ServerEvent::VerifyPublicKey`].
    pub fn answer_public_key(&mut self, now: Instant, acceptable: bool) -> Result<(), Error> {
        self.answer(now, |a| a.answer_public_key(now, acceptable))
    }

    /// Answers [`ServerEvent::VerifyPassword`].
    pub fn answer_password(&mut self, now: Instant, verdict: PasswordVerdict) -> Result<(), Error> {
        self.answer(now, |a| a.answer_password(now, verdict))
    }

    /// Answers [`ServerEvent::KeyboardInteractive`] or
    /// [`ServerEvent::InfoResponse`].
    pub fn answer_keyboard_interactive(
        &mut self,
        now: Instant,
        answer: KeyboardInteractiveAnswer,
    ) -> Result<(), Error> {
        self.answer(now, |a| a.answer_keyboard_interactive(now, answer))
    }

    /// Answers [`ServerEvent::CheckAccount`] (asked when the auth
    /// configuration's `check_account` is set). A denial sends its message
    /// as a banner, then DISCONNECT, and the session fails with
    /// [`ssh_auth::AuthError::AccountDenied`].
    pub fn answer_account(&mut self, now: Instant, verdict: AccountVerdict) -> Result<(), Error> {
        self.answer(now, |a| a.answer_account(now, verdict))
    }

    /// Sets (or with `None` stops) keepalive probes: after
    /// `interval` without input from the peer a `keepalive@openssh.com`
    /// global request; after `max_missed` unanswered ones in a row and one
    /// more silent interval the session ends with
    /// [`Error::KeepaliveTimeout`] (see [`KeepaliveConfig`]). Probes start
    /// after authentication and are driven by the `now` of
    /// `handle_input`/`handle_timeout` ([`ServerSession::poll_timeout`] includes
    /// the next one). Their replies are consumed by the session and never
    /// reported. A zero interval is refused.
    pub fn set_keepalive(&mut self, keepalive: Option<KeepaliveConfig>) -> Result<(), Error> {
        self.core.check()?;
        self.core.set_keepalive(keepalive)
    }

    /// Starts a key exchange now (after the first one).
    pub fn force_rekey(&mut self) -> Result<(), Error> {
        self.core.check()?;
        let r = self.core.transport.force_rekey().map_err(Error::from);
        self.core.guard(r)
    }

    /// Sends DISCONNECT (`BY_APPLICATION`) and ends the session.
    pub fn disconnect(&mut self, description: &str) {
        self.disconnect_with(DisconnectReason::BY_APPLICATION, description);
    }

    /// Ends the session with DISCONNECT for `reason` (a server refusing a
    /// client: `HOST_NOT_ALLOWED_TO_CONNECT`, ...).
    pub fn disconnect_with(&mut self, reason: DisconnectReason, description: &str) {
        self.core.transport.disconnect(reason, description);
        if self.core.failed.is_none() {
            self.core.failed = Some(Error::Transport(ssh_transport::Error::Disconnected));
        }
    }

    // ---- the machinery ----

    pub(crate) fn process(&mut self) -> Result<(), Error> {
        // An answer just given may have queued SUCCESS: out it goes, so
        // that the connection layer exists before the next payload. (Once
        // authenticated there is nothing of the kind: the packet path is
        // left as it was.)
        if !self.is_authenticated() {
            self.flush()?;
        }
        loop {
            if self.core.handing_over {
                // SUCCESS went out and the connection goes to another
                // process: what the client sends next is its to read.
                break;
            }
            if self
                .auth
                .as_ref()
                .is_some_and(ServerAuth::awaiting_application)
            {
                // In order, as sshd: what the client sent after a request
                // (a CHANNEL_OPEN pipelined behind its signature) waits
                // until the request is decided. The transport keeps it;
                // the answer resumes here.
                break;
            }
            let r = self.core.next_payload();
            let got = self.core.guard(r)?;
            let r = self.transport_events();
            self.core.guard(r)?;
            match got {
                Incoming::None => break,
                Incoming::Handled => {}
                Incoming::Copied => {
                    let payload = core::mem::take(&mut self.core.rx);
                    let r = self.route(&payload);
                    self.core.rx = payload;
                    self.core.guard(r)?;
                }
            }
            self.flush()?;
        }
        self.flush()
    }

    fn note_authenticated(&mut self) {
        if core::mem::take(&mut self.core.just_authenticated) {
            self.events.push_back(ServerSessionEvent::Authenticated);
        }
    }

    fn transport_events(&mut self) -> Result<(), Error> {
        while let Some(ev) = self.core.transport.poll_event() {
            match ev {
                TransportEvent::ServiceRequest(name) => {
                    if name != SERVICE_USERAUTH || self.auth.is_some() {
                        return Err(Error::Protocol {
                            reason: DisconnectReason::SERVICE_NOT_AVAILABLE,
                            message: format!("service {name:?} not available"),
                        });
                    }
                    let (Some(mut config), Some(now)) = (self.auth_config.take(), self.core.now)
                    else {
                        return Err(Error::Misuse("authentication configuration missing"));
                    };
                    // One deadline for the whole login: authentication gets
                    // what is left of it.
                    if let Some(d) = self.login_deadline {
                        config.deadline = d.saturating_duration_since(now);
                    }
                    self.core.transport.accept_service()?;
                    let session_id = self.core.transport.session_id().unwrap_or_default();
                    self.auth = Some(ServerAuth::new(config, session_id, now));
                }
                TransportEvent::Writable => self.core.flush()?,
                TransportEvent::ServiceAccepted(_) => {
                    return Err(Error::protocol("a client sent SERVICE_ACCEPT"));
                }
                other => self.events.push_back(ServerSessionEvent::Transport(other)),
            }
        }
        Ok(())
    }

    fn route(&mut self, payload: &[u8]) -> Result<(), Error> {
        let number = payload.first().copied().unwrap_or_default();
        if Layer::of(number).is_userauth() {
            let (Some(auth), Some(now)) = (&mut self.auth, self.core.now) else {
                if self.core.connection.is_some() {
                    // A session taken over from another process
                    // ([`ServerSession::from_state`]) has no auth machine
                    // left: what ServerAuth does after success.
                    if number == ssh_wire::msg::SSH_MSG_USERAUTH_REQUEST {
                        return Ok(());
                    }
                    return Err(Error::protocol(format!(
                        "authentication message {number} after success"
                    )));
                }
                return Err(Error::protocol(format!(
                    "authentication message {number} before the ssh-userauth service was accepted"
                )));
            };
            // After success ServerAuth ignores requests (RFC 4252 §5.1) and
            // fails on server-only messages (a client-sent SUCCESS).
            auth.handle_payload(now, payload)?;
            return self.drain_auth();
        }
        self.core.route_connection(payload)
    }

    /// Moves auth events out and auth output into the transport.
    fn drain_auth(&mut self) -> Result<(), Error> {
        let (Some(auth), Some(now)) = (&mut self.auth, self.core.now) else {
            return Ok(());
        };
        while let Some(ev) = auth.poll_event() {
            self.events.push_back(ServerSessionEvent::Auth(ev));
        }
        let mut out = Vec::new();
        while let Some(p) = auth.poll_outgoing(now) {
            out.push(p);
        }
        for p in out {
            self.core.queue(p)?;
        }
        self.note_authenticated();
        Ok(())
    }
}
