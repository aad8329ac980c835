//! Port forwarding specifications, as OpenSSH's `parse_forward`:
//! `LocalForward [bind:]port host:hostport`, `-L [bind:]port:host:hostport`,
//! `[::1]:port` brackets, Unix socket paths (any field with a `/`), and
//! dynamic (SOCKS) forwards.

use std::fmt;
use std::path::PathBuf;

/// One end of a forwarding.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// A TCP address. On the listening side `bind` is the bind address
    /// (`None`: the default, loopback unless GatewayPorts; `Some("")` and
    /// `Some("*")`: all addresses); on the connecting side it is the host
    /// to connect to (always `Some`). Port 0 on a remote listener asks
    /// the server to pick one.
    Tcp {
        /// Bind address or target host.
        bind: Option<String>,
        /// Port.
        port: u16,
    },
    /// A Unix-domain socket path.
    Unix(PathBuf),
}

impl fmt::Display for Endpoint {
    /// OpenSSH's `ssh -G` form: `port`, `[host]:port` or the path.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp { bind: None, port } => write!(f, "{port}"),
            Endpoint::Tcp {
                bind: Some(h),
                port,
            } => write!(f, "[{h}]:{port}"),
            Endpoint::Unix(p) => write!(f, "{}", p.display()),
        }
    }
}

/// A forwarding: where to listen and where to connect. `connect` is
/// `None` for a dynamic (SOCKS) forwarding.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Forward {
    /// The listening side (local for `-L`/`-D`, the server for `-R`).
    pub listen: Endpoint,
    /// The target; `None` for dynamic forwarding.
    pub connect: Option<Endpoint>,
}

/// Which option a specification belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardKind {
    /// `-L`, `LocalForward`.
    Local,
    /// `-R`, `RemoteForward` (also the dynamic `-R [bind:]port` form).
    Remote,
    /// `-D`, `DynamicForward`.
    Dynamic,
}

/// One colon-separated field: its text and whether it names a path.
struct Field {
    text: String,
    is_path: bool,
}

/// OpenSSH's `parse_fwd_field`: a `[...]` field is literal; otherwise a
/// backslash escapes the next character and `:` ends the field.
fn split_fields(spec: &str) -> Option<Vec<Field>> {
    let chars: Vec<char> = spec.trim_start().chars().collect();
    let mut fields = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if fields.len() == 4 {
            return None; // trailing garbage
        }
        if chars.get(i) == Some(&'[') {
            let close = chars.iter().skip(i + 1).position(|&c| c == ']')? + i + 1;
            let text: String = chars.get(i + 1..close)?.iter().collect();
            match chars.get(close + 1) {
                None => i = close + 1,
                Some(':') => i = close + 2,
                Some(_) => return None,
            }
            fields.push(Field {
                is_path: text.contains('/'),
                text,
            });
            continue;
        }
        let mut text = String::new();
        let mut is_path = false;
        while let Some(&c) = chars.get(i) {
            i += 1;
            match c {
                '\\' => {
                    text.push(*chars.get(i)?);
                    i += 1;
                }
                ':' => break,
                c => {
                    is_path |= c == '/';
                    text.push(c);
                }
            }
        }
        fields.push(Field { text, is_path });
    }
    Some(fields)
}

fn tcp(bind: Option<&Field>, port: &Field) -> Result<Endpoint, ()> {
    Ok(Endpoint::Tcp {
        bind: bind.map(|b| b.text.clone()),
        port: crate::values::port(&port.text).map_err(|_| ())?,
    })
}

fn unix(f: &Field) -> Endpoint {
    Endpoint::Unix(PathBuf::from(&f.text))
}

/// Parses one specification string: `[bind:]port:host:hostport` (also
/// with paths: `/listen.sock:host:port`, `port:/target.sock`,
/// `/a.sock:/b.sock`) for local and remote; `[bind:]port` or a path for
/// dynamic and for the dynamic form of remote. `LocalForward a b` in a
/// file is `a:b` here.
pub fn parse_forward_spec(spec: &str, kind: ForwardKind) -> Result<Forward, String> {
    let bad = || format!("Bad forwarding specification '{spec}'");
    let parsed = match kind {
        ForwardKind::Local => parse(spec, false, false),
        ForwardKind::Dynamic => parse(spec, true, false),
        ForwardKind::Remote => parse(spec, false, true).or_else(|()| parse(spec, true, true)),
    };
    parsed.map_err(|()| bad())
}

fn parse(spec: &str, dynamic: bool, remote: bool) -> Result<Forward, ()> {
    let fields = split_fields(spec).ok_or(())?;
    let (listen, connect) = match fields.as_slice() {
        [a] if dynamic => (if a.is_path { unix(a) } else { tcp(None, a)? }, None),
        [a, b] if dynamic => {
            if a.is_path || b.is_path {
                return Err(());
            }
            (tcp(Some(a), b)?, None)
        }
        [a, b] if !dynamic && b.is_path => {
            let listen = if a.is_path { unix(a) } else { tcp(None, a)? };
            (listen, Some(unix(b)))
        }
        [a, b, c] if !dynamic => {
            if a.is_path {
                (unix(a), Some(tcp(Some(b), c)?))
            } else if c.is_path {
                (tcp(Some(a), b)?, Some(unix(c)))
            } else {
                (tcp(None, a)?, Some(tcp(Some(b), c)?))
            }
        }
        [a, b, c, d] if !dynamic => (tcp(Some(a), b)?, Some(tcp(Some(c), d)?)),
        _ => return Err(()),
    };
    if let Some(Endpoint::Tcp { bind, port }) = &connect
        && (*port == 0 || bind.as_deref().is_none_or(str::is_empty))
    {
        return Err(());
    }
    if let Endpoint::Tcp { port: 0, .. } = listen
        && !remote
    {
        return Err(());
    }
    Ok(Forward { listen, connect })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn fields() {
        let f = split_fields("[::1]:80:a\\:b:/x").unwrap();
        let t: Vec<&str> = f.iter().map(|f| f.text.as_str()).collect();
        assert_eq!(t, ["::1", "80", "a:b", "/x"]);
        assert!(f.get(3).unwrap().is_path);
        assert!(split_fields("[::1]x:80").is_none());
        assert!(split_fields("a:b:c:d:e").is_none());
    }
}
