//! The [`Connection`] state machine.
//!
//! Method classes (as in quinn-proto): [`Connection::handle_payload`] for
//! input, mutators for the application (`open_channel`, `accept`,
//! `send_data`, ...), and `poll_*` for output. After any input or mutator,
//! drain [`Connection::poll_payload`] into the transport and
//! [`Connection::poll_event`] into the application.

use std::collections::VecDeque;

use ssh_wire::DecodeError;
use ssh_wire::Encode;
use ssh_wire::messages::{
    ChannelClose, ChannelData, ChannelEof, ChannelExtendedData, ChannelFailure, ChannelOpen,
    ChannelOpenConfirmation, ChannelOpenFailure, ChannelRequest, ChannelRequestKind,
    ChannelSuccess, ChannelType, ChannelWindowAdjust, ConnectionMessage, GlobalRequest,
    GlobalRequestKind, OpenFailureReason, RequestFailure, RequestSuccess,
};

use crate::channel::{Channel, ChannelState, PendingAnswer, Slab};
use crate::config::Config;
use crate::error::{ApiError, Error, ProtocolError};
use crate::event::{Event, GlobalReply};
use crate::id::{ChannelHandle, LocalId, RemoteId, RequestId};
use crate::window::RecvWindow;

/// Which end of the connection we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The SSH client.
    Client,
    /// The SSH server.
    Server,
}

/// What a success reply to one of our global requests carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Plain,
    BoundPort,
    Signatures,
}

impl Expect {
    const fn of(request: &GlobalRequestKind) -> Self {
        match request {
            GlobalRequestKind::TcpipForward { port: 0, .. } => Self::BoundPort,
            GlobalRequestKind::HostKeysProve { .. } => Self::Signatures,
            _ => Self::Plain,
        }
    }
}

/// A snapshot of one channel, for the application and for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChannelInfo {
    /// The state.
    pub state: ChannelState,
    /// Our number.
    pub local: LocalId,
    /// The peer's number, once known.
    pub remote: Option<RemoteId>,
    /// Bytes we may still send (the peer's window).
    pub send_window: u32,
    /// The peer's maximum packet.
    pub send_max_packet: u32,
    /// Bytes the peer may still send (our window).
    pub recv_window: u32,
    /// Bytes received and not read (data and extended data).
    pub buffered: u32,
    /// We sent EOF.
    pub eof_sent: bool,
    /// The peer sent EOF.
    pub eof_received: bool,
}

/// The connection protocol of one SSH connection, without I/O.
///
/// Methods come in classes: [`Connection::handle_payload`] takes input;
/// the mutators (`open_channel`, `accept`, `reject`, `send_data`,
/// `send_eof`, `close`, `release`, `read`, `consume`, `channel_request`,
/// `global_request`, `answer_*`) act for the application; `poll_payload`
/// and `poll_event` give output. After each input or mutator, drain
/// `poll_payload` into the transport, then `poll_event`.
///
/// Events are only produced by input, and at most one `Readable` per
/// channel until its buffers were read empty; the application is expected
/// to drain them after each call.
#[derive(Debug)]
pub struct Connection {
    role: Role,
    config: Config,
    channels: Slab,
    sessions: usize,
    out: VecDeque<Vec<u8>>,
    out_bytes: usize,
    spare: Vec<Vec<u8>>,
    /// A send was refused because the output queue was full.
    queue_blocked: bool,
    events: VecDeque<Event>,
    next_request: u64,
    our_globals: VecDeque<(RequestId, Expect)>,
    their_globals: VecDeque<(RequestId, Expect, Option<GlobalReply>)>,
    no_more_sessions: bool,
    failed: Option<ProtocolError>,
}

fn proto<T>(e: ProtocolError) -> Result<T, ProtocolError> {
    Err(e)
}

impl Connection {
    /// A connection with no channels.
    pub fn new(role: Role, config: Config) -> Self {
        Self {
            role,
            config,
            channels: Slab::default(),
            sessions: 0,
            out: VecDeque::new(),
            out_bytes: 0,
            spare: Vec::new(),
            queue_blocked: false,
            events: VecDeque::new(),
            next_request: 0,
            our_globals: VecDeque::new(),
            their_globals: VecDeque::new(),
            no_more_sessions: false,
            failed: None,
        }
    }

    /// Our role.
    pub const fn role(&self) -> Role {
        self.role
    }

    /// The settings.
    pub const fn config(&self) -> &Config {
        &self.config
    }

    /// The error that failed the connection, if it failed.
    pub const fn failure(&self) -> Option<&ProtocolError> {
        self.failed.as_ref()
    }

    /// Channels allocated (any state until released).
    pub const fn channel_count(&self) -> usize {
        self.channels.len()
    }

    // ----------------------------------------------------------------- output

