//! `authorized_keys` files (`sshd(8)` AUTHORIZED_KEYS FILE FORMAT): one key
//! a line, optionally preceded by comma-separated options. Options are
//! parsed into [`KeyOptions`], pure data that the connection layer
//! enforces (which commands, which forwardings, which environment).
//!
//! Bad lines are skipped and reported with their line number, as sshd
//! skips them.

use ssh_keys::{PublicKey, VerifyPolicy};

use crate::cert::{CertError, Certificate, CertificateExt};
use crate::pattern::{ListMatch, match_host_and_address};

/// The longest line accepted (sshd: 8 KiB for keys, more for RSA 16k).
const MAX_LINE: usize = 16 * 1024;

/// An `expiry-time="YYYYMMDD[HHMM[SS]][Z]"` value, kept as written: sshd
/// reads it in the server's local time zone unless it ends in `Z`; this
/// crate has no clock and no time zone, so the caller compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ExpiryTime {
    /// Year (four digits).
    pub year: u16,
    /// Month 1-12.
    pub month: u8,
    /// Day 1-31.
    pub day: u8,
    /// Hour 0-23.
    pub hour: u8,
    /// Minute 0-59.
    pub minute: u8,
    /// Second 0-59.
    pub second: u8,
    /// True if written with a `Z` suffix (UTC).
    pub utc: bool,
}

impl ExpiryTime {
    fn parse(s: &str) -> Result<Self, String> {
        let (digits, utc) = match s.strip_suffix(['Z', 'z']) {
            Some(d) => (d, true),
            None => (s, false),
        };
        if !digits.bytes().all(|b| b.is_ascii_digit()) || ![8, 12, 14].contains(&digits.len()) {
            return Err("expiry-time is not YYYYMMDD[HHMM[SS]][Z]".into());
        }
        let num = |from: usize, len: usize| -> u16 {
            digits
                .get(from..from + len)
                .and_then(|d| d.parse().ok())
                .unwrap_or(0)
        };
        let t = Self {
            year: num(0, 4),
            month: u8::try_from(num(4, 2)).unwrap_or(0),
            day: u8::try_from(num(6, 2)).unwrap_or(0),
            hour: u8::try_from(num(8, 2)).unwrap_or(0),
            minute: u8::try_from(num(10, 2)).unwrap_or(0),
            second: u8::try_from(num(12, 2)).unwrap_or(0),
            utc,
        };
        if !(1..=12).contains(&t.month)
            || !(1..=31).contains(&t.day)
            || t.hour > 23
            || t.minute > 59
            || t.second > 59
        {
            return Err("expiry-time out of range".into());
        }
        Ok(t)
    }

    /// Seconds since the Unix epoch, reading the time as UTC (add the
    /// local offset for times written without `Z`, as sshd would).
    pub fn unix_seconds_utc(&self) -> i64 {
        // Days from civil (Howard Hinnant's algorithm).
        let (y, m, d) = (
            i64::from(self.year),
            i64::from(self.month),
            i64::from(self.day),
        );
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }

    /// True if the key has expired at `now_unix` (seconds since the
    /// epoch, UTC), with `utc_offset_seconds` the server's local offset
    /// for times written without `Z`.
    pub fn is_expired(&self, now_unix: i64, utc_offset_seconds: i64) -> bool {
        let at = if self.utc {
            self.unix_seconds_utc()
        } else {
            self.unix_seconds_utc() - utc_offset_seconds
        };
        now_unix >= at
    }
}

