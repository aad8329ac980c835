//! [`ServerSettings`]: the resolved server configuration (globally or for
//! one connection), its `sshd -T` form, and the checks sshd makes with it
//! (AllowUsers and friends, AuthorizedKeysFile tokens).

use std::path::{Path, PathBuf};
use std::time::Duration;

use ssh_auth::pattern::{ListMatch, match_host_and_address, wildcard_match};

use crate::values::{LogLevel, Out, RekeyLimit};
use crate::{AlgoKind, AlgorithmSpec};

/// `PermitRootLogin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermitRootLogin {
    /// Any method.
    Yes,
    /// No password or keyboard-interactive (the default; `without-password`).
    ProhibitPassword,
    /// Public key only with a forced command.
    ForcedCommandsOnly,
    /// Never.
    No,
}

/// `AllowTcpForwarding`, `AllowStreamLocalForwarding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forwarding {
    /// Both directions (`yes`, `all`; the default).
    Yes,
    /// None.
    No,
    /// Local (`-L`, direct-tcpip) only.
    Local,
    /// Remote (`-R`, tcpip-forward) only.
    Remote,
}

impl Forwarding {
    /// The value as `sshd -T` prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Yes => "yes",
            Self::No => "no",
            Self::Local => "local",
            Self::Remote => "remote",
        }
    }

    /// Whether local (direct) forwarding is allowed.
    pub fn allows_local(self) -> bool {
        matches!(self, Self::Yes | Self::Local)
    }

    /// Whether remote (listening) forwarding is allowed.
    pub fn allows_remote(self) -> bool {
        matches!(self, Self::Yes | Self::Remote)
    }
}

/// `GatewayPorts` on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayPorts {
    /// Remote forwardings listen on loopback only (the default).
    No,
    /// On all addresses.
    Yes,
    /// Where the client asks.
    ClientSpecified,
}

/// `PermitUserEnvironment`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PermitUserEnvironment {
    /// Ignore `~/.ssh/environment` and `environment=` (the default).
    No,
    /// Accept them.
    Yes,
    /// Accept the variable names matching this pattern list.
    Patterns(String),
}

/// `MaxStartups start:rate:full`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxStartups {
    /// Unauthenticated connections before random early drop.
    pub start: u32,
    /// Drop probability (percent) at `start`.
    pub rate: u32,
    /// All new connections refused beyond this many.
    pub full: u32,
}

impl MaxStartups {
    /// Whether a new connection is dropped while `startups` others are
    /// unauthenticated, `roll` being a uniform random number below 100:
    /// none below `start`, all from `full` on, and in between with a
    /// probability rising linearly from `rate` percent (sshd's
    /// `should_drop_connection`, "random early drop").
    pub fn should_drop(&self, startups: u32, roll: u32) -> bool {
        if startups < self.start {
            return false;
        }
        if startups >= self.full || self.rate >= 100 {
            return true;
        }
        // start < full here (start <= startups < full).
        let span = u64::from(self.full - self.start);
        let p = u64::from(100 - self.rate) * u64::from(startups - self.start) / span
            + u64::from(self.rate);
        u64::from(roll) < p
    }
}