    /// Moves the next outgoing payload into `out` (replacing its contents)
    /// and returns true, or returns false when nothing is queued. The
    /// session hands each payload to the transport's `send_payload`.
    pub fn poll_payload(&mut self, out: &mut Vec<u8>) -> bool {
        let Some(mut p) = self.out.pop_front() else {
            return false;
        };
        self.out_bytes = self.out_bytes.saturating_sub(p.len());
        core::mem::swap(out, &mut p);
        p.clear();
        if self.spare.len() < 64 {
            self.spare.push(p);
        }
        if self.queue_blocked && self.out_bytes <= self.config.max_queued_bytes / 2 {
            self.queue_blocked = false;
            self.wake_blocked_writers();
        }
        true
    }

    /// Hands every queued payload to `send`, oldest first (the same as
    /// calling [`Connection::poll_payload`] until it returns false).
    pub fn poll_transmit(&mut self, mut send: impl FnMut(&[u8])) {
        let mut buf = Vec::new();
        while self.poll_payload(&mut buf) {
            send(&buf);
        }
    }

    /// True when [`Connection::poll_payload`] has something.
    pub fn has_payload(&self) -> bool {
        !self.out.is_empty()
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn queue<M: Encode>(&mut self, m: &M) {
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        m.encode(&mut buf);
        self.out_bytes += buf.len();
        self.out.push_back(buf);
    }

    fn wake_blocked_writers(&mut self) {
        let handles: Vec<ChannelHandle> = self.channels.handles().collect();
        for h in handles {
            self.maybe_writable(h);
        }
    }

    fn maybe_writable(&mut self, h: ChannelHandle) {
        let room = self.queue_room();
        if let Some(c) = self.channels.get_mut(h)
            && c.write_blocked
            && c.can_send()
            && c.send.available() > 0
            && room > 0
        {
            c.write_blocked = false;
            self.events.push_back(Event::Writable { handle: h });
        }
    }

    fn queue_room(&self) -> usize {
        self.config.max_queued_bytes.saturating_sub(self.out_bytes)
    }

    fn new_request_id(&mut self) -> RequestId {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        id
    }

    // ------------------------------------------------------------------ input

    /// Handles one incoming connection-layer payload (message numbers
    /// 80-127). A protocol violation fails the connection for good.
    pub fn handle_payload(&mut self, payload: &[u8]) -> Result<(), Error> {
        if let Some(e) = &self.failed {
            return Err(Error::Protocol(e.clone()));
        }
        let msg = match ConnectionMessage::decode(payload) {
            Ok(m) => m,
            Err(DecodeError::UnexpectedMessage { got, .. }) => {
                return Err(Error::Unimplemented { number: got });
            }
            Err(e) => return Err(self.fail(ProtocolError::Decode(e))),
        };
        self.dispatch(msg).map_err(|e| self.fail(e))
    }

    fn fail(&mut self, e: ProtocolError) -> Error {
        self.failed = Some(e.clone());
        Error::Protocol(e)
    }

    fn dispatch(&mut self, msg: ConnectionMessage<'_>) -> Result<(), ProtocolError> {
        match msg {
            ConnectionMessage::GlobalRequest(g) => self.on_global_request(g),
            ConnectionMessage::RequestSuccess(s) => self.on_global_reply(Some(s)),
            ConnectionMessage::RequestFailure(_) => self.on_global_reply(None),
            ConnectionMessage::ChannelOpen(o) => self.on_open(o),
            ConnectionMessage::OpenConfirmation(c) => self.on_open_confirmation(&c),
            ConnectionMessage::OpenFailure(f) => self.on_open_failure(f),
            ConnectionMessage::WindowAdjust(w) => self.on_window_adjust(w),
            ConnectionMessage::Data(d) => self.on_data(d.recipient, None, d.data),
            ConnectionMessage::ExtendedData(d) => {
                self.on_data(d.recipient, Some(d.data_type), d.data)
            }
            ConnectionMessage::Eof(e) => self.on_eof(e.recipient),
            ConnectionMessage::Close(c) => self.on_close(c.recipient),
            ConnectionMessage::Request(r) => self.on_channel_request(r),
            ConnectionMessage::Success(s) => self.on_channel_reply(s.recipient, true),
            ConnectionMessage::Failure(f) => self.on_channel_reply(f.recipient, false),
            _ => Ok(()),
        }
    }

    /// The channel a message names, which must be confirmed and not closed
    /// by the peer.
    fn open_channel_for(
        &mut self,
        recipient: u32,
        message: &'static str,
    ) -> Result<(ChannelHandle, &mut Channel), ProtocolError> {
        let id = LocalId(recipient);
        let (h, c) = self
            .channels
            .by_id(id)
            .ok_or(ProtocolError::UnknownChannel(id))?;
        match c.state {
            ChannelState::Open | ChannelState::CloseSent => Ok((h, c)),
            ChannelState::Opening | ChannelState::PendingAccept => proto(ProtocolError::NotOpen {
                channel: id,
                message,
            }),
            ChannelState::Closed => proto(ProtocolError::AfterClose {
                channel: id,
                message,
            }),
        }
    }

    fn on_global_request(&mut self, g: GlobalRequest) -> Result<(), ProtocolError> {
        let auto = match &g.request {
            // OpenSSH answers its keep-alive probe with a failure; any reply
            // proves liveness.
            GlobalRequestKind::Keepalive => Some(GlobalReply::Failure),
            GlobalRequestKind::NoMoreSessions => {
                if self.role == Role::Server {
                    self.no_more_sessions = true;
                }
                Some(GlobalReply::Success)
            }
            GlobalRequestKind::Unknown { .. } => Some(GlobalReply::Failure),
            _ => None,
        };
        match auto {
            Some(reply) => {
                if g.want_reply {
                    self.push_their_global(Expect::Plain, Some(reply))?;
                    self.flush_global_answers();
                }
            }
            None => {
                let id = if g.want_reply {
                    Some(self.push_their_global(Expect::of(&g.request), None)?)
                } else {
                    None
                };
                self.events.push_back(Event::GlobalRequest {
                    id,
                    request: g.request,
                });
            }
        }
        Ok(())
    }

    fn push_their_global(
        &mut self,
        expect: Expect,
        answer: Option<GlobalReply>,
    ) -> Result<RequestId, ProtocolError> {
        if self.their_globals.len() >= self.config.max_pending_requests {
            return proto(ProtocolError::TooManyPendingRequests);
        }
        let id = self.new_request_id();
        self.their_globals.push_back((id, expect, answer));
        Ok(id)
    }

    /// Sends the answers at the head of the queue, in request order (RFC
    /// 4254 §4 replies carry no request number).
    fn flush_global_answers(&mut self) {
        while let Some((_, _, Some(_))) = self.their_globals.front() {
            let Some((_, _, Some(reply))) = self.their_globals.pop_front() else {
                break;
            };
            match reply {
                GlobalReply::Failure => self.queue(&RequestFailure),
                GlobalReply::Success => self.queue(&RequestSuccess::default()),
                GlobalReply::BoundPort(p) => self.queue(&RequestSuccess::with_port(p)),
                GlobalReply::HostKeySignatures(s) => {
                    self.queue(&RequestSuccess::with_signatures(&s));
                }
            }
        }
    }

    fn on_global_reply(&mut self, success: Option<RequestSuccess>) -> Result<(), ProtocolError> {
        let (id, expect) = self
            .our_globals
            .pop_front()
            .ok_or(ProtocolError::UnexpectedReply(None))?;
        let reply = match (success, expect) {
            (None, _) => GlobalReply::Failure,
            (Some(_), Expect::Plain) => GlobalReply::Success,
            (Some(s), Expect::BoundPort) => {
                GlobalReply::BoundPort(s.bound_port().map_err(ProtocolError::BadReplyData)?)
            }
            (Some(s), Expect::Signatures) => GlobalReply::HostKeySignatures(
                s.hostkey_signatures()
                    .map_err(ProtocolError::BadReplyData)?,
            ),
        };
        self.events.push_back(Event::GlobalReply { id, reply });
        Ok(())
    }

    fn refuse_open(&mut self, sender: u32, reason: OpenFailureReason, description: &str) {
        self.queue(&ChannelOpenFailure {
            recipient: sender,
            reason,
            description: description.to_owned(),
            language: String::new(),
        });
    }

    fn on_open(&mut self, o: ChannelOpen) -> Result<(), ProtocolError> {
        if o.max_packet == 0 {
            return proto(ProtocolError::ZeroMaxPacket);
        }
        let is_session = matches!(o.channel_type, ChannelType::Session);
        if matches!(o.channel_type, ChannelType::Unknown { .. }) {
            self.refuse_open(
                o.sender,
                OpenFailureReason::UNKNOWN_CHANNEL_TYPE,
                "unknown channel type",
            );
            return Ok(());
        }
        if is_session && self.role == Role::Client {
            // RFC 4254 §6.1: "Client implementations SHOULD reject any
            // session channel open requests to make it more difficult for
            // a corrupt server to attack the client."
            self.refuse_open(
                o.sender,
                OpenFailureReason::ADMINISTRATIVELY_PROHIBITED,
                "session channels are not opened by servers",
            );
            return Ok(());
        }
        if is_session && self.no_more_sessions {
            // OpenSSH PROTOCOL §2.2: no-more-sessions@openssh.com.
            self.refuse_open(
                o.sender,
                OpenFailureReason::ADMINISTRATIVELY_PROHIBITED,
                "no more sessions",
            );
            return Ok(());
        }
        if self.channels.len() >= self.config.max_channels
            || (is_session && self.sessions >= self.config.max_sessions)
        {
            self.refuse_open(
                o.sender,
                OpenFailureReason::RESOURCE_SHORTAGE,
                "too many channels",
            );
            return Ok(());
        }
        let mut c = Channel::new(ChannelState::PendingAccept, is_session, self.recv_window());
        c.remote = Some(RemoteId(o.sender));
        c.send = crate::window::Window::new(o.initial_window);
        c.send_max_packet = o.max_packet;
        let Some(handle) = self.channels.insert(c) else {
            self.refuse_open(
                o.sender,
                OpenFailureReason::RESOURCE_SHORTAGE,
                "too many channels",
            );
            return Ok(());
        };
        if is_session {
            self.sessions += 1;
        }
        self.events.push_back(Event::OpenRequest {
            handle,
            channel_type: o.channel_type,
        });
        Ok(())
    }

    fn recv_window(&self) -> RecvWindow {
        RecvWindow::new(self.config.window, self.config.window_divisor)
    }

    fn on_open_confirmation(&mut self, m: &ChannelOpenConfirmation) -> Result<(), ProtocolError> {
        let id = LocalId(m.recipient);
        let (h, c) = self
            .channels
            .by_id(id)
            .ok_or(ProtocolError::UnknownChannel(id))?;
        if c.state != ChannelState::Opening {
            return proto(ProtocolError::UnexpectedOpenReply(id));
        }
        if m.max_packet == 0 {
            return proto(ProtocolError::ZeroMaxPacket);
        }
        c.state = ChannelState::Open;
        c.remote = Some(RemoteId(m.sender));
        c.send = crate::window::Window::new(m.initial_window);
        c.send_max_packet = m.max_packet;
        let close_now = c.close_pending || c.released;
        if !c.released {
            self.events.push_back(Event::OpenConfirmed { handle: h });
        }
        if close_now {
            self.send_close(h);
        }
        Ok(())
    }

    fn on_open_failure(&mut self, m: ChannelOpenFailure) -> Result<(), ProtocolError> {
        let id = LocalId(m.recipient);
        let (h, c) = self
            .channels
            .by_id(id)
            .ok_or(ProtocolError::UnknownChannel(id))?;
        if c.state != ChannelState::Opening {
            return proto(ProtocolError::UnexpectedOpenReply(id));
        }
        let released = c.released;
        self.free(id);
        if !released {
            self.events.push_back(Event::OpenFailed {
                handle: h,
                reason: m.reason,
                description: m.description,
            });
        }
        Ok(())
    }

    fn free(&mut self, id: LocalId) {
        if let Some(c) = self.channels.free(id)
            && c.is_session
        {
            self.sessions = self.sessions.saturating_sub(1);
        }
    }

    fn on_window_adjust(&mut self, m: ChannelWindowAdjust) -> Result<(), ProtocolError> {
        let (h, c) = self.open_channel_for(m.recipient, "SSH_MSG_CHANNEL_WINDOW_ADJUST")?;
        c.send
            .credit(m.bytes_to_add)
            .map_err(|error| ProtocolError::Window {
                channel: h.id,
                error,
            })?;
        self.maybe_writable(h);
        Ok(())
    }

    fn on_data(
        &mut self,
        recipient: u32,
        data_type: Option<u32>,
        data: &[u8],
    ) -> Result<(), ProtocolError> {
        let what = if data_type.is_some() {
            "SSH_MSG_CHANNEL_EXTENDED_DATA"
        } else {
            "SSH_MSG_CHANNEL_DATA"
        };
        let max = self.config.max_packet;
        let (h, c) = self.open_channel_for(recipient, what)?;
        if c.eof_received {
            return proto(ProtocolError::DataAfterEof(h.id));
        }
        if data.len() > usize::try_from(max).unwrap_or(usize::MAX) {
            return proto(ProtocolError::PacketTooLarge {
                channel: h.id,
                len: data.len(),
                max,
            });
        }
        c.recv
            .receive(data.len())
            .map_err(|error| ProtocolError::Window {
                channel: h.id,
                error,
            })?;
        let keep = !c.released;
        match data_type {
            _ if !keep => c.recv.consume(data.len()),
            None => c.data.extend(data),
            Some(ssh_wire::messages::connection::SSH_EXTENDED_DATA_STDERR) => c.ext.extend(data),
            // Other extended data types are not defined: drop them, and
            // give their window back.
            Some(_) => c.recv.consume(data.len()),
        }
        let has_data = !c.data.is_empty() || !c.ext.is_empty();
        if !c.readable_notified && has_data {
            c.readable_notified = true;
            self.events.push_back(Event::Readable { handle: h });
        }
        self.maybe_adjust(h);
        Ok(())
    }

    /// Sends a WINDOW_ADJUST if enough was consumed.
    fn maybe_adjust(&mut self, h: ChannelHandle) {
        let Some(c) = self.channels.get_mut(h) else {
            return;
        };
        if c.state != ChannelState::Open || c.eof_received {
            return;
        }
        let Some(remote) = c.remote else { return };
        if let Some(add) = c.recv.take_credit() {
            self.queue(&ChannelWindowAdjust {
                recipient: remote.0,
                bytes_to_add: add,
            });
        }
    }

    fn on_eof(&mut self, recipient: u32) -> Result<(), ProtocolError> {
        let (h, c) = self.open_channel_for(recipient, "SSH_MSG_CHANNEL_EOF")?;
        if c.eof_received {
            return proto(ProtocolError::DuplicateEof(h.id));
        }
        c.eof_received = true;
        if !c.released {
            self.events.push_back(Event::Eof { handle: h });
        }
        Ok(())
    }

    fn on_close(&mut self, recipient: u32) -> Result<(), ProtocolError> {
        let (h, c) = self.open_channel_for(recipient, "SSH_MSG_CHANNEL_CLOSE")?;
        let answer = c.state == ChannelState::Open;
        let remote = c.remote;
        c.state = ChannelState::Closed;
        c.theirs.clear();
        c.ours.clear();
        c.write_blocked = false;
        let released = c.released;
        if answer && let Some(remote) = remote {
            // RFC 4254 §5.3: "Upon receiving this message, a party MUST
            // send back an SSH_MSG_CHANNEL_CLOSE unless it has already sent
            // this message for the channel."
            self.queue(&ChannelClose {
                recipient: remote.0,
            });
        }
        if released {
            self.free(h.id);
        } else {
            self.events.push_back(Event::Closed { handle: h });
        }
        Ok(())
    }

    fn on_channel_request(&mut self, r: ChannelRequest) -> Result<(), ProtocolError> {
        let max_pending = self.config.max_pending_requests;
        let rid = self.new_request_id();
        let (h, c) = self.open_channel_for(r.recipient, "SSH_MSG_CHANNEL_REQUEST")?;
        // After our CLOSE nothing more may be sent, so no reply either.
        let can_reply = c.state == ChannelState::Open;
        let unknown = matches!(r.request, ChannelRequestKind::Unknown { .. });
        let mut id = None;
        if r.want_reply && can_reply {
            if c.theirs.len() >= max_pending {
                return proto(ProtocolError::TooManyPendingRequests);
            }
            c.theirs.push_back(PendingAnswer {
                id: rid,
                answer: unknown.then_some(false),
            });
            id = Some(rid);
        }
        // A released channel has sent CLOSE, so `id` is None for it.
        if unknown {
            self.flush_channel_answers(h);
        } else if !c.released {
            self.events.push_back(Event::ChannelRequest {
                handle: h,
                id,
                request: r.request,
            });
        }
        Ok(())
    }

    fn flush_channel_answers(&mut self, h: ChannelHandle) {
        loop {
            let Some(c) = self.channels.get_mut(h) else {
                return;
            };
            let Some(remote) = c.remote else { return };
            let Some(answer) = c.theirs.front().and_then(|p| p.answer) else {
                return;
            };
            c.theirs.pop_front();
            if answer {
                self.queue(&ChannelSuccess {
                    recipient: remote.0,
                });
            } else {
                self.queue(&ChannelFailure {
                    recipient: remote.0,
                });
            }
        }
    }

    fn on_channel_reply(&mut self, recipient: u32, success: bool) -> Result<(), ProtocolError> {
        let what = if success {
            "SSH_MSG_CHANNEL_SUCCESS"
        } else {
            "SSH_MSG_CHANNEL_FAILURE"
        };
        let (h, c) = self.open_channel_for(recipient, what)?;
        let id = c
            .ours
            .pop_front()
            .ok_or(ProtocolError::UnexpectedReply(Some(h.id)))?;
        if !c.released {
            self.events.push_back(Event::ChannelReply {
                handle: h,
                id,
                success,
            });
        }
        Ok(())
    }

    // ------------------------------------------------------------ application

    fn check_alive(&self) -> Result<(), ApiError> {
        if self.failed.is_some() {
            Err(ApiError::ConnectionFailed)
        } else {
            Ok(())
        }
    }

    fn channel(&self, h: ChannelHandle) -> Result<&Channel, ApiError> {
        self.check_alive()?;
        self.channels.get(h).ok_or(ApiError::StaleHandle)
    }

    fn channel_mut(&mut self, h: ChannelHandle) -> Result<&mut Channel, ApiError> {
        self.check_alive()?;
        self.channels.get_mut(h).ok_or(ApiError::StaleHandle)
    }

    /// Opens a channel of `kind` (sends CHANNEL_OPEN). The answer comes as
    /// [`Event::OpenConfirmed`] or [`Event::OpenFailed`].
    pub fn open_channel(&mut self, kind: ChannelType) -> Result<ChannelHandle, ApiError> {
        self.check_alive()?;
        if self.channels.len() >= self.config.max_channels {
            return Err(ApiError::TooManyChannels);
        }
        let is_session = matches!(kind, ChannelType::Session);
        let c = Channel::new(ChannelState::Opening, is_session, self.recv_window());
        let h = self.channels.insert(c).ok_or(ApiError::TooManyChannels)?;
        if is_session {
            self.sessions += 1;
        }
        self.queue(&ChannelOpen {
            sender: h.id.0,
            initial_window: self.config.window,
            max_packet: self.config.max_packet,
            channel_type: kind,
        });
        Ok(h)
    }

    fn invalid(call: &'static str, state: ChannelState) -> ApiError {
        ApiError::InvalidState { call, state }
    }

    /// Accepts a channel the peer asked to open ([`Event::OpenRequest`]).
    pub fn accept(&mut self, h: ChannelHandle) -> Result<(), ApiError> {
        let window = self.config.window;
        let max_packet = self.config.max_packet;
        let c = self.channel_mut(h)?;
        if c.state != ChannelState::PendingAccept {
            return Err(Self::invalid("accept", c.state));
        }
        c.state = ChannelState::Open;
        let remote = c.remote.map_or(0, |r| r.0);
        self.queue(&ChannelOpenConfirmation {
            recipient: remote,
            sender: h.id.0,
            initial_window: window,
            max_packet,
            extra: Vec::new(),
        });
        Ok(())
    }

    /// Refuses a channel the peer asked to open; the handle becomes stale.
    pub fn reject(
        &mut self,
        h: ChannelHandle,
        reason: OpenFailureReason,
        description: &str,
    ) -> Result<(), ApiError> {
        let c = self.channel_mut(h)?;
        if c.state != ChannelState::PendingAccept {
            return Err(Self::invalid("reject", c.state));
        }
        let remote = c.remote.map_or(0, |r| r.0);
        self.free(h.id);
        self.refuse_open(remote, reason, description);
        Ok(())
    }

    /// How many bytes [`Connection::send_data`] would accept now.
    pub fn send_capacity(&self, h: ChannelHandle) -> Result<usize, ApiError> {
        let c = self.channel(h)?;
        if !c.can_send() {
            return Ok(0);
        }
        Ok(usize::try_from(c.send.available())
            .unwrap_or(usize::MAX)
            .min(self.queue_room()))
    }

    /// Sends as much of `data` as the peer's window (and the output queue)
    /// allows, in messages of at most the peer's maximum packet, and
    /// returns how many bytes were taken. A short count marks the channel
    /// write-blocked: [`Event::Writable`] follows when it can send again.
    pub fn send_data(&mut self, h: ChannelHandle, data: &[u8]) -> Result<usize, ApiError> {
        self.send_any(h, None, data)
    }

    /// Like [`Connection::send_data`] for extended data of `data_type`
    /// ([`ssh_wire::messages::connection::SSH_EXTENDED_DATA_STDERR`]: 1).
    pub fn send_extended_data(
        &mut self,
        h: ChannelHandle,
        data_type: u32,
        data: &[u8],
    ) -> Result<usize, ApiError> {
        self.send_any(h, Some(data_type), data)
    }

    fn send_any(
        &mut self,
        h: ChannelHandle,
        data_type: Option<u32>,
        data: &[u8],
    ) -> Result<usize, ApiError> {
        let room = self.queue_room();
        let chunk_cap = self.config.max_send_chunk.max(1);
        let c = self.channel_mut(h)?;
        if c.eof_sent {
            return Err(ApiError::EofSent);
        }
        if c.state != ChannelState::Open {
            return Err(Self::invalid("send_data", c.state));
        }
        let remote = c.remote.map_or(0, |r| r.0);
        let window = usize::try_from(c.send.available()).unwrap_or(usize::MAX);
        let n = data.len().min(window).min(room);
        let chunk = usize::try_from(c.send_max_packet.min(chunk_cap))
            .unwrap_or(usize::MAX)
            .max(1);
        if c.send.debit(n).is_err() {
            return Ok(0);
        }
        if n < data.len() {
            c.write_blocked = true;
            if n == room {
                self.queue_blocked = true;
            }
        }
        for part in data.get(..n).unwrap_or_default().chunks(chunk) {
            let mut buf = self.spare.pop().unwrap_or_default();
            buf.clear();
            let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
            match data_type {
                None => ChannelData::encode_header(remote, len, &mut buf),
                Some(t) => ChannelExtendedData::encode_header(remote, t, len, &mut buf),
            }
            buf.extend_from_slice(part);
            self.out_bytes += buf.len();
            self.out.push_back(buf);
        }
        Ok(n)
    }

    /// Sends EOF: no more data from us (RFC 4254 §5.3).
    pub fn send_eof(&mut self, h: ChannelHandle) -> Result<(), ApiError> {
        let c = self.channel_mut(h)?;
        if c.state != ChannelState::Open {
            return Err(Self::invalid("send_eof", c.state));
        }
        if c.eof_sent {
            return Err(ApiError::EofSent);
        }
        c.eof_sent = true;
        c.write_blocked = false;
        let remote = c.remote.map_or(0, |r| r.0);
        self.queue(&ChannelEof { recipient: remote });
        Ok(())
    }

    fn send_close(&mut self, h: ChannelHandle) {
        if let Some(c) = self.channels.get_mut(h)
            && c.state == ChannelState::Open
        {
            c.state = ChannelState::CloseSent;
            c.write_blocked = false;
            c.theirs.clear();
            let remote = c.remote.map_or(0, |r| r.0);
            self.queue(&ChannelClose { recipient: remote });
        }
    }

    /// Closes the channel (sends CLOSE; RFC 4254 §5.3). Idempotent. While
    /// opening, CLOSE goes out once the confirmation arrives; a pending
    /// incoming open is refused instead.
    pub fn close(&mut self, h: ChannelHandle) -> Result<(), ApiError> {
        let c = self.channel_mut(h)?;
        match c.state {
            ChannelState::Opening => c.close_pending = true,
            ChannelState::PendingAccept => {
                return self.reject(h, OpenFailureReason::ADMINISTRATIVELY_PROHIBITED, "closed");
            }
            ChannelState::Open => self.send_close(h),
            ChannelState::CloseSent | ChannelState::Closed => {}
        }
        Ok(())
    }

    /// Gives the handle back. After [`Event::Closed`] this frees the local
    /// number at once; before, it closes the channel, drops buffered and
    /// future data, and frees the number when the peer's CLOSE arrives.
    /// The handle is stale afterwards either way.
    pub fn release(&mut self, h: ChannelHandle) -> Result<(), ApiError> {
        let c = self.channel_mut(h)?;
        if c.state == ChannelState::Closed {
            self.free(h.id);
            return Ok(());
        }
        if c.state == ChannelState::PendingAccept {
            return self.reject(
                h,
                OpenFailureReason::ADMINISTRATIVELY_PROHIBITED,
                "released",
            );
        }
        c.released = true;
        let n = c.data.len() + c.ext.len();
        c.data.clear();
        c.ext.clear();
        c.recv.consume(n);
        self.close(h)?;
        // The old handle is stale from now on; the channel (and its number)
        // stays until the peer's CLOSE.
        self.channels.bump_generation(h.id);
        Ok(())
    }

    /// Copies buffered data into `buf` and consumes it; returns the bytes
    /// copied (0 when nothing is buffered: see [`ChannelInfo::eof_received`]
    /// to tell the end of the stream).
    pub fn read(&mut self, h: ChannelHandle, buf: &mut [u8]) -> Result<usize, ApiError> {
        self.read_any(h, false, buf)
    }

    /// Like [`Connection::read`] for extended data (stderr).
    pub fn read_extended(&mut self, h: ChannelHandle, buf: &mut [u8]) -> Result<usize, ApiError> {
        self.read_any(h, true, buf)
    }

    fn read_any(&mut self, h: ChannelHandle, ext: bool, buf: &mut [u8]) -> Result<usize, ApiError> {
        let c = self.channel_mut(h)?;
        let q = if ext { &mut c.ext } else { &mut c.data };
        let n = buf.len().min(q.len());
        for (dst, src) in buf.iter_mut().zip(q.drain(..n)) {
            *dst = src;
        }
        self.consume_inner(h, n);
        Ok(n)
    }

    /// The buffered data, as two slices (the buffer is a ring), without
    /// consuming it; follow with [`Connection::consume`].
    pub fn peek(&self, h: ChannelHandle) -> Result<(&[u8], &[u8]), ApiError> {
        Ok(self.channel(h)?.data.as_slices())
    }

    /// Consumes `n` bytes of buffered data (clamped to what is buffered)
    /// after [`Connection::peek`]; this is what re-opens the window.
    pub fn consume(&mut self, h: ChannelHandle, n: usize) -> Result<(), ApiError> {
        let c = self.channel_mut(h)?;
        let n = n.min(c.data.len());
        c.data.drain(..n);
        self.consume_inner(h, n);
        Ok(())
    }

    fn consume_inner(&mut self, h: ChannelHandle, n: usize) {
        if let Some(c) = self.channels.get_mut(h) {
            c.recv.consume(n);
            if c.data.is_empty() && c.ext.is_empty() {
                c.readable_notified = false;
            }
        }
        self.maybe_adjust(h);
    }

    /// Sets the receive window target of a channel: the hook for growing
    /// windows (e.g. from a bandwidth-delay estimate). Growth is announced
    /// at once; shrinking takes effect as data is consumed.
    pub fn set_receive_window(&mut self, h: ChannelHandle, size: u32) -> Result<(), ApiError> {
        let c = self.channel_mut(h)?;
        if c.state != ChannelState::Open {
            return Err(Self::invalid("set_receive_window", c.state));
        }
        // After the peer's EOF nothing more arrives: nothing to grow.
        if c.eof_received {
            return Ok(());
        }
        let add = c.recv.set_target(size);
        let remote = c.remote.map_or(0, |r| r.0);
        if let Some(add) = add {
            self.queue(&ChannelWindowAdjust {
                recipient: remote,
                bytes_to_add: add,
            });
        }
        Ok(())
    }

    /// Sends a channel request; with `want_reply` the reply comes as
    /// [`Event::ChannelReply`] with the returned id (replies are matched in
    /// order, RFC 4254 §5.4).
    pub fn channel_request(
        &mut self,
        h: ChannelHandle,
        request: ChannelRequestKind,
        want_reply: bool,
    ) -> Result<Option<RequestId>, ApiError> {
        let max = self.config.max_pending_requests;
        let c = self.channel_mut(h)?;
        if c.state != ChannelState::Open {
            return Err(Self::invalid("channel_request", c.state));
        }
        if want_reply && c.ours.len() >= max {
            return Err(ApiError::TooManyPendingRequests);
        }
        let remote = c.remote.map_or(0, |r| r.0);
        let id = want_reply.then(|| {
            let id = RequestId(self.next_request);
            self.next_request += 1;
            id
        });
        if let (Some(id), Some(c)) = (id, self.channels.get_mut(h)) {
            c.ours.push_back(id);
        }
        self.queue(&ChannelRequest {
            recipient: remote,
            want_reply,
            request,
        });
        Ok(id)
    }

    /// Answers a peer's channel request ([`Event::ChannelRequest`] with an
    /// id). Answers are sent in request order.
    pub fn answer_channel_request(
        &mut self,
        h: ChannelHandle,
        id: RequestId,
        success: bool,
    ) -> Result<(), ApiError> {
        let c = self.channel_mut(h)?;
        let p = c
            .theirs
            .iter_mut()
            .find(|p| p.id == id && p.answer.is_none())
            .ok_or(ApiError::NoSuchRequest)?;
        p.answer = Some(success);
        self.flush_channel_answers(h);
        Ok(())
    }

    /// Sends a global request (RFC 4254 §4); with `want_reply` the reply
    /// comes as [`Event::GlobalReply`] with the returned id.
    pub fn global_request(
        &mut self,
        request: GlobalRequestKind,
        want_reply: bool,
    ) -> Result<Option<RequestId>, ApiError> {
        self.check_alive()?;
        let id = if want_reply {
            if self.our_globals.len() >= self.config.max_pending_requests {
                return Err(ApiError::TooManyPendingRequests);
            }
            let expect = Expect::of(&request);
            let id = self.new_request_id();
            self.our_globals.push_back((id, expect));
            Some(id)
        } else {
            None
        };
        self.queue(&GlobalRequest {
            want_reply,
            request,
        });
        Ok(id)
    }

    /// Answers a peer's global request ([`Event::GlobalRequest`] with an
    /// id). Answers are sent in request order.
    pub fn answer_global_request(
        &mut self,
        id: RequestId,
        reply: GlobalReply,
    ) -> Result<(), ApiError> {
        self.check_alive()?;
        let slot = self
            .their_globals
            .iter_mut()
            .find(|(i, _, a)| *i == id && a.is_none())
            .ok_or(ApiError::NoSuchRequest)?;
        // RFC 4254 §7.1: the bound port is sent for port 0 only, "otherwise,
        // there is no response-specific data"; hostkeys-prove needs its
        // signatures (OpenSSH PROTOCOL §2.5).
        let fits = matches!(
            (slot.1, &reply),
            (_, GlobalReply::Failure)
                | (Expect::Plain, GlobalReply::Success)
                | (Expect::BoundPort, GlobalReply::BoundPort(_))
                | (Expect::Signatures, GlobalReply::HostKeySignatures(_))
        );
        if !fits {
            return Err(ApiError::WrongReply);
        }
        slot.2 = Some(reply);
        self.flush_global_answers();
        Ok(())
    }

    /// A snapshot of a channel.
    pub fn channel_info(&self, h: ChannelHandle) -> Result<ChannelInfo, ApiError> {
        let c = self.channels.get(h).ok_or(ApiError::StaleHandle)?;
        Ok(ChannelInfo {
            state: c.state,
            local: h.id,
            remote: c.remote,
            send_window: c.send.available(),
            send_max_packet: c.send_max_packet,
            recv_window: c.recv.available(),
            buffered: c.recv.buffered(),
            eof_sent: c.eof_sent,
            eof_received: c.eof_received,
        })
    }

    /// Handles of every allocated channel.
    pub fn channels(&self) -> Vec<ChannelHandle> {
        self.channels.handles().collect()
    }
}
