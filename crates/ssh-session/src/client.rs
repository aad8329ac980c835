//! The client session: transport, then `ssh-userauth`, then the
//! connection.

use std::collections::VecDeque;
use std::time::Instant;

use rand_core::CryptoRng;
use ssh_auth::client::{ClientAuth, ClientConfig, ClientEvent};
use ssh_connection::Connection;
use ssh_keys::{Certificate, PublicKey, SignatureAlgorithm};
use ssh_transport::{Event as TransportEvent, Transport};
use ssh_wire::NameList;
use ssh_wire::messages::DisconnectReason;
use ssh_wire::msg::Layer;

use crate::error::Error;
use crate::layers::KeepaliveConfig;
use crate::layers::{Core, Incoming, SERVICE_USERAUTH};

/// What a [`ClientSession`] tells the application.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientSessionEvent {
    /// The server proved it holds this host key, at the first key
    /// exchange. Input processing pauses until the application answers
    /// with [`ClientSession::accept_host_key`] or
    /// [`ClientSession::reject_host_key`]. Asked once per connection: at
    /// each re-key the session accepts the same key by itself and refuses
    /// any other with [`Error::HostKeyChanged`].
    HostKey {
        /// The key (for a certificate, the certified key).
        key: PublicKey,
        /// The signature algorithm it signed with.
        algorithm: SignatureAlgorithm,
        /// The host certificate, when the server presented one
        /// (`*-cert-v01@openssh.com` negotiated): signed by the CA it
        /// names, to be judged by the application (`@cert-authority`).
        certificate: Option<Box<Certificate>>,
    },
    /// A transport event for information (peer version, key exchange
    /// done, debug messages, ...). Events the session answers itself
    /// (service accepted, writable) are not reported.
    Transport(TransportEvent),
    /// An authentication event. Questions (`NeedSignature`,
    /// `PasswordPrompt`, ...) are answered with the session's methods of
    /// the same names; `Success` is followed by
    /// [`ClientSessionEvent::Authenticated`].
    Auth(ClientEvent),
    /// Authentication succeeded: [`ClientSession::connection_mut`] is
    /// available from now on.
    Authenticated,
    /// A connection event (channels, requests).
    Connection(ssh_connection::Event),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Before the first key exchange finished.
    Kex,
    /// `ssh-userauth` requested, not yet accepted.
    ServiceRequested,
    /// ClientAuth runs.
    Auth,
    /// The connection runs.
    Connected,
}

/// One SSH client connection, sans-IO.
///
/// Feed the server's bytes to [`ClientSession::handle_input`], send what
/// [`ClientSession::poll_transmit`] gives, answer the events of
/// [`ClientSession::poll_event`], and call
/// [`ClientSession::handle_timeout`] at [`ClientSession::poll_timeout`].
/// After [`ClientSessionEvent::Authenticated`], use the channel API
/// through [`ClientSession::connection_mut`]; its output moves into the
/// transport on the next `poll_transmit` (or [`ClientSession::flush`]).
pub struct ClientSession {
    core: Core,
    stage: Stage,
    auth_config: Option<ClientConfig>,
    auth: Option<ClientAuth>,
    server_sig_algs: Option<NameList>,
    events: VecDeque<ClientSessionEvent>,
    /// The host key of the first exchange, waiting for the application.
    offered_host_key: Option<PublicKey>,
    /// The host key the application accepted at the first exchange; every
    /// re-key must present it again.
    host_key: Option<PublicKey>,
}

impl core::fmt::Debug for ClientSession {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ClientSession")
            .field("stage", &self.stage)
            .field("transport", &self.core.transport)
            .field("failed", &self.core.failed)
            .finish_non_exhaustive()
    }
}

impl ClientSession {
    /// A client session: the version line and KEXINIT are queued at once.
    pub fn new(
        transport: ssh_transport::Config,
        auth: ClientConfig,
        connection: ssh_connection::Config,
        rng: Box<dyn CryptoRng + Send>,
    ) -> Result<Self, Error> {
        let transport = Transport::client(transport, rng)?;
        Ok(Self {
            core: Core::new(transport, ssh_connection::Role::Client, connection),
            stage: Stage::Kex,
            auth_config: Some(auth),
            auth: None,
            server_sig_algs: None,
            events: VecDeque::new(),
            offered_host_key: None,
            host_key: None,
        })
    }

