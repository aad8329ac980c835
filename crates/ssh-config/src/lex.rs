//! One configuration line into a keyword and arguments, as OpenSSH's
//! `process_config_line` with `argv_split` does.

/// A non-empty, non-comment line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lexed {
    /// The keyword as written.
    pub keyword: String,
    /// The arguments, unquoted, up to a `#` that starts a word.
    pub args: Vec<String>,
    /// Everything after the keyword and its separator, verbatim (for
    /// `ProxyCommand`, `ForceCommand` and the like, which take the rest
    /// of the line).
    pub rest: String,
}

/// Splits a line; `Ok(None)` for blank lines and comments.
pub(crate) fn lex(line: &str) -> Result<Option<Lexed>, String> {
    let line = line.trim_end_matches([' ', '\t', '\r', '\n']);
    let line = line.trim_start_matches([' ', '\t']);
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let end = line.find([' ', '\t', '=']).unwrap_or(line.len());
    let (keyword, after) = line.split_at(end);
    if keyword.is_empty() {
        return Err("Missing keyword".into());
    }
    // `Key Value`, `Key=Value`, `Key = Value`: whitespace, at most one `=`.
    let after = after.trim_start_matches([' ', '\t']);
    let after = after.strip_prefix('=').unwrap_or(after);
    let rest = after.trim_start_matches([' ', '\t']);
    let args = split_args(rest)?;
    Ok(Some(Lexed {
        keyword: keyword.to_string(),
        args,
        rest: rest.to_string(),
    }))
}

/// OpenSSH's `argv_split(s, .., terminate_on_comment = 1)`: words separated
/// by blanks; `"` and `'` quote; backslash escapes a quote, a backslash or
/// (outside quotes) a space; a `#` at the start of a word ends the line.
pub(crate) fn split_args(s: &str) -> Result<Vec<String>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if c == ' ' || c == '\t' {
            i += 1;
            continue;
        }
        if c == '#' {
            break;
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while let Some(&c) = chars.get(i) {
            match (c, quote) {
                ('\\', q) => {
                    let next = chars.get(i + 1).copied();
                    match next {
                        Some(n)
                            if n == '\'' || n == '"' || n == '\\' || (q.is_none() && n == ' ') =>
                        {
                            word.push(n);
                            i += 1;
                        }
                        _ => word.push('\\'),
                    }
                }
                (' ' | '\t', None) => break,
                ('"' | '\'', None) => quote = Some(c),
                (c, Some(q)) if c == q => quote = None,
                (c, _) => word.push(c),
            }
            i += 1;
        }
        if quote.is_some() {
            return Err("Unterminated quoted argument".into());
        }
        out.push(word);
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        lex(line).unwrap().unwrap().args
    }

    #[test]
    fn separators_quotes_and_comments() {
        assert_eq!(lex("  # comment").unwrap(), None);
        assert_eq!(lex("   ").unwrap(), None);
        let l = lex("Port=22").unwrap().unwrap();
        assert_eq!(
            (l.keyword.as_str(), l.args.clone()),
            ("Port", vec!["22".to_string()])
        );
        assert_eq!(args("Port = 22"), ["22"]);
        assert_eq!(args("Port =22"), ["22"]);
        assert_eq!(args("SendEnv LANG  LC_*\t# trailing"), ["LANG", "LC_*"]);
        assert_eq!(
            args(r#"IdentityFile "~/my key" 'a b' c\ d"#),
            ["~/my key", "a b", "c d"]
        );
        assert_eq!(args(r##"X a#b "#c""##), ["a#b", "#c"]);
        assert_eq!(args(r"X a\qb"), [r"a\qb"]);
        assert_eq!(
            lex("ProxyCommand ssh -W %h:%p gw # x")
                .unwrap()
                .unwrap()
                .rest,
            "ssh -W %h:%p gw # x"
        );
        assert!(lex("X \"open").is_err());
        assert!(lex("=x").is_err());
    }
}