/// The server configuration, globally or for one connection (what
/// `sshd -T` prints).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerSettings {
    /// `Port` (22), each given.
    pub ports: Vec<u16>,
    /// `ListenAddress`es with their ports (empty: every address).
    pub listen_addresses: Vec<(String, Option<u16>)>,
    /// `AddressFamily` (any).
    pub address_family: String,
    /// `HostKey` files (default: the RSA, ECDSA and Ed25519 keys in /etc/ssh).
    pub host_keys: Vec<PathBuf>,
    /// `HostCertificate` files.
    pub host_certificates: Vec<PathBuf>,
    /// `PermitRootLogin` (prohibit-password).
    pub permit_root_login: PermitRootLogin,
    /// `PubkeyAuthentication` (yes).
    pub pubkey_authentication: bool,
    /// `PasswordAuthentication` (yes).
    pub password_authentication: bool,
    /// `KbdInteractiveAuthentication` (yes).
    pub kbd_interactive_authentication: bool,
    /// `PermitEmptyPasswords` (no).
    pub permit_empty_passwords: bool,
    /// `UsePAM` (no).
    pub use_pam: bool,
    /// `AuthenticationMethods`: lists of methods, each list sufficient
    /// (empty: `any`).
    pub authentication_methods: Vec<Vec<String>>,
    /// `AuthorizedKeysFile` as written (`.ssh/authorized_keys .ssh/authorized_keys2`);
    /// see [`expand_authorized_keys`](Self::expand_authorized_keys).
    pub authorized_keys_files: Vec<String>,
    /// `TrustedUserCAKeys` (none).
    pub trusted_user_ca_keys: Option<PathBuf>,
    /// `AllowUsers` patterns (`user` or `user@host`).
    pub allow_users: Vec<String>,
    /// `DenyUsers` patterns.
    pub deny_users: Vec<String>,
    /// `AllowGroups` patterns.
    pub allow_groups: Vec<String>,
    /// `DenyGroups` patterns.
    pub deny_groups: Vec<String>,
    /// `MaxAuthTries` (6).
    pub max_auth_tries: u32,
    /// `LoginGraceTime` (120 s; 0 = `None`, no limit).
    pub login_grace_time: Option<Duration>,
    /// `MaxStartups` (10:30:100).
    pub max_startups: MaxStartups,
    /// `PerSourcePenalties` (on, sshd's defaults).
    pub per_source_penalties: super::PerSourcePenalties,
    /// `PerSourceNetBlockSize` (32:128).
    pub per_source_net_block_size: (u8, u8),
    /// `PerSourcePenaltyExemptList` (none).
    pub per_source_penalty_exempt_list: Vec<String>,
    /// `MaxSessions` (10).
    pub max_sessions: u32,
    /// `ClientAliveInterval` (0 = off).
    pub client_alive_interval: Duration,
    /// `ClientAliveCountMax` (3).
    pub client_alive_count_max: u32,
    /// `PermitTTY` (yes).
    pub permit_tty: bool,
    /// `RefuseConnection` (no; OpenSSH 10.1): refuse the connection once
    /// the settings for its user (a `Match` block) say so.
    pub refuse_connection: bool,
    /// `PermitUserEnvironment` (no).
    pub permit_user_environment: PermitUserEnvironment,
    /// `AcceptEnv` patterns.
    pub accept_env: Vec<String>,
    /// `Subsystem` name and command.
    pub subsystems: Vec<(String, String)>,
    /// `ForceCommand`.
    pub force_command: Option<String>,
    /// `ChrootDirectory`, unexpanded (`%h`, `%u`, `%%`): see
    /// [`expand_chroot_directory`](Self::expand_chroot_directory).
    pub chroot_directory: Option<String>,
    /// `Banner` file.
    pub banner: Option<PathBuf>,
    /// `XAuthLocation` (`/usr/bin/xauth`, Debian's): the program that
    /// files a forwarded X11 cookie for the user.
    pub xauth_location: PathBuf,
    /// `KexAlgorithms` as written (empty: defaults).
    pub kex_algorithms: AlgorithmSpec,
    /// `Ciphers`.
    pub ciphers: AlgorithmSpec,
    /// `MACs`.
    pub macs: AlgorithmSpec,
    /// `HostKeyAlgorithms`.
    pub host_key_algorithms: AlgorithmSpec,
    /// `PubkeyAcceptedAlgorithms`.
    pub pubkey_accepted_algorithms: AlgorithmSpec,
    /// `CASignatureAlgorithms`.
    pub ca_signature_algorithms: AlgorithmSpec,
    /// `RekeyLimit` (default none).
    pub rekey_limit: RekeyLimit,
    /// `Compression` (yes; `delayed` is yes).
    pub compression: bool,
    /// `PidFile` (/run/sshd.pid; none = `None`).
    pub pid_file: Option<PathBuf>,
    /// `LogLevel` (INFO).
    pub log_level: LogLevel,
    /// `SyslogFacility` (AUTH), accepted and reported only.
    pub syslog_facility: String,
    /// `AllowTcpForwarding` (yes).
    pub allow_tcp_forwarding: Forwarding,
    /// `AllowStreamLocalForwarding` (yes).
    pub allow_stream_local_forwarding: Forwarding,
    /// `AllowAgentForwarding` (yes).
    pub allow_agent_forwarding: bool,
    /// `DisableForwarding` (no); when set, the forwarding options above
    /// and `x11_forwarding` are already turned off.
    pub disable_forwarding: bool,
    /// `PermitOpen` (`any`).
    pub permit_open: Vec<String>,
    /// `PermitListen` (`any`).
    pub permit_listen: Vec<String>,
    /// `GatewayPorts` (no).
    pub gateway_ports: GatewayPorts,
    /// `X11Forwarding` (no).
    pub x11_forwarding: bool,
    /// `X11DisplayOffset` (10).
    pub x11_display_offset: u32,
    /// `X11UseLocalhost` (yes).
    pub x11_use_localhost: bool,
    /// `StreamLocalBindUnlink` (no): remove an existing socket file before
    /// listening on it for a `streamlocal-forward`.
    pub stream_local_bind_unlink: bool,
    /// `PermitTunnel` (no), accepted and reported only.
    pub permit_tunnel: String,
    /// `StrictModes` (yes).
    pub strict_modes: bool,
    /// `PrintMotd` (yes).
    pub print_motd: bool,
    /// `PrintLastLog` (yes): a login shell on a terminal is told of the
    /// account's last login.
    pub print_last_log: bool,
    /// `TCPKeepAlive` (yes).
    pub tcp_keep_alive: bool,
}

