//! One channel's state and buffers, and the slab of channels keyed by local
//! number with a generation guard.

use std::collections::VecDeque;

use crate::id::{ChannelHandle, LocalId, RemoteId, RequestId};
use crate::window::{RecvWindow, Window};

/// Where a channel is in its life (RFC 4254 §5.1, §5.3).
///
/// ```text
///   open_channel()                            peer CHANNEL_OPEN
///        |  sends CHANNEL_OPEN                       |  Event::OpenRequest
///        v                                           v
///  +-----------+  peer OPEN_FAILURE         +---------------+  reject()
///  |  Opening  |------------------> freed   | PendingAccept |----------> freed
///  +-----------+  (Event::OpenFailed)       +---------------+  (OPEN_FAILURE sent)
///        | peer OPEN_CONFIRMATION                    | accept() (CONFIRMATION sent)
///        +--------------------+----------------------+
///                             v
///                        +--------+   EOF each way is a flag, not a state:
///                        |  Open  |   data keeps flowing the other way
///                        +--------+
///            close() /        \  peer CLOSE: we answer CLOSE at once
///     sends CLOSE   v          \
///          +-----------+        \
///          | CloseSent |         \
///          +-----------+          \
///                | peer CLOSE      |
///                v                 v
///              +---------------------+  Event::Closed; buffered data
///              |       Closed        |  can still be read
///              +---------------------+
///                        | release()
///                        v
///                      freed: the local number may be reused, with a
///                      new generation (old handles are stale)
/// ```
///
/// `close()` while `Opening` sends CLOSE as soon as the confirmation
/// arrives; `release()` before `Closed` closes first and frees the slot when
/// the peer's CLOSE arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelState {
    /// We sent CHANNEL_OPEN and wait for the answer.
    Opening,
    /// The peer sent CHANNEL_OPEN; the application has not answered yet.
    PendingAccept,
    /// Confirmed; data flows.
    Open,
    /// We sent CLOSE and wait for the peer's.
    CloseSent,
    /// CLOSE went both ways; waiting for `release()`.
    Closed,
}

/// How the command of a session channel ended, as the peer reported it
/// with `exit-status` or `exit-signal` (RFC 4254 §6.10). Kept per channel
/// until it is released: [`crate::Connection::exit_status`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExitStatus {
    /// `exit-status`: the command's exit code.
    Code(u32),
    /// `exit-signal`: the command was killed by a signal.
    Signal {
        /// The signal name without the `SIG` prefix (`TERM`, `KILL`, ...).
        name: String,
        /// A core was dumped.
        core_dumped: bool,
        /// The peer's message (UTF-8, may be empty).
        message: String,
    },
}

/// A channel request of the peer that wants a reply, in arrival order.
#[derive(Debug)]
pub(crate) struct PendingAnswer {
    pub(crate) id: RequestId,
    pub(crate) answer: Option<bool>,
}

#[derive(Debug)]
pub(crate) struct Channel {
    pub(crate) state: ChannelState,
    pub(crate) is_session: bool,
    pub(crate) remote: Option<RemoteId>,
    /// The peer's window: what we may still send.
    pub(crate) send: Window,
    /// The peer's maximum packet.
    pub(crate) send_max_packet: u32,
    pub(crate) recv: RecvWindow,
    /// How far the receive window grew by itself (counted against the
    /// connection's growth budget until the channel is freed).
    pub(crate) grown: u32,
    pub(crate) data: VecDeque<u8>,
    pub(crate) ext: VecDeque<u8>,
    pub(crate) eof_sent: bool,
    pub(crate) eof_received: bool,
    /// close() was called while opening.
    pub(crate) close_pending: bool,
    pub(crate) released: bool,
    /// The last send was cut short: a `Writable` is owed.
    pub(crate) write_blocked: bool,
    /// A `Readable` was sent and the data buffer was not read empty since.
    pub(crate) data_notified: bool,
    /// A `ReadableExtended` was sent and the extended-data buffer was not
    /// read empty since.
    pub(crate) ext_notified: bool,
    /// Bytes moved out by `take_data`/`take_extended` that the application
    /// has not yet reported consumed: still counted against the window.
    pub(crate) lent: usize,
    /// Our requests waiting for a reply, oldest first.
    pub(crate) ours: VecDeque<RequestId>,
    /// The peer's requests waiting for our answer, oldest first.
    pub(crate) theirs: VecDeque<PendingAnswer>,
    /// The peer's last `exit-status` or `exit-signal`.
    pub(crate) exit: Option<ExitStatus>,
}

