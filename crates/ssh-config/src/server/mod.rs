//! The server configuration, `sshd_config(5)`: parsing
//! ([`ServerConfig::parse`], with Include and `-o` options), resolution
//! globally or for one connection ([`ServerConfig::resolve`]) into
//! [`ServerSettings`].
//!
//! As sshd: the first obtained value of each option wins; in a Match
//! block that applies to the connection, values override the global
//! ones (and the first such block to set an option wins); the list
//! options (Port, ListenAddress, HostKey, HostCertificate, AcceptEnv,
//! Subsystem, Allow/Deny Users/Groups) accumulate, and a list given in
//! matching Match blocks replaces the global list.

mod directive;
mod penalties;
mod settings;

use core::net::IpAddr;
use std::path::{Path, PathBuf};

use ssh_auth::pattern::{ListMatch, cidr_match, match_list, wildcard_match};

use crate::values::name_matches;

use crate::lex::lex;
use crate::{ConfigError, Loader, RekeyLimit, include};
use directive::{Directive, MATCH_ALLOWED, Parsed};
pub use penalties::{PerSourcePenalties, penalty_exempt};
pub use settings::{
    Forwarding, GatewayPorts, MaxStartups, PermitRootLogin, PermitUserEnvironment, ServerSettings,
};

/// The connection a Match block is evaluated against (`sshd -T -C`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionQuery {
    /// The user name the client asked for.
    pub user: String,
    /// Every group of that user (primary and supplementary).
    pub groups: Vec<String>,
    /// The client's address.
    pub address: IpAddr,
    /// The client's host name, if resolved (else the address is used).
    pub host: Option<String>,
    /// The server address the client connected to.
    pub local_address: IpAddr,
    /// The server port the client connected to.
    pub local_port: u16,
}

/// One criterion of a server `Match` line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Criterion {
    All,
    User(String),
    Group(String),
    Host(String),
    Address(String),
    LocalAddress(String),
    LocalPort(u16),
}

/// One element of a parsed file.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// An option line, active when every listed Match block applies
    /// (no block: a global line).
    Directive { conds: Vec<usize>, dir: Directive },
}

/// A parsed sshd configuration (with its Includes and `-o` options).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerConfig {
    items: Vec<Item>,
    blocks: Vec<Vec<(bool, Criterion)>>,
    warnings: Vec<String>,
}

/// Where relative Include paths start, as sshd's `SSHDIR`.
const SSHDIR: &str = "/etc/ssh";

fn addr_list_valid(list: &str) -> bool {
    list.split(',').all(|e| {
        let e = e.strip_prefix('!').unwrap_or(e);
        !e.is_empty()
            && (!e.contains('/')
                || cidr_match("0.0.0.0", e).is_some()
                || cidr_match("::", e).is_some())
    })
}

/// sshd's `addr_match_list`: entries (maybe negated) are networks or
/// wildcard patterns matched against the address.
pub(crate) fn addr_matches(addr: &IpAddr, list: &str) -> bool {
    let a = addr.to_string();
    let mut hit = false;
    for entry in list.split(',') {
        let (neg, p) = match entry.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, entry),
        };
        let m = match cidr_match(&a, p) {
            Some(m) => m,
            None => wildcard_match(&a, p),
        };
        if m && neg {
            return false;
        }
        hit |= m;
    }
    hit
}