/// The options of one `authorized_keys` line. The default (no options)
/// permits everything.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyOptions {
    /// `command="..."`: the only command this key may run.
    pub command: Option<String>,
    /// `from="pattern-list"`: client host names or addresses allowed.
    pub from: Option<String>,
    /// PTY allocation allowed (`no-pty` / `pty`).
    pub pty: bool,
    /// TCP forwarding allowed (`no-port-forwarding` / `port-forwarding`).
    pub port_forwarding: bool,
    /// Agent forwarding allowed.
    pub agent_forwarding: bool,
    /// X11 forwarding allowed.
    pub x11_forwarding: bool,
    /// `~/.ssh/rc` executed.
    pub user_rc: bool,
    /// `permitopen="host:port"`, repeated: the only local forwarding
    /// destinations allowed (empty: no restriction).
    pub permit_open: Vec<String>,
    /// `permitlisten="[host:]port"`, repeated: the only remote forwarding
    /// listens allowed (empty: no restriction).
    pub permit_listen: Vec<String>,
    /// `environment="NAME=value"`, repeated (sshd applies them only with
    /// `PermitUserEnvironment`).
    pub environment: Vec<(String, String)>,
    /// `expiry-time="..."`.
    pub expiry_time: Option<ExpiryTime>,
    /// `principals="..."`: with `cert-authority`, the certificate
    /// principals accepted.
    pub principals: Option<String>,
    /// `cert-authority`: the key is a CA for user certificates, not a user
    /// key.
    pub cert_authority: bool,
    /// `tunnel="n"`: the only tun device allowed.
    pub tunnel: Option<u32>,
    /// `no-touch-required` (security keys).
    pub no_touch_required: bool,
    /// `verify-required` (security keys).
    pub verify_required: bool,
}

impl Default for KeyOptions {
    fn default() -> Self {
        Self {
            command: None,
            from: None,
            pty: true,
            port_forwarding: true,
            agent_forwarding: true,
            x11_forwarding: true,
            user_rc: true,
            permit_open: Vec::new(),
            permit_listen: Vec::new(),
            environment: Vec::new(),
            expiry_time: None,
            principals: None,
            cert_authority: false,
            tunnel: None,
            no_touch_required: false,
            verify_required: false,
        }
    }
}

impl KeyOptions {
    /// Checks the `from=` option against the client's host name (if
    /// resolved) and address: wildcard patterns, CIDR networks
    /// (`10.0.0.0/8`) and negations, as sshd. No `from=` allows every
    /// client.
    pub fn allows_from(&self, host_name: Option<&str>, address: &str) -> bool {
        let Some(list) = &self.from else {
            return true;
        };
        match_host_and_address(host_name, address, list) == ListMatch::Positive
    }

    /// Parses the option string (everything before the key type).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut o = Self::default();
        let mut rest = text;
        loop {
            let (name, value, tail) = next_option(rest)?;
            o.apply(&name.to_ascii_lowercase(), value)?;
            match tail.strip_prefix(',') {
                Some(t) => rest = t,
                None if tail.is_empty() => return Ok(o),
                None => return Err(format!("unexpected text after option {name}")),
            }
        }
    }

    fn apply(&mut self, name: &str, value: Option<String>) -> Result<(), String> {
        let flag = |v: &Option<String>| -> Result<(), String> {
            match v {
                None => Ok(()),
                Some(_) => Err(format!("option {name} takes no value")),
            }
        };
        let need = |v: Option<String>| v.ok_or_else(|| format!("option {name} needs a value"));
        let once = |present: bool| -> Result<(), String> {
            if present {
                Err(format!("option {name} given twice"))
            } else {
                Ok(())
            }
        };
        match name {
            "restrict" => {
                flag(&value)?;
                self.pty = false;
                self.port_forwarding = false;
                self.agent_forwarding = false;
                self.x11_forwarding = false;
                self.user_rc = false;
            }
            "no-pty" | "pty" => {
                flag(&value)?;
                self.pty = name == "pty";
            }
            "no-port-forwarding" | "port-forwarding" => {
                flag(&value)?;
                self.port_forwarding = name == "port-forwarding";
            }
            "no-agent-forwarding" | "agent-forwarding" => {
                flag(&value)?;
                self.agent_forwarding = name == "agent-forwarding";
            }
            "no-x11-forwarding" | "x11-forwarding" => {
                flag(&value)?;
                self.x11_forwarding = name == "x11-forwarding";
            }
            "no-user-rc" | "user-rc" => {
                flag(&value)?;
                self.user_rc = name == "user-rc";
            }
            "cert-authority" => {
                flag(&value)?;
                self.cert_authority = true;
            }
            "no-touch-required" => {
                flag(&value)?;
                self.no_touch_required = true;
            }
            "verify-required" => {
                flag(&value)?;
                self.verify_required = true;
            }
            "command" => {
                once(self.command.is_some())?;
                self.command = Some(need(value)?);
            }
            "from" => {
                once(self.from.is_some())?;
                self.from = Some(need(value)?);
            }
            "principals" => {
                once(self.principals.is_some())?;
                self.principals = Some(need(value)?);
            }
            "expiry-time" => {
                once(self.expiry_time.is_some())?;
                self.expiry_time = Some(ExpiryTime::parse(&need(value)?)?);
            }
            "tunnel" => {
                once(self.tunnel.is_some())?;
                let v = need(value)?;
                self.tunnel = Some(v.parse().map_err(|_| "tunnel is not a number".to_owned())?);
            }
            "permitopen" => {
                let v = need(value)?;
                check_permit_open(&v)?;
                self.permit_open.push(v);
            }
            "permitlisten" => {
                let v = need(value)?;
                check_permit_listen(&v)?;
                self.permit_listen.push(v);
            }
            "environment" => {
                let v = need(value)?;
                let (k, val) = v
                    .split_once('=')
                    .filter(|(k, _)| {
                        !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    })
                    .ok_or("environment is not NAME=value")?;
                self.environment.push((k.to_owned(), val.to_owned()));
            }
            _ => return Err(format!("unknown option {name}")),
        }
        Ok(())
    }
}

