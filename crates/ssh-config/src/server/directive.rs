//! Server keywords: implemented ones parsed into a typed [`Directive`]
//! when the file is read; those known to OpenSSH's sshd but ignored here
//! recognised (a warning); a few whose silent omission would weaken
//! security refused unless set to `none`; anything else an error.

use std::time::Duration;

use super::penalties::PerSourcePenalties;
use super::settings::{
    Forwarding, GatewayPorts, MaxStartups, PermitRootLogin, PermitUserEnvironment,
};
use crate::lex::Lexed;
use crate::tokens::check_tokens;
use crate::values::{self, LogLevel, one, some};
use crate::{AlgoKind, AlgorithmSpec};

/// One implemented server option with its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Directive {
    Port(u16),
    ListenAddress(String, Option<u16>),
    AddressFamily(String),
    HostKey(String),
    HostCertificate(String),
    PermitRootLogin(PermitRootLogin),
    PubkeyAuthentication(bool),
    PasswordAuthentication(bool),
    KbdInteractiveAuthentication(bool),
    PermitEmptyPasswords(bool),
    UsePam(bool),
    AuthenticationMethods(Vec<Vec<String>>),
    AuthorizedKeysFile(Vec<String>),
    TrustedUserCaKeys(Option<String>),
    AllowUsers(Vec<String>),
    DenyUsers(Vec<String>),
    AllowGroups(Vec<String>),
    DenyGroups(Vec<String>),
    MaxAuthTries(u32),
    LoginGraceTime(Option<Duration>),
    MaxStartups(MaxStartups),
    PerSourcePenalties(PerSourcePenalties),
    PerSourceNetBlockSize(u8, u8),
    PerSourcePenaltyExemptList(Vec<String>),
    MaxSessions(u32),
    ClientAliveInterval(Duration),
    ClientAliveCountMax(u32),
    PermitTty(bool),
    RefuseConnection(bool),
    PermitUserEnvironment(PermitUserEnvironment),
    AcceptEnv(Vec<String>),
    Subsystem(String, String),
    ForceCommand(Option<String>),
    ChrootDirectory(Option<String>),
    Banner(Option<String>),
    XAuthLocation(String),
    Algorithms(AlgoKind, AlgorithmSpec),
    RekeyLimit(Option<u64>, Option<Option<Duration>>),
    Compression(bool),
    PidFile(Option<String>),
    LogLevel(LogLevel),
    SyslogFacility(String),
    AllowTcpForwarding(Forwarding),
    AllowStreamLocalForwarding(Forwarding),
    AllowAgentForwarding(bool),
    DisableForwarding(bool),
    PermitOpen(Vec<String>),
    PermitListen(Vec<String>),
    GatewayPorts(GatewayPorts),
    X11Forwarding(bool),
    X11DisplayOffset(u32),
    X11UseLocalhost(bool),
    StreamLocalBindUnlink(bool),
    PermitTunnel(String),
    StrictModes(bool),
    PrintMotd(bool),
    PrintLastLog(bool),
    TcpKeepAlive(bool),
}

/// What a keyword is.
pub(crate) enum Parsed {
    /// Implemented: the value.
    Directive(Directive),
    /// Known, not implemented, harmless to ignore: a warning.
    Unsupported,
    /// Known and set to `none` where only `none` is supported: nothing.
    Nothing,
    /// Not an sshd keyword.
    Unknown,
}

