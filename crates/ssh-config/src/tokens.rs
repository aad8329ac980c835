//! `%` tokens and `~` in paths and commands.

use std::path::Path;

/// Replaces `%x` tokens through `lookup` (`None`: the token is not valid
/// here); `%%` is a percent sign. A lone `%` at the end is an error.
pub(crate) fn percent_expand(
    s: &str,
    lookup: &dyn Fn(char) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some(t) => match lookup(t) {
                Some(v) => out.push_str(&v),
                None => return Err(format!("unknown or unsupported token %{t} in '{s}'")),
            },
            None => return Err(format!("invalid % at end of '{s}'")),
        }
    }
    Ok(out)
}

/// Checks that `s` uses only the tokens in `allowed` (and `%%`).
pub(crate) fn check_tokens(s: &str, allowed: &str) -> Result<(), String> {
    percent_expand(s, &|t| allowed.contains(t).then(String::new)).map(|_| ())
}

/// Expands a leading `~` or `~/` with `home`; `~user` is not supported
/// (it needs the user database).
pub(crate) fn tilde(s: &str, home: &Path) -> Result<String, String> {
    if s == "~" {
        return Ok(home.display().to_string());
    }
    if let Some(rest) = s.strip_prefix("~/") {
        return Ok(home.join(rest).display().to_string());
    }
    if s.starts_with('~') {
        return Err(format!("~user in '{s}' is not supported"));
    }
    Ok(s.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn expansion() {
        let f = |t: char| (t == 'h').then(|| "host".to_string());
        assert_eq!(percent_expand("a%h%%b", &f).unwrap(), "ahost%b");
        assert!(percent_expand("%x", &f).is_err());
        assert!(percent_expand("a%", &f).is_err());
        assert_eq!(tilde("~/x", Path::new("/home/u")).unwrap(), "/home/u/x");
        assert_eq!(tilde("/abs", Path::new("/home/u")).unwrap(), "/abs");
        assert!(tilde("~bob/x", Path::new("/home/u")).is_err());
        assert!(check_tokens("%h%u", "hu").is_ok());
        assert!(check_tokens("%h%r", "hu").is_err());
    }
}
