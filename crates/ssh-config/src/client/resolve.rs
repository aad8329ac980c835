//! Resolution: the files in order, the first obtained value of each
//! option, the accumulating lists, defaults, then `~` and `%` expansion.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha1::{Digest, Sha1};
use ssh_auth::pattern::wildcard_match;

use super::permit::RemoteOpenPermits;
use super::settings::{
    AddressFamily, ClientSettings, ForwardAgent, RequestTty, StrictHostKeyChecking,
};
use super::{ClientConfig, Condition, Criterion, Directive, Item};
use crate::tokens::{percent_expand, tilde};
use crate::values::{LogLevel, RekeyLimit};
use crate::{AlgoKind, AlgorithmSpec, ConfigError};

/// Who connects where: what `ssh` knows from its command line and the
/// local account before reading any file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientQuery {
    /// The destination as typed (without `user@`).
    pub host: String,
    /// `-l user` or `user@host`.
    pub user: Option<String>,
    /// `-p port`.
    pub port: Option<u16>,
    /// The local user name (`%u`, `Match localuser`, the default User).
    pub local_user: String,
    /// The local user's home directory (`~`, `%d`).
    pub home: PathBuf,
}

/// Facts some `%` tokens need and [`ClientQuery`] does not carry; a token
/// whose fact is missing is an error naming the line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientEnv {
    /// The local host name with its domain (`%l`; `%L` is its first
    /// label; `%C` hashes it).
    pub local_hostname: Option<String>,
    /// The local user id (`%i`).
    pub local_uid: Option<u32>,
}

/// An option value with where it came from.
struct Got<T> {
    value: T,
    file: PathBuf,
    line: usize,
}

/// The accumulating options and the first value of each other one.
#[derive(Default)]
struct Acc {
    first: Vec<Got<Directive>>,
    rekey_bytes: Option<u64>,
    rekey_time: Option<Option<Duration>>,
    identity_files: Vec<Got<String>>,
    certificate_files: Vec<Got<String>>,
    local_forward: Vec<crate::Forward>,
    remote_forward: Vec<crate::Forward>,
    dynamic_forward: Vec<crate::Endpoint>,
    send_env: Vec<String>,
}

/// Two directives that set the same option.
fn same_option(a: &Directive, b: &Directive) -> bool {
    match (a, b) {
        (Directive::Algorithms(x, _), Directive::Algorithms(y, _)) => x == y,
        _ => std::mem::discriminant(a) == std::mem::discriminant(b),
    }
}

impl Acc {
    fn get(&self, pick: impl Fn(&Directive) -> bool) -> Option<&Directive> {
        self.first.iter().map(|g| &g.value).find(|d| pick(d))
    }

    fn user(&self) -> Option<&str> {
        self.get(|d| matches!(d, Directive::User(_)))
            .and_then(|d| match d {
                Directive::User(u) => Some(u.as_str()),
                _ => None,
            })
    }

    fn hostname(&self) -> Option<&str> {
        self.get(|d| matches!(d, Directive::HostName(_)))
            .and_then(|d| match d {
                Directive::HostName(h) => Some(h.as_str()),
                _ => None,
            })
    }

    fn tag(&self) -> Option<&str> {
        self.get(|d| matches!(d, Directive::Tag(_)))
            .and_then(|d| match d {
                Directive::Tag(t) => Some(t.as_str()),
                _ => None,
            })
    }

    fn apply(&mut self, dir: &Directive, file: &Path, line: usize) {
        fn got<T>(value: T, file: &Path, line: usize) -> Got<T> {
            Got {
                value,
                file: file.to_path_buf(),
                line,
            }
        }
        match dir {
            Directive::IdentityFile(f) => self.identity_files.push(got(f.clone(), file, line)),
            Directive::CertificateFile(f) => {
                self.certificate_files.push(got(f.clone(), file, line))
            }
            Directive::LocalForward(f) => self.local_forward.push(f.clone()),
            Directive::RemoteForward(f) => self.remote_forward.push(f.clone()),
            Directive::DynamicForward(e) => self.dynamic_forward.push(e.clone()),
            Directive::SendEnv(pats) => {
                for p in pats {
                    if let Some(rm) = p.strip_prefix('-') {
                        self.send_env.retain(|e| !wildcard_match(e, rm));
                    } else {
                        self.send_env.push(p.clone());
                    }
                }
            }
            Directive::RekeyLimit(bytes, time) => {
                if self.rekey_bytes.is_none() {
                    self.rekey_bytes = *bytes;
                }
                if self.rekey_time.is_none() {
                    self.rekey_time = *time;
                }
            }
            // Whichever of ProxyJump and ProxyCommand comes first wins.
            Directive::ProxyCommand(_)
                if self.get(|d| matches!(d, Directive::ProxyJump(_))).is_some() => {}
            Directive::ProxyJump(_)
                if self
                    .get(|d| matches!(d, Directive::ProxyCommand(_)))
                    .is_some() => {}
            d => {
                if !self.first.iter().any(|g| same_option(&g.value, d)) {
                    self.first.push(got(d.clone(), file, line));
                }
            }
        }
    }
}

