//! [`ClientSettings`]: the resolved client configuration for one
//! connection, and its `ssh -G` form.

use std::path::PathBuf;
use std::time::Duration;

use super::permit::RemoteOpenPermits;
use crate::forward::{Endpoint, Forward};
use crate::values::{LogLevel, Out, RekeyLimit};
use crate::{AlgoKind, AlgorithmSpec};

/// `StrictHostKeyChecking`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrictHostKeyChecking {
    /// Never add keys; refuse unknown and changed ones.
    Yes,
    /// Add unknown keys, refuse changed ones.
    AcceptNew,
    /// Ask about unknown keys (the default).
    Ask,
    /// Add unknown keys, warn about changed ones (`no`, `off`).
    No,
}

/// `RequestTTY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestTty {
    /// A tty when stdin is one and there is no command (the default).
    Auto,
    /// Never.
    No,
    /// When stdin is a terminal.
    Yes,
    /// Always.
    Force,
}

/// `ForwardAgent`: a flag, or the agent socket to forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardAgent {
    /// Do not forward (the default).
    No,
    /// Forward the agent of `SSH_AUTH_SOCK`.
    Yes,
    /// Forward the agent at this path or `$VARIABLE` (not expanded here).
    Path(String),
}

/// `AddressFamily`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressFamily {
    /// Either (the default).
    Any,
    /// IPv4 only.
    Inet,
    /// IPv6 only.
    Inet6,
}

impl AddressFamily {
    /// The keyword value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Any => "any",
            Self::Inet => "inet",
            Self::Inet6 => "inet6",
        }
    }
}

/// The client configuration for one destination, after Host/Match
/// resolution, defaults, `~` and `%` expansion (what `ssh -G` prints).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientSettings {
    /// The destination as typed (`%n`).
    pub host: String,
    /// `HostName` with `%h` expanded, else the destination; lowercased.
    pub hostname: String,
    /// `Port` (22).
    pub port: u16,
    /// `User`, else the local user.
    pub user: String,
    /// `IdentityFile`s, expanded; `none` entries dropped.
    pub identity_files: Vec<PathBuf>,
    /// True when no IdentityFile was given and `identity_files` are the
    /// defaults (a missing default file is not an error).
    pub identity_files_are_default: bool,
    /// `IdentitiesOnly`.
    pub identities_only: bool,
    /// `IdentityAgent`: `None` = `SSH_AUTH_SOCK`; `Some("none")` =
    /// disabled; `Some("SSH_AUTH_SOCK")` or `Some("$VAR")` = from that
    /// environment variable (not read here); otherwise a path, expanded.
    pub identity_agent: Option<String>,
    /// `CertificateFile`s, expanded.
    pub certificate_files: Vec<PathBuf>,
    /// `UserKnownHostsFile` (`~/.ssh/known_hosts ~/.ssh/known_hosts2`).
    pub user_known_hosts_files: Vec<PathBuf>,
    /// `GlobalKnownHostsFile` (`/etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2`).
    pub global_known_hosts_files: Vec<PathBuf>,
    /// `StrictHostKeyChecking` (ask).
    pub strict_host_key_checking: StrictHostKeyChecking,
    /// `HashKnownHosts` (no).
    pub hash_known_hosts: bool,
    /// `BatchMode` (no).
    pub batch_mode: bool,
    /// `WarnWeakCrypto` (yes, OpenSSH 10.1): warn when the key exchange
    /// is not post-quantum and `KexAlgorithms` was not set.
    pub warn_weak_crypto: bool,
    /// `PreferredAuthentications` (`publickey,keyboard-interactive,password`).
    pub preferred_authentications: Vec<String>,
    /// `PubkeyAuthentication` (yes).
    pub pubkey_authentication: bool,
    /// `PasswordAuthentication` (yes).
    pub password_authentication: bool,
    /// `KbdInteractiveAuthentication` (yes).
    pub kbd_interactive_authentication: bool,
    /// `NumberOfPasswordPrompts` (3).
    pub number_of_password_prompts: u32,
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
    /// `Compression` (no).
    pub compression: bool,
    /// `ConnectTimeout` (none).
    pub connect_timeout: Option<Duration>,
    /// `ServerAliveInterval` (0 = off).
    pub server_alive_interval: Duration,
    /// `ServerAliveCountMax` (3).
    pub server_alive_count_max: u32,
    /// `RekeyLimit` (default none).
    pub rekey_limit: RekeyLimit,
    /// `SendEnv` patterns, accumulated (`-pattern` removes earlier ones).
    pub send_env: Vec<String>,
    /// `SetEnv` (first line wins, as OpenSSH).
    pub set_env: Vec<(String, String)>,
    /// `RequestTTY` (auto).
    pub request_tty: RequestTty,
    /// `LogLevel` (INFO).
    pub log_level: LogLevel,
    /// `XAuthLocation` (`/usr/bin/xauth`, Debian's): the program that
    /// makes the cookie of a forwarded X11 display.
    pub xauth_location: PathBuf,
    /// `LocalForward`s, accumulated (empty if ClearAllForwardings).
    pub local_forward: Vec<Forward>,
    /// `RemoteForward`s, accumulated.
    pub remote_forward: Vec<Forward>,
    /// `DynamicForward`s, accumulated.
    pub dynamic_forward: Vec<Endpoint>,
    /// `GatewayPorts` (no).
    pub gateway_ports: bool,
    /// `ExitOnForwardFailure` (no).
    pub exit_on_forward_failure: bool,
    /// `StreamLocalBindUnlink` (no): remove an existing socket file before
    /// listening on it for a local (`-L`) Unix-socket forward.
    pub stream_local_bind_unlink: bool,
    /// `PermitRemoteOpen` (any): where connections of a remote dynamic
    /// forward may go.
    pub permit_remote_open: RemoteOpenPermits,
    /// `ClearAllForwardings` (no).
    pub clear_all_forwardings: bool,
    /// `ForwardAgent` (no).
    pub forward_agent: ForwardAgent,
    /// `ForwardX11` (no).
    pub forward_x11: bool,
    /// `ForwardX11Trusted` (no).
    pub forward_x11_trusted: bool,
    /// `ForwardX11Timeout` (20 minutes; zero: none): untrusted X11
    /// connections are refused after it, and the untrusted cookie
    /// expires a minute later.
    pub forward_x11_timeout: Duration,
    /// `ProxyJump` (`none` = `None`).
    pub proxy_jump: Option<String>,
    /// `ProxyCommand`, `%` tokens expanded (`none` = `None`).
    pub proxy_command: Option<String>,
    /// `AddressFamily` (any).
    pub address_family: AddressFamily,
    /// `EscapeChar` (`~`; `none` = `None`).
    pub escape_char: Option<u8>,
    /// `TCPKeepAlive` (yes).
    pub tcp_keep_alive: bool,
    /// `HostKeyAlias`.
    pub host_key_alias: Option<String>,
    /// `CheckHostIP` (no).
    pub check_host_ip: bool,
    /// `ConnectionAttempts` (1).
    pub connection_attempts: u32,
    /// `RemoteCommand`, `%` tokens expanded.
    pub remote_command: Option<String>,
    /// `BindAddress`.
    pub bind_address: Option<String>,
    /// `Tag`.
    pub tag: Option<String>,
}

