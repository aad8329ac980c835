//! Client keywords: each implemented one parsed into a typed [`Directive`]
//! when the file is read, the ones known to OpenSSH but not implemented
//! here recognised (and ignored with a warning), anything else an error.

use std::time::Duration;

use super::permit::RemoteOpenPermits;
use super::settings::{AddressFamily, ForwardAgent, RequestTty, StrictHostKeyChecking};
use crate::forward::{Endpoint, Forward, ForwardKind, parse_forward_spec};
use crate::lex::Lexed;
use crate::values::{self, LogLevel, one, some};
use crate::{AlgoKind, AlgorithmSpec};

/// One implemented client option with its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Directive {
    HostName(String),
    Port(u16),
    User(String),
    IdentityFile(String),
    IdentitiesOnly(bool),
    IdentityAgent(String),
    CertificateFile(String),
    UserKnownHostsFile(Vec<String>),
    GlobalKnownHostsFile(Vec<String>),
    StrictHostKeyChecking(StrictHostKeyChecking),
    HashKnownHosts(bool),
    BatchMode(bool),
    WarnWeakCrypto(bool),
    RefuseConnection(String),
    PreferredAuthentications(Vec<String>),
    PubkeyAuthentication(bool),
    PasswordAuthentication(bool),
    KbdInteractiveAuthentication(bool),
    NumberOfPasswordPrompts(u32),
    Algorithms(AlgoKind, AlgorithmSpec),
    Compression(bool),
    ConnectTimeout(Option<Duration>),
    ServerAliveInterval(Duration),
    ServerAliveCountMax(u32),
    RekeyLimit(Option<u64>, Option<Option<Duration>>),
    SendEnv(Vec<String>),
    SetEnv(Vec<(String, String)>),
    RequestTty(RequestTty),
    LogLevel(LogLevel),
    XAuthLocation(String),
    LocalForward(Forward),
    RemoteForward(Forward),
    DynamicForward(Endpoint),
    GatewayPorts(bool),
    ExitOnForwardFailure(bool),
    StreamLocalBindUnlink(bool),
    PermitRemoteOpen(RemoteOpenPermits),
    ClearAllForwardings(bool),
    ForwardAgent(ForwardAgent),
    ForwardX11(bool),
    ForwardX11Trusted(bool),
    ForwardX11Timeout(Duration),
    ProxyJump(String),
    ProxyCommand(String),
    AddressFamily(AddressFamily),
    EscapeChar(Option<u8>),
    TcpKeepAlive(bool),
    HostKeyAlias(String),
    CheckHostIp(bool),
    ConnectionAttempts(u32),
    RemoteCommand(String),
    BindAddress(String),
    Tag(String),
}

/// What a keyword is.
pub(crate) enum Parsed {
    /// Implemented: the value.
    Directive(Directive),
    /// Known to OpenSSH, not implemented here: ignored with a warning.
    Unsupported,
    /// Not a client keyword at all.
    Unknown,
}

/// Keywords OpenSSH's `ssh` knows (current, deprecated or unsupported
/// there) that this implementation ignores.
const UNSUPPORTED: &[&str] = &[
    "addkeystoagent",
    "afstokenpassing",
    "bindinterface",
    "canonicaldomains",
    "canonicalizefallbacklocal",
    "canonicalizehostname",
    "canonicalizemaxdots",
    "canonicalizepermittedcnames",
    "channeltimeout",
    "cipher",
    "compressionlevel",
    "controlmaster",
    "controlpath",
    "controlpersist",
    "dsaauthentication",
    "enableescapecommandline",
    "enablesshkeysign",
    "fallbacktorsh",
    "fingerprinthash",
    "forkafterauthentication",
    "gssapiauthentication",
    "gssapiclientidentity",
    "gssapidelegatecredentials",
    "gssapikexalgorithms",
    "gssapikeyexchange",
    "gssapirenewalforcesrekey",
    "gssapiserveridentity",
    "gssapitrustdns",
    "hostbasedacceptedalgorithms",
    "hostbasedauthentication",
    "hostbasedkeytypes",
    "ipqos",
    "kbdinteractivedevices",
    "kerberosauthentication",
    "kerberostgtpassing",
    "knownhostscommand",
    "localcommand",
    "logverbose",
    "nohostauthenticationforlocalhost",
    "obscurekeystroketiming",
    "permitlocalcommand",
    "pkcs11provider",
    "protocol",
    "proxyusefdpass",
    "requiredrsasize",
    "revokedhostkeys",
    "rhostsauthentication",
    "rhostsrsaauthentication",
    "rsaauthentication",
    "securitykeyprovider",
    "sessiontype",
    "skeyauthentication",
    "smartcarddevice",
    "stdinnull",
    "streamlocalbindmask",
    "syslogfacility",
    "tisauthentication",
    "tunnel",
    "tunneldevice",
    "updatehostkeys",
    "useprivilegedport",
    "useroaming",
    "usersh",
    "verifyhostkeydns",
    "visualhostkey",
];