/// Keywords sshd knows that are ignored here (with a warning).
const UNSUPPORTED: &[&str] = &[
    "afstokenpassing",
    "authorizedkeyscommanduser",
    "authorizedprincipalscommanduser",
    "channeltimeout",
    "debianbanner",
    "dsaauthentication",
    "exposeauthinfo",
    "fingerprinthash",
    "gssapiauthentication",
    "gssapicleanupcredentials",
    "gssapienablek5users",
    "gssapikexalgorithms",
    "gssapikeyexchange",
    "gssapistorecredentialsonrekey",
    "gssapistrictacceptorcheck",
    "hostbasedacceptedalgorithms",
    "hostbasedacceptedkeytypes",
    "hostbasedauthentication",
    "hostbasedusesnamefrompacketonly",
    "hostkeyagent",
    "ignorerhosts",
    "ignoreuserknownhosts",
    "ipqos",
    "kerberosauthentication",
    "kerberosgetafstoken",
    "kerberosorlocalpasswd",
    "kerberostgtpassing",
    "kerberosticketcleanup",
    "keyregenerationinterval",
    "logverbose",
    "modulifile",
    "pamauthenticationviakbdint",
    "permituserrc",
    "persourcemaxstartups",
    "protocol",
    "requiredrsasize",
    "rhostsrsaauthentication",
    "rsaauthentication",
    "securitykeyprovider",
    "serverkeybits",
    "setenv",
    "skeyauthentication",
    "sshdauthpath",
    "sshdsessionpath",
    "streamlocalbindmask",
    "unusedconnectiontimeout",
    "usedns",
    "uselogin",
    "useprivilegeseparation",
    "versionaddendum",
];

/// Keywords that restrict access or confine users: ignoring them would
/// grant more than the administrator wrote, so only `none` is accepted.
const ONLY_NONE: &[&str] = &[
    "authorizedkeyscommand",
    "authorizedprincipalscommand",
    "authorizedprincipalsfile",
    "pubkeyauthoptions",
    "rdomain",
    "revokedkeys",
];

/// Keywords allowed after `Match` (sshd_config(5)).
pub(crate) const MATCH_ALLOWED: &[&str] = &[
    "acceptenv",
    "allowagentforwarding",
    "allowgroups",
    "allowstreamlocalforwarding",
    "allowtcpforwarding",
    "allowusers",
    "authenticationmethods",
    "authorizedkeyscommand",
    "authorizedkeyscommanduser",
    "authorizedkeysfile",
    "authorizedprincipalscommand",
    "authorizedprincipalscommanduser",
    "authorizedprincipalsfile",
    "banner",
    "casignaturealgorithms",
    "channeltimeout",
    "chrootdirectory",
    "clientalivecountmax",
    "clientaliveinterval",
    "denygroups",
    "denyusers",
    "disableforwarding",
    "exposeauthinfo",
    "forcecommand",
    "gatewayports",
    "gssapiauthentication",
    "hostbasedacceptedalgorithms",
    "hostbasedauthentication",
    "hostbasedusesnamefrompacketonly",
    "ignorerhosts",
    "include",
    "ipqos",
    "kbdinteractiveauthentication",
    "challengeresponseauthentication",
    "kerberosauthentication",
    "loglevel",
    "logverbose",
    "maxauthtries",
    "maxsessions",
    "passwordauthentication",
    "permitemptypasswords",
    "permitlisten",
    "permitopen",
    "permitrootlogin",
    "permittty",
    "permittunnel",
    "permituserrc",
    "pubkeyacceptedalgorithms",
    "pubkeyacceptedkeytypes",
    "pubkeyauthentication",
    "pubkeyauthoptions",
    "rdomain",
    "refuseconnection",
    "rekeylimit",
    "revokedkeys",
    "setenv",
    "streamlocalbindmask",
    "streamlocalbindunlink",
    "trustedusercakeys",
    "unusedconnectiontimeout",
    "x11displayoffset",
    "x11forwarding",
    "x11uselocalhost",
];

/// The authentication method names `AuthenticationMethods` accepts.
const METHODS: &[&str] = &[
    "publickey",
    "password",
    "keyboard-interactive",
    "hostbased",
    "gssapi-with-mic",
];

const FACILITIES: &[&str] = &[
    "DAEMON", "USER", "AUTH", "AUTHPRIV", "LOCAL0", "LOCAL1", "LOCAL2", "LOCAL3", "LOCAL4",
    "LOCAL5", "LOCAL6", "LOCAL7",
];