fn yn(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

impl StrictHostKeyChecking {
    /// The value as `ssh -G` prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Yes => "true",
            Self::AcceptNew => "accept-new",
            Self::Ask => "ask",
            Self::No => "false",
        }
    }
}

impl RequestTty {
    /// The value as `ssh -G` prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::No => "no",
            Self::Yes => "yes",
            Self::Force => "force",
        }
    }
}

fn paths(v: &[PathBuf]) -> String {
    v.iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

impl ClientSettings {
    /// The `ssh -G` form: one `keyword value` a line, lowercase keywords,
    /// in OpenSSH's order. Algorithm lists are printed through
    /// `resolve_algos` (which can apply defaults and the supported list,
    /// or return [`AlgorithmSpec::as_str`]); an empty string omits the
    /// line.
    pub fn dump(&self, resolve_algos: &dyn Fn(AlgoKind, &AlgorithmSpec) -> String) -> String {
        let mut o = Out::default();
        let algos = |o: &mut Out, kind: AlgoKind, spec: &AlgorithmSpec| {
            let v = resolve_algos(kind, spec);
            if !v.is_empty() {
                o.line(kind.keyword(), &v);
            }
        };
        o.line("host", &self.host);
        o.line("user", &self.user);
        o.line("hostname", &self.hostname);
        o.line("port", &self.port.to_string());
        o.line("addressfamily", self.address_family.as_str());
        o.line("batchmode", yn(self.batch_mode));
        o.line("checkhostip", yn(self.check_host_ip));
        o.line("compression", yn(self.compression));
        o.line("clearallforwardings", yn(self.clear_all_forwardings));
        o.line("exitonforwardfailure", yn(self.exit_on_forward_failure));
        o.line("forwardx11", yn(self.forward_x11));
        o.line("forwardx11trusted", yn(self.forward_x11_trusted));
        o.line(
            "forwardx11timeout",
            &self.forward_x11_timeout.as_secs().to_string(),
        );
        o.line("gatewayports", yn(self.gateway_ports));
        o.line("streamlocalbindunlink", yn(self.stream_local_bind_unlink));
        o.line("hashknownhosts", yn(self.hash_known_hosts));
        o.line("identitiesonly", yn(self.identities_only));
        o.line(
            "kbdinteractiveauthentication",
            yn(self.kbd_interactive_authentication),
        );
        o.line("passwordauthentication", yn(self.password_authentication));
        o.line(
            "pubkeyauthentication",
            if self.pubkey_authentication {
                "true"
            } else {
                "false"
            },
        );
        o.line("requesttty", self.request_tty.as_str());
        o.line(
            "stricthostkeychecking",
            self.strict_host_key_checking.as_str(),
        );
        o.line("tcpkeepalive", yn(self.tcp_keep_alive));
        o.line("connectionattempts", &self.connection_attempts.to_string());
        o.line(
            "numberofpasswordprompts",
            &self.number_of_password_prompts.to_string(),
        );
        o.line(
            "serveralivecountmax",
            &self.server_alive_count_max.to_string(),
        );
        o.line(
            "serveraliveinterval",
            &self.server_alive_interval.as_secs().to_string(),
        );
        if let Some(b) = &self.bind_address {
            o.line("bindaddress", b);
        }
        algos(&mut o, AlgoKind::Ciphers, &self.ciphers);
        algos(&mut o, AlgoKind::HostKey, &self.host_key_algorithms);
        if let Some(a) = &self.host_key_alias {
            o.line("hostkeyalias", a);
        }
        if let Some(a) = &self.identity_agent {
            o.line("identityagent", a);
        }
        algos(&mut o, AlgoKind::Kex, &self.kex_algorithms);
        algos(&mut o, AlgoKind::CaSignature, &self.ca_signature_algorithms);
        if let Some(c) = &self.remote_command {
            o.line("remotecommand", c);
        }
        o.line("loglevel", self.log_level.as_str());
        algos(&mut o, AlgoKind::Macs, &self.macs);
        o.line(
            "preferredauthentications",
            &self.preferred_authentications.join(","),
        );
        algos(
            &mut o,
            AlgoKind::PubkeyAccepted,
            &self.pubkey_accepted_algorithms,
        );
        if let Some(t) = &self.tag {
            o.line("tag", t);
        }
        for d in &self.dynamic_forward {
            o.line("dynamicforward", &d.to_string());
        }
        for (k, fwds) in [
            ("localforward", &self.local_forward),
            ("remoteforward", &self.remote_forward),
        ] {
            for f in fwds {
                match &f.connect {
                    Some(c) => o.line(k, &format!("{} {c}", f.listen)),
                    None => o.line(k, &f.listen.to_string()),
                }
            }
        }
        for f in &self.identity_files {
            o.line("identityfile", &f.display().to_string());
        }
        for f in &self.certificate_files {
            o.line("certificatefile", &f.display().to_string());
        }
        o.line(
            "globalknownhostsfile",
            &paths(&self.global_known_hosts_files),
        );
        o.line("userknownhostsfile", &paths(&self.user_known_hosts_files));
        for e in &self.send_env {
            o.line("sendenv", e);
        }
        for (k, v) in &self.set_env {
            o.line("setenv", &format!("{k}={v}"));
        }
        o.line(
            "forwardagent",
            match &self.forward_agent {
                ForwardAgent::No => "no",
                ForwardAgent::Yes => "yes",
                ForwardAgent::Path(p) => p,
            },
        );
        o.line(
            "connecttimeout",
            &self
                .connect_timeout
                .map_or("none".to_string(), |t| t.as_secs().to_string()),
        );
        let esc = match self.escape_char {
            None => "none".to_string(),
            Some(c) if c < 32 => format!("^{}", char::from(c + 64)),
            Some(c) => char::from(c).to_string(),
        };
        o.line("escapechar", &esc);
        o.line("rekeylimit", &self.rekey_limit.dump());
        if let Some(j) = &self.proxy_jump {
            o.line("proxyjump", j);
        }
        if let Some(c) = &self.proxy_command {
            o.line("proxycommand", c);
        }
        o.0
    }
}