    // ---- getters ----

    /// The transport, for its getters (negotiated algorithms, session id,
    /// counters).
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
    /// [`ClientSession::flush`] or [`ClientSession::poll_transmit`]
    /// afterwards to move its output into the transport.
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

    /// True once the server accepted us.
    pub fn is_authenticated(&self) -> bool {
        self.stage == Stage::Connected
    }

    /// The server's host key the application accepted at the first key
    /// exchange (the key every re-key must present again).
    pub fn host_key(&self) -> Option<&PublicKey> {
        self.host_key.as_ref()
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
        if self.events.is_empty() {
            self.events = VecDeque::new();
        }
    }

    /// How many bytes [`ClientSession::input_buffer`] would lend for `max`,
    /// and [`ClientSession::handle_input`] would take now, found without
    /// growing any buffer: a caller that reads a little at a time into
    /// its own memory (an idle connection) offers exactly this much.
    pub fn input_room(&self, max: usize) -> usize {
        self.core.input_room(max)
    }

    /// Lends the transport's input buffer (at most `max` bytes) for the
    /// caller's socket read: the bytes land where the packet is decrypted
    /// in place. Follow with [`ClientSession::commit_input`]. Empty when the
    /// transport holds enough unprocessed input (it waits for an answer).
    pub fn input_buffer(&mut self, max: usize) -> &mut [u8] {
        self.core.input_buffer(max)
    }

    /// Takes `n` bytes read into [`ClientSession::input_buffer`] as input,
    /// as [`ClientSession::handle_input`] does with bytes it is given.
    pub fn commit_input(&mut self, now: Instant, n: usize) -> Result<(), Error> {
        self.core.commit_input(now, n)?;
        self.process()
    }

