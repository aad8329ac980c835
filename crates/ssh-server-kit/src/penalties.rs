//! sshd's per-source penalties (`PerSourcePenalties`, OpenSSH 9.8): a
//! source network that misbehaved (failed logins, silent connections,
//! LoginGraceTime exceeded) accumulates refusal time; once it has more
//! than `min`, its new connections are refused until that runs out. Time
//! is given in, so the rules are tested without a clock.

use core::net::IpAddr;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use ssh_config::server::{PerSourcePenalties, penalty_exempt};

/// What a connection did that costs its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Penalty {
    /// Its handler crashed.
    Crash,
    /// It left after failed authentication attempts.
    AuthFail,
    /// It tried a user that does not exist.
    InvalidUser,
    /// `RefuseConnection` refused it.
    RefuseConnection,
    /// It left without attempting authentication.
    NoAuth,
    /// It did not authenticate within LoginGraceTime.
    GraceExceeded,
}

impl Penalty {
    /// sshd's log wording.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Crash => "penalty: caused crash",
            Self::AuthFail => "penalty: failed authentication",
            Self::InvalidUser => "penalty: attempted authentication by invalid user",
            Self::RefuseConnection => "penalty: connection prohibited by RefuseConnection",
            Self::NoAuth => "penalty: connections without attempting authentication",
            Self::GraceExceeded => "penalty: exceeded LoginGraceTime",
        }
    }

    fn duration(self, cfg: &PerSourcePenalties) -> Duration {
        match self {
            Self::Crash => cfg.crash,
            Self::AuthFail => cfg.authfail,
            Self::InvalidUser => cfg.invaliduser,
            Self::RefuseConnection => cfg.refuseconnection,
            Self::NoAuth => cfg.noauth,
            Self::GraceExceeded => cfg.grace_exceeded,
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    expiry: Instant,
    active: bool,
    reason: &'static str,
}

/// The penalty table of one server.
#[derive(Debug)]
pub struct Penalties {
    cfg: PerSourcePenalties,
    bits4: u8,
    bits6: u8,
    exempt: Vec<String>,
    table: HashMap<IpAddr, Entry>,
}

impl Penalties {
    /// A table under these settings (`PerSourcePenalties`,
    /// `PerSourceNetBlockSize`, `PerSourcePenaltyExemptList`).
    pub fn new(cfg: PerSourcePenalties, net_block: (u8, u8), exempt: Vec<String>) -> Self {
        Self {
            cfg,
            bits4: net_block.0.min(32),
            bits6: net_block.1.min(128),
            exempt,
            table: HashMap::new(),
        }
    }

    /// The network of `addr` (an IPv4-mapped address counts as IPv4).
    fn network(&self, addr: IpAddr) -> IpAddr {
        match addr.to_canonical() {
            IpAddr::V4(a) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.bits4))
                    .unwrap_or(0);
                IpAddr::V4((u32::from(a) & mask).into())
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.bits6))
                    .unwrap_or(0);
                IpAddr::V6((u128::from(a) & mask).into())
            }
        }
    }

    fn expire(&mut self, now: Instant) {
        self.table.retain(|_, e| e.expiry > now);
    }

    fn count(&self, v4: bool) -> usize {
        self.table.keys().filter(|k| k.is_ipv4() == v4).count()
    }

    /// Records what a connection from `addr` did.
    pub fn penalise(&mut self, addr: IpAddr, penalty: Penalty, now: Instant) {
        if !self.cfg.enabled || penalty_exempt(&self.exempt, &addr.to_canonical()) {
            return;
        }
        let secs = penalty.duration(&self.cfg);
        if secs.is_zero() {
            return;
        }
        self.expire(now);
        let net = self.network(addr);
        let (max_sources, deny_all) = if net.is_ipv4() {
            (self.cfg.max_sources4, self.cfg.overflow_deny_all)
        } else {
            (self.cfg.max_sources6, self.cfg.overflow6_deny_all)
        };
        let (min, max) = (self.cfg.min, self.cfg.max);
        if let Some(e) = self.table.get_mut(&net) {
            // Accumulated up to `max`; enforced once above `min`.
            let left = e.expiry.saturating_duration_since(now) + secs;
            let left = left.min(max);
            e.expiry = now + left;
            if left > min && !e.active {
                tracing::info!(
                    "{net}: activating penalty of {} seconds for {}",
                    left.as_secs(),
                    penalty.reason()
                );
                e.active = true;
            }
            e.reason = penalty.reason();
            return;
        }
        let tracked = self.count(net.is_ipv4());
        if tracked >= max_sources as usize {
            if deny_all {
                tracing::info!(
                    "penalty table full, cannot penalise {net} for {}",
                    penalty.reason()
                );
                return;
            }
            // Permissive: the penalty nearest its end goes early.
            let v4 = net.is_ipv4();
            if let Some(k) = self
                .table
                .iter()
                .filter(|(k, _)| k.is_ipv4() == v4)
                .min_by_key(|(_, e)| e.expiry)
                .map(|(k, _)| *k)
            {
                self.table.remove(&k);
            }
        }
        let active = secs > min;
        tracing::debug!(
            "new {net} {} penalty of {} seconds for {}",
            if active { "active" } else { "deferred" },
            secs.as_secs(),
            penalty.reason()
        );
        self.table.insert(
            net,
            Entry {
                expiry: now + secs.min(max),
                active,
                reason: penalty.reason(),
            },
        );
    }

    /// Why a new connection from `addr` is refused now, if it is: an
    /// active penalty of its network, or (`overflow:deny-all`) a full
    /// table.
    pub fn refused(&mut self, addr: IpAddr, now: Instant) -> Option<&'static str> {
        if !self.cfg.enabled || penalty_exempt(&self.exempt, &addr.to_canonical()) {
            return None;
        }
        self.expire(now);
        let net = self.network(addr);
        if let Some(e) = self.table.get(&net)
            && e.active
        {
            return Some(e.reason);
        }
        let (max_sources, deny_all) = if net.is_ipv4() {
            (self.cfg.max_sources4, self.cfg.overflow_deny_all)
        } else {
            (self.cfg.max_sources6, self.cfg.overflow6_deny_all)
        };
        (deny_all && self.count(net.is_ipv4()) >= max_sources as usize)
            .then_some("penalty table full")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn table(cfg: PerSourcePenalties) -> Penalties {
        Penalties::new(cfg, (32, 128), Vec::new())
    }

    #[test]
    fn penalties_start_above_min_and_accumulate_up_to_max() {
        let t0 = Instant::now();
        let mut p = table(PerSourcePenalties::default());
        let a = ip("192.0.2.1");
        // authfail 5 s each: 5, 10, 15 are not above min (15 s).
        for _ in 0..3 {
            p.penalise(a, Penalty::AuthFail, t0);
            assert_eq!(p.refused(a, t0), None);
        }
        p.penalise(a, Penalty::AuthFail, t0);
        assert_eq!(p.refused(a, t0), Some("penalty: failed authentication"));
        // Other addresses are not touched.
        assert_eq!(p.refused(ip("192.0.2.2"), t0), None);
        // Twenty seconds accrued: gone after them.
        assert!(p.refused(a, t0 + Duration::from_secs(19)).is_some());
        assert_eq!(p.refused(a, t0 + Duration::from_secs(20)), None);
        // Capped at max (10 min).
        for _ in 0..1000 {
            p.penalise(a, Penalty::Crash, t0);
        }
        assert!(p.refused(a, t0 + Duration::from_secs(599)).is_some());
        assert_eq!(p.refused(a, t0 + Duration::from_secs(600)), None);
    }

    #[test]
    fn one_big_penalty_is_active_at_once() {
        let t0 = Instant::now();
        let mut p = table(PerSourcePenalties::default());
        p.penalise(ip("2001:db8::1"), Penalty::Crash, t0);
        assert_eq!(
            p.refused(ip("2001:db8::1"), t0),
            Some("penalty: caused crash")
        );
        // /128: the neighbour is free.
        assert_eq!(p.refused(ip("2001:db8::2"), t0), None);
    }

    #[test]
    fn net_blocks_exemptions_and_off() {
        let t0 = Instant::now();
        let mut p = Penalties::new(
            PerSourcePenalties::default(),
            (24, 64),
            vec!["198.51.100.0/24".into()],
        );
        p.penalise(ip("192.0.2.1"), Penalty::Crash, t0);
        assert!(p.refused(ip("192.0.2.200"), t0).is_some());
        assert!(p.refused(ip("::ffff:192.0.2.9"), t0).is_some());
        assert_eq!(p.refused(ip("192.0.3.1"), t0), None);
        p.penalise(ip("198.51.100.5"), Penalty::Crash, t0);
        assert_eq!(p.refused(ip("198.51.100.5"), t0), None);
        let mut off = table(PerSourcePenalties {
            enabled: false,
            ..PerSourcePenalties::default()
        });
        off.penalise(ip("192.0.2.1"), Penalty::Crash, t0);
        assert_eq!(off.refused(ip("192.0.2.1"), t0), None);
    }

    #[test]
    fn a_full_table_forgets_early_or_refuses_everyone() {
        let t0 = Instant::now();
        let small = PerSourcePenalties {
            max_sources4: 2,
            ..PerSourcePenalties::default()
        };
        let mut p = table(small.clone());
        p.penalise(ip("192.0.2.1"), Penalty::Crash, t0);
        p.penalise(ip("192.0.2.2"), Penalty::Crash, t0 + Duration::from_secs(1));
        p.penalise(ip("192.0.2.3"), Penalty::Crash, t0 + Duration::from_secs(2));
        // Permissive: the first (nearest its end) was let go.
        let t = t0 + Duration::from_secs(3);
        assert_eq!(p.refused(ip("192.0.2.1"), t), None);
        assert!(p.refused(ip("192.0.2.2"), t).is_some());
        assert!(p.refused(ip("192.0.2.3"), t).is_some());
        let mut deny = table(PerSourcePenalties {
            overflow_deny_all: true,
            ..small
        });
        deny.penalise(ip("192.0.2.1"), Penalty::NoAuth, t0);
        deny.penalise(ip("192.0.2.2"), Penalty::NoAuth, t0);
        assert_eq!(
            deny.refused(ip("203.0.113.9"), t0),
            Some("penalty table full")
        );
        // IPv6 is counted apart.
        assert_eq!(deny.refused(ip("2001:db8::9"), t0), None);
    }
}