fn parse_match(args: &[String]) -> Result<Vec<(bool, Criterion)>, String> {
    if args.is_empty() {
        return Err("Match: missing criteria".into());
    }
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(word) = it.next() {
        let (negated, name) = match word.strip_prefix('!') {
            Some(n) => (true, n),
            None => (false, word.as_str()),
        };
        let lower = name.to_ascii_lowercase();
        if lower == "all" {
            if args.len() != 1 {
                return Err("'all' cannot be combined with other Match attributes".into());
            }
            out.push((negated, Criterion::All));
            continue;
        }
        let arg = it
            .next()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| format!("Missing Match criteria for {name}"))?
            .clone();
        let crit = match lower.as_str() {
            "user" => Criterion::User(arg),
            "group" => Criterion::Group(arg),
            "host" => Criterion::Host(arg),
            "address" | "localaddress" => {
                if !addr_list_valid(&arg) {
                    return Err(format!("Match {name}: invalid address list '{arg}'"));
                }
                if lower == "address" {
                    Criterion::Address(arg)
                } else {
                    Criterion::LocalAddress(arg)
                }
            }
            "localport" => Criterion::LocalPort(
                crate::values::port(&arg).map_err(|e| format!("Match {name}: {e}"))?,
            ),
            _ => return Err(format!("Unsupported Match attribute {name}")),
        };
        out.push((negated, crit));
    }
    Ok(out)
}

fn eval(criteria: &[(bool, Criterion)], q: Option<&ConnectionQuery>) -> bool {
    criteria.iter().all(|(negated, c)| {
        let r = match (c, q) {
            (Criterion::All, _) => true,
            (_, None) => return false,
            (Criterion::User(l), Some(q)) => name_matches(&q.user, l),
            (Criterion::Group(l), Some(q)) => {
                let mut any = false;
                for g in &q.groups {
                    match ListMatch::from_case_sensitive(g, l) {
                        ListMatch::Negated => {
                            any = false;
                            break;
                        }
                        ListMatch::Positive => any = true,
                        ListMatch::None => {}
                    }
                }
                any
            }
            (Criterion::Host(l), Some(q)) => {
                let host = q.host.clone().unwrap_or_else(|| q.address.to_string());
                match_list(&host, l) == ListMatch::Positive
            }
            (Criterion::Address(l), Some(q)) => addr_matches(&q.address, l),
            (Criterion::LocalAddress(l), Some(q)) => addr_matches(&q.local_address, l),
            (Criterion::LocalPort(p), Some(q)) => q.local_port == *p,
        };
        r != *negated
    })
}

/// Case-sensitive `match_pattern_list` as a [`ListMatch`].
trait CaseSensitive {
    fn from_case_sensitive(name: &str, list: &str) -> ListMatch;
}

impl CaseSensitive for ListMatch {
    fn from_case_sensitive(name: &str, list: &str) -> ListMatch {
        let mut r = ListMatch::None;
        for entry in list.split(',') {
            match entry.strip_prefix('!') {
                Some(neg) if wildcard_match(name, neg) => return ListMatch::Negated,
                Some(_) => {}
                None if wildcard_match(name, entry) => r = ListMatch::Positive,
                None => {}
            }
        }
        r
    }
}

impl ServerConfig {
    /// Parses the file `origin` whose contents are `text`; Include goes
    /// through `loader`, relative paths relative to `/etc/ssh`.
    pub fn parse(text: &str, origin: &Path, loader: &mut dyn Loader) -> Result<Self, ConfigError> {
        let mut cfg = ServerConfig::default();
        cfg.text(text, origin, loader, 0, &[])?;
        Ok(cfg)
    }

    /// Options known to sshd that this implementation ignores, one message
    /// each.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Adds `-o` options: they come before the file's lines, so they win
    /// (the first obtained value is used). Match and Include are refused.
    pub fn apply_overrides(&mut self, lines: &[String]) -> Result<(), ConfigError> {
        let mut front = ServerConfig::default();
        for (i, text) in lines.iter().enumerate() {
            let file = Path::new("command-line");
            let err = |m: String| ConfigError::new(file, i + 1, m);
            let Some(l) = lex(text).map_err(err)? else {
                continue;
            };
            let kw = l.keyword.to_ascii_lowercase();
            if kw == "match" || kw == "include" {
                return Err(err(format!("{} is not allowed in -o", l.keyword)));
            }
            front.line(&kw, &l, file, i + 1, &[])?;
        }
        let mut items = front.items;
        items.append(&mut self.items);
        self.items = items;
        self.warnings.append(&mut front.warnings);
        Ok(())
    }