/// `match_pattern_list`: a comma-separated list with `!` negation;
/// `lower` lowercases both sides (host names).
fn list_matches(name: &str, list: &str, lower: bool) -> bool {
    if lower {
        return ssh_auth::pattern::match_list(name, list) == ssh_auth::pattern::ListMatch::Positive;
    }
    crate::values::name_matches(name, list)
}

/// What conditions are evaluated against, at the point of a block.
struct MatchContext<'a> {
    query: &'a ClientQuery,
    acc: &'a Acc,
}

impl MatchContext<'_> {
    fn original_host(&self) -> String {
        self.query.host.to_ascii_lowercase()
    }

    /// `HostName` (with `%h`) if set so far, else the destination.
    fn current_host(&self) -> String {
        match self.acc.hostname() {
            Some(h) => expand_hostname(h, &self.original_host()).unwrap_or_else(|_| h.to_string()),
            None => self.original_host(),
        }
    }

    fn remote_user(&self) -> String {
        self.acc
            .user()
            .map(str::to_string)
            .unwrap_or_else(|| self.query.local_user.clone())
    }

    fn eval(&self, cond: &Condition) -> bool {
        match cond {
            // Case-sensitive, against the destination as typed (as
            // OpenSSH 9.2 does: `Host web` does not match `ssh Web`).
            Condition::Host(patterns) => {
                let host = &self.query.host;
                let mut hit = false;
                for p in patterns {
                    match p.strip_prefix('!') {
                        Some(neg) if wildcard_match(host, neg) => return false,
                        Some(_) => {}
                        None => hit |= wildcard_match(host, p),
                    }
                }
                hit
            }
            Condition::Match(criteria) => criteria.iter().all(|(negated, c)| {
                let r = match c {
                    Criterion::Always => true,
                    Criterion::Host(l) => list_matches(&self.current_host(), l, true),
                    Criterion::OriginalHost(l) => list_matches(&self.original_host(), l, true),
                    Criterion::User(l) => list_matches(&self.remote_user(), l, false),
                    Criterion::LocalUser(l) => list_matches(&self.query.local_user, l, false),
                    Criterion::Tagged(l) => list_matches(self.acc.tag().unwrap_or(""), l, false),
                };
                r != *negated
            }),
        }
    }
}

fn expand_hostname(h: &str, original: &str) -> Result<String, String> {
    percent_expand(h, &|t| (t == 'h').then(|| original.to_string()))
}

/// [`resolve_with_env`] without the local host name and uid (`%l`, `%L`,
/// `%C`, `%i` are errors).
pub fn resolve(
    configs: &[ClientConfig],
    overrides: &[String],
    query: &ClientQuery,
) -> Result<ClientSettings, ConfigError> {
    resolve_with_env(configs, overrides, query, &ClientEnv::default())
}

