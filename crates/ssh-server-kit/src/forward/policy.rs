//! What a connection may forward: sshd's `AllowTcpForwarding`,
//! `AllowStreamLocalForwarding`, `DisableForwarding`, `PermitOpen`,
//! `PermitListen`, `GatewayPorts`, and the `authorized_keys` options
//! `no-port-forwarding`/`port-forwarding`/`restrict`, `permitopen=` and
//! `permitlisten=`, combined as sshd combines them.

use std::net::SocketAddr;

use ssh_auth::authorized_keys::KeyOptions;
use ssh_config::server::{Forwarding, GatewayPorts, ServerSettings};

/// A `PermitOpen`/`PermitListen` list (or the key's `permitopen=` /
/// `permitlisten=` options).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PermitList {
    /// Everything (`any`, or no list at all).
    Any,
    /// Nothing (`none`).
    None,
    /// Only what matches one of these.
    Only(Vec<PermitEntry>),
}

/// An entry of a [`PermitList`]: a host (for `PermitListen`, a pattern
/// with `*` and `?`; for `PermitOpen`, a name or `*`) and a port (`None`
/// for `*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermitEntry {
    /// The host, without IPv6 brackets.
    pub host: String,
    /// The port; `None` = any.
    pub port: Option<u16>,
}

impl PermitEntry {
    /// Parses `host:port` (`listen`: `[host:]port`, a bare port meaning
    /// any host, as sshd). IPv6 addresses may be in brackets. `None` when
    /// malformed.
    pub fn parse(s: &str, listen: bool) -> Option<PermitEntry> {
        let (host, port) = match s.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() => (h, p),
            None if listen => ("*", s),
            _ => return None,
        };
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if host.is_empty() {
            return None;
        }
        let port = if port == "*" {
            None
        } else {
            Some(port.parse::<u16>().ok()?)
        };
        Some(PermitEntry {
            host: host.to_owned(),
            port,
        })
    }
}

impl PermitList {
    /// From the words of the configuration (`any`, `none`, or entries).
    /// Malformed entries (the configuration parser refuses them already)
    /// are left out; a list left empty that way allows nothing.
    pub fn from_config(words: &[String], listen: bool) -> PermitList {
        match words {
            [] => PermitList::Any,
            [w] if w == "any" => PermitList::Any,
            [w] if w == "none" => PermitList::None,
            _ => PermitList::Only(
                words
                    .iter()
                    .filter_map(|w| PermitEntry::parse(w, listen))
                    .collect(),
            ),
        }
    }

    /// From an `authorized_keys` option list: empty = no restriction.
    pub fn from_key_option(words: &[String], listen: bool) -> PermitList {
        if words.is_empty() {
            return PermitList::Any;
        }
        PermitList::Only(
            words
                .iter()
                .filter_map(|w| PermitEntry::parse(w, listen))
                .collect(),
        )
    }

    /// Whether a `direct-tcpip` to `host` port `port` is allowed: as
    /// OpenSSH's `open_match`, the host is `*` or exactly the requested
    /// one (no patterns, case kept), the port `*` or equal.
    pub fn permits_open(&self, host: &str, port: u16) -> bool {
        match self {
            PermitList::Any => true,
            PermitList::None => false,
            PermitList::Only(v) => v
                .iter()
                .any(|e| e.port.is_none_or(|p| p == port) && (e.host == "*" || e.host == host)),
        }
    }

    /// Whether a `tcpip-forward` of `address` (as the client sent it)
    /// port `port` is allowed: as OpenSSH's `remote_open_match`, the entry
    /// host is a pattern matched against the lowercased address, the port
    /// `*` or equal (port 0 matches only `*`).
    pub fn permits_listen(&self, address: &str, port: u16) -> bool {
        match self {
            PermitList::Any => true,
            PermitList::None => false,
            PermitList::Only(v) => {
                let address = address.to_ascii_lowercase();
                v.iter()
                    .any(|e| e.port.is_none_or(|p| p == port) && wildcard_match(&e.host, &address))
            }
        }
    }
}

/// `*` (any run) and `?` (any one character) glob matching, as OpenSSH's
/// `match_pattern`; iterative, linear backtracking.
pub fn wildcard_match(pattern: &str, s: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = s.chars().collect();
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, si));
                pi += 1;
            }
            Some(&c) if c == '?' || Some(&c) == s.get(si) => {
                pi += 1;
                si += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    pi = sp + 1;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    while p.get(pi) == Some(&'*') {
        pi += 1;
    }
    pi == p.len()
}

