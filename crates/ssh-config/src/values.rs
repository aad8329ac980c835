//! Argument parsers shared by both dialects: flags, times, sizes, numbers,
//! log levels, `RekeyLimit`.

use std::fmt;
use std::time::Duration;

/// `yes`/`true` or `no`/`false`.
/// A case-sensitive comma-separated pattern list with `!` negation
/// (OpenSSH's `match_pattern_list` without lowercasing): true when an
/// entry matches and no negated one does.
pub(crate) fn name_matches(name: &str, list: &str) -> bool {
    let mut hit = false;
    for entry in list.split(',') {
        match entry.strip_prefix('!') {
            Some(neg) if ssh_auth::pattern::wildcard_match(name, neg) => return false,
            Some(_) => {}
            None => hit |= ssh_auth::pattern::wildcard_match(name, entry),
        }
    }
    hit
}

pub(crate) fn flag(arg: &str) -> Result<bool, String> {
    match arg.to_ascii_lowercase().as_str() {
        "yes" | "true" => Ok(true),
        "no" | "false" => Ok(false),
        _ => Err(format!("Bad yes/no argument: {arg}")),
    }
}

/// OpenSSH's `convtime`: `90`, `10m`, `1h30m`; units s, m, h, d, w (either
/// case), none meaning seconds.
pub(crate) fn seconds(arg: &str) -> Result<u64, String> {
    let bad = || format!("invalid time value '{arg}'");
    if arg.is_empty() {
        return Err(bad());
    }
    let mut total: u64 = 0;
    let mut rest = arg;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(bad());
        }
        let (num, after) = rest.split_at(digits);
        let n: u64 = num.parse().map_err(|_| bad())?;
        let mut chars = after.chars();
        let (mult, after) = match chars.next() {
            None => (1, after),
            Some(c) => {
                let m = match c.to_ascii_lowercase() {
                    's' => 1,
                    'm' => 60,
                    'h' => 3600,
                    'd' => 86400,
                    'w' => 604_800,
                    _ => return Err(bad()),
                };
                (m, chars.as_str())
            }
        };
        total = n
            .checked_mul(mult)
            .and_then(|v| total.checked_add(v))
            .filter(|v| *v <= i32::MAX as u64)
            .ok_or_else(bad)?;
        rest = after;
    }
    Ok(total)
}

/// A duration via [`seconds`].
pub(crate) fn duration(arg: &str) -> Result<Duration, String> {
    seconds(arg).map(Duration::from_secs)
}

/// OpenSSH's `scan_scaled` for whole numbers: `512`, `64K`, `1G` (powers
/// of 1024; suffixes B K M G T, either case).
pub(crate) fn size(arg: &str) -> Result<u64, String> {
    let bad = || format!("Bad number '{arg}'");
    let digits = arg.find(|c: char| !c.is_ascii_digit()).unwrap_or(arg.len());
    let (num, suffix) = arg.split_at(digits);
    if num.is_empty() {
        return Err(bad());
    }
    let n: u64 = num.parse().map_err(|_| bad())?;
    let shift = match suffix.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => return Err(bad()),
    };
    n.checked_mul(1u64 << shift).ok_or_else(bad)
}

/// A non-negative decimal integer that fits `u32`.
pub(crate) fn int(arg: &str) -> Result<u32, String> {
    if arg.is_empty() || !arg.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("Bad number '{arg}'"));
    }
    arg.parse().map_err(|_| format!("Bad number '{arg}'"))
}

/// A port, `0` included (callers that forbid it check).
pub(crate) fn port(arg: &str) -> Result<u16, String> {
    if arg.is_empty() || !arg.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("Badly formatted port number '{arg}'"));
    }
    arg.parse()
        .map_err(|_| format!("Badly formatted port number '{arg}'"))
}

/// `LogLevel`, as both programs spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum LogLevel {
    /// Nothing.
    Quiet,
    /// Fatal errors only.
    Fatal,
    /// Errors.
    Error,
    /// The default.
    Info,
    /// More than INFO.
    Verbose,
    /// Same as DEBUG1.
    Debug,
    /// Debugging, level 1.
    Debug1,
    /// Debugging, level 2.
    Debug2,
    /// Debugging, level 3.
    Debug3,
}

