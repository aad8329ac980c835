//! The application's calls: open, accept, send, read, close, release,
//! requests and answers.

use std::collections::VecDeque;

use ssh_wire::messages::{
    ChannelClose, ChannelData, ChannelEof, ChannelExtendedData, ChannelOpen,
    ChannelOpenConfirmation, ChannelRequest, ChannelRequestKind, ChannelType, ChannelWindowAdjust,
    GlobalRequest, GlobalRequestKind, OpenFailureReason,
};

use super::{Connection, Expect};
use crate::channel::{Channel, ChannelState};
use crate::error::ApiError;
use crate::event::{Event, GlobalReply};
use crate::id::{ChannelHandle, RequestId};

impl Connection {
    // ------------------------------------------------------------ application

    pub(super) fn check_alive(&self) -> Result<(), ApiError> {
        if self.failed.is_some() {
            Err(ApiError::ConnectionFailed)
        } else {
            Ok(())
        }
    }

    pub(super) fn channel(&self, h: ChannelHandle) -> Result<&Channel, ApiError> {
        self.check_alive()?;
        self.channels.get(h).ok_or(ApiError::StaleHandle)
    }

    pub(super) fn channel_mut(&mut self, h: ChannelHandle) -> Result<&mut Channel, ApiError> {
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

    pub(super) fn invalid(call: &'static str, state: ChannelState) -> ApiError {
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

    pub(super) fn send_any(
        &mut self,
        h: ChannelHandle,
        data_type: Option<u32>,
        data: &[u8],
    ) -> Result<usize, ApiError> {
        let room = self.queue_room();
        let grant = self.grant_send(h, data_type, data.len(), room)?;
        let n = grant.len;
        if n < data.len() && n == room {
            self.queue_blocked = true;
        }
        for part in data.get(..n).unwrap_or_default().chunks(grant.chunk) {
            let mut buf = self.spare.pop().unwrap_or_default();
            buf.clear();
            grant.header(part.len(), &mut buf);
            buf.extend_from_slice(part);
            self.out_bytes += buf.len();
            self.out.push_back(buf);
        }
        Ok(n)
    }

    /// Takes up to `min(len, room)` bytes of the channel's send window for
    /// data of `data_type` (`None`: CHANNEL_DATA) that the caller itself
    /// puts into messages, each [`SendGrant::chunk`] bytes at most and
    /// headed by [`SendGrant::header`]. This is [`Connection::send_data`]
    /// without the output queue: a session whose queue is empty seals the
    /// caller's bytes straight into its packets. A short grant marks the
    /// channel write-blocked, as a short send does.
    pub fn grant_send(
        &mut self,
        h: ChannelHandle,
        data_type: Option<u32>,
        len: usize,
        room: usize,
    ) -> Result<SendGrant, ApiError> {
        let chunk_cap = self.config.max_send_chunk.max(1);
        let c = self.channel_mut(h)?;
        if c.eof_sent {
            return Err(ApiError::EofSent);
        }
        if c.state != ChannelState::Open {
            return Err(Self::invalid("send_data", c.state));
        }
        let recipient = c.remote.map_or(0, |r| r.0);
        let window = usize::try_from(c.send.available()).unwrap_or(usize::MAX);
        let n = len.min(window).min(room);
        let chunk = usize::try_from(c.send_max_packet.min(chunk_cap))
            .unwrap_or(usize::MAX)
            .max(1);
        let none = SendGrant {
            recipient,
            data_type,
            len: 0,
            chunk,
        };
        if c.send.debit(n).is_err() {
            return Ok(none);
        }
        if n < len {
            c.write_blocked = true;
        }
        Ok(SendGrant { len: n, ..none })
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

    pub(super) fn send_close(&mut self, h: ChannelHandle) {
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

    pub(super) fn read_any(
        &mut self,
        h: ChannelHandle,
        ext: bool,
        buf: &mut [u8],
    ) -> Result<usize, ApiError> {
        let c = self.channel_mut(h)?;
        let q = if ext { &mut c.ext } else { &mut c.data };
        let n = buf.len().min(q.len());
        // The ring's two halves, copied as slices (not byte by byte).
        let (front, back) = q.as_slices();
        let n1 = n.min(front.len());
        let n2 = n - n1;
        if let (Some(dst), Some(src)) = (buf.get_mut(..n1), front.get(..n1)) {
            dst.copy_from_slice(src);
        }
        if let (Some(dst), Some(src)) = (buf.get_mut(n1..n), back.get(..n2)) {
            dst.copy_from_slice(src);
        }
        q.drain(..n);
        self.consume_inner(h, n);
        Ok(n)
    }

    /// Moves all buffered data out of the channel, without copying it, and
    /// leaves `spare` (cleared) as the channel's new buffer, so a reader
    /// that hands back the buffer it emptied allocates nothing. The bytes
    /// taken still count against the receive window until
    /// [`Connection::consume_taken`] reports them used: the peer can never
    /// have more than a window outstanding. Empty when nothing is
    /// buffered: then `spare` comes back cleared (see
    /// [`ChannelInfo::eof_received`] for the end).
    pub fn take_data(&mut self, h: ChannelHandle, spare: Vec<u8>) -> Result<Vec<u8>, ApiError> {
        self.take_any(h, false, spare)
    }

    /// Like [`Connection::take_data`] for extended data (stderr).
    pub fn take_extended(&mut self, h: ChannelHandle, spare: Vec<u8>) -> Result<Vec<u8>, ApiError> {
        self.take_any(h, true, spare)
    }

    fn take_any(
        &mut self,
        h: ChannelHandle,
        ext: bool,
        spare: Vec<u8>,
    ) -> Result<Vec<u8>, ApiError> {
        let c = self.channel_mut(h)?;
        let q = if ext { &mut c.ext } else { &mut c.data };
        let mut spare = spare;
        spare.clear();
        if q.is_empty() {
            return Ok(spare);
        }
        let taken = Vec::from(core::mem::replace(q, VecDeque::from(spare)));
        c.lent = c.lent.saturating_add(taken.len());
        if ext {
            c.ext_notified = false;
        } else {
            c.data_notified = false;
        }
        Ok(taken)
    }

    /// Reports `n` bytes moved out by [`Connection::take_data`] or
    /// [`Connection::take_extended`] as consumed (clamped to what is
    /// out); this is what re-opens the window for them.
    pub fn consume_taken(&mut self, h: ChannelHandle, n: usize) -> Result<(), ApiError> {
        let c = self.channel_mut(h)?;
        let n = n.min(c.lent);
        c.lent -= n;
        c.recv.consume(n);
        self.maybe_adjust(h);
        Ok(())
    }

    /// Puts bytes taken with [`Connection::take_data`] (or, with
    /// `extended`, [`Connection::take_extended`]) and not used back at the
    /// front of the channel's buffer, for the next reader: a reader that
    /// goes away with data in hand loses none. At most what is out is put
    /// back (the last bytes of `rest`).
    pub fn put_back(
        &mut self,
        h: ChannelHandle,
        extended: bool,
        rest: &[u8],
    ) -> Result<(), ApiError> {
        let c = self.channel_mut(h)?;
        let n = rest.len().min(c.lent);
        c.lent -= n;
        let rest = rest.get(rest.len() - n..).unwrap_or_default();
        let (q, notified) = if extended {
            (&mut c.ext, &mut c.ext_notified)
        } else {
            (&mut c.data, &mut c.data_notified)
        };
        q.reserve(n);
        for &b in rest.iter().rev() {
            q.push_front(b);
        }
        if n > 0 && !*notified {
            *notified = true;
            self.events.push_back(if extended {
                Event::ReadableExtended { handle: h }
            } else {
                Event::Readable { handle: h }
            });
        }
        Ok(())
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

    pub(super) fn consume_inner(&mut self, h: ChannelHandle, n: usize) {
        if let Some(c) = self.channels.get_mut(h) {
            c.recv.consume(n);
            if c.data.is_empty() {
                c.data_notified = false;
            }
            if c.ext.is_empty() {
                c.ext_notified = false;
            }
        }
        self.maybe_adjust(h);
    }

    /// A round-trip sample for a channel's receive window: the application
    /// consumed `bytes` of it within one round trip (the caller measured
    /// it, e.g. between a probe and its reply; what was consumed, not what
    /// arrived, so that a reader that is behind never grows its buffer).
    /// When that is two thirds of the window or more, the window, not the
    /// peer or the reader, set the pace: the target doubles, within
    /// [`crate::Config::max_window`] and what is left of the connection's
    /// [`crate::Config::window_growth_budget`], and the growth is announced
    /// at once (the BDP estimate of HTTP/2 stacks). Returns the new target
    /// when it grew.
    pub fn window_sample(&mut self, h: ChannelHandle, bytes: u64) -> Option<u32> {
        let budget = self.config.window_growth_budget.saturating_sub(self.grown);
        let max = self.config.max_window;
        let c = self.channels.get_mut(h)?;
        if c.state != ChannelState::Open || c.eof_received {
            return None;
        }
        let target = c.recv.target();
        if bytes.saturating_mul(3) < u64::from(target).saturating_mul(2) {
            return None;
        }
        let grow = target.min(max.saturating_sub(target)).min(budget);
        if grow == 0 {
            return None;
        }
        let add = c.recv.set_target(target.saturating_add(grow));
        c.grown = c.grown.saturating_add(grow);
        let remote = c.remote.map_or(0, |r| r.0);
        self.grown = self.grown.saturating_add(grow);
        if let Some(add) = add {
            self.queue(&ChannelWindowAdjust {
                recipient: remote,
                bytes_to_add: add,
            });
        }
        Some(target.saturating_add(grow))
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
        // The application chose this size: it no longer counts as growth.
        let grown = std::mem::take(&mut c.grown);
        let remote = c.remote.map_or(0, |r| r.0);
        self.grown = self.grown.saturating_sub(grown);
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
}

/// Window taken by [`Connection::grant_send`]: `len` bytes to send in
/// messages of at most `chunk` bytes of data each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SendGrant {
    recipient: u32,
    data_type: Option<u32>,
    /// Bytes granted (debited from the window).
    pub len: usize,
    /// The most data bytes per message (the peer's maximum packet).
    pub chunk: usize,
}

impl SendGrant {
    /// Appends the header of the message carrying `data_len` bytes
    /// (CHANNEL_DATA or CHANNEL_EXTENDED_DATA up to the data's length
    /// field); the data follows it.
    pub fn header(&self, data_len: usize, out: &mut Vec<u8>) {
        let len = u32::try_from(data_len).unwrap_or(u32::MAX);
        match self.data_type {
            None => ChannelData::encode_header(self.recipient, len, out),
            Some(t) => ChannelExtendedData::encode_header(self.recipient, t, len, out),
        }
    }
}