impl Default for ServerSettings {
    /// sshd's defaults.
    fn default() -> Self {
        Self {
            ports: Vec::new(),
            listen_addresses: Vec::new(),
            address_family: "any".into(),
            host_keys: Vec::new(),
            host_certificates: Vec::new(),
            permit_root_login: PermitRootLogin::ProhibitPassword,
            pubkey_authentication: true,
            password_authentication: true,
            kbd_interactive_authentication: true,
            permit_empty_passwords: false,
            use_pam: false,
            authentication_methods: Vec::new(),
            authorized_keys_files: vec![
                ".ssh/authorized_keys".into(),
                ".ssh/authorized_keys2".into(),
            ],
            trusted_user_ca_keys: None,
            allow_users: Vec::new(),
            deny_users: Vec::new(),
            allow_groups: Vec::new(),
            deny_groups: Vec::new(),
            max_auth_tries: 6,
            login_grace_time: Some(Duration::from_secs(120)),
            max_startups: MaxStartups {
                start: 10,
                rate: 30,
                full: 100,
            },
            per_source_penalties: super::PerSourcePenalties::default(),
            per_source_net_block_size: (32, 128),
            per_source_penalty_exempt_list: Vec::new(),
            max_sessions: 10,
            client_alive_interval: Duration::ZERO,
            client_alive_count_max: 3,
            permit_tty: true,
            refuse_connection: false,
            permit_user_environment: PermitUserEnvironment::No,
            accept_env: Vec::new(),
            subsystems: Vec::new(),
            force_command: None,
            chroot_directory: None,
            banner: None,
            xauth_location: PathBuf::from("/usr/bin/xauth"),
            kex_algorithms: AlgorithmSpec::default(),
            ciphers: AlgorithmSpec::default(),
            macs: AlgorithmSpec::default(),
            host_key_algorithms: AlgorithmSpec::default(),
            pubkey_accepted_algorithms: AlgorithmSpec::default(),
            ca_signature_algorithms: AlgorithmSpec::default(),
            rekey_limit: RekeyLimit::default(),
            compression: true,
            pid_file: Some(PathBuf::from("/run/sshd.pid")),
            log_level: LogLevel::Info,
            syslog_facility: "AUTH".into(),
            allow_tcp_forwarding: Forwarding::Yes,
            allow_stream_local_forwarding: Forwarding::Yes,
            allow_agent_forwarding: true,
            disable_forwarding: false,
            permit_open: vec!["any".into()],
            permit_listen: vec!["any".into()],
            gateway_ports: GatewayPorts::No,
            x11_forwarding: false,
            x11_display_offset: 10,
            x11_use_localhost: true,
            stream_local_bind_unlink: false,
            permit_tunnel: "no".into(),
            strict_modes: true,
            print_motd: true,
            print_last_log: true,
            tcp_keep_alive: true,
        }
    }
}