fn forwarding(arg: &str) -> Result<Forwarding, String> {
    Ok(match arg.to_ascii_lowercase().as_str() {
        "yes" | "all" | "true" => Forwarding::Yes,
        "no" | "false" => Forwarding::No,
        "local" => Forwarding::Local,
        "remote" => Forwarding::Remote,
        _ => return Err(format!("unsupported option {arg}")),
    })
}

fn none_or<T>(arg: &str, f: impl FnOnce(&str) -> T) -> Option<T> {
    (!arg.eq_ignore_ascii_case("none")).then(|| f(arg))
}

/// `ListenAddress host|IPv4|IPv6|[IPv6]:port|host:port`.
fn listen_address(args: &[String]) -> Result<(String, Option<u16>), String> {
    let arg = match args {
        [a] => a.as_str(),
        [_, r, _] if r.eq_ignore_ascii_case("rdomain") => {
            return Err("rdomain is not supported".into());
        }
        [] => return Err("missing argument".into()),
        _ => return Err("garbage at end of line".into()),
    };
    if let Some(rest) = arg.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("bad address '{arg}'"))?;
        let port = match after {
            "" => None,
            p => Some(values::port(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("bad address '{arg}'"))?,
            )?),
        };
        return Ok((host.to_string(), port));
    }
    match arg.matches(':').count() {
        1 => {
            let (h, p) = arg.split_once(':').unwrap_or((arg, ""));
            Ok((h.to_string(), Some(values::port(p)?)))
        }
        _ => Ok((arg.to_string(), None)),
    }
}

fn max_startups(arg: &str) -> Result<MaxStartups, String> {
    let bad = || format!("Bad MaxStartups spec '{arg}'");
    let parts: Vec<&str> = arg.split(':').collect();
    let n = |s: &&str| values::int(s).map_err(|_| bad());
    let m = match parts.as_slice() {
        [one] => {
            let v = n(one)?;
            MaxStartups {
                start: v,
                rate: 100,
                full: v,
            }
        }
        [s, r, f] => MaxStartups {
            start: n(s)?,
            rate: n(r)?,
            full: n(f)?,
        },
        _ => return Err(bad()),
    };
    if m.start > m.full || m.rate == 0 || m.rate > 100 {
        return Err(bad());
    }
    Ok(m)
}

fn auth_methods(args: &[String]) -> Result<Vec<Vec<String>>, String> {
    let args = some(args)?;
    if let [a] = args
        && a == "any"
    {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for list in args {
        let mut methods = Vec::new();
        for m in list.split(',') {
            let base = m.split(':').next().unwrap_or("");
            if !METHODS.contains(&base) || (m.contains(':') && base != "keyboard-interactive") {
                return Err(format!("invalid authentication method list '{list}'"));
            }
            methods.push(m.to_string());
        }
        out.push(methods);
    }
    Ok(out)
}

fn permit_list(args: &[String], listen: bool) -> Result<Vec<String>, String> {
    let args = some(args)?;
    if let [a] = args
        && (a == "any" || a == "none")
    {
        return Ok(vec![a.clone()]);
    }
    for a in args {
        if a == "any" || a == "none" {
            return Err(format!("'{a}' must appear alone"));
        }
        let port = match a.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() => port,
            _ if listen => a.as_str(),
            _ => return Err(format!("missing host in '{a}'")),
        };
        if port != "*" {
            values::port(port)?;
        }
    }
    Ok(args.to_vec())
}

fn algo(kind: AlgoKind, args: &[String]) -> Result<Directive, String> {
    Ok(Directive::Algorithms(kind, AlgorithmSpec::new(one(args)?)))
}

