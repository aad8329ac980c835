//! Receive windows sized to the path. While channel data flows, a probe
//! (a `keepalive@openssh.com` global request with want-reply, which every
//! peer answers, with success or failure) measures one round trip; what
//! each channel's application consumed meanwhile is its bandwidth-delay
//! sample (consumed, not received: a reader that is behind never grows
//! its buffer), and the
//! connection grows the window of a channel whose sample filled two
//! thirds of it ([`ssh_connection::Connection::window_sample`]), as HTTP/2
//! stacks estimate their BDP with PING. On loopback a round trip carries
//! little and nothing grows; over 100 ms a 2 MiB window is the limit and
//! doubles each round trip up to `max_window`.

use std::time::{Duration, Instant};

use ssh_connection::{ChannelHandle, Connection, RequestId};
use ssh_wire::messages::global::GlobalRequestKind;

/// The least time from one probe's reply to the next probe.
const MIN_GAP: Duration = Duration::from_millis(10);

/// The probe in flight and what it measures from.
#[derive(Debug)]
struct Probe {
    id: RequestId,
    /// What each channel's application had consumed when the probe went.
    start: Vec<(ChannelHandle, u64)>,
}

/// The window tuner of one connection.
#[derive(Debug, Default)]
pub(crate) struct Tuner {
    probe: Option<Probe>,
    /// When the last reply came.
    last: Option<Instant>,
    /// The connection's received count when we last looked.
    seen: u64,
}

impl Tuner {
    /// Channel data may have arrived: a probe goes out when data flows,
    /// none is out, and the last reply is `MIN_GAP` old.
    pub(crate) fn on_input(&mut self, now: Instant, conn: &mut Connection) {
        let received = conn.received();
        if received == self.seen || self.probe.is_some() {
            return;
        }
        self.seen = received;
        if self
            .last
            .is_some_and(|t| now.saturating_duration_since(t) < MIN_GAP)
        {
            return;
        }
        let start: Vec<(ChannelHandle, u64)> = conn
            .channels()
            .into_iter()
            .filter_map(|h| conn.channel_info(h).ok().map(|i| (h, consumed(&i))))
            .collect();
        // A connection that refuses the request (too many pending) is
        // simply not probed this time.
        if let Ok(Some(id)) = conn.global_request(GlobalRequestKind::Keepalive, true) {
            self.probe = Some(Probe { id, start });
        }
    }

    /// A global reply came: true when it answered our probe (the caller
    /// drops it), after the samples were given to the connection.
    pub(crate) fn on_reply(&mut self, id: RequestId, now: Instant, conn: &mut Connection) -> bool {
        if self.probe.as_ref().is_none_or(|p| p.id != id) {
            return false;
        }
        let Some(probe) = self.probe.take() else {
            return false;
        };
        self.last = Some(now);
        for (h, before) in probe.start {
            if let Ok(info) = conn.channel_info(h) {
                conn.window_sample(h, consumed(&info).saturating_sub(before));
            }
        }
        true
    }
}

/// What the application consumed of a channel so far.
fn consumed(info: &ssh_connection::ChannelInfo) -> u64 {
    info.received.saturating_sub(u64::from(info.buffered))
}
