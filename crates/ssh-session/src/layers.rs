//! The layer plumbing both session sides share ([`Core`]): the transport,
//! the connection once authenticated, the queue of payloads the transport
//! would not take yet, routing of connection payloads, and the failure
//! state. `client.rs` and `server.rs` add what differs per side.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ssh_connection::{ApiError, ChannelHandle, Connection, Event, RequestId};
use ssh_transport::Transport;
use ssh_wire::messages::GlobalRequestKind;
use ssh_wire::msg::SSH_MSG_USERAUTH_SUCCESS;

use crate::error::Error;

/// The service that runs user authentication (RFC 4252 §1).
pub const SERVICE_USERAUTH: &str = "ssh-userauth";

/// Auth payloads held by the session while the transport says
/// `WouldBlock`. The auth machines send a handful of messages per attempt
/// and bound their attempts, so this is never reached by a correct stack;
/// it is a backstop.
const MAX_PENDING: usize = 256;
/// The least unsent output at which [`Core::output_backlogged`] stops
/// taking input (a key exchange's own packets stay far below it).
const MIN_UNSENT_BOUND: usize = 256 * 1024;

/// Keepalive probes, as OpenSSH's `ServerAliveInterval` /
/// `ServerAliveCountMax` (ssh) and `ClientAliveInterval` /
/// `ClientAliveCountMax` (sshd): after `interval` without input from the
/// peer, a `keepalive@openssh.com` global request with want-reply is sent
/// (OpenSSH `PROTOCOL` §2.5 keeps such names for private use; any reply,
/// success or failure, shows the peer is there). When `max_missed` probes
/// in a row went unanswered and one more `interval` passes in silence, the
/// session ends with [`Error::KeepaliveTimeout`]. `max_missed: 0` ends
/// the session after one silent interval without probing (as ssh's
/// `ServerAliveCountMax 0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeepaliveConfig {
    /// Silence after which a probe is sent; not zero.
    pub interval: Duration,
    /// Unanswered probes in a row after which the next silent interval
    /// ends the session.
    pub max_missed: u32,
}

impl KeepaliveConfig {
    /// Probes after `interval` of silence; the end after `max_missed`
    /// unanswered ones.
    pub const fn new(interval: Duration, max_missed: u32) -> Self {
        Self {
            interval,
            max_missed,
        }
    }
}

/// The running keepalive state.
#[derive(Debug)]
struct Keepalive {
    config: KeepaliveConfig,
    /// The next probe is due `interval` after this: the last input, the
    /// last probe, or authentication (None before it).
    since: Option<Instant>,
    /// Probes sent since the peer last sent a payload.
    missed: u32,
}

pub(crate) struct Core {
    pub(crate) transport: Transport,
    pub(crate) connection: Option<Connection>,
    conn_role: ssh_connection::Role,
    conn_config: ssh_connection::Config,
    /// Payloads refused with `WouldBlock`, oldest first. At most one comes
    /// from the connection (we stop draining it while this is not empty),
    /// or the rest of one direct send (`send_channel_data`, at most
    /// `max_queued_bytes`); the rest wait in the connection's own bounded
    /// queue.
    pending: VecDeque<Vec<u8>>,
    /// The header of the channel message being sealed straight from the
    /// application's bytes ([`Core::send_channel_data`]).
    head: Vec<u8>,
    /// A copy of a payload that is not the connection's (auth, or a
    /// connection message before authentication), being routed.
    pub(crate) rx: Vec<u8>,
    tx: Vec<u8>,
    pub(crate) failed: Option<Error>,
    pub(crate) now: Option<Instant>,
    /// Server: SUCCESS went into the transport and the connection started;
    /// the session reports it once.
    pub(crate) just_authenticated: bool,
    /// Server: at SUCCESS the connection goes to another process
    /// (privilege separation); the connection layer is not started here.
    pub(crate) hand_over: bool,
    /// Server: SUCCESS went out in hand-over mode; nothing more is read.
    pub(crate) handing_over: bool,
    keepalive: Option<Keepalive>,
    /// Our probes waiting for a reply, oldest first; their replies are
    /// consumed here, never reported. Each is also pending in the
    /// connection, whose `max_pending_requests` bounds them.
    probes: VecDeque<RequestId>,
    /// Grows receive windows to the path (when `max_window` allows).
    tuner: Option<crate::tuner::Tuner>,
}