fn strict(arg: &str) -> Result<StrictHostKeyChecking, String> {
    Ok(match arg.to_ascii_lowercase().as_str() {
        "yes" | "true" => StrictHostKeyChecking::Yes,
        "no" | "false" | "off" => StrictHostKeyChecking::No,
        "ask" => StrictHostKeyChecking::Ask,
        "accept-new" => StrictHostKeyChecking::AcceptNew,
        _ => return Err(format!("unsupported value '{arg}'")),
    })
}

fn escape_char(arg: &str) -> Result<Option<u8>, String> {
    let b = arg.as_bytes();
    match b {
        _ if arg == "none" => Ok(None),
        [c] => Ok(Some(*c)),
        [b'^', c] if (64..128).contains(c) => Ok(Some(c & 31)),
        _ => Err(format!("Bad escape character '{arg}'")),
    }
}

fn forward(kind: ForwardKind, args: &[String]) -> Result<Forward, String> {
    let spec = match (kind, args) {
        (ForwardKind::Dynamic, [a]) => a.clone(),
        (ForwardKind::Remote, [a]) => a.clone(),
        (ForwardKind::Local | ForwardKind::Remote, [a, b]) => format!("{a}:{b}"),
        (_, []) => return Err("missing argument".into()),
        (ForwardKind::Local, [_]) => return Err("Missing target argument".into()),
        _ => return Err("garbage at end of line".into()),
    };
    let fwd = parse_forward_spec(&spec, kind)?;
    if kind == ForwardKind::Remote && fwd.connect.is_none() && args.len() == 2 {
        return Err(format!("Bad forwarding specification '{spec}'"));
    }
    Ok(fwd)
}

fn setenv(args: &[String]) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for a in args {
        let (k, v) = a
            .split_once('=')
            .ok_or_else(|| format!("Invalid environment expression '{a}'"))?;
        if k.is_empty() {
            return Err(format!("Invalid environment expression '{a}'"));
        }
        // The first definition of a name wins.
        if !out.iter().any(|(n, _)| n == k) {
            out.push((k.to_string(), v.to_string()));
        }
    }
    Ok(out)
}

/// An algorithm list option: exactly one comma-separated argument, kept
/// as written (checked against the supported names when applied).
fn algo(kind: AlgoKind, args: &[String]) -> Result<Directive, String> {
    let a = one(args)?;
    if a.is_empty() {
        return Err("missing argument".into());
    }
    Ok(Directive::Algorithms(kind, AlgorithmSpec::new(a)))
}