/// Parses one line whose keyword is `kw` (lowercased); Match and Include
/// are handled by the caller.
pub(crate) fn parse(kw: &str, l: &Lexed) -> Result<Parsed, String> {
    use Directive as D;
    let a = &l.args;
    let flag = || -> Result<bool, String> { values::flag(one(a)?) };
    let d = match kw {
        "port" => {
            let p = values::port(one(a)?)?;
            if p == 0 {
                return Err("Badly formatted port number '0'".into());
            }
            D::Port(p)
        }
        "listenaddress" => {
            let (h, p) = listen_address(a)?;
            D::ListenAddress(h, p)
        }
        "addressfamily" => {
            let v = one(a)?.to_ascii_lowercase();
            if !["any", "inet", "inet6"].contains(&v.as_str()) {
                return Err(format!("unsupported address family '{v}'"));
            }
            D::AddressFamily(v)
        }
        "hostkey" => D::HostKey(one(a)?.to_string()),
        "hostcertificate" => D::HostCertificate(one(a)?.to_string()),
        "permitrootlogin" => D::PermitRootLogin(match one(a)?.to_ascii_lowercase().as_str() {
            "yes" | "true" => PermitRootLogin::Yes,
            "prohibit-password" | "without-password" => PermitRootLogin::ProhibitPassword,
            "forced-commands-only" => PermitRootLogin::ForcedCommandsOnly,
            "no" | "false" => PermitRootLogin::No,
            other => return Err(format!("unsupported option {other}")),
        }),
        "pubkeyauthentication" => D::PubkeyAuthentication(flag()?),
        "passwordauthentication" => D::PasswordAuthentication(flag()?),
        "kbdinteractiveauthentication" | "challengeresponseauthentication" => {
            D::KbdInteractiveAuthentication(flag()?)
        }
        "permitemptypasswords" => D::PermitEmptyPasswords(flag()?),
        "usepam" => D::UsePam(flag()?),
        "authenticationmethods" => D::AuthenticationMethods(auth_methods(a)?),
        "authorizedkeysfile" => {
            let files = some(a)?;
            for f in files {
                check_tokens(f, "hUu")?;
            }
            D::AuthorizedKeysFile(files.to_vec())
        }
        "trustedusercakeys" => D::TrustedUserCaKeys(none_or(one(a)?, str::to_string)),
        "allowusers" => D::AllowUsers(some(a)?.to_vec()),
        "denyusers" => D::DenyUsers(some(a)?.to_vec()),
        "allowgroups" => D::AllowGroups(some(a)?.to_vec()),
        "denygroups" => D::DenyGroups(some(a)?.to_vec()),
        "maxauthtries" => D::MaxAuthTries(values::int(one(a)?)?),
        "logingracetime" => {
            let t = values::duration(one(a)?)?;
            D::LoginGraceTime((!t.is_zero()).then_some(t))
        }
        "maxstartups" => D::MaxStartups(max_startups(one(a)?)?),
        "persourcepenalties" => D::PerSourcePenalties(PerSourcePenalties::parse(some(a)?)?),
        "persourcenetblocksize" => {
            let (v4, v6) = super::penalties::net_block_size(one(a)?)?;
            D::PerSourceNetBlockSize(v4, v6)
        }
        "persourcepenaltyexemptlist" => D::PerSourcePenaltyExemptList(some(a)?.to_vec()),
        "maxsessions" => D::MaxSessions(values::int(one(a)?)?),
        "clientaliveinterval" => D::ClientAliveInterval(values::duration(one(a)?)?),
        "clientalivecountmax" => D::ClientAliveCountMax(values::int(one(a)?)?),
        "permittty" => D::PermitTty(flag()?),
        "refuseconnection" => D::RefuseConnection(flag()?),
        "permituserenvironment" => {
            let v = one(a)?;
            D::PermitUserEnvironment(match values::flag(v) {
                Ok(true) => PermitUserEnvironment::Yes,
                Ok(false) => PermitUserEnvironment::No,
                Err(_) => PermitUserEnvironment::Patterns(v.to_string()),
            })
        }
        "acceptenv" => {
            let pats = some(a)?;
            if let Some(bad) = pats.iter().find(|p| p.contains('=')) {
                return Err(format!("Invalid environment name '{bad}'"));
            }
            D::AcceptEnv(pats.to_vec())
        }
        "subsystem" => match a.split_first() {
            Some((name, cmd)) if !cmd.is_empty() => D::Subsystem(name.clone(), cmd.join(" ")),
            _ => return Err("missing subsystem name or command".into()),
        },
        "forcecommand" => {
            if l.rest.is_empty() {
                return Err("missing argument".into());
            }
            D::ForceCommand(none_or(&l.rest, str::to_string))
        }
        "chrootdirectory" => {
            let v = one(a)?;
            check_tokens(v, "hu")?;
            D::ChrootDirectory(none_or(v, str::to_string))
        }
        "banner" => D::Banner(none_or(one(a)?, str::to_string)),
        "xauthlocation" => D::XAuthLocation(one(a)?.to_string()),
        "kexalgorithms" => algo(AlgoKind::Kex, a)?,
        "ciphers" => algo(AlgoKind::Ciphers, a)?,
        "macs" => algo(AlgoKind::Macs, a)?,
        "hostkeyalgorithms" => algo(AlgoKind::HostKey, a)?,
        "pubkeyacceptedalgorithms" | "pubkeyacceptedkeytypes" => algo(AlgoKind::PubkeyAccepted, a)?,
        "casignaturealgorithms" => algo(AlgoKind::CaSignature, a)?,
        "rekeylimit" => {
            let (b, t) = values::rekey_limit(a)?;
            D::RekeyLimit(b, t)
        }
        "compression" => D::Compression(match one(a)?.to_ascii_lowercase().as_str() {
            "delayed" => true,
            other => values::flag(other)?,
        }),
        "pidfile" => D::PidFile(none_or(one(a)?, str::to_string)),
        "loglevel" => D::LogLevel(LogLevel::parse(one(a)?)?),
        "syslogfacility" => {
            let f = one(a)?.to_ascii_uppercase();
            if !FACILITIES.contains(&f.as_str()) {
                return Err(format!("unsupported log facility '{f}'"));
            }
            D::SyslogFacility(f)
        }
        "allowtcpforwarding" => D::AllowTcpForwarding(forwarding(one(a)?)?),
        "allowstreamlocalforwarding" => D::AllowStreamLocalForwarding(forwarding(one(a)?)?),
        "allowagentforwarding" => D::AllowAgentForwarding(flag()?),
        "disableforwarding" => D::DisableForwarding(flag()?),
        "permitopen" => D::PermitOpen(permit_list(a, false)?),
        "permitlisten" => D::PermitListen(permit_list(a, true)?),
        "gatewayports" => D::GatewayPorts(match one(a)?.to_ascii_lowercase().as_str() {
            "clientspecified" => GatewayPorts::ClientSpecified,
            other => {
                if values::flag(other)? {
                    GatewayPorts::Yes
                } else {
                    GatewayPorts::No
                }
            }
        }),
        "x11forwarding" => D::X11Forwarding(flag()?),
        "x11displayoffset" => D::X11DisplayOffset(values::int(one(a)?)?),
        "x11uselocalhost" => D::X11UseLocalhost(flag()?),
        "streamlocalbindunlink" => D::StreamLocalBindUnlink(flag()?),
        "permittunnel" => {
            let v = one(a)?.to_ascii_lowercase();
            let v = match v.as_str() {
                "true" => "yes".to_string(),
                "false" => "no".to_string(),
                "yes" | "no" | "point-to-point" | "ethernet" => v,
                _ => return Err(format!("bad PermitTunnel argument '{v}'")),
            };
            D::PermitTunnel(v)
        }
        "strictmodes" => D::StrictModes(flag()?),
        "printmotd" => D::PrintMotd(flag()?),
        "printlastlog" => D::PrintLastLog(flag()?),
        "tcpkeepalive" => D::TcpKeepAlive(flag()?),
        _ if ONLY_NONE.contains(&kw) => {
            let v = one(a)?;
            if v.eq_ignore_ascii_case("none") {
                return Ok(Parsed::Nothing);
            }
            return Err(format!("only 'none' is supported here, not '{v}'"));
        }
        _ if UNSUPPORTED.contains(&kw) => return Ok(Parsed::Unsupported),
        _ => return Ok(Parsed::Unknown),
    };
    Ok(Parsed::Directive(d))
}
