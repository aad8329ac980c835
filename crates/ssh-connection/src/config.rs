//! Connection limits and flow-control settings.

/// OpenSSH's default channel window (`CHAN_SES_WINDOW_DEFAULT`): 2 MiB.
pub const DEFAULT_WINDOW: u32 = 2 * 1024 * 1024;
/// The largest a channel's receive window grows to by itself: 16 MiB.
pub const DEFAULT_MAX_WINDOW: u32 = 16 * 1024 * 1024;
/// OpenSSH's default maximum packet (`CHAN_SES_PACKET_DEFAULT`): 32 KiB.
pub const DEFAULT_MAX_PACKET: u32 = 32 * 1024;

/// Settings of a [`crate::Connection`]. Build with struct update from
/// `Config::default()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The receive window we announce for each channel.
    pub window: u32,
    /// The largest a channel's receive window grows to when the window
    /// limits the rate (a path whose bandwidth-delay product exceeds
    /// `window`); see [`crate::Connection::window_sample`]. Equal to
    /// `window` (or below it): the window never grows.
    pub max_window: u32,
    /// The growth beyond `window` all channels of the connection may have
    /// at once: what a peer can make the connection buffer on top of the
    /// announced windows is bounded by it.
    pub window_growth_budget: u32,
    /// The maximum data length per packet we announce (and accept).
    pub max_packet: u32,
    /// A WINDOW_ADJUST is sent once `window / window_divisor` bytes were
    /// consumed by the application (4: a quarter of the window). Credit
    /// below that is withheld, and a sender cannot use it: at half the
    /// window, a sender of 32 KiB SFTP writes was held at half a window
    /// per round trip for good (`tests/window_delay.rs`).
    pub window_divisor: u32,
    /// The largest data chunk we send in one message, whatever the peer's
    /// maximum packet (keeps packets inside the transport's limit).
    pub max_send_chunk: u32,
    /// Channels allocated at once (opening, open, or closed and not yet
    /// released). Incoming opens above it are refused with
    /// `SSH_OPEN_RESOURCE_SHORTAGE`.
    pub max_channels: usize,
    /// `session` channels at once (OpenSSH `MaxSessions`, 10).
    pub max_sessions: usize,
    /// Requests waiting for a reply, per channel and for global requests,
    /// in each direction.
    pub max_pending_requests: usize,
    /// Bytes of outgoing payloads queued before the session collects them;
    /// sends beyond it are refused (returned as 0 bytes accepted) until
    /// [`crate::Connection::poll_outgoing`] drains the queue.
    pub max_queued_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            window: DEFAULT_WINDOW,
            max_window: DEFAULT_MAX_WINDOW,
            window_growth_budget: DEFAULT_MAX_WINDOW,
            max_packet: DEFAULT_MAX_PACKET,
            window_divisor: 4,
            max_send_chunk: 32 * 1024,
            max_channels: 1024,
            max_sessions: 10,
            max_pending_requests: 64,
            max_queued_bytes: 4 * 1024 * 1024,
        }
    }
}