fn yn(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// OpenSSH's `match_user`: `user` or `user@host` (host part: a pattern
/// list matched against the host name and the address, CIDR allowed).
fn match_user(user: &str, host: Option<&str>, addr: &str, pattern: &str) -> bool {
    match pattern.split_once('@') {
        None => wildcard_match(user, pattern),
        Some((u, h)) => {
            wildcard_match(user, u) && match_host_and_address(host, addr, h) == ListMatch::Positive
        }
    }
}

impl ServerSettings {
    /// sshd's `allowed_user` checks, in its order: DenyUsers, AllowUsers,
    /// DenyGroups, AllowGroups. `host` is the client's host name if known
    /// (else `addr` is used in messages), `groups` every group of the user.
    /// The error is sshd's log line ("User bob from 192.0.2.1 not allowed
    /// because not listed in AllowUsers").
    pub fn user_allowed(
        &self,
        user: &str,
        groups: &[String],
        host: Option<&str>,
        addr: &str,
    ) -> Result<(), String> {
        let from = host.unwrap_or(addr);
        let refuse = |why: &str| Err(format!("User {user} from {from} not allowed because {why}"));
        if self
            .deny_users
            .iter()
            .any(|p| match_user(user, host, addr, p))
        {
            return refuse("listed in DenyUsers");
        }
        if !self.allow_users.is_empty()
            && !self
                .allow_users
                .iter()
                .any(|p| match_user(user, host, addr, p))
        {
            return refuse("not listed in AllowUsers");
        }
        if !self.deny_groups.is_empty() || !self.allow_groups.is_empty() {
            if groups.is_empty() {
                return refuse("not in any group");
            }
            let any = |pats: &[String]| {
                groups
                    .iter()
                    .any(|g| pats.iter().any(|p| wildcard_match(g, p)))
            };
            if any(&self.deny_groups) {
                return refuse("a group is listed in DenyGroups");
            }
            if !self.allow_groups.is_empty() && !any(&self.allow_groups) {
                return refuse("none of user's groups are listed in AllowGroups");
            }
        }
        Ok(())
    }

    /// `AuthorizedKeysFile` for one user: `%h` home, `%u` user, `%U` uid,
    /// `%%`; a leading `~/` is the home; relative paths are relative to
    /// the home; `none` entries are dropped.
    pub fn expand_authorized_keys(&self, user: &str, home: &Path, uid: u32) -> Vec<PathBuf> {
        let home_s = home.display().to_string();
        self.authorized_keys_files
            .iter()
            .filter(|f| !f.eq_ignore_ascii_case("none"))
            .filter_map(|f| {
                // Tokens were checked when the file was parsed.
                let e = crate::tokens::percent_expand(f, &|t| match t {
                    'h' => Some(home_s.clone()),
                    'u' => Some(user.to_string()),
                    'U' => Some(uid.to_string()),
                    _ => None,
                })
                .ok()?;
                let e = crate::tokens::tilde(&e, home).ok()?;
                Some(home.join(e))
            })
            .collect()
    }

    /// `ChrootDirectory` for one user: `%h` home, `%u` user, `%%`; a
    /// leading `~/` is the home. `None` when there is none.
    pub fn expand_chroot_directory(&self, user: &str, home: &Path) -> Option<PathBuf> {
        let home_s = home.display().to_string();
        let d = self.chroot_directory.as_deref()?;
        // Tokens were checked when the file was parsed.
        let e = crate::tokens::percent_expand(d, &|t| match t {
            'h' => Some(home_s.clone()),
            'u' => Some(user.to_string()),
            _ => None,
        })
        .ok()?;
        let e = crate::tokens::tilde(&e, home).ok()?;
        Some(PathBuf::from(e))
    }

    /// The ports to listen on (22 if none was given).
    pub fn effective_ports(&self) -> Vec<u16> {
        if self.ports.is_empty() {
            vec![22]
        } else {
            self.ports.clone()
        }
    }

    /// The addresses and ports to listen on, as sshd expands them:
    /// each ListenAddress without a port on every Port; without any
    /// ListenAddress, the wildcard addresses of the address family.
    pub fn effective_listen(&self) -> Vec<(String, u16)> {
        let ports = self.effective_ports();
        let mut out = Vec::new();
        if self.listen_addresses.is_empty() {
            let wild: &[&str] = match self.address_family.as_str() {
                "inet" => &["0.0.0.0"],
                "inet6" => &["::"],
                _ => &["::", "0.0.0.0"],
            };
            for w in wild {
                for p in &ports {
                    out.push((w.to_string(), *p));
                }
            }
        }
        for (h, p) in &self.listen_addresses {
            match p {
                Some(p) => out.push((h.clone(), *p)),
                None => out.extend(ports.iter().map(|p| (h.clone(), *p))),
            }
        }
        out
    }

    /// The `sshd -T` form: lowercase keywords, one value a line, in
    /// sshd's order. Algorithm lists go through `resolve_algos` (an empty
    /// string omits the line).
    pub fn dump(&self, resolve_algos: &dyn Fn(AlgoKind, &AlgorithmSpec) -> String) -> String {
        let mut o = Out::default();
        let algos = |o: &mut Out, kind: AlgoKind, spec: &AlgorithmSpec| {
            let v = resolve_algos(kind, spec);
            if !v.is_empty() {
                o.line(kind.keyword(), &v);
            }
        };
        let opt_path = |p: &Option<PathBuf>| {
            p.as_ref()
                .map_or("none".to_string(), |p| p.display().to_string())
        };
        for p in self.effective_ports() {
            o.line("port", &p.to_string());
        }
        o.line("addressfamily", &self.address_family);
        for (h, p) in self.effective_listen() {
            let h = if h.contains(':') { format!("[{h}]") } else { h };
            o.line("listenaddress", &format!("{h}:{p}"));
        }
        o.line("usepam", yn(self.use_pam));
        o.line(
            "logingracetime",
            &self.login_grace_time.map_or(0, |t| t.as_secs()).to_string(),
        );
        o.line("x11displayoffset", &self.x11_display_offset.to_string());
        o.line("maxauthtries", &self.max_auth_tries.to_string());
        o.line("maxsessions", &self.max_sessions.to_string());
        o.line(
            "clientaliveinterval",
            &self.client_alive_interval.as_secs().to_string(),
        );
        o.line(
            "clientalivecountmax",
            &self.client_alive_count_max.to_string(),
        );
        o.line(
            "permitrootlogin",
            match self.permit_root_login {
                PermitRootLogin::Yes => "yes",
                PermitRootLogin::ProhibitPassword => "prohibit-password",
                PermitRootLogin::ForcedCommandsOnly => "forced-commands-only",
                PermitRootLogin::No => "no",
            },
        );
        o.line("pubkeyauthentication", yn(self.pubkey_authentication));
        o.line("passwordauthentication", yn(self.password_authentication));
        o.line(
            "kbdinteractiveauthentication",
            yn(self.kbd_interactive_authentication),
        );
        o.line("printmotd", yn(self.print_motd));
        o.line("printlastlog", yn(self.print_last_log));
        o.line("x11forwarding", yn(self.x11_forwarding));
        o.line("x11uselocalhost", yn(self.x11_use_localhost));
        o.line("permittty", yn(self.permit_tty));
        o.line("refuseconnection", yn(self.refuse_connection));
        o.line("strictmodes", yn(self.strict_modes));
        o.line("tcpkeepalive", yn(self.tcp_keep_alive));
        o.line("permitemptypasswords", yn(self.permit_empty_passwords));
        o.line("compression", yn(self.compression));
        o.line(
            "gatewayports",
            match self.gateway_ports {
                GatewayPorts::No => "no",
                GatewayPorts::Yes => "yes",
                GatewayPorts::ClientSpecified => "clientspecified",
            },
        );
        o.line("allowtcpforwarding", self.allow_tcp_forwarding.as_str());
        o.line("allowagentforwarding", yn(self.allow_agent_forwarding));
        o.line("disableforwarding", yn(self.disable_forwarding));
        o.line(
            "allowstreamlocalforwarding",
            self.allow_stream_local_forwarding.as_str(),
        );
        o.line("streamlocalbindunlink", yn(self.stream_local_bind_unlink));
        o.line("pidfile", &opt_path(&self.pid_file));
        algos(&mut o, AlgoKind::Ciphers, &self.ciphers);
        algos(&mut o, AlgoKind::Macs, &self.macs);
        o.line("banner", &opt_path(&self.banner));
        o.line("xauthlocation", &self.xauth_location.display().to_string());
        o.line(
            "forcecommand",
            self.force_command.as_deref().unwrap_or("none"),
        );
        o.line(
            "chrootdirectory",
            self.chroot_directory.as_deref().unwrap_or("none"),
        );
        o.line("trustedusercakeys", &opt_path(&self.trusted_user_ca_keys));
        algos(&mut o, AlgoKind::Kex, &self.kex_algorithms);
        algos(&mut o, AlgoKind::CaSignature, &self.ca_signature_algorithms);
        algos(&mut o, AlgoKind::HostKey, &self.host_key_algorithms);
        algos(
            &mut o,
            AlgoKind::PubkeyAccepted,
            &self.pubkey_accepted_algorithms,
        );
        o.line("loglevel", self.log_level.as_str());
        o.line("syslogfacility", &self.syslog_facility);
        o.line(
            "authorizedkeysfile",
            &if self.authorized_keys_files.is_empty() {
                "none".to_string()
            } else {
                self.authorized_keys_files.join(" ")
            },
        );
        for k in &self.host_keys {
            o.line("hostkey", &k.display().to_string());
        }
        for k in &self.host_certificates {
            o.line("hostcertificate", &k.display().to_string());
        }
        for (k, list) in [
            ("allowusers", &self.allow_users),
            ("denyusers", &self.deny_users),
            ("allowgroups", &self.allow_groups),
            ("denygroups", &self.deny_groups),
            ("acceptenv", &self.accept_env),
        ] {
            for v in list {
                o.line(k, v);
            }
        }
        o.line(
            "authenticationmethods",
            &if self.authentication_methods.is_empty() {
                "any".to_string()
            } else {
                self.authentication_methods
                    .iter()
                    .map(|l| l.join(","))
                    .collect::<Vec<_>>()
                    .join(" ")
            },
        );
        for (name, cmd) in &self.subsystems {
            o.line("subsystem", &format!("{name} {cmd}"));
        }
        let m = self.max_startups;
        o.line("maxstartups", &format!("{}:{}:{}", m.start, m.rate, m.full));
        o.line("persourcepenalties", &self.per_source_penalties.dump());
        let (v4, v6) = self.per_source_net_block_size;
        o.line("persourcenetblocksize", &format!("{v4}:{v6}"));
        if !self.per_source_penalty_exempt_list.is_empty() {
            o.line(
                "persourcepenaltyexemptlist",
                &self.per_source_penalty_exempt_list.join(","),
            );
        }
        o.line("permittunnel", &self.permit_tunnel);
        o.line("rekeylimit", &self.rekey_limit.dump());
        o.line("permitopen", &self.permit_open.join(" "));
        o.line("permitlisten", &self.permit_listen.join(" "));
        o.line(
            "permituserenvironment",
            match &self.permit_user_environment {
                PermitUserEnvironment::No => "no",
                PermitUserEnvironment::Yes => "yes",
                PermitUserEnvironment::Patterns(p) => p,
            },
        );
        o.0
    }
}