    /// Takes bytes from the server; returns how many were taken (fewer
    /// than offered when the transport's input buffer is full, none while
    /// our unsent output is backlogged: offer the rest again after
    /// [`ClientSession::poll_transmit`] and a write).
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) -> Result<usize, Error> {
        let n = self.core.handle_input(now, data)?;
        self.process()?;
        Ok(n)
    }

    /// When [`ClientSession::handle_timeout`] should be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.core.failed.is_some() {
            return None;
        }
        let t = self.core.transport.poll_timeout();
        let k = self.core.keepalive_deadline();
        match (t, k) {
            (Some(t), Some(k)) => Some(t.min(k)),
            (t, k) => t.or(k),
        }
    }

    /// Tells the session the time.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        self.core.check()?;
        self.core.now = Some(now);
        let r = self.core.transport.handle_timeout(now).map_err(Error::from);
        self.core.guard(r)?;
        let r = self.core.keepalive_timeout(now);
        self.core.guard(r)?;
        self.process()
    }

    // ---- output ----

    /// Moves the output of the auth and connection layers into the
    /// transport (as far as it takes them).
    pub fn flush(&mut self) -> Result<(), Error> {
        self.core.check()?;
        let r = self.core.flush();
        self.core.guard(r)
    }

    /// Moves every byte ready for the server to the end of `out` (after a
    /// [`ClientSession::flush`]). A failed session still yields its
    /// DISCONNECT here.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) {
        // A failure is recorded in the session and shows in `error()`.
        let _ = self.flush();
        self.core.transport.poll_transmit(out);
    }

    /// The next event: the session's own first, then the connection's.
    pub fn poll_event(&mut self) -> Option<ClientSessionEvent> {
        if let Some(e) = self.events.pop_front() {
            return Some(e);
        }
        self.core
            .next_connection_event()
            .map(ClientSessionEvent::Connection)
    }

    // ---- answers ----

    /// Accepts the host key of the last [`ClientSessionEvent::HostKey`];
    /// the session remembers it for the re-keys.
    pub fn accept_host_key(&mut self) -> Result<(), Error> {
        self.core.check()?;
        let r = self.core.transport.accept_host_key().map_err(Error::from);
        self.core.guard(r)?;
        if self.host_key.is_none() {
            self.host_key = self.offered_host_key.take();
        }
        self.process()
    }

    /// Rejects the host key; the session ends with
    /// `HOST_KEY_NOT_VERIFIABLE`.
    pub fn reject_host_key(&mut self) -> Result<(), Error> {
        self.core.check()?;
        let r = self.core.transport.reject_host_key().map_err(Error::from);
        self.core.guard(r)
    }

    fn answer(
        &mut self,
        f: impl FnOnce(&mut ClientAuth) -> Result<(), ssh_auth::AuthError>,
    ) -> Result<(), Error> {
        self.core.check()?;
        let Some(auth) = &mut self.auth else {
            return Err(Error::Misuse("authentication has not started"));
        };
        let r = f(auth).map_err(Error::from);
        self.core.guard(r)?;
        let r = self.drain_auth();
        self.core.guard(r)?;
        self.process()
    }

    /// Answers [`ClientEvent::NeedSignature`] with a signature blob.
    pub fn signature(&mut self, signature_blob: Vec<u8>) -> Result<(), Error> {
        self.answer(|a| a.signature(signature_blob))
    }

    /// Answers [`ClientEvent::PasswordPrompt`].
    pub fn password(&mut self, password: &str) -> Result<(), Error> {
        self.answer(|a| a.password(password))
    }

    /// Answers [`ClientEvent::PasswordChangeRequest`].
    pub fn change_password(&mut self, old: &str, new: &str) -> Result<(), Error> {
        self.answer(|a| a.change_password(old, new))
    }

    /// Answers [`ClientEvent::InfoRequest`], one response per prompt.
    pub fn info_response(&mut self, responses: Vec<String>) -> Result<(), Error> {
        self.answer(|a| a.info_response(responses))
    }

    /// Declines the pending question; the next method is tried.
    pub fn skip(&mut self) -> Result<(), Error> {
        self.answer(ClientAuth::skip)
    }

    /// Sets (or with `None` stops) keepalive probes: after
    /// `interval` without input from the peer a `keepalive@openssh.com`
    /// global request; after `max_missed` unanswered ones in a row and one
    /// more silent interval the session ends with
    /// [`Error::KeepaliveTimeout`] (see [`KeepaliveConfig`]). Probes start
    /// after authentication and are driven by the `now` of
    /// `handle_input`/`handle_timeout` ([`ClientSession::poll_timeout`] includes
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
        self.core
            .transport
            .disconnect(DisconnectReason::BY_APPLICATION, description);
        if self.core.failed.is_none() {
            self.core.failed = Some(Error::Transport(ssh_transport::Error::Disconnected));
        }
    }

    // ---- the machinery ----

    fn process(&mut self) -> Result<(), Error> {
        loop {
            let r = self.core.next_payload();
            let got = self.core.guard(r)?;
            let r = self.transport_events();
            let answered = self.core.guard(r)?;
            match got {
                Incoming::None if !answered => break,
                // A re-key's host key was accepted: the transport goes on
                // with the input it holds.
                Incoming::None => continue,
                Incoming::Handled => {}
                Incoming::Copied => {
                    let payload = core::mem::take(&mut self.core.rx);
                    let r = self.route(&payload);
                    self.core.rx = payload;
                    self.core.guard(r)?;
                }
            }
            let r = self.core.flush();
            self.core.guard(r)?;
        }
        let r = self.core.flush();
        self.core.guard(r)
    }

    /// Handles the transport's events; true when the session answered a
    /// re-key's host key itself (the transport may have more to do).
    fn transport_events(&mut self) -> Result<bool, Error> {
        let mut answered = false;
        while let Some(ev) = self.core.transport.poll_event() {
            match ev {
                TransportEvent::HostKey {
                    key,
                    algorithm,
                    certificate,
                } => match &self.host_key {
                    // The first exchange: the application decides.
                    None => {
                        self.offered_host_key = Some(key.clone());
                        self.events.push_back(ClientSessionEvent::HostKey {
                            key,
                            algorithm,
                            certificate,
                        });
                    }
                    // A re-key with the key accepted before (for a
                    // certificate, the same certified key).
                    Some(known) if *known == key => {
                        self.core.transport.accept_host_key()?;
                        answered = true;
                    }
                    // A re-key with another key: refused, the connection
                    // ends with HOST_KEY_NOT_VERIFIABLE.
                    Some(known) => {
                        return Err(Error::HostKeyChanged {
                            expected: known.fingerprint_sha256(),
                            got: key.fingerprint_sha256(),
                        });
                    }
                },
                TransportEvent::KexDone { first, negotiated } => {
                    if first && self.stage == Stage::Kex {
                        self.core.transport.request_service(SERVICE_USERAUTH)?;
                        self.stage = Stage::ServiceRequested;
                    }
                    self.events
                        .push_back(ClientSessionEvent::Transport(TransportEvent::KexDone {
                            first,
                            negotiated,
                        }));
                }
                TransportEvent::ServiceAccepted(name) => {
                    if self.stage != Stage::ServiceRequested || name != SERVICE_USERAUTH {
                        return Err(Error::protocol(format!(
                            "unexpected SERVICE_ACCEPT for {name:?}"
                        )));
                    }
                    let Some(config) = self.auth_config.take() else {
                        return Err(Error::Misuse("authentication configuration missing"));
                    };
                    let session_id = self.core.transport.session_id().unwrap_or_default();
                    let mut auth = ClientAuth::new(config, session_id);
                    if let Some(algs) = &self.server_sig_algs {
                        auth.set_server_sig_algs(algs.clone());
                    }
                    self.auth = Some(auth);
                    self.stage = Stage::Auth;
                    self.drain_auth()?;
                }
                TransportEvent::ExtInfo(info) => {
                    if let Some(Ok(algs)) = info.server_sig_algs() {
                        if let Some(auth) = &mut self.auth {
                            auth.set_server_sig_algs(algs.clone());
                        }
                        self.server_sig_algs = Some(algs);
                    }
                    self.events
                        .push_back(ClientSessionEvent::Transport(TransportEvent::ExtInfo(info)));
                }
                TransportEvent::Writable => self.core.flush()?,
                TransportEvent::ServiceRequest(_) => {
                    return Err(Error::protocol("a server asked the client for a service"));
                }
                other => self.events.push_back(ClientSessionEvent::Transport(other)),
            }
        }
        Ok(answered)
    }

    fn route(&mut self, payload: &[u8]) -> Result<(), Error> {
        let number = payload.first().copied().unwrap_or_default();
        let layer = Layer::of(number);
        if layer.is_userauth() {
            let Some(auth) = &mut self.auth else {
                return Err(Error::protocol(format!(
                    "authentication message {number} before the ssh-userauth service was accepted"
                )));
            };
            auth.handle_payload(payload)?;
            return self.drain_auth();
        }
        self.core.route_connection(payload)
    }

    /// Moves auth output into the transport and auth events out; starts
    /// the connection on success.
    fn drain_auth(&mut self) -> Result<(), Error> {
        let Some(auth) = &mut self.auth else {
            return Ok(());
        };
        let mut out = Vec::new();
        while let Some(p) = auth.poll_outgoing() {
            out.push(p);
        }
        let mut success = false;
        while let Some(ev) = auth.poll_event() {
            success |= ev == ClientEvent::Success;
            self.events.push_back(ClientSessionEvent::Auth(ev));
        }
        for p in out {
            self.core.queue(p)?;
        }
        if success && self.stage == Stage::Auth {
            // Right after receiving SUCCESS (delayed compression starts
            // with the next packet).
            self.core.authenticated()?;
            self.stage = Stage::Connected;
            self.events.push_back(ClientSessionEvent::Authenticated);
        }
        Ok(())
    }
}