fn valid_port(p: &str, wildcard: bool) -> bool {
    (wildcard && p == "*") || p.parse::<u16>().is_ok_and(|n| n != 0)
}

/// Splits `host:port` where host may be `[v6]`.
fn split_host_port(s: &str) -> Option<(&str, &str)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, tail) = rest.split_once(']')?;
        Some((host, tail.strip_prefix(':')?))
    } else {
        s.rsplit_once(':')
    }
}

fn check_permit_open(v: &str) -> Result<(), String> {
    match split_host_port(v) {
        Some((host, port)) if !host.is_empty() && valid_port(port, true) => Ok(()),
        _ => Err(format!("permitopen {v:?} is not host:port")),
    }
}

fn check_permit_listen(v: &str) -> Result<(), String> {
    let port = match split_host_port(v) {
        Some((_, port)) => port,
        None => v,
    };
    if valid_port(port, true) {
        Ok(())
    } else {
        Err(format!("permitlisten {v:?} is not [host:]port"))
    }
}

/// Reads `name` or `name="value"` from the front of `s`; returns the
/// rest. In quoted values `\"` stands for `"`; other backslashes are
/// kept, as sshd does.
fn next_option(s: &str) -> Result<(&str, Option<String>, &str), String> {
    let end = s
        .find(|c: char| c == '=' || c == ',' || c.is_ascii_whitespace())
        .unwrap_or(s.len());
    let (name, rest) = s.split_at(end);
    if name.is_empty() {
        return Err("empty option".into());
    }
    let Some(rest) = rest.strip_prefix('=') else {
        return Ok((name, None, rest));
    };
    let mut chars = rest
        .strip_prefix('"')
        .ok_or_else(|| format!("value of {name} is not quoted"))?
        .char_indices();
    let body_start = 1;
    let mut value = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                let tail = rest.get(body_start + i + 1..).unwrap_or_default();
                return Ok((name, Some(value), tail));
            }
            '\\' if chars.as_str().starts_with('"') => {
                chars.next();
                value.push('"');
            }
            c => value.push(c),
        }
    }
    Err(format!("unterminated quote in option {name}"))
}

/// One key line.
#[derive(Debug, Clone)]
pub struct AuthorizedKey {
    /// 1-based line number.
    pub line: usize,
    /// The options (defaults if none).
    pub options: KeyOptions,
    /// The key.
    pub key: PublicKey,
    /// The comment after the key.
    pub comment: String,
}