/// Why a forwarding was refused, with the line sshd logs for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// What to log (at info, as sshd's `logit`).
    pub log: String,
}

/// The forwarding policy of one connection.
#[derive(Debug, Clone)]
pub struct ForwardPolicy {
    /// `AllowTcpForwarding`.
    pub allow_tcp: Forwarding,
    /// `AllowStreamLocalForwarding`.
    pub allow_stream_local: Forwarding,
    /// `DisableForwarding`: nothing at all.
    pub disable_forwarding: bool,
    /// `PermitOpen`.
    pub permit_open: PermitList,
    /// `PermitListen`.
    pub permit_listen: PermitList,
    /// `GatewayPorts`.
    pub gateway_ports: GatewayPorts,
    /// `StreamLocalBindUnlink`: remove an existing socket file before
    /// listening on it (no).
    pub stream_local_bind_unlink: bool,
    /// The key's forwarding flag (`no-port-forwarding`, `restrict`,
    /// `port-forwarding`): covers TCP and Unix sockets alike, as sshd.
    pub key_port_forwarding: bool,
    /// The key's `permitopen=` options.
    pub key_permit_open: PermitList,
    /// The key's `permitlisten=` options.
    pub key_permit_listen: PermitList,
    /// The user's id: ports below 1024 are root's.
    pub uid: u32,
    /// The client's address, for the log lines.
    pub peer: Option<SocketAddr>,
}

impl ForwardPolicy {
    /// Everything allowed (sshd's defaults but `GatewayPorts`, which stays
    /// `no`), for `uid`.
    pub fn permissive(uid: u32) -> ForwardPolicy {
        ForwardPolicy {
            allow_tcp: Forwarding::Yes,
            allow_stream_local: Forwarding::Yes,
            disable_forwarding: false,
            permit_open: PermitList::Any,
            permit_listen: PermitList::Any,
            gateway_ports: GatewayPorts::No,
            stream_local_bind_unlink: false,
            key_port_forwarding: true,
            key_permit_open: PermitList::Any,
            key_permit_listen: PermitList::Any,
            uid,
            peer: None,
        }
    }

    /// The policy of a connection by `uid` with these settings (Match
    /// blocks applied) and, when it authenticated by key, that key's
    /// `authorized_keys` options.
    pub fn from_settings(
        s: &ServerSettings,
        key: Option<&KeyOptions>,
        uid: u32,
        peer: Option<SocketAddr>,
    ) -> ForwardPolicy {
        let mut p = ForwardPolicy {
            allow_tcp: s.allow_tcp_forwarding,
            allow_stream_local: s.allow_stream_local_forwarding,
            disable_forwarding: s.disable_forwarding,
            permit_open: PermitList::from_config(&s.permit_open, false),
            permit_listen: PermitList::from_config(&s.permit_listen, true),
            gateway_ports: s.gateway_ports,
            stream_local_bind_unlink: s.stream_local_bind_unlink,
            uid,
            peer,
            ..ForwardPolicy::permissive(uid)
        };
        if let Some(k) = key {
            p.key_port_forwarding = k.port_forwarding;
            p.key_permit_open = PermitList::from_key_option(&k.permit_open, false);
            p.key_permit_listen = PermitList::from_key_option(&k.permit_listen, true);
        }
        p
    }

    fn from(&self) -> String {
        match self.peer {
            Some(a) => format!("{} port {}", a.ip().to_canonical(), a.port()),
            None => "unknown port 0".into(),
        }
    }

    /// A `direct-tcpip` channel to `host` port `port` from the client's
    /// `originator`.
    pub fn check_direct_tcp(
        &self,
        host: &str,
        port: u32,
        originator: &str,
        originator_port: u32,
    ) -> Result<u16, Refusal> {
        let Ok(port16) = u16::try_from(port) else {
            return Err(Refusal {
                log: format!("direct-tcpip: invalid port {port} to {host}"),
            });
        };
        if !self.allow_tcp.allows_local() || !self.key_port_forwarding || self.disable_forwarding {
            return Err(Refusal {
                log: format!(
                    "refused local port forward: originator {originator} port {originator_port}, target {host} port {port}"
                ),
            });
        }
        if !self.key_permit_open.permits_open(host, port16)
            || !self.permit_open.permits_open(host, port16)
        {
            return Err(Refusal {
                log: format!(
                    "Received request from {} to connect to host {host} port {port}, but the request was denied.",
                    self.from()
                ),
            });
        }
        Ok(port16)
    }