impl Core {
    pub(crate) fn new(
        transport: Transport,
        conn_role: ssh_connection::Role,
        conn_config: ssh_connection::Config,
    ) -> Self {
        let tuner =
            (conn_config.max_window > conn_config.window).then(crate::tuner::Tuner::default);
        Self {
            transport,
            connection: None,
            conn_role,
            conn_config,
            pending: VecDeque::new(),
            head: Vec::new(),
            rx: Vec::new(),
            tx: Vec::new(),
            failed: None,
            now: None,
            just_authenticated: false,
            hand_over: false,
            handing_over: false,
            keepalive: None,
            probes: VecDeque::new(),
            tuner,
        }
    }

    pub(crate) fn check(&self) -> Result<(), Error> {
        match &self.failed {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Records a fatal error, sends the DISCONNECT it owes (the transport
    /// sends its own for its errors) and returns it.
    pub(crate) fn fail(&mut self, e: Error) -> Error {
        if self.failed.is_some() {
            return e;
        }
        if let Some(reason) = e.disconnect_reason() {
            // A no-op when the transport already failed (and disconnected).
            self.transport.disconnect(reason, &e.to_string());
        }
        self.failed = Some(e.clone());
        e
    }

    pub(crate) fn guard<T>(&mut self, r: Result<T, Error>) -> Result<T, Error> {
        match r {
            Err(e) if e.is_fatal() => Err(self.fail(e)),
            other => other,
        }
    }

    /// Starts the connection layer: authentication succeeded.
    pub(crate) fn authenticated(&mut self) -> Result<(), Error> {
        if self.connection.is_some() {
            return Ok(());
        }
        self.transport.set_authenticated()?;
        self.connection = Some(Connection::new(self.conn_role, self.conn_config.clone()));
        if let Some(k) = &mut self.keepalive {
            // Probes start after authentication.
            k.since = self.now;
            k.missed = 0;
        }
        Ok(())
    }

    // ---- keepalive ----

    /// Sets (or with `None` stops) keepalive probes. Set before
    /// authentication, the first probe is due `interval` after it; set
    /// later, `interval` after the last time the session was told.
    pub(crate) fn set_keepalive(&mut self, config: Option<KeepaliveConfig>) -> Result<(), Error> {
        let Some(config) = config else {
            self.keepalive = None;
            return Ok(());
        };
        if config.interval.is_zero() {
            return Err(Error::Misuse("a keepalive interval of zero"));
        }
        let since = if self.connection.is_some() {
            self.now
        } else {
            None
        };
        let missed = self.keepalive.as_ref().map_or(0, |k| k.missed);
        self.keepalive = Some(Keepalive {
            config,
            since,
            missed,
        });
        Ok(())
    }

    /// Frees the buffers and queues that hold nothing (the transport's
    /// too): see [`ssh_transport::Transport::release_buffers`].
    pub(crate) fn release_buffers(&mut self) {
        self.transport.release_buffers();
        if self.pending.is_empty() {
            self.pending = VecDeque::new();
        }
        if self.probes.is_empty() {
            self.probes = VecDeque::new();
        }
        // Scratch for one call each; nothing in them outlives it.
        self.head = Vec::new();
        self.rx = Vec::new();
        self.tx = Vec::new();
    }

    /// What [`Core::input_buffer`] would lend for `max`, and
    /// [`Core::handle_input`] would take, without growing any buffer.
    pub(crate) fn input_room(&self, max: usize) -> usize {
        if self.failed.is_some() || self.output_backlogged() {
            return 0;
        }
        self.transport.input_room(max)
    }

    /// The transport's input buffer lent for a socket read (nothing once
    /// the session failed).
    pub(crate) fn input_buffer(&mut self, max: usize) -> &mut [u8] {
        if self.failed.is_some() {
            return &mut [];
        }
        let max = if self.output_backlogged() { 0 } else { max };
        self.transport.input_buffer(max)
    }

    /// Takes bytes from the peer; returns how many were taken: none while
    /// [`Core::output_backlogged`].
    pub(crate) fn handle_input(&mut self, now: Instant, data: &[u8]) -> Result<usize, Error> {
        self.check()?;
        self.now = Some(now);
        if self.output_backlogged() {
            return Ok(0);
        }
        self.keepalive_input(now, !data.is_empty());
        let r = self.transport.handle_input(now, data).map_err(Error::from);
        self.guard(r)
    }

    /// True while the transport holds so much unsent output that no input
    /// is taken. A peer that sends what needs an answer (PING, requests
    /// with want-reply, channel opens, unknown messages) and never reads
    /// would otherwise grow our output without bound; now its own
    /// connection stalls instead (TCP pushes back). The application's data
    /// fills the transport only to `max_queued_bytes` (see
    /// [`Core::flush`] and [`Core::send_channel_data`]), so a peer that
    /// reads never meets this bound, and two of ours sending at once
    /// cannot both stall on it.
    ///
    /// What waits in the connection's queue counts too, by what it holds
    /// in memory ([`Connection::queued_memory`]): `flush` stops at
    /// `max_queued_bytes` in the transport, so the answers to a flood of
    /// requests (keepalives, channel requests) piled up there instead, a
    /// small vector each. The application's data fills that queue only to
    /// `max_queued_bytes` too.
    pub(crate) fn output_backlogged(&self) -> bool {
        let max = self.conn_config.max_queued_bytes;
        let bound = max.saturating_mul(2).max(MIN_UNSENT_BOUND);
        if self.transport.transmit_buffer().len() >= bound {
            return true;
        }
        self.connection
            .as_ref()
            .is_some_and(|c| c.queued_memory() >= max.saturating_add(MIN_UNSENT_BOUND))
    }

    /// Takes `n` bytes read into the lent buffer as input (the caller
    /// processes them next).
    pub(crate) fn commit_input(&mut self, now: Instant, n: usize) -> Result<(), Error> {
        self.check()?;
        self.now = Some(now);
        self.keepalive_input(now, n > 0);
        let r = self.transport.commit_input(now, n).map_err(Error::from);
        self.guard(r)
    }

    /// Bytes came from the peer: the next probe waits a full interval.
    pub(crate) fn keepalive_input(&mut self, now: Instant, got_input: bool) {
        if let Some(k) = &mut self.keepalive
            && got_input
            && k.since.is_some()
        {
            k.since = Some(now);
        }
    }

    /// When the next probe (or the end) is due.
    pub(crate) fn keepalive_deadline(&self) -> Option<Instant> {
        let k = self.keepalive.as_ref()?;
        self.connection.as_ref()?;
        k.since?.checked_add(k.config.interval)
    }

    /// At the deadline: a probe, or the end after `max_missed` unanswered
    /// ones.
    pub(crate) fn keepalive_timeout(&mut self, now: Instant) -> Result<(), Error> {
        if self.keepalive_deadline().is_none_or(|t| t > now) {
            return Ok(());
        }
        let (Some(k), Some(c)) = (&mut self.keepalive, &mut self.connection) else {
            return Ok(());
        };
        if k.missed >= k.config.max_missed {
            return Err(Error::KeepaliveTimeout { missed: k.missed });
        }
        k.missed += 1;
        k.since = Some(now);
        // A connection that refuses the request (too many of ours pending)
        // counts it as missed all the same: the peer answers nothing.
        if let Ok(Some(id)) = c.global_request(GlobalRequestKind::Keepalive, true) {
            self.probes.push_back(id);
        }
        self.flush()
    }

    /// The connection's next event, without the replies to our probes.
    pub(crate) fn next_connection_event(&mut self) -> Option<Event> {
        let c = self.connection.as_mut()?;
        loop {
            let ev = c.poll_event()?;
            if let (Event::GlobalReply { id, .. }, Some(t), Some(now)) =
                (&ev, self.tuner.as_mut(), self.now)
                && t.on_reply(*id, now, c)
            {
                continue;
            }
            if let Event::GlobalReply { id, .. } = &ev
                && let Some(at) = self.probes.iter().position(|p| p == id)
            {
                // Success or failure: either shows the peer is there.
                self.probes.remove(at);
                continue;
            }
            return Some(ev);
        }
    }

    /// Routes a connection-layer payload (80-127).
    pub(crate) fn route_connection(&mut self, payload: &[u8]) -> Result<(), Error> {
        connection_payload(
            &mut self.transport,
            &mut self.connection,
            &mut self.keepalive,
            payload,
        )
    }

    /// Queues an auth payload behind anything pending and sends what the
    /// transport takes.
    pub(crate) fn queue(&mut self, payload: Vec<u8>) -> Result<(), Error> {
        if self.pending.len() >= MAX_PENDING {
            // Nothing may be dropped: end the session rather than queue
            // without bound.
            return Err(Error::protocol(
                "too many authentication messages held during a key exchange",
            ));
        }
        self.pending.push_back(payload);
        self.send_pending().map(|_| ())
    }

    /// Sends held payloads; true when none is left.
    fn send_pending(&mut self) -> Result<bool, Error> {
        while let Some(p) = self.pending.front() {
            match self.transport.send_payload(p) {
                Ok(()) => {
                    let number = p.first().copied();
                    self.pending.pop_front();
                    self.sent(number)?;
                }
                Err(ssh_transport::Error::WouldBlock) => return Ok(false),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(true)
    }

    fn sent(&mut self, number: Option<u8>) -> Result<(), Error> {
        // Server: SUCCESS is in the transport now; RFC 4252 §5.1 and
        // `set_authenticated`'s contract: switch right after sending it.
        if self.conn_role == ssh_connection::Role::Server
            && number == Some(SSH_MSG_USERAUTH_SUCCESS)
            && self.connection.is_none()
        {
            if self.hand_over {
                self.handing_over = true;
            } else {
                self.authenticated()?;
            }
            self.just_authenticated = true;
        }
        Ok(())
    }

    /// Moves held payloads, then the connection's, into the transport,
    /// until it says `WouldBlock`.
    pub(crate) fn flush(&mut self) -> Result<(), Error> {
        if !self.send_pending()? {
            return Ok(());
        }
        let Some(c) = &mut self.connection else {
            return Ok(());
        };
        // The transport takes the connection's payloads up to
        // `max_queued_bytes` of unsent output; the rest waits in the
        // connection's own bounded queue until the peer reads (a window
        // the peer opens without reading would otherwise let a sender
        // refill that queue into the transport without end).
        while self.transport.transmit_buffer().len() < self.conn_config.max_queued_bytes
            && c.poll_outgoing(&mut self.tx)
        {
            match self.transport.send_payload(&self.tx) {
                Ok(()) => {}
                Err(ssh_transport::Error::WouldBlock) => {
                    self.pending.push_back(core::mem::take(&mut self.tx));
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Sends channel data (extended data of `data_type`), as
    /// [`Connection::send_data`] followed by [`Core::flush`] would, but
    /// with one copy less: when nothing waits before it, the bytes go from
    /// `data` straight into sealed packets. The transport's output buffer
    /// is bounded as the connection's queue is (`max_queued_bytes`); past
    /// that, or while anything is queued or held, the connection's queue
    /// takes the data.
    pub(crate) fn send_channel_data(
        &mut self,
        h: ChannelHandle,
        data_type: Option<u32>,
        data: &[u8],
    ) -> Result<usize, ApiError> {
        if self.failed.is_some() {
            return Err(ApiError::ConnectionFailed);
        }
        let room = self
            .conn_config
            .max_queued_bytes
            .saturating_sub(self.transport.transmit_buffer().len());
        let Some(c) = &mut self.connection else {
            return Err(ApiError::ConnectionFailed);
        };
        if c.has_payload() || !self.pending.is_empty() || !self.transport.can_send() || room == 0 {
            return match data_type {
                None => c.send_data(h, data),
                Some(t) => c.send_extended_data(h, t, data),
            };
        }
        let grant = c.grant_send(h, data_type, data.len(), room)?;
        let mut head = core::mem::take(&mut self.head);
        let mut result = Ok(grant.len);
        for part in data
            .get(..grant.len)
            .unwrap_or_default()
            .chunks(grant.chunk)
        {
            head.clear();
            grant.header(part.len(), &mut head);
            // A re-key our own packets started can make the transport
            // hold the rest, and refuse it past its hold limit: the window
            // is taken, so the rest waits here, in order, as `flush` keeps
            // a refused payload.
            if !self.pending.is_empty() {
                self.pending.push_back([head.as_slice(), part].concat());
                continue;
            }
            match self.transport.send_payload_parts(&head, part) {
                Ok(()) => {}
                Err(ssh_transport::Error::WouldBlock) => {
                    self.pending.push_back([head.as_slice(), part].concat());
                }
                Err(e) => {
                    // Recorded in the session (fatal ones send their
                    // DISCONNECT); the application's write fails.
                    let _ = self.guard::<()>(Err(Error::from(e)));
                    result = Err(ApiError::ConnectionFailed);
                    break;
                }
            }
        }
        self.head = head;
        result
    }

    /// Takes the next upper-layer payload. Connection messages (80-127)
    /// once the connection runs go straight from the transport's buffer
    /// into the connection (borrows split, no copy: this is the data
    /// path); any other payload is copied into `self.rx` for the caller
    /// to route.
    pub(crate) fn next_payload(&mut self) -> Result<Incoming, Error> {
        let Self {
            transport,
            connection,
            keepalive,
            rx,
            tuner,
            now,
            ..
        } = self;
        let Some(p) = transport.poll_incoming()? else {
            return Ok(Incoming::None);
        };
        let number = p.first().copied().unwrap_or_default();
        if connection.is_some() && ssh_wire::msg::Layer::of(number).is_connection() {
            // `p` borrows the transport's buffer; the connection copies
            // channel data once, into the channel's buffer.
            let r = match connection {
                Some(c) => c.handle_payload(p),
                None => Ok(()),
            };
            finish_connection_payload(transport, keepalive, r)?;
            if let (Some(t), Some(c), Some(now)) = (tuner.as_mut(), connection.as_mut(), *now) {
                t.on_input(now, c);
            }
            return Ok(Incoming::Handled);
        }
        rx.clear();
        rx.extend_from_slice(p);
        Ok(Incoming::Copied)
    }
}

/// What [`Core::next_payload`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Incoming {
    /// Nothing (more input needed, or the transport waits).
    None,
    /// A connection message, handled already.
    Handled,
    /// Another payload, in `Core::rx`, for the caller to route.
    Copied,
}

/// Hands a connection-layer payload to the connection, over borrows of
/// the fields it needs (so the payload may borrow the transport's buffer).
fn connection_payload(
    transport: &mut Transport,
    connection: &mut Option<Connection>,
    keepalive: &mut Option<Keepalive>,
    payload: &[u8],
) -> Result<(), Error> {
    let Some(c) = connection else {
        return Err(Error::protocol(format!(
            "connection message {} before authentication succeeded",
            payload.first().copied().unwrap_or_default()
        )));
    };
    let r = c.handle_payload(payload);
    finish_connection_payload(transport, keepalive, r)
}

/// After the connection took a payload: the keepalive count resets, an
/// unknown number is answered, an error ends the session.
fn finish_connection_payload(
    transport: &mut Transport,
    keepalive: &mut Option<Keepalive>,
    r: Result<(), ssh_connection::Error>,
) -> Result<(), Error> {
    if let Some(k) = keepalive {
        // Any message from the peer resets the count, as OpenSSH's
        // packet layer does (the reply to a probe is one).
        k.missed = 0;
    }
    match r {
        Ok(()) => Ok(()),
        // RFC 4253 §11.4: an unknown 80-127 number is answered with
        // SSH_MSG_UNIMPLEMENTED and the session goes on.
        Err(ssh_connection::Error::Unimplemented { .. }) => {
            transport.reject_last_payload()?;
            Ok(())
        }
        Err(e) => Err(Error::Connection(e)),
    }
}
