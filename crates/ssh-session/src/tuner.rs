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
//!
//! A round trip is not only the path: a peer that queues a window of data
//! ahead of its reply (PuTTY does) stretches it, and then every sample
//! fills the window whatever its size. So, as gRPC's BDP estimator, a
//! channel grows again only when its last growth bought bandwidth: the
//! sample's rate (consumed / round trip) must beat the best rate seen at
//! a growth by [`GAIN`]. Without it, PuTTY's uploads into OpenSSH's
//! sftp-server behind rsshd grew the window to 16 MiB on loopback, and
//! sftp-server (which reads ahead of what it processes) spent its time
//! moving that queue around: 64 MiB took 10.8 s instead of 2.1 s.

use std::time::{Duration, Instant};

use ssh_connection::{ChannelHandle, Connection, RequestId};
use ssh_wire::messages::global::GlobalRequestKind;

/// The least time from one probe's reply to the next probe.
const MIN_GAP: Duration = Duration::from_millis(10);

/// How much more bandwidth than at its last growth a channel's sample
/// must show to grow again.
const GAIN: f64 = 1.25;

/// The shortest round trip a rate is computed over (a reply in the same
/// instant as its probe).
const MIN_RTT: Duration = Duration::from_micros(1);

/// One channel's growth history: the rate it showed when it last grew.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct Growth {
    best_rate: f64,
}

impl Growth {
    /// Whether a sample of `consumed` bytes over `rtt` may grow the
    /// window: the first may, later ones only at [`GAIN`] times the rate
    /// of the last growth.
    pub(crate) fn may_grow(&self, consumed: u64, rtt: Duration) -> bool {
        let rate = consumed as f64 / rtt.max(MIN_RTT).as_secs_f64();
        self.best_rate == 0.0 || rate > self.best_rate * GAIN
    }

    /// The window grew on a sample of `consumed` bytes over `rtt`.
    pub(crate) fn grew(&mut self, consumed: u64, rtt: Duration) {
        self.best_rate = consumed as f64 / rtt.max(MIN_RTT).as_secs_f64();
    }
}

/// The probe in flight and what it measures from.
#[derive(Debug)]
struct Probe {
    id: RequestId,
    /// When it went.
    sent: Instant,
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
    /// Each channel's growth so far (channels that never grew are not
    /// here; closed ones are dropped at the next reply).
    growth: Vec<(ChannelHandle, Growth)>,
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
            self.probe = Some(Probe {
                id,
                sent: now,
                start,
            });
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
        let rtt = now.saturating_duration_since(probe.sent);
        let open = conn.channels();
        self.growth.retain(|(h, _)| open.contains(h));
        for (h, before) in probe.start {
            let Ok(info) = conn.channel_info(h) else {
                continue;
            };
            let sample = consumed(&info).saturating_sub(before);
            let at = self.growth.iter().position(|(g, _)| *g == h);
            let growth = at
                .and_then(|i| self.growth.get(i))
                .map_or_else(Growth::default, |(_, g)| *g);
            if !growth.may_grow(sample, rtt) {
                continue;
            }
            if conn.window_sample(h, sample).is_some() {
                let mut g = growth;
                g.grew(sample, rtt);
                match at.and_then(|i| self.growth.get_mut(i)) {
                    Some((_, slot)) => *slot = g,
                    None => self.growth.push((h, g)),
                }
            }
        }
        true
    }
}

/// What the application consumed of a channel so far.
fn consumed(info: &ssh_connection::ChannelInfo) -> u64 {
    info.received.saturating_sub(u64::from(info.buffered))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn growth_that_bought_no_bandwidth_stops() {
        let mut g = Growth::default();
        // The first sample that fills the window may grow it.
        assert!(g.may_grow(2 << 20, 70 * MS));
        g.grew(2 << 20, 70 * MS);
        // The window doubled, but the peer queued twice as much ahead of
        // its reply: the same rate over a longer round trip.
        assert!(!g.may_grow(4 << 20, 140 * MS));
        assert!(!g.may_grow(4 << 20, 120 * MS), "under GAIN");
    }

    #[test]
    fn growth_that_bought_bandwidth_goes_on() {
        let mut g = Growth::default();
        g.grew(2 << 20, 100 * MS);
        // A long path: the doubled window carried twice as much in the
        // same round trip.
        assert!(g.may_grow(4 << 20, 100 * MS));
        g.grew(4 << 20, 100 * MS);
        assert!(g.may_grow(8 << 20, 110 * MS));
    }

    #[test]
    fn a_reply_in_the_same_instant_is_a_rate_not_a_division_by_zero() {
        let mut g = Growth::default();
        assert!(g.may_grow(1 << 20, Duration::ZERO));
        g.grew(1 << 20, Duration::ZERO);
        assert!(!g.may_grow(1 << 20, Duration::ZERO));
        assert!(g.may_grow(2 << 20, Duration::ZERO));
    }
}