    fn text(
        &mut self,
        text: &str,
        file: &Path,
        loader: &mut dyn Loader,
        depth: usize,
        enclosing: &[usize],
    ) -> Result<(), ConfigError> {
        let mut current = enclosing.to_vec();
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let err = |m: String| ConfigError::new(file, n, m);
            let Some(l) = lex(raw).map_err(err)? else {
                continue;
            };
            let kw = l.keyword.to_ascii_lowercase();
            match kw.as_str() {
                "match" => {
                    let crit = parse_match(&l.args).map_err(err)?;
                    let id = self.blocks.len();
                    self.blocks.push(crit);
                    current = enclosing.to_vec();
                    current.push(id);
                }
                "include" => {
                    if l.args.is_empty() {
                        return Err(err("Include: missing argument".into()));
                    }
                    if depth + 1 > include::MAX_DEPTH {
                        return Err(err("Include: nesting too deep".into()));
                    }
                    for arg in &l.args {
                        let files =
                            include::files(arg, Path::new(SSHDIR), None, loader).map_err(err)?;
                        for (path, contents) in files {
                            self.text(&contents, &path, loader, depth + 1, &current)?;
                        }
                    }
                }
                _ => self.line(&kw, &l, file, n, &current)?,
            }
        }
        Ok(())
    }

    fn line(
        &mut self,
        kw: &str,
        l: &crate::lex::Lexed,
        file: &Path,
        n: usize,
        conds: &[usize],
    ) -> Result<(), ConfigError> {
        let err = |m: String| ConfigError::new(file, n, m);
        let parsed = directive::parse(kw, l).map_err(|m| err(format!("{}: {m}", l.keyword)))?;
        if matches!(parsed, Parsed::Unknown) {
            return Err(err(format!("Bad configuration option: {}", l.keyword)));
        }
        if !conds.is_empty() && !MATCH_ALLOWED.contains(&kw) {
            return Err(err(format!(
                "Directive '{}' is not allowed within a Match block",
                l.keyword
            )));
        }
        match parsed {
            Parsed::Directive(dir) => {
                if let Directive::Subsystem(name, _) = &dir {
                    let dup = self.items.iter().any(|Item::Directive { dir: d, .. }| {
                        matches!(d, Directive::Subsystem(other, _) if other == name)
                    });
                    if dup {
                        return Err(err(format!("Subsystem '{name}' already defined")));
                    }
                }
                self.items.push(Item::Directive {
                    conds: conds.to_vec(),
                    dir,
                });
            }
            Parsed::Unsupported => self.warnings.push(format!(
                "{} line {n}: unsupported option \"{kw}\" ignored",
                file.display()
            )),
            Parsed::Nothing | Parsed::Unknown => {}
        }
        Ok(())
    }

    /// The settings globally (`None`, as `sshd -T`: only `Match All`
    /// blocks apply) or for one connection (as `sshd -T -C ...`).
    pub fn resolve(&self, query: Option<&ConnectionQuery>) -> ServerSettings {
        let active: Vec<bool> = self.blocks.iter().map(|b| eval(b, query)).collect();
        let mut global = Acc::default();
        let mut matched = Acc::default();
        for Item::Directive { conds, dir } in &self.items {
            if conds.is_empty() {
                global.apply(dir);
            } else if conds.iter().all(|c| active.get(*c) == Some(&true)) {
                matched.apply(dir);
            }
        }
        let mut s = ServerSettings::default();
        global.write(&mut s);
        matched.write(&mut s);
        if s.host_keys.is_empty() {
            s.host_keys = ["rsa", "ecdsa", "ed25519"]
                .iter()
                .map(|k| PathBuf::from(format!("{SSHDIR}/ssh_host_{k}_key")))
                .collect();
        }
        if s.disable_forwarding {
            s.allow_tcp_forwarding = Forwarding::No;
            s.allow_stream_local_forwarding = Forwarding::No;
            s.allow_agent_forwarding = false;
            s.x11_forwarding = false;
        }
        s
    }
}

