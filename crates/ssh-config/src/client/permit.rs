//! `PermitRemoteOpen` (ssh_config(5)): where the connections of a remote
//! dynamic forward (`-R port` without a destination) may go.

/// The destinations a remote dynamic forward may connect to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RemoteOpenPermits {
    /// `any` (the default).
    #[default]
    Any,
    /// `none` (empty) or `host:port` entries; `*` as the host or the port
    /// matches any.
    Only(Vec<(String, Option<u16>)>),
}

impl RemoteOpenPermits {
    /// From the configuration's words (`any`, `none`, or `host:port`
    /// entries, IPv6 addresses in brackets), as `ssh` reads them; an entry
    /// that does not parse is an error naming it.
    pub fn from_config(words: &[String]) -> Result<RemoteOpenPermits, String> {
        match words {
            [] => Ok(RemoteOpenPermits::Any),
            [w] if w.eq_ignore_ascii_case("any") => Ok(RemoteOpenPermits::Any),
            [w] if w.eq_ignore_ascii_case("none") => Ok(RemoteOpenPermits::Only(Vec::new())),
            _ => words
                .iter()
                .map(|w| parse_entry(w))
                .collect::<Result<Vec<_>, _>>()
                .map(RemoteOpenPermits::Only),
        }
    }

    /// True when a connection to `host` port `port` may be made: the host
    /// compared as given (OpenSSH's `open_match` compares the strings).
    pub fn allows(&self, host: &str, port: u16) -> bool {
        match self {
            RemoteOpenPermits::Any => true,
            RemoteOpenPermits::Only(entries) => entries
                .iter()
                .any(|(h, p)| (h == "*" || h == host) && p.is_none_or(|p| p == port)),
        }
    }
}

/// `host:port`, `[v6]:port`, `*:port`, `host:*`.
fn parse_entry(word: &str) -> Result<(String, Option<u16>), String> {
    let bad = || format!("bad PermitRemoteOpen entry '{word}'");
    let (host, port) = match word.strip_prefix('[') {
        Some(rest) => {
            let (h, after) = rest.split_once(']').ok_or_else(bad)?;
            (h, after.strip_prefix(':').ok_or_else(bad)?)
        }
        None => word.rsplit_once(':').ok_or_else(bad)?,
    };
    if host.is_empty() || host.contains(':') && !word.starts_with('[') {
        return Err(bad());
    }
    let port = match port {
        "*" => None,
        p => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(bad()),
        },
    };
    Ok((host.to_owned(), port))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn any_none_and_entries() {
        let any = RemoteOpenPermits::from_config(&words("any")).unwrap();
        assert!(any.allows("example.org", 80));
        let none = RemoteOpenPermits::from_config(&words("none")).unwrap();
        assert!(!none.allows("localhost", 22));
        let some =
            RemoteOpenPermits::from_config(&words("localhost:22 *:80 db:* [::1]:443")).unwrap();
        assert!(some.allows("localhost", 22));
        assert!(!some.allows("localhost", 23));
        assert!(some.allows("anything", 80));
        assert!(some.allows("db", 5432));
        assert!(some.allows("::1", 443));
        assert!(!some.allows("127.0.0.1", 22), "names are compared as given");
    }

    #[test]
    fn bad_entries_are_errors() {
        for w in [
            "localhost",
            "host:0",
            "host:x",
            ":22",
            "any none",
            "[::1]22",
        ] {
            assert!(RemoteOpenPermits::from_config(&words(w)).is_err(), "{w}");
        }
    }
}
