//! Channel numbers and handles. Our numbers and the peer's are different
//! types, so one cannot be sent where the other belongs.

use core::fmt;

/// A channel number we chose (the "recipient channel" of messages the peer
/// sends us, the "sender channel" of our CHANNEL_OPEN / CONFIRMATION).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalId(pub(crate) u32);

impl LocalId {
    /// The number as on the wire.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for LocalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A channel number the peer chose (the "recipient channel" of messages we
/// send).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RemoteId(pub(crate) u32);

impl RemoteId {
    /// The number as on the wire.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for RemoteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The application's reference to a channel: its local number and the
/// generation of the slot. A local number is reused only after the channel
/// was released, and then with a new generation, so a stale handle never
/// reaches the new channel (the ID guard of h2's stream store).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChannelHandle {
    pub(crate) id: LocalId,
    pub(crate) generation: u32,
}

impl ChannelHandle {
    /// The local channel number.
    pub const fn local_id(self) -> LocalId {
        self.id
    }
}

/// Identifies a request (channel or global) that waits for a reply, ours or
/// the peer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub(crate) u64);
