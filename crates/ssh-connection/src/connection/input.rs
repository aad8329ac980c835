//! Input: one incoming payload at a time, checked against the channel
//! state before anything changes.

use ssh_wire::DecodeError;
use ssh_wire::messages::{
    ChannelClose, ChannelFailure, ChannelOpen, ChannelOpenConfirmation, ChannelOpenFailure,
    ChannelRequest, ChannelRequestKind, ChannelSuccess, ChannelType, ChannelWindowAdjust,
    ConnectionMessage, GlobalRequest, GlobalRequestKind, OpenFailureReason, RequestFailure,
    RequestSuccess,
};

use super::{Connection, Expect, Role, proto};
use crate::channel::{Channel, ChannelState, ExitStatus, PendingAnswer};
use crate::error::{Error, ProtocolError};
use crate::event::{Event, GlobalReply};
use crate::id::{ChannelHandle, LocalId, RemoteId, RequestId};
use crate::window::{RecvWindow, Window};

impl Connection {
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

    pub(super) fn fail(&mut self, e: ProtocolError) -> Error {
        self.failed = Some(e.clone());
        Error::Protocol(e)
    }

    pub(super) fn dispatch(&mut self, msg: ConnectionMessage<'_>) -> Result<(), ProtocolError> {
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
    pub(super) fn open_channel_for(
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

    pub(super) fn on_global_request(&mut self, g: GlobalRequest) -> Result<(), ProtocolError> {
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

    pub(super) fn push_their_global(
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
    pub(super) fn flush_global_answers(&mut self) {
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

    pub(super) fn on_global_reply(
        &mut self,
        success: Option<RequestSuccess>,
    ) -> Result<(), ProtocolError> {
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

    pub(super) fn refuse_open(
        &mut self,
        sender: u32,
        reason: OpenFailureReason,
        description: &str,
    ) {
        self.queue(&ChannelOpenFailure {
            recipient: sender,
            reason,
            description: description.to_owned(),
            language: String::new(),
        });
    }

    pub(super) fn on_open(&mut self, o: ChannelOpen) -> Result<(), ProtocolError> {
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
        c.send = Window::new(o.initial_window);
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

    pub(super) fn recv_window(&self) -> RecvWindow {
        RecvWindow::new(self.config.window, self.config.window_divisor)
    }

    pub(super) fn on_open_confirmation(
        &mut self,
        m: &ChannelOpenConfirmation,
    ) -> Result<(), ProtocolError> {
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
        c.send = Window::new(m.initial_window);
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

    pub(super) fn on_open_failure(&mut self, m: ChannelOpenFailure) -> Result<(), ProtocolError> {
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
            self.remember_refusal(h, m.reason, &m.description);
            self.events.push_back(Event::OpenFailed {
                handle: h,
                reason: m.reason,
                description: m.description,
            });
        }
        Ok(())
    }

    pub(super) fn free(&mut self, id: LocalId) {
        if let Some(c) = self.channels.free(id) {
            self.grown = self.grown.saturating_sub(c.grown);
            if c.is_session {
                self.sessions = self.sessions.saturating_sub(1);
            }
        }
    }

    pub(super) fn on_window_adjust(&mut self, m: ChannelWindowAdjust) -> Result<(), ProtocolError> {
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

    pub(super) fn on_data(
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
            // Extending from a slice iterator of `&u8` is one reservation
            // and a memcpy per contiguous half of the ring (a `copied()`
            // iterator is a loop per byte: 4 % of a download's profile).
            None => c.data.extend(data),
            Some(ssh_wire::messages::connection::SSH_EXTENDED_DATA_STDERR) => {
                c.ext.extend(data);
            }
            // Other extended data types are not defined: drop them, and
            // give their window back.
            Some(_) => c.recv.consume(data.len()),
        }
        // Readiness per stream: a reader of one buffer is told of new
        // bytes in it even while the other buffer sits unread.
        let data_news = !c.data_notified && !c.data.is_empty();
        let ext_news = !c.ext_notified && !c.ext.is_empty();
        c.data_notified |= data_news;
        c.ext_notified |= ext_news;
        if data_news {
            self.events.push_back(Event::Readable { handle: h });
        }
        if ext_news {
            self.events.push_back(Event::ReadableExtended { handle: h });
        }
        self.received = self
            .received
            .saturating_add(u64::try_from(data.len()).unwrap_or(u64::MAX));
        self.maybe_adjust(h);
        Ok(())
    }

    /// Sends a WINDOW_ADJUST if enough was consumed.
    pub(super) fn maybe_adjust(&mut self, h: ChannelHandle) {
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

    pub(super) fn on_eof(&mut self, recipient: u32) -> Result<(), ProtocolError> {
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

    pub(super) fn on_close(&mut self, recipient: u32) -> Result<(), ProtocolError> {
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

    pub(super) fn on_channel_request(&mut self, r: ChannelRequest) -> Result<(), ProtocolError> {
        let max_pending = self.config.max_pending_requests;
        let rid = self.new_request_id();
        let (h, c) = self.open_channel_for(r.recipient, "SSH_MSG_CHANNEL_REQUEST")?;
        // After our CLOSE nothing more may be sent, so no reply either.
        let can_reply = c.state == ChannelState::Open;
        let unknown = matches!(r.request, ChannelRequestKind::Unknown { .. });
        // RFC 4254 §6.10: exit-status and exit-signal are sent with "want
        // reply" FALSE; they are recorded here and, if a reply is wanted
        // anyway, refused here (as unknown requests are).
        let exit = match &r.request {
            ChannelRequestKind::ExitStatus { status } => Some(ExitStatus::Code(*status)),
            ChannelRequestKind::ExitSignal {
                signal,
                core_dumped,
                message,
                ..
            } => Some(ExitStatus::Signal {
                name: signal.clone(),
                core_dumped: *core_dumped,
                message: message.clone(),
            }),
            _ => None,
        };
        let answered_here = unknown || exit.is_some();
        let mut id = None;
        if r.want_reply && can_reply {
            if c.theirs.len() >= max_pending {
                return proto(ProtocolError::TooManyPendingRequests);
            }
            c.theirs.push_back(PendingAnswer {
                id: rid,
                answer: answered_here.then_some(false),
            });
            if !answered_here {
                id = Some(rid);
            }
        }
        if exit.is_some() {
            c.exit = exit;
        }
        // A released channel has sent CLOSE, so `id` is None for it. The
        // exit requests are reported too (with no id: already answered),
        // so that a waiter wakes and reads `exit_status`.
        if !unknown && !c.released {
            self.events.push_back(Event::ChannelRequest {
                handle: h,
                id,
                request: r.request,
            });
        }
        if answered_here {
            self.flush_channel_answers(h);
        }
        Ok(())
    }

    pub(super) fn flush_channel_answers(&mut self, h: ChannelHandle) {
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

    pub(super) fn on_channel_reply(
        &mut self,
        recipient: u32,
        success: bool,
    ) -> Result<(), ProtocolError> {
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
}