/// The settings for one destination: `query`'s user and port, then the
/// `-o` `overrides`, then `configs` in order (the user's file first, then
/// the system's); the first obtained value of each option wins, the list
/// options accumulate.
pub fn resolve_with_env(
    configs: &[ClientConfig],
    overrides: &[String],
    query: &ClientQuery,
    env: &ClientEnv,
) -> Result<ClientSettings, ConfigError> {
    let mut acc = Acc::default();
    let cli = PathBuf::from("command-line");
    if let Some(u) = &query.user {
        acc.apply(&Directive::User(u.clone()), &cli, 0);
    }
    if let Some(p) = query.port {
        acc.apply(&Directive::Port(p), &cli, 0);
    }
    let overrides = ClientConfig::parse_overrides(overrides)?;
    for cfg in std::iter::once(&overrides).chain(configs) {
        let mut active = vec![false; cfg.blocks.len()];
        for item in &cfg.items {
            match item {
                Item::Block(id) => {
                    let cond = cfg.blocks.get(*id);
                    let ctx = MatchContext { query, acc: &acc };
                    let r = cond.is_some_and(|c| ctx.eval(c));
                    if let Some(slot) = active.get_mut(*id) {
                        *slot = r;
                    }
                }
                Item::Directive {
                    conds,
                    dir,
                    file,
                    line,
                } => {
                    if conds.iter().all(|c| active.get(*c) == Some(&true)) {
                        // OpenSSH 10.1: an active RefuseConnection ends
                        // the run with its message.
                        if let Directive::RefuseConnection(why) = dir {
                            return Err(ConfigError::new(
                                file.clone(),
                                *line,
                                format!("RefuseConnection: {why}"),
                            ));
                        }
                        acc.apply(dir, file, *line);
                    }
                }
            }
        }
    }
    finish(acc, query, env)
}