/// First values and accumulated lists of one scope (global or Match).
#[derive(Default)]
struct Acc {
    first: Vec<Directive>,
    rekey_bytes: Option<u64>,
    rekey_time: Option<Option<std::time::Duration>>,
    ports: Vec<u16>,
    listen: Vec<(String, Option<u16>)>,
    host_keys: Vec<PathBuf>,
    host_certs: Vec<PathBuf>,
    accept_env: Vec<String>,
    subsystems: Vec<(String, String)>,
    allow_users: Vec<String>,
    deny_users: Vec<String>,
    allow_groups: Vec<String>,
    deny_groups: Vec<String>,
}

fn same_option(a: &Directive, b: &Directive) -> bool {
    match (a, b) {
        (Directive::Algorithms(x, _), Directive::Algorithms(y, _)) => x == y,
        _ => std::mem::discriminant(a) == std::mem::discriminant(b),
    }
}

fn replace_if_set<T: Clone>(dst: &mut Vec<T>, src: &[T]) {
    if !src.is_empty() {
        *dst = src.to_vec();
    }
}

impl Acc {
    fn apply(&mut self, dir: &Directive) {
        use Directive as D;
        match dir {
            D::Port(p) => self.ports.push(*p),
            D::ListenAddress(h, p) => self.listen.push((h.clone(), *p)),
            D::HostKey(k) => self.host_keys.push(PathBuf::from(k)),
            D::HostCertificate(k) => self.host_certs.push(PathBuf::from(k)),
            D::AcceptEnv(v) => self.accept_env.extend(v.iter().cloned()),
            D::Subsystem(n, c) => self.subsystems.push((n.clone(), c.clone())),
            D::AllowUsers(v) => self.allow_users.extend(v.iter().cloned()),
            D::DenyUsers(v) => self.deny_users.extend(v.iter().cloned()),
            D::AllowGroups(v) => self.allow_groups.extend(v.iter().cloned()),
            D::DenyGroups(v) => self.deny_groups.extend(v.iter().cloned()),
            D::RekeyLimit(b, t) => {
                if self.rekey_bytes.is_none() {
                    self.rekey_bytes = *b;
                }
                if self.rekey_time.is_none() {
                    self.rekey_time = *t;
                }
            }
            d => {
                if !self.first.iter().any(|g| same_option(g, d)) {
                    self.first.push(d.clone());
                }
            }
        }
    }

