//! The [`Connection`] state machine.
//!
//! Method classes (as in quinn-proto): [`Connection::handle_payload`] for
//! input, mutators for the application (`open_channel`, `accept`,
//! `send_data`, ...), and `poll_*` for output. After any input or mutator,
//! drain [`Connection::poll_outgoing`] into the transport and
//! [`Connection::poll_event`] into the application.

mod api;
pub use api::SendGrant;
mod input;

use std::collections::VecDeque;

use ssh_wire::Encode;
use ssh_wire::messages::{GlobalRequestKind, OpenFailureReason};

use crate::channel::{ChannelState, ExitStatus, Slab};
use crate::config::Config;
use crate::error::{ApiError, ProtocolError};
use crate::event::{Event, GlobalReply};
use crate::id::{ChannelHandle, LocalId, RemoteId, RequestId};

/// How many refused opens [`Connection::open_failure`] remembers (the
/// oldest is forgotten first): a bound on what a peer refusing our opens
/// can make us keep.
const MAX_REMEMBERED_REFUSALS: usize = 32;

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
    /// Bytes received since the channel opened (data and extended data);
    /// `received - buffered` is what the application consumed.
    pub received: u64,
    /// The receive window's target size.
    pub recv_target: u32,
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
/// `global_request`, `answer_*`) act for the application; `poll_outgoing`
/// and `poll_event` give output. After each input or mutator, drain
/// `poll_outgoing` into the transport, then `poll_event`.
///
/// Events are only produced by input, and at most one `Readable` per
/// channel until its data buffer was read empty (one `ReadableExtended`
/// until its extended-data buffer was); the application is expected to
/// drain them after each call.
#[derive(Debug)]
pub struct Connection {
    role: Role,
    config: Config,
    channels: Slab,
    sessions: usize,
    /// The sum of the channels' [`crate::channel::Channel::grown`].
    grown: u32,
    /// Channel bytes received, all channels (data and extended data).
    received: u64,
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
    /// The latest channels the peer refused to open, oldest first.
    refused: VecDeque<(ChannelHandle, OpenFailureReason, String)>,
}

/// What a queued payload costs beside its bytes: its vector's header in
/// the queue and the allocator's overhead of a small allocation.
pub const QUEUED_PAYLOAD_COST: usize = 64;

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
            grown: 0,
            received: 0,
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
            refused: VecDeque::new(),
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
    pub fn poll_outgoing(&mut self, out: &mut Vec<u8>) -> bool {
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
    /// calling [`Connection::poll_outgoing`] until it returns false).
    pub fn poll_transmit(&mut self, mut send: impl FnMut(&[u8])) {
        let mut buf = Vec::new();
        while self.poll_outgoing(&mut buf) {
            send(&buf);
        }
    }

    /// True when [`Connection::poll_outgoing`] has something.
    pub fn has_payload(&self) -> bool {
        !self.out.is_empty()
    }

    /// About what the output queue holds in memory: its payloads' bytes
    /// and [`QUEUED_PAYLOAD_COST`] for each (a vector of its own). Answers
    /// of one byte would otherwise count as one byte each.
    pub fn queued_memory(&self) -> usize {
        self.out_bytes
            .saturating_add(self.out.len().saturating_mul(QUEUED_PAYLOAD_COST))
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

    /// Channel bytes received so far, all channels together (data and
    /// extended data).
    pub fn received(&self) -> u64 {
        self.received
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
            received: c.recv.received(),
            recv_target: c.recv.target(),
            eof_sent: c.eof_sent,
            eof_received: c.eof_received,
        })
    }

    /// The state of channel `h`; `None` for a stale handle (released, or
    /// refused by the peer: see [`Connection::open_failure`]).
    pub fn channel_state(&self, h: ChannelHandle) -> Option<ChannelState> {
        self.channels.get(h).map(|c| c.state)
    }

    /// True while we wait for the peer's answer to our CHANNEL_OPEN.
    pub fn is_opening(&self, h: ChannelHandle) -> bool {
        self.channel_state(h) == Some(ChannelState::Opening)
    }

    /// True once the channel is confirmed and until CLOSE was sent or
    /// received (data may flow).
    pub fn is_open(&self, h: ChannelHandle) -> bool {
        self.channel_state(h) == Some(ChannelState::Open)
    }

    /// Why the peer refused to open channel `h` (RFC 4254 §5.1
    /// SSH_MSG_CHANNEL_OPEN_FAILURE): the reason code and its
    /// description. The handle is stale after a refusal; the latest
    /// refusals are remembered (a bounded number), so ask soon after
    /// [`Event::OpenFailed`].
    pub fn open_failure(&self, h: ChannelHandle) -> Option<(OpenFailureReason, &str)> {
        self.refused
            .iter()
            .rev()
            .find(|(r, _, _)| *r == h)
            .map(|(_, reason, description)| (*reason, description.as_str()))
    }

    pub(super) fn remember_refusal(
        &mut self,
        h: ChannelHandle,
        reason: OpenFailureReason,
        description: &str,
    ) {
        if self.refused.len() >= MAX_REMEMBERED_REFUSALS {
            self.refused.pop_front();
        }
        self.refused.push_back((h, reason, description.to_owned()));
    }

    /// True when the peer sent EOF on channel `h` (no data follows what
    /// is buffered).
    pub fn eof_received(&self, h: ChannelHandle) -> bool {
        self.channels.get(h).is_some_and(|c| c.eof_received)
    }

    /// True when CLOSE went both ways on channel `h` (RFC 4254 §5.3):
    /// buffered data can still be read, then release it.
    pub fn is_closed(&self, h: ChannelHandle) -> bool {
        self.channel_state(h) == Some(ChannelState::Closed)
    }

    /// How the command of channel `h` ended, as the peer reported it with
    /// `exit-status` or `exit-signal` (RFC 4254 §6.10; the latest one
    /// counts). Kept until the channel is released. Its arrival is
    /// reported as [`Event::ChannelRequest`] with no id.
    pub fn exit_status(&self, h: ChannelHandle) -> Option<&ExitStatus> {
        self.channels.get(h).and_then(|c| c.exit.as_ref())
    }

    /// Handles of every allocated channel.
    pub fn channels(&self) -> Vec<ChannelHandle> {
        self.channels.handles().collect()
    }
}