    /// A `direct-streamlocal@openssh.com` channel to `path`.
    pub fn check_direct_streamlocal(&self, path: &str) -> Result<(), Refusal> {
        if !self.allow_stream_local.allows_local()
            || !self.key_port_forwarding
            || self.disable_forwarding
        {
            return Err(Refusal {
                log: format!(
                    "refused streamlocal port forward: originator {}, target {path}",
                    self.from()
                ),
            });
        }
        Ok(())
    }

    /// A `tcpip-forward` of `address` port `port` (0: allocated).
    pub fn check_remote_tcp(&self, address: &str, port: u32) -> Result<u16, Refusal> {
        let refused = || Refusal {
            log: format!(
                "Received request from {} to remote forward to host {address} port {port}, but the request was denied.",
                self.from()
            ),
        };
        let Ok(port16) = u16::try_from(port) else {
            return Err(refused());
        };
        if !self.allow_tcp.allows_remote() || !self.key_port_forwarding || self.disable_forwarding {
            return Err(Refusal {
                log: format!(
                    "refused remote port forward: listen {address} port {port} (forwarding disabled)"
                ),
            });
        }
        // sshd's bind_permitted: privileged ports are root's.
        if port16 != 0 && port16 < 1024 && self.uid != 0 {
            return Err(Refusal {
                log: format!(
                    "refused remote port forward: listen {address} port {port} (privileged port, user is not root)"
                ),
            });
        }
        if !self.key_permit_listen.permits_listen(address, port16)
            || !self.permit_listen.permits_listen(address, port16)
        {
            return Err(refused());
        }
        Ok(port16)
    }

    /// A `streamlocal-forward@openssh.com` on `path`.
    pub fn check_remote_streamlocal(&self, path: &str) -> Result<(), Refusal> {
        if !self.allow_stream_local.allows_remote()
            || !self.key_port_forwarding
            || self.disable_forwarding
        {
            return Err(Refusal {
                log: format!(
                    "refused remote streamlocal forward: path {path} (forwarding disabled)"
                ),
            });
        }
        Ok(())
    }

