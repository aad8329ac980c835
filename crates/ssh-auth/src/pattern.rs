//! OpenSSH wildcard patterns (`ssh_config(5)` PATTERNS): `*` matches any
//! run of characters, `?` exactly one; a comma-separated list may negate
//! entries with `!`, and a negated match overrides any positive one.

/// True if `text` matches the wildcard `pattern` (case-sensitive; callers
/// lowercase host names first). Iterative, linear in practice, without
/// recursion, so a hostile pattern cannot exhaust the stack.
pub fn wildcard_match(text: &str, pattern: &str) -> bool {
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    let (mut ti, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || Some(&c) == t.get(ti) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..).unwrap_or_default().iter().all(|&c| c == '*')
}

/// The result of matching a name against a pattern list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListMatch {
    /// No entry matched.
    None,
    /// A positive entry matched and no negated one did.
    Positive,
    /// A negated entry (`!pattern`) matched: the list rejects the name.
    Negated,
}

/// Matches `name` against a comma-separated pattern list, lowercasing
/// both as OpenSSH's `match_hostname` does.
pub fn match_list(name: &str, list: &str) -> ListMatch {
    let name = name.to_ascii_lowercase();
    let mut result = ListMatch::None;
    for entry in list.split(',') {
        let entry = entry.trim().to_ascii_lowercase();
        if let Some(neg) = entry.strip_prefix('!') {
            if wildcard_match(&name, neg) {
                return ListMatch::Negated;
            }
        } else if wildcard_match(&name, &entry) {
            result = ListMatch::Positive;
        }
    }
    result
}

/// Matches the address `addr` against `cidr` (`10.0.0.0/8`,
/// `2001:db8::/32`, or a bare address). `None` if `cidr` is not an
/// address or network, or families differ.
pub fn cidr_match(addr: &str, cidr: &str) -> Option<bool> {
    use core::net::IpAddr;
    let (net, bits) = match cidr.split_once('/') {
        Some((net, bits)) => (net, Some(bits.parse::<u32>().ok()?)),
        None => (cidr, None),
    };
    let net: IpAddr = net.parse().ok()?;
    let addr: IpAddr = addr.parse().ok()?;
    let (a, n, width) = match (addr, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            (u128::from(u32::from(a)), u128::from(u32::from(n)), 32u32)
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => (u128::from(a), u128::from(n), 128u32),
        _ => return None,
    };
    let bits = bits.unwrap_or(width);
    if bits > width {
        return None;
    }
    let host_bits = width - bits;
    let mask = if bits == 0 {
        0
    } else {
        (u128::MAX >> (128 - width)) & !((1u128 << host_bits) - 1)
    };
    // OpenSSH refuses networks with host bits set ("10.0.0.1/8").
    if n & !mask & (u128::MAX >> (128 - width)) != 0 {
        return None;
    }
    Some(a & mask == n & mask)
}

/// OpenSSH's `match_host_and_ip` for `from=` lists: each entry (maybe
/// negated) is a CIDR network matched against the address, or a wildcard
/// pattern matched against the address and the host name.
pub fn match_host_and_address(host: Option<&str>, addr: &str, list: &str) -> ListMatch {
    let host = host.map(str::to_ascii_lowercase);
    let mut result = ListMatch::None;
    for entry in list.split(',') {
        let entry = entry.trim().to_ascii_lowercase();
        let (negated, pattern) = match entry.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, entry.as_str()),
        };
        let hit = if pattern.contains('/') {
            cidr_match(addr, pattern) == Some(true)
        } else {
            wildcard_match(addr, pattern)
                || host.as_deref().is_some_and(|h| wildcard_match(h, pattern))
        };
        if hit {
            if negated {
                return ListMatch::Negated;
            }
            result = ListMatch::Positive;
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("example.com", "example.com"));
        assert!(wildcard_match("example.com", "*.com"));
        assert!(wildcard_match("example.com", "*"));
        assert!(wildcard_match("", "*"));
        assert!(wildcard_match("ab", "a?"));
        assert!(!wildcard_match("a", "a?"));
        assert!(wildcard_match("a.b.c", "a*c"));
        assert!(!wildcard_match("a.b.d", "a*c"));
        assert!(wildcard_match("[h]:2222", "[h]:22*"));
        assert!(!wildcard_match("example.com", "example.co"));
        assert!(!wildcard_match("xample.com", "example.com"));
        assert!(wildcard_match(
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaab",
            "*a*a*a*a*a*a*a*b"
        ));
        assert!(!wildcard_match(
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "*a*a*a*a*a*a*a*b"
        ));
    }

    #[test]
    fn cidr() {
        assert_eq!(cidr_match("10.1.2.3", "10.0.0.0/8"), Some(true));
        assert_eq!(cidr_match("11.1.2.3", "10.0.0.0/8"), Some(false));
        assert_eq!(cidr_match("10.1.2.3", "10.1.2.3"), Some(true));
        assert_eq!(cidr_match("10.1.2.3", "0.0.0.0/0"), Some(true));
        assert_eq!(cidr_match("2001:db8::1", "2001:db8::/32"), Some(true));
        assert_eq!(cidr_match("2001:db9::1", "2001:db8::/32"), Some(false));
        assert_eq!(cidr_match("10.1.2.3", "2001:db8::/32"), None);
        assert_eq!(cidr_match("10.1.2.3", "10.0.0.1/8"), None, "host bits set");
        assert_eq!(cidr_match("10.1.2.3", "10.0.0.0/33"), None);
        assert_eq!(cidr_match("host", "10.0.0.0/8"), None);
        assert_eq!(
            match_host_and_address(Some("a.example"), "10.0.0.7", "10.0.0.0/24,!10.0.0.7"),
            ListMatch::Negated
        );
        assert_eq!(
            match_host_and_address(Some("a.example"), "192.0.2.1", "*.example"),
            ListMatch::Positive
        );
        assert_eq!(
            match_host_and_address(None, "192.0.2.1", "192.0.2.*"),
            ListMatch::Positive
        );
    }

    #[test]
    fn lists_and_negation() {
        assert_eq!(
            match_list("Host.Example", "host.example"),
            ListMatch::Positive
        );
        assert_eq!(match_list("a", "b,c"), ListMatch::None);
        assert_eq!(
            match_list("a.example", "*.example,!a.example"),
            ListMatch::Negated
        );
        assert_eq!(
            match_list("b.example", "*.example,!a.example"),
            ListMatch::Positive
        );
        assert_eq!(match_list("a.example", "!a.example"), ListMatch::Negated);
        assert_eq!(match_list("b.example", "!a.example"), ListMatch::None);
    }
}