impl Channel {
    pub(crate) fn new(state: ChannelState, is_session: bool, recv: RecvWindow) -> Self {
        Self {
            state,
            is_session,
            remote: None,
            send: Window::new(0),
            send_max_packet: 0,
            recv,
            grown: 0,
            data: VecDeque::new(),
            ext: VecDeque::new(),
            eof_sent: false,
            eof_received: false,
            close_pending: false,
            released: false,
            write_blocked: false,
            data_notified: false,
            ext_notified: false,
            lent: 0,
            ours: VecDeque::new(),
            theirs: VecDeque::new(),
            exit: None,
        }
    }

    /// True when data can still be sent by us.
    pub(crate) const fn can_send(&self) -> bool {
        matches!(self.state, ChannelState::Open) && !self.eof_sent
    }
}

#[derive(Debug, Default)]
struct Slot {
    generation: u32,
    channel: Option<Channel>,
}

/// Channels by local number. A number is handed out again only after
/// [`Slab::free`], and then with the next generation.
#[derive(Debug, Default)]
pub(crate) struct Slab {
    slots: Vec<Slot>,
    free: Vec<u32>,
    len: usize,
}

impl Slab {
    pub(crate) const fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn insert(&mut self, channel: Channel) -> Option<ChannelHandle> {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                let i = u32::try_from(self.slots.len()).ok()?;
                self.slots.push(Slot::default());
                i
            }
        };
        let slot = self.slots.get_mut(usize::try_from(index).ok()?)?;
        slot.channel = Some(channel);
        self.len += 1;
        Some(ChannelHandle {
            id: LocalId(index),
            generation: slot.generation,
        })
    }

    fn slot(&self, id: LocalId) -> Option<&Slot> {
        self.slots.get(usize::try_from(id.0).ok()?)
    }

    fn slot_mut(&mut self, id: LocalId) -> Option<&mut Slot> {
        self.slots.get_mut(usize::try_from(id.0).ok()?)
    }

    /// The channel a peer message names, with its current handle.
    pub(crate) fn by_id(&mut self, id: LocalId) -> Option<(ChannelHandle, &mut Channel)> {
        let slot = self.slot_mut(id)?;
        let generation = slot.generation;
        slot.channel
            .as_mut()
            .map(|c| (ChannelHandle { id, generation }, c))
    }

    pub(crate) fn get(&self, h: ChannelHandle) -> Option<&Channel> {
        let slot = self.slot(h.id)?;
        if slot.generation != h.generation {
            return None;
        }
        slot.channel.as_ref()
    }

    pub(crate) fn get_mut(&mut self, h: ChannelHandle) -> Option<&mut Channel> {
        let slot = self.slot_mut(h.id)?;
        if slot.generation != h.generation {
            return None;
        }
        slot.channel.as_mut()
    }

    /// Makes every handle to `id` stale while keeping the channel.
    pub(crate) fn bump_generation(&mut self, id: LocalId) {
        if let Some(slot) = self.slot_mut(id) {
            slot.generation = slot.generation.wrapping_add(1);
        }
    }

    /// Frees the slot of `id`; its number may be reused, handles to it are
    /// stale.
    pub(crate) fn free(&mut self, id: LocalId) -> Option<Channel> {
        let slot = self.slot_mut(id)?;
        let channel = slot.channel.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(id.0);
        self.len -= 1;
        Some(channel)
    }

    pub(crate) fn handles(&self) -> impl Iterator<Item = ChannelHandle> + '_ {
        self.slots.iter().zip(0u32..).filter_map(|(s, i)| {
            s.channel.as_ref().map(|_| ChannelHandle {
                id: LocalId(i),
                generation: s.generation,
            })
        })
    }
}