/// Defaults and expansion.
fn finish(acc: Acc, query: &ClientQuery, env: &ClientEnv) -> Result<ClientSettings, ConfigError> {
    let home = &query.home;
    let original = query.host.clone();
    let mut s = ClientSettings {
        host: original.clone(),
        hostname: original.to_ascii_lowercase(),
        port: 22,
        user: query.local_user.clone(),
        identity_files: Vec::new(),
        identity_files_are_default: false,
        identities_only: false,
        identity_agent: None,
        certificate_files: Vec::new(),
        user_known_hosts_files: vec![
            home.join(".ssh/known_hosts"),
            home.join(".ssh/known_hosts2"),
        ],
        global_known_hosts_files: vec![
            PathBuf::from("/etc/ssh/ssh_known_hosts"),
            PathBuf::from("/etc/ssh/ssh_known_hosts2"),
        ],
        strict_host_key_checking: StrictHostKeyChecking::Ask,
        hash_known_hosts: false,
        batch_mode: false,
        warn_weak_crypto: true,
        preferred_authentications: ["publickey", "keyboard-interactive", "password"]
            .map(String::from)
            .to_vec(),
        pubkey_authentication: true,
        password_authentication: true,
        kbd_interactive_authentication: true,
        number_of_password_prompts: 3,
        kex_algorithms: AlgorithmSpec::default(),
        ciphers: AlgorithmSpec::default(),
        macs: AlgorithmSpec::default(),
        host_key_algorithms: AlgorithmSpec::default(),
        pubkey_accepted_algorithms: AlgorithmSpec::default(),
        ca_signature_algorithms: AlgorithmSpec::default(),
        compression: false,
        connect_timeout: None,
        server_alive_interval: Duration::ZERO,
        server_alive_count_max: 3,
        rekey_limit: RekeyLimit {
            bytes: acc.rekey_bytes.filter(|b| *b != 0),
            time: acc.rekey_time.flatten(),
        },
        send_env: acc.send_env.clone(),
        set_env: Vec::new(),
        request_tty: RequestTty::Auto,
        log_level: LogLevel::Info,
        xauth_location: PathBuf::from("/usr/bin/xauth"),
        local_forward: acc.local_forward.clone(),
        remote_forward: acc.remote_forward.clone(),
        dynamic_forward: acc.dynamic_forward.clone(),
        gateway_ports: false,
        exit_on_forward_failure: false,
        stream_local_bind_unlink: false,
        permit_remote_open: RemoteOpenPermits::Any,
        clear_all_forwardings: false,
        forward_agent: ForwardAgent::No,
        forward_x11: false,
        forward_x11_trusted: false,
        forward_x11_timeout: Duration::from_secs(20 * 60),
        proxy_jump: None,
        proxy_command: None,
        address_family: AddressFamily::Any,
        escape_char: Some(b'~'),
        tcp_keep_alive: true,
        host_key_alias: None,
        check_host_ip: false,
        connection_attempts: 1,
        remote_command: None,
        bind_address: None,
        tag: None,
    };
    // Raw values needing expansion once host, port and user are known.
    let mut hostname_raw: Option<&Got<Directive>> = None;
    let mut agent_raw: Option<&Got<Directive>> = None;
    let mut ukh_raw: Option<&Got<Directive>> = None;
    let mut gkh_raw: Option<&Got<Directive>> = None;
    let mut proxy_raw: Option<&Got<Directive>> = None;
    let mut remote_raw: Option<&Got<Directive>> = None;
    for g in &acc.first {
        use Directive as D;
        match &g.value {
            D::HostName(_) => hostname_raw = Some(g),
            D::Port(p) => s.port = *p,
            D::User(u) => s.user = u.clone(),
            D::IdentitiesOnly(b) => s.identities_only = *b,
            D::IdentityAgent(_) => agent_raw = Some(g),
            D::UserKnownHostsFile(_) => ukh_raw = Some(g),
            D::GlobalKnownHostsFile(_) => gkh_raw = Some(g),
            D::StrictHostKeyChecking(v) => s.strict_host_key_checking = *v,
            D::HashKnownHosts(b) => s.hash_known_hosts = *b,
            D::BatchMode(b) => s.batch_mode = *b,
            D::WarnWeakCrypto(b) => s.warn_weak_crypto = *b,
            // Never applied: resolving stops at it (above).
            D::RefuseConnection(_) => {}
            D::PreferredAuthentications(v) => s.preferred_authentications = v.clone(),
            D::PubkeyAuthentication(b) => s.pubkey_authentication = *b,
            D::PasswordAuthentication(b) => s.password_authentication = *b,
            D::KbdInteractiveAuthentication(b) => s.kbd_interactive_authentication = *b,
            D::NumberOfPasswordPrompts(n) => s.number_of_password_prompts = *n,
            D::Algorithms(kind, spec) => {
                let slot = match kind {
                    AlgoKind::Kex => &mut s.kex_algorithms,
                    AlgoKind::Ciphers => &mut s.ciphers,
                    AlgoKind::Macs => &mut s.macs,
                    AlgoKind::HostKey => &mut s.host_key_algorithms,
                    AlgoKind::PubkeyAccepted => &mut s.pubkey_accepted_algorithms,
                    AlgoKind::CaSignature => &mut s.ca_signature_algorithms,
                };
                *slot = spec.clone();
            }
            D::Compression(b) => s.compression = *b,
            D::ConnectTimeout(t) => s.connect_timeout = *t,
            D::ServerAliveInterval(t) => s.server_alive_interval = *t,
            D::ServerAliveCountMax(n) => s.server_alive_count_max = *n,
            D::SetEnv(v) => s.set_env = v.clone(),
            D::RequestTty(v) => s.request_tty = *v,
            D::LogLevel(v) => s.log_level = *v,
            D::XAuthLocation(v) => s.xauth_location = PathBuf::from(v),
            D::GatewayPorts(b) => s.gateway_ports = *b,
            D::ExitOnForwardFailure(b) => s.exit_on_forward_failure = *b,
            D::StreamLocalBindUnlink(b) => s.stream_local_bind_unlink = *b,
            D::PermitRemoteOpen(p) => s.permit_remote_open = p.clone(),
            D::ClearAllForwardings(b) => s.clear_all_forwardings = *b,
            D::ForwardAgent(v) => s.forward_agent = v.clone(),
            D::ForwardX11(b) => s.forward_x11 = *b,
            D::ForwardX11Trusted(b) => s.forward_x11_trusted = *b,
            D::ForwardX11Timeout(d) => s.forward_x11_timeout = *d,
            D::ProxyJump(j) => s.proxy_jump = (j != "none").then(|| j.clone()),
            D::ProxyCommand(_) => proxy_raw = Some(g),
            D::AddressFamily(v) => s.address_family = *v,
            D::EscapeChar(v) => s.escape_char = *v,
            D::TcpKeepAlive(b) => s.tcp_keep_alive = *b,
            D::HostKeyAlias(a) => s.host_key_alias = Some(a.clone()),
            D::CheckHostIp(b) => s.check_host_ip = *b,
            D::ConnectionAttempts(n) => s.connection_attempts = *n,
            D::RemoteCommand(_) => remote_raw = Some(g),
            D::BindAddress(a) => s.bind_address = Some(a.clone()),
            D::Tag(t) => s.tag = Some(t.clone()),
            // Accumulated or split above, never in `first`.
            D::IdentityFile(_)
            | D::CertificateFile(_)
            | D::RekeyLimit(..)
            | D::SendEnv(_)
            | D::LocalForward(_)
            | D::RemoteForward(_)
            | D::DynamicForward(_) => {}
        }
    }
    let at = |g: &Got<Directive>, m: String| ConfigError::new(&g.file, g.line, m);
    if let Some(g) = hostname_raw
        && let Directive::HostName(h) = &g.value
    {
        s.hostname = expand_hostname(h, &original.to_ascii_lowercase())
            .map_err(|m| at(g, m))?
            .to_ascii_lowercase();
    }
    if s.clear_all_forwardings {
        s.local_forward.clear();
        s.remote_forward.clear();
        s.dynamic_forward.clear();
    }

    let port = s.port.to_string();
    let local_host = env.local_hostname.clone();
    let conn_hash = local_host.as_ref().map(|l| {
        hex::encode(Sha1::digest(
            format!("{l}{}{port}{}", s.hostname, s.user).as_bytes(),
        ))
    });
    let full = |t: char| -> Option<String> {
        Some(match t {
            'h' => s.hostname.clone(),
            'n' => original.clone(),
            'p' => port.clone(),
            'r' => s.user.clone(),
            'u' => query.local_user.clone(),
            'd' => home.display().to_string(),
            'i' => env.local_uid?.to_string(),
            'l' => local_host.clone()?,
            'L' => local_host.as_deref()?.split('.').next()?.to_string(),
            'C' => conn_hash.clone()?,
            'j' => s.proxy_jump.clone().unwrap_or_default(),
            'k' => s.host_key_alias.clone().unwrap_or_else(|| original.clone()),
            _ => return None,
        })
    };
    let path = |raw: &str, file: &Path, line: usize| -> Result<PathBuf, ConfigError> {
        let t = tilde(raw, home).map_err(|m| ConfigError::new(file, line, m))?;
        percent_expand(&t, &full)
            .map(PathBuf::from)
            .map_err(|m| ConfigError::new(file, line, m))
    };

    if acc.identity_files.is_empty() {
        s.identity_files_are_default = true;
        s.identity_files = [
            "id_rsa",
            "id_ecdsa",
            "id_ecdsa_sk",
            "id_ed25519",
            "id_ed25519_sk",
        ]
        .iter()
        .map(|n| home.join(".ssh").join(n))
        .collect();
    } else {
        for g in acc.identity_files.iter().filter(|g| g.value != "none") {
            s.identity_files.push(path(&g.value, &g.file, g.line)?);
        }
    }
    for g in acc.certificate_files.iter().filter(|g| g.value != "none") {
        s.certificate_files.push(path(&g.value, &g.file, g.line)?);
    }
    if let Some(g) = ukh_raw
        && let Directive::UserKnownHostsFile(list) = &g.value
    {
        s.user_known_hosts_files = list
            .iter()
            .map(|f| path(f, &g.file, g.line))
            .collect::<Result<_, _>>()?;
    }
    if let Some(g) = gkh_raw
        && let Directive::GlobalKnownHostsFile(list) = &g.value
    {
        s.global_known_hosts_files = list
            .iter()
            .map(|f| tilde(f, home).map(PathBuf::from).map_err(|m| at(g, m)))
            .collect::<Result<_, _>>()?;
    }
    if let Some(g) = agent_raw
        && let Directive::IdentityAgent(a) = &g.value
    {
        s.identity_agent = Some(
            if a == "none" || a == "SSH_AUTH_SOCK" || a.starts_with('$') {
                a.clone()
            } else {
                path(a, &g.file, g.line)?.display().to_string()
            },
        );
    }
    if let Some(g) = proxy_raw
        && let Directive::ProxyCommand(c) = &g.value
        && c != "none"
    {
        let limited = |t: char| {
            matches!(t, 'h' | 'n' | 'p' | 'r')
                .then(|| full(t))
                .flatten()
        };
        s.proxy_command = Some(percent_expand(c, &limited).map_err(|m| at(g, m))?);
    }
    if let Some(g) = remote_raw
        && let Directive::RemoteCommand(c) = &g.value
        && c != "none"
    {
        s.remote_command = Some(percent_expand(c, &full).map_err(|m| at(g, m))?);
    }
    Ok(s)
}