    /// Where a `tcpip-forward` of `address` listens, as sshd's
    /// `channel_fwd_bind_addr`: `None` = every address, `Some("localhost")`
    /// = loopback of both families, else that address.
    ///
    /// - `GatewayPorts no`: loopback, except that `127.0.0.1` and `::1`
    ///   are taken as asked.
    /// - `yes`: every address, whatever was asked.
    /// - `clientspecified`: `""` and `*` = every address, `localhost` =
    ///   loopback of both families, anything else as asked.
    pub fn bind_address(&self, address: &str) -> Option<String> {
        match self.gateway_ports {
            GatewayPorts::Yes => None,
            GatewayPorts::No => match address {
                "127.0.0.1" | "::1" => Some(address.to_owned()),
                _ => Some("localhost".into()),
            },
            GatewayPorts::ClientSpecified => match address {
                "" | "*" => None,
                "localhost" => Some("localhost".into()),
                a => Some(a.to_owned()),
            },
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn list(words: &[&str], listen: bool) -> PermitList {
        let w: Vec<String> = words.iter().map(|s| (*s).to_owned()).collect();
        PermitList::from_config(&w, listen)
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("*", "anything"));
        assert!(wildcard_match("local*", "localhost"));
        assert!(wildcard_match("l?calhost", "localhost"));
        assert!(wildcard_match("*.example.org", "a.b.example.org"));
        assert!(wildcard_match("a*b*c", "aXbYbZc"));
        assert!(!wildcard_match("a*b*c", "aXbYbZ"));
        assert!(!wildcard_match("localhost", "localhost2"));
        assert!(!wildcard_match("?", ""));
        assert!(!wildcard_match("", "x"));
        assert!(wildcard_match("", ""));
    }

    #[test]
    fn entries_parse() {
        let e = PermitEntry::parse("host:22", false).unwrap();
        assert_eq!((e.host.as_str(), e.port), ("host", Some(22)));
        let e = PermitEntry::parse("*:*", false).unwrap();
        assert_eq!((e.host.as_str(), e.port), ("*", None));
        let e = PermitEntry::parse("[::1]:80", false).unwrap();
        assert_eq!((e.host.as_str(), e.port), ("::1", Some(80)));
        // A bare port is PermitListen's "any host".
        let e = PermitEntry::parse("8080", true).unwrap();
        assert_eq!((e.host.as_str(), e.port), ("*", Some(8080)));
        assert_eq!(PermitEntry::parse("8080", false), None);
        assert_eq!(PermitEntry::parse("host:99999", false), None);
        assert_eq!(PermitEntry::parse("host:x", false), None);
        assert_eq!(PermitEntry::parse(":22", false), None);
        assert_eq!(PermitEntry::parse("[]:22", false), None);
    }

    #[test]
    fn permit_open_matching() {
        assert!(list(&["any"], false).permits_open("x", 1));
        assert!(list(&[], false).permits_open("x", 1));
        assert!(!list(&["none"], false).permits_open("x", 1));
        let l = list(
            &["localhost:80", "*:443", "db.internal:*", "[::1]:22"],
            false,
        );
        assert!(l.permits_open("localhost", 80));
        assert!(!l.permits_open("localhost", 81));
        // Exact names: no patterns, no resolution, case kept.
        assert!(!l.permits_open("127.0.0.1", 80));
        assert!(!l.permits_open("LOCALHOST", 80));
        assert!(l.permits_open("anything", 443));
        assert!(l.permits_open("db.internal", 5432));
        assert!(!l.permits_open("db.internal2", 5432));
        assert!(l.permits_open("::1", 22));
        // A pattern host is just a name for PermitOpen.
        let l = list(&["*.example.org:80"], false);
        assert!(!l.permits_open("www.example.org", 80));
        assert!(l.permits_open("*.example.org", 80));
    }

    #[test]
    fn permit_listen_matching() {
        assert!(list(&["any"], true).permits_listen("", 0));
        assert!(!list(&["none"], true).permits_listen("localhost", 8080));
        let l = list(&["8080", "localhost:9000", "10.*:*"], true);
        // A bare port: any address.
        assert!(l.permits_listen("", 8080));
        assert!(l.permits_listen("0.0.0.0", 8080));
        assert!(!l.permits_listen("localhost", 8081));
        assert!(l.permits_listen("localhost", 9000));
        // Addresses compared lowercased against patterns.
        assert!(l.permits_listen("LocalHost", 9000));
        assert!(!l.permits_listen("127.0.0.1", 9000));
        assert!(l.permits_listen("10.1.2.3", 1234));
        // Port 0 (allocated) matches only a '*' port.
        assert!(!l.permits_listen("localhost", 0));
        assert!(l.permits_listen("10.0.0.1", 0));
    }

    fn settings() -> ServerSettings {
        let mut loader = ssh_os::config::FsLoader;
        ssh_config::server::ServerConfig::parse("", std::path::Path::new("x"), &mut loader)
            .unwrap()
            .resolve(None)
    }

    #[test]
    fn settings_and_key_options_combine_as_sshd() {
        let mut s = settings();
        let p = ForwardPolicy::from_settings(&s, None, 1000, None);
        assert_eq!(p.check_direct_tcp("h", 80, "127.0.0.1", 5), Ok(80));
        assert!(p.check_direct_streamlocal("/x").is_ok());
        assert_eq!(p.check_remote_tcp("localhost", 0), Ok(0));
        assert!(p.check_remote_streamlocal("/x").is_ok());
        // Privileged ports: root only.
        assert!(p.check_remote_tcp("localhost", 80).is_err());
        assert!(p.check_remote_tcp("localhost", 70000).is_err());
        let root = ForwardPolicy::from_settings(&s, None, 0, None);
        assert_eq!(root.check_remote_tcp("localhost", 80), Ok(80));
        assert!(p.check_direct_tcp("h", 70000, "127.0.0.1", 5).is_err());

        // AllowTcpForwarding local / remote / no.
        s.allow_tcp_forwarding = Forwarding::Local;
        let p = ForwardPolicy::from_settings(&s, None, 1000, None);
        assert!(p.check_direct_tcp("h", 80, "a", 1).is_ok());
        assert!(p.check_remote_tcp("localhost", 0).is_err());
        s.allow_tcp_forwarding = Forwarding::Remote;
        let p = ForwardPolicy::from_settings(&s, None, 1000, None);
        let r = p.check_direct_tcp("h", 80, "127.0.0.1", 1234).unwrap_err();
        assert_eq!(
            r.log,
            "refused local port forward: originator 127.0.0.1 port 1234, target h port 80"
        );
        assert!(p.check_remote_tcp("localhost", 0).is_ok());
        // Unix sockets have their own switch.
        assert!(p.check_direct_streamlocal("/x").is_ok());
        s.allow_stream_local_forwarding = Forwarding::No;
        let p = ForwardPolicy::from_settings(&s, None, 1000, None);
        assert!(p.check_direct_streamlocal("/x").is_err());
        assert!(p.check_remote_streamlocal("/x").is_err());

        // The key's no-port-forwarding / restrict covers both kinds.
        let s = settings();
        let mut k = KeyOptions::default();
        k.port_forwarding = false;
        let p = ForwardPolicy::from_settings(&s, Some(&k), 1000, None);
        assert!(p.check_direct_tcp("h", 80, "a", 1).is_err());
        assert!(p.check_direct_streamlocal("/x").is_err());
        assert!(p.check_remote_tcp("localhost", 0).is_err());
        assert!(p.check_remote_streamlocal("/x").is_err());

        // Both PermitOpen and permitopen= must allow.
        let mut s = settings();
        s.permit_open = vec!["a:1".into(), "b:2".into()];
        let mut k = KeyOptions::default();
        k.permit_open = vec!["b:2".into(), "c:3".into()];
        let p = ForwardPolicy::from_settings(&s, Some(&k), 1000, None);
        assert!(p.check_direct_tcp("a", 1, "o", 1).is_err());
        assert!(p.check_direct_tcp("b", 2, "o", 1).is_ok());
        assert!(p.check_direct_tcp("c", 3, "o", 1).is_err());
        // PermitOpen does not apply to Unix sockets (as sshd).
        assert!(p.check_direct_streamlocal("/x").is_ok());
        s.permit_open = vec!["none".into()];
        let p = ForwardPolicy::from_settings(&s, None, 1000, None);
        assert!(p.check_direct_tcp("b", 2, "o", 1).is_err());

        // Both PermitListen and permitlisten= must allow.
        let mut s = settings();
        s.permit_listen = vec!["8000".into(), "localhost:9000".into()];
        let mut k = KeyOptions::default();
        k.permit_listen = vec!["localhost:8000".into()];
        let p = ForwardPolicy::from_settings(&s, Some(&k), 1000, None);
        assert!(p.check_remote_tcp("localhost", 8000).is_ok());
        assert!(p.check_remote_tcp("", 8000).is_err());
        assert!(p.check_remote_tcp("localhost", 9000).is_err());

        // DisableForwarding overrides everything.
        let mut s = settings();
        s.disable_forwarding = true;
        let p = ForwardPolicy::from_settings(&s, None, 0, None);
        assert!(p.check_direct_tcp("h", 80, "a", 1).is_err());
        assert!(p.check_remote_streamlocal("/x").is_err());
    }

    #[test]
    fn stream_local_bind_unlink_comes_from_the_settings() {
        let mut s = settings();
        assert!(!ForwardPolicy::from_settings(&s, None, 1000, None).stream_local_bind_unlink);
        s.stream_local_bind_unlink = true;
        assert!(ForwardPolicy::from_settings(&s, None, 1000, None).stream_local_bind_unlink);
    }

    #[test]
    fn gateway_ports_bind_addresses() {
        let mut p = ForwardPolicy::permissive(1000);
        p.gateway_ports = GatewayPorts::No;
        for a in ["", "*", "0.0.0.0", "localhost", "10.0.0.1"] {
            assert_eq!(p.bind_address(a).as_deref(), Some("localhost"), "{a}");
        }
        assert_eq!(p.bind_address("127.0.0.1").as_deref(), Some("127.0.0.1"));
        assert_eq!(p.bind_address("::1").as_deref(), Some("::1"));
        p.gateway_ports = GatewayPorts::Yes;
        for a in ["", "*", "localhost", "127.0.0.1", "10.0.0.1"] {
            assert_eq!(p.bind_address(a), None, "{a}");
        }
        p.gateway_ports = GatewayPorts::ClientSpecified;
        assert_eq!(p.bind_address(""), None);
        assert_eq!(p.bind_address("*"), None);
        assert_eq!(p.bind_address("localhost").as_deref(), Some("localhost"));
        assert_eq!(p.bind_address("10.0.0.1").as_deref(), Some("10.0.0.1"));
        assert_eq!(p.bind_address("0.0.0.0").as_deref(), Some("0.0.0.0"));
    }
}