    /// Writes what this scope set over `s`.
    fn write(&self, s: &mut ServerSettings) {
        use Directive as D;
        replace_if_set(&mut s.ports, &self.ports);
        replace_if_set(&mut s.listen_addresses, &self.listen);
        replace_if_set(&mut s.host_keys, &self.host_keys);
        replace_if_set(&mut s.host_certificates, &self.host_certs);
        replace_if_set(&mut s.accept_env, &self.accept_env);
        replace_if_set(&mut s.subsystems, &self.subsystems);
        replace_if_set(&mut s.allow_users, &self.allow_users);
        replace_if_set(&mut s.deny_users, &self.deny_users);
        replace_if_set(&mut s.allow_groups, &self.allow_groups);
        replace_if_set(&mut s.deny_groups, &self.deny_groups);
        if let Some(b) = self.rekey_bytes {
            s.rekey_limit = RekeyLimit {
                bytes: (b != 0).then_some(b),
                ..s.rekey_limit
            };
        }
        if let Some(t) = self.rekey_time {
            s.rekey_limit.time = t;
        }
        for d in &self.first {
            match d {
                D::AddressFamily(v) => s.address_family = v.clone(),
                D::PermitRootLogin(v) => s.permit_root_login = *v,
                D::PubkeyAuthentication(b) => s.pubkey_authentication = *b,
                D::PasswordAuthentication(b) => s.password_authentication = *b,
                D::KbdInteractiveAuthentication(b) => s.kbd_interactive_authentication = *b,
                D::PermitEmptyPasswords(b) => s.permit_empty_passwords = *b,
                D::UsePam(b) => s.use_pam = *b,
                D::AuthenticationMethods(v) => s.authentication_methods = v.clone(),
                D::AuthorizedKeysFile(v) => s.authorized_keys_files = v.clone(),
                D::TrustedUserCaKeys(v) => s.trusted_user_ca_keys = v.as_ref().map(PathBuf::from),
                D::MaxAuthTries(n) => s.max_auth_tries = *n,
                D::LoginGraceTime(t) => s.login_grace_time = *t,
                D::MaxStartups(m) => s.max_startups = *m,
                D::PerSourcePenalties(p) => s.per_source_penalties = p.clone(),
                D::PerSourceNetBlockSize(v4, v6) => s.per_source_net_block_size = (*v4, *v6),
                D::PerSourcePenaltyExemptList(l) => s.per_source_penalty_exempt_list = l.clone(),
                D::MaxSessions(n) => s.max_sessions = *n,
                D::ClientAliveInterval(t) => s.client_alive_interval = *t,
                D::ClientAliveCountMax(n) => s.client_alive_count_max = *n,
                D::PermitTty(b) => s.permit_tty = *b,
                D::RefuseConnection(b) => s.refuse_connection = *b,
                D::PermitUserEnvironment(v) => s.permit_user_environment = v.clone(),
                D::ForceCommand(v) => s.force_command = v.clone(),
                D::ChrootDirectory(v) => s.chroot_directory = v.clone(),
                D::Banner(v) => s.banner = v.as_ref().map(PathBuf::from),
                D::XAuthLocation(v) => s.xauth_location = PathBuf::from(v),
                D::Algorithms(kind, spec) => {
                    let slot = match kind {
                        crate::AlgoKind::Kex => &mut s.kex_algorithms,
                        crate::AlgoKind::Ciphers => &mut s.ciphers,
                        crate::AlgoKind::Macs => &mut s.macs,
                        crate::AlgoKind::HostKey => &mut s.host_key_algorithms,
                        crate::AlgoKind::PubkeyAccepted => &mut s.pubkey_accepted_algorithms,
                        crate::AlgoKind::CaSignature => &mut s.ca_signature_algorithms,
                    };
                    *slot = spec.clone();
                }
                D::Compression(b) => s.compression = *b,
                D::PidFile(v) => s.pid_file = v.as_ref().map(PathBuf::from),
                D::LogLevel(v) => s.log_level = *v,
                D::SyslogFacility(v) => s.syslog_facility = v.clone(),
                D::AllowTcpForwarding(v) => s.allow_tcp_forwarding = *v,
                D::AllowStreamLocalForwarding(v) => s.allow_stream_local_forwarding = *v,
                D::AllowAgentForwarding(b) => s.allow_agent_forwarding = *b,
                D::DisableForwarding(b) => s.disable_forwarding = *b,
                D::PermitOpen(v) => s.permit_open = v.clone(),
                D::PermitListen(v) => s.permit_listen = v.clone(),
                D::GatewayPorts(v) => s.gateway_ports = *v,
                D::X11Forwarding(b) => s.x11_forwarding = *b,
                D::X11DisplayOffset(n) => s.x11_display_offset = *n,
                D::X11UseLocalhost(b) => s.x11_use_localhost = *b,
                D::StreamLocalBindUnlink(b) => s.stream_local_bind_unlink = *b,
                D::PermitTunnel(v) => s.permit_tunnel = v.clone(),
                D::StrictModes(b) => s.strict_modes = *b,
                D::PrintMotd(b) => s.print_motd = *b,
                D::PrintLastLog(b) => s.print_last_log = *b,
                D::TcpKeepAlive(b) => s.tcp_keep_alive = *b,
                // Accumulated above.
                D::Port(_)
                | D::ListenAddress(..)
                | D::HostKey(_)
                | D::HostCertificate(_)
                | D::AcceptEnv(_)
                | D::Subsystem(..)
                | D::AllowUsers(_)
                | D::DenyUsers(_)
                | D::AllowGroups(_)
                | D::DenyGroups(_)
                | D::RekeyLimit(..) => {}
            }
        }
    }
}