impl LogLevel {
    /// Parses a level name (case-insensitive).
    pub fn parse(arg: &str) -> Result<Self, String> {
        Ok(match arg.to_ascii_uppercase().as_str() {
            "QUIET" => Self::Quiet,
            "FATAL" => Self::Fatal,
            "ERROR" => Self::Error,
            "INFO" => Self::Info,
            "VERBOSE" => Self::Verbose,
            "DEBUG" => Self::Debug,
            "DEBUG1" => Self::Debug1,
            "DEBUG2" => Self::Debug2,
            "DEBUG3" => Self::Debug3,
            _ => return Err(format!("unsupported log level '{arg}'")),
        })
    }

    /// The name as OpenSSH prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Quiet => "QUIET",
            Self::Fatal => "FATAL",
            Self::Error => "ERROR",
            Self::Info => "INFO",
            Self::Verbose => "VERBOSE",
            Self::Debug => "DEBUG",
            Self::Debug1 => "DEBUG1",
            Self::Debug2 => "DEBUG2",
            Self::Debug3 => "DEBUG3",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `RekeyLimit bytes [time]`: `None` bytes = the cipher's default volume,
/// `None` time = no time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RekeyLimit {
    /// Bytes before re-keying (`default`: depends on the cipher).
    pub bytes: Option<u64>,
    /// Time before re-keying (`none`: never by time).
    pub time: Option<Duration>,
}

impl RekeyLimit {
    /// The `sshd -T`/`ssh -G` form: `rekeylimit 0 0` for the defaults.
    pub(crate) fn dump(&self) -> String {
        format!(
            "{} {}",
            self.bytes.unwrap_or(0),
            self.time.map_or(0, |t| t.as_secs())
        )
    }
}

/// Parses the arguments of `RekeyLimit`: the volume (`default` or a size
/// of at least 16 bytes) and optionally the time (`none` or a time).
/// Returns each part, `Some` if given.
pub(crate) fn rekey_limit(
    args: &[String],
) -> Result<(Option<u64>, Option<Option<Duration>>), String> {
    let (vol, time) = match args {
        [v] => (v, None),
        [v, t] => (v, Some(t)),
        [] => return Err("missing argument".into()),
        _ => return Err("too many arguments".into()),
    };
    let bytes = if vol.eq_ignore_ascii_case("default") {
        0
    } else {
        let n = size(vol)?;
        if n != 0 && n < 16 {
            return Err(format!("RekeyLimit too small: {vol}"));
        }
        n
    };
    let time = match time {
        None => None,
        Some(t) if t.eq_ignore_ascii_case("none") => Some(None),
        Some(t) => {
            let s = seconds(t)?;
            Some((s != 0).then(|| Duration::from_secs(s)))
        }
    };
    Ok((Some(bytes), time))
}

/// Lines of `keyword value` (the `ssh -G` and `sshd -T` forms).
#[derive(Default)]
pub(crate) struct Out(pub(crate) String);

impl Out {
    pub(crate) fn line(&mut self, k: &str, v: &str) {
        use std::fmt::Write as _;
        let _ = writeln!(self.0, "{k} {v}");
    }
}

/// Expects exactly one argument.
pub(crate) fn one(args: &[String]) -> Result<&str, String> {
    match args {
        [a] => Ok(a),
        [] => Err("missing argument".into()),
        _ => Err("garbage at end of line".into()),
    }
}

/// Expects at least one argument.
pub(crate) fn some(args: &[String]) -> Result<&[String], String> {
    if args.is_empty() {
        Err("missing argument".into())
    } else {
        Ok(args)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn times_sizes_flags() {
        assert_eq!(seconds("90").unwrap(), 90);
        assert_eq!(seconds("1h30m").unwrap(), 5400);
        assert_eq!(seconds("2W").unwrap(), 1_209_600);
        assert!(seconds("").is_err());
        assert!(seconds("5x").is_err());
        assert!(seconds("m").is_err());
        assert_eq!(size("1G").unwrap(), 1 << 30);
        assert_eq!(size("64k").unwrap(), 65536);
        assert!(size("1Q").is_err());
        assert!(flag("maybe").is_err());
        assert!(flag("TRUE").unwrap());
        assert!(!flag("no").unwrap());
        assert_eq!(
            rekey_limit(&["1G".into(), "1h".into()]).unwrap(),
            (Some(1 << 30), Some(Some(Duration::from_secs(3600))))
        );
        assert_eq!(
            rekey_limit(&["default".into(), "none".into()]).unwrap(),
            (Some(0), Some(None))
        );
        assert!(rekey_limit(&["8".into()]).is_err());
        assert_eq!(port("0").unwrap(), 0);
        assert!(port("65536").is_err());
        assert!(port("-1").is_err());
    }
}