/// Parses one line whose keyword is `kw` (lowercased); Host, Match and
/// Include are handled by the caller.
pub(crate) fn parse(kw: &str, l: &Lexed) -> Result<Parsed, String> {
    use Directive as D;
    let a = &l.args;
    let d = match kw {
        "hostname" => D::HostName(one(a)?.to_string()),
        "port" => {
            let p = values::port(one(a)?)?;
            if p == 0 {
                return Err("Badly formatted port number '0'".into());
            }
            D::Port(p)
        }
        "user" => D::User(one(a)?.to_string()),
        "identityfile" => D::IdentityFile(one(a)?.to_string()),
        "identitiesonly" => D::IdentitiesOnly(values::flag(one(a)?)?),
        "identityagent" => D::IdentityAgent(one(a)?.to_string()),
        "certificatefile" => D::CertificateFile(one(a)?.to_string()),
        "userknownhostsfile" => D::UserKnownHostsFile(some(a)?.to_vec()),
        "globalknownhostsfile" => D::GlobalKnownHostsFile(some(a)?.to_vec()),
        "stricthostkeychecking" => D::StrictHostKeyChecking(strict(one(a)?)?),
        "hashknownhosts" => D::HashKnownHosts(values::flag(one(a)?)?),
        "batchmode" => D::BatchMode(values::flag(one(a)?)?),
        "refuseconnection" => D::RefuseConnection(one(a)?.to_string()),
        "warnweakcrypto" => D::WarnWeakCrypto(match one(a)?.to_ascii_lowercase().as_str() {
            "yes" | "true" => true,
            "no" | "false" | "no-pq-kex" => false,
            other => return Err(format!("unsupported option \"{other}\"")),
        }),
        "preferredauthentications" => {
            let list = one(a)?;
            let methods: Vec<String> = list.split(',').map(str::to_string).collect();
            if methods.iter().any(String::is_empty) {
                return Err(format!("bad method list '{list}'"));
            }
            D::PreferredAuthentications(methods)
        }
        "pubkeyauthentication" => {
            D::PubkeyAuthentication(match one(a)?.to_ascii_lowercase().as_str() {
                "unbound" | "host-bound" => true,
                other => values::flag(other)?,
            })
        }
        "passwordauthentication" => D::PasswordAuthentication(values::flag(one(a)?)?),
        "kbdinteractiveauthentication" | "challengeresponseauthentication" => {
            D::KbdInteractiveAuthentication(values::flag(one(a)?)?)
        }
        "numberofpasswordprompts" => D::NumberOfPasswordPrompts(values::int(one(a)?)?),
        "kexalgorithms" => algo(AlgoKind::Kex, a)?,
        "ciphers" => algo(AlgoKind::Ciphers, a)?,
        "macs" => algo(AlgoKind::Macs, a)?,
        "hostkeyalgorithms" => algo(AlgoKind::HostKey, a)?,
        "pubkeyacceptedalgorithms" | "pubkeyacceptedkeytypes" => algo(AlgoKind::PubkeyAccepted, a)?,
        "casignaturealgorithms" => algo(AlgoKind::CaSignature, a)?,
        "compression" => D::Compression(values::flag(one(a)?)?),
        "connecttimeout" => {
            let v = one(a)?;
            if v.eq_ignore_ascii_case("none") {
                D::ConnectTimeout(None)
            } else {
                let s = values::seconds(v)?;
                D::ConnectTimeout((s != 0).then(|| Duration::from_secs(s)))
            }
        }
        "serveraliveinterval" => D::ServerAliveInterval(values::duration(one(a)?)?),
        "serveralivecountmax" => D::ServerAliveCountMax(values::int(one(a)?)?),
        "rekeylimit" => {
            let (b, t) = values::rekey_limit(a)?;
            D::RekeyLimit(b, t)
        }
        "sendenv" => {
            let pats = some(a)?;
            if let Some(bad) = pats.iter().find(|p| p.contains('=')) {
                return Err(format!("Invalid environment name '{bad}'"));
            }
            D::SendEnv(pats.to_vec())
        }
        "setenv" => D::SetEnv(setenv(some(a)?)?),
        "requesttty" => D::RequestTty(match one(a)?.to_ascii_lowercase().as_str() {
            "no" | "false" => RequestTty::No,
            "yes" | "true" => RequestTty::Yes,
            "force" => RequestTty::Force,
            "auto" => RequestTty::Auto,
            other => return Err(format!("unsupported value '{other}'")),
        }),
        "loglevel" => D::LogLevel(LogLevel::parse(one(a)?)?),
        "xauthlocation" => D::XAuthLocation(one(a)?.to_string()),
        "localforward" => D::LocalForward(forward(ForwardKind::Local, a)?),
        "remoteforward" => D::RemoteForward(forward(ForwardKind::Remote, a)?),
        "dynamicforward" => D::DynamicForward(forward(ForwardKind::Dynamic, a)?.listen),
        "gatewayports" => D::GatewayPorts(values::flag(one(a)?)?),
        "exitonforwardfailure" => D::ExitOnForwardFailure(values::flag(one(a)?)?),
        "streamlocalbindunlink" => D::StreamLocalBindUnlink(values::flag(one(a)?)?),
        "permitremoteopen" => D::PermitRemoteOpen(RemoteOpenPermits::from_config(some(a)?)?),
        "clearallforwardings" => D::ClearAllForwardings(values::flag(one(a)?)?),
        "forwardagent" => {
            let v = one(a)?;
            D::ForwardAgent(match values::flag(v) {
                Ok(true) => ForwardAgent::Yes,
                Ok(false) => ForwardAgent::No,
                Err(_) => ForwardAgent::Path(v.to_string()),
            })
        }
        "forwardx11" => D::ForwardX11(values::flag(one(a)?)?),
        "forwardx11trusted" => D::ForwardX11Trusted(values::flag(one(a)?)?),
        "forwardx11timeout" => D::ForwardX11Timeout(values::duration(one(a)?)?),
        "proxyjump" => {
            let v = one(a)?;
            if v != "none" && v.split(',').any(str::is_empty) {
                return Err(format!("Invalid ProxyJump '{v}'"));
            }
            D::ProxyJump(v.to_string())
        }
        "proxycommand" => {
            if l.rest.is_empty() {
                return Err("missing argument".into());
            }
            D::ProxyCommand(l.rest.clone())
        }
        "remotecommand" => {
            if l.rest.is_empty() {
                return Err("missing argument".into());
            }
            D::RemoteCommand(l.rest.clone())
        }
        "addressfamily" => D::AddressFamily(match one(a)?.to_ascii_lowercase().as_str() {
            "any" => AddressFamily::Any,
            "inet" => AddressFamily::Inet,
            "inet6" => AddressFamily::Inet6,
            other => return Err(format!("unsupported value '{other}'")),
        }),
        "escapechar" => D::EscapeChar(escape_char(one(a)?)?),
        "tcpkeepalive" => D::TcpKeepAlive(values::flag(one(a)?)?),
        "hostkeyalias" => D::HostKeyAlias(one(a)?.to_string()),
        "checkhostip" => D::CheckHostIp(values::flag(one(a)?)?),
        "connectionattempts" => D::ConnectionAttempts(values::int(one(a)?)?),
        "bindaddress" => D::BindAddress(one(a)?.to_string()),
        "tag" => D::Tag(one(a)?.to_string()),
        _ if UNSUPPORTED.contains(&kw) => return Ok(Parsed::Unsupported),
        _ => return Ok(Parsed::Unknown),
    };
    Ok(Parsed::Directive(d))
}
