//! `PerSourcePenalties`, `PerSourceNetBlockSize` and
//! `PerSourcePenaltyExemptList` (OpenSSH 9.8): how long a source that
//! misbehaved is refused.

use core::net::IpAddr;
use std::time::Duration;

use crate::values;

/// `PerSourcePenalties`: a duration per kind of misbehaviour, and the
/// bounds of the table (sshd's defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerSourcePenalties {
    /// `no` turns them off.
    pub enabled: bool,
    /// `crash` (90s): the server's handler of the connection crashed.
    pub crash: Duration,
    /// `authfail` (5s): the client left after failed attempts.
    pub authfail: Duration,
    /// `invaliduser` (5s): it tried a user that does not exist.
    pub invaliduser: Duration,
    /// `refuseconnection` (10s): `RefuseConnection` refused it.
    pub refuseconnection: Duration,
    /// `noauth` (1s): it left without trying to authenticate.
    pub noauth: Duration,
    /// `grace-exceeded` (10s): it did not authenticate in LoginGraceTime.
    pub grace_exceeded: Duration,
    /// `max` (10m): the most a source accumulates.
    pub max: Duration,
    /// `min` (15s): refusals start above this much.
    pub min: Duration,
    /// `max-sources4` (65536): IPv4 networks tracked.
    pub max_sources4: u32,
    /// `max-sources6` (65536): IPv6 networks tracked.
    pub max_sources6: u32,
    /// `overflow` (`permissive`): a full IPv4 table refuses everyone
    /// (`deny-all`) rather than forgetting the penalties nearest their end.
    pub overflow_deny_all: bool,
    /// `overflow6` (as `overflow`).
    pub overflow6_deny_all: bool,
}

impl Default for PerSourcePenalties {
    fn default() -> Self {
        Self {
            enabled: true,
            crash: Duration::from_secs(90),
            authfail: Duration::from_secs(5),
            invaliduser: Duration::from_secs(5),
            refuseconnection: Duration::from_secs(10),
            noauth: Duration::from_secs(1),
            grace_exceeded: Duration::from_secs(10),
            max: Duration::from_secs(600),
            min: Duration::from_secs(15),
            max_sources4: 65536,
            max_sources6: 65536,
            overflow_deny_all: false,
            overflow6_deny_all: false,
        }
    }
}

impl PerSourcePenalties {
    /// Parses the directive's words (`no`, `yes`, or `keyword:value`
    /// items over the defaults).
    pub(crate) fn parse(args: &[String]) -> Result<Self, String> {
        let mut p = Self::default();
        if let [one] = args {
            match one.to_ascii_lowercase().as_str() {
                "no" => {
                    p.enabled = false;
                    return Ok(p);
                }
                "yes" => return Ok(p),
                _ => {}
            }
        }
        let mut overflow6 = None;
        for arg in args {
            let (k, v) = arg
                .split_once(':')
                .ok_or_else(|| format!("invalid PerSourcePenalties item '{arg}'"))?;
            let time = || values::duration(v);
            let mode = || match v {
                "deny-all" => Ok(true),
                "permissive" => Ok(false),
                _ => Err(format!("invalid PerSourcePenalties overflow mode '{v}'")),
            };
            match k {
                "crash" => p.crash = time()?,
                "authfail" => p.authfail = time()?,
                "invaliduser" => p.invaliduser = time()?,
                "refuseconnection" => p.refuseconnection = time()?,
                "noauth" => p.noauth = time()?,
                "grace-exceeded" => p.grace_exceeded = time()?,
                "max" => p.max = time()?,
                "min" => p.min = time()?,
                "max-sources4" => p.max_sources4 = values::int(v)?,
                "max-sources6" => p.max_sources6 = values::int(v)?,
                "overflow" => p.overflow_deny_all = mode()?,
                "overflow6" => overflow6 = Some(mode()?),
                _ => return Err(format!("unknown PerSourcePenalties keyword '{k}'")),
            }
        }
        p.overflow6_deny_all = overflow6.unwrap_or(p.overflow_deny_all);
        Ok(p)
    }

    /// What `sshd -T` prints.
    pub(crate) fn dump(&self) -> String {
        if !self.enabled {
            return "no".into();
        }
        let s = |d: Duration| format!("{}s", d.as_secs());
        let mode = |deny: bool| if deny { "deny-all" } else { "permissive" };
        format!(
            "crash:{} authfail:{} noauth:{} grace-exceeded:{} refuseconnection:{} invaliduser:{} max:{} min:{} max-sources4:{} max-sources6:{} overflow:{} overflow6:{}",
            s(self.crash),
            s(self.authfail),
            s(self.noauth),
            s(self.grace_exceeded),
            s(self.refuseconnection),
            s(self.invaliduser),
            s(self.max),
            s(self.min),
            self.max_sources4,
            self.max_sources6,
            mode(self.overflow_deny_all),
            mode(self.overflow6_deny_all),
        )
    }
}

/// `PerSourceNetBlockSize v4[:v6]` (32:128): penalties apply to networks
/// of these prefix lengths.
pub(crate) fn net_block_size(arg: &str) -> Result<(u8, u8), String> {
    let bad = || format!("invalid PerSourceNetBlockSize '{arg}'");
    let (a, b) = match arg.split_once(':') {
        Some((a, b)) => (a, Some(b)),
        None => (arg, None),
    };
    let v4: u8 = a.parse().map_err(|_| bad())?;
    let v6: u8 = match b {
        Some(b) => b.parse().map_err(|_| bad())?,
        None => 128,
    };
    if v4 > 32 || v6 > 128 {
        return Err(bad());
    }
    Ok((v4, v6))
}

/// Whether `addr` is in `PerSourcePenaltyExemptList` (networks and
/// patterns, as `Match Address`).
pub fn penalty_exempt(list: &[String], addr: &IpAddr) -> bool {
    list.iter().any(|l| super::addr_matches(addr, l))
}