/// A parsed `authorized_keys` file.
#[derive(Debug, Clone, Default)]
pub struct AuthorizedKeys {
    keys: Vec<AuthorizedKey>,
    errors: Vec<(usize, String)>,
}

fn parse_line(line: &str, number: usize) -> Result<Option<AuthorizedKey>, String> {
    if line.len() > MAX_LINE {
        return Err("line too long".into());
    }
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    // A line starts with the key type unless it has options.
    if let Ok((key, comment)) = PublicKey::from_openssh(line) {
        return Ok(Some(AuthorizedKey {
            line: number,
            options: KeyOptions::default(),
            key,
            comment: comment.to_owned(),
        }));
    }
    let end = option_field_end(line).ok_or("unterminated quote in options")?;
    let (opts, rest) = line.split_at(end);
    let options = KeyOptions::parse(opts)?;
    let (key, comment) = PublicKey::from_openssh(rest.trim_start()).map_err(|e| e.to_string())?;
    Ok(Some(AuthorizedKey {
        line: number,
        options,
        key,
        comment: comment.to_owned(),
    }))
}

/// The end of the options field: the first whitespace outside quotes.
/// Only `\"` is an escape, as in the option values ([`next_option`]) and
/// sshd's `sshkey_advance_past_options`.
fn option_field_end(line: &str) -> Option<usize> {
    let mut quoted = false;
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if chars.peek().is_some_and(|&(_, n)| n == '"') => {
                chars.next();
            }
            '"' => quoted = !quoted,
            c if c.is_ascii_whitespace() && !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

impl AuthorizedKeys {
    /// Parses the text of an `authorized_keys` file; bad lines are
    /// skipped and listed in [`AuthorizedKeys::errors`].
    pub fn parse(text: &str) -> Self {
        let mut out = Self::default();
        for (i, line) in text.lines().enumerate() {
            match parse_line(line, i + 1) {
                Ok(Some(k)) => out.keys.push(k),
                Ok(None) => {}
                Err(why) => out.errors.push((i + 1, why)),
            }
        }
        out
    }

    /// All keys, in file order.
    pub fn keys(&self) -> &[AuthorizedKey] {
        &self.keys
    }

    /// The skipped lines, with why.
    pub fn errors(&self) -> &[(usize, String)] {
        &self.errors
    }

    /// The first entry for `key` as a user key (not `cert-authority`).
    pub fn find(&self, key: &PublicKey) -> Option<&AuthorizedKey> {
        self.keys
            .iter()
            .find(|k| !k.options.cert_authority && &k.key == key)
    }

    /// Checks a user certificate for `user` at `now` (seconds since the
    /// epoch) against the `cert-authority` lines: the CA must be listed;
    /// with `principals="..."` one of the certificate's principals must be
    /// in that list, otherwise `user` must be among them (sshd's rules).
    /// Returns the matching line, whose options apply. The caller still
    /// checks `from=` and `expiry-time` from its options; the
    /// certificate's `source-address` is checked here against `address`
    /// (the client's), and `force-command` is the caller's to apply.
    pub fn check_certificate(
        &self,
        user: &str,
        cert: &Certificate,
        now: u64,
        policy: &VerifyPolicy,
        address: &str,
    ) -> Result<&AuthorizedKey, CertError> {
        let mut last = CertError::UntrustedCa;
        for entry in self
            .cert_authorities()
            .filter(|e| e.key == cert.signature_key)
        {
            let principal = match &entry.options.principals {
                Some(list) => match cert
                    .principals
                    .iter()
                    .find(|p| list.split(',').any(|a| a.trim() == p.as_str()))
                {
                    Some(p) => p.as_str(),
                    None => {
                        last = CertError::PrincipalNotListed;
                        continue;
                    }
                },
                None => user,
            };
            match cert.validate_user(
                principal,
                now,
                core::slice::from_ref(&entry.key),
                policy,
                address,
            ) {
                Ok(()) => return Ok(entry),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The `cert-authority` entries.
    pub fn cert_authorities(&self) -> impl Iterator<Item = &AuthorizedKey> {
        self.keys.iter().filter(|k| k.options.cert_authority)
    }
}
