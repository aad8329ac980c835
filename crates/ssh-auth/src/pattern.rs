//! OpenSSH wildcard patterns (`ssh_config(5)` PATTERNS): `*` matches any
//! run of characters, `?` exactly one; a comma-separated list may negate
//! entries with `!`, and a negated match overrides any positive one.

/// True if `text` matches the wildcard `pattern` (case-sensitive; callers
/// lowercase host names first). Iterative, linear in practice, without
/// recursion, so a hostile pattern cannot exhaust the stack.
pub(crate) fn wildcard_match(text: &str, pattern: &str) -> bool {
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
pub(crate) enum ListMatch {
    /// No entry matched.
    None,
    /// A positive entry matched and no negated one did.
    Positive,
    /// A negated entry (`!pattern`) matched: the list rejects the name.
    Negated,
}

/// Matches `name` against a comma-separated pattern list, lowercasing
/// both as OpenSSH's `match_hostname` does.
pub(crate) fn match_list(name: &str, list: &str) -> ListMatch {
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
