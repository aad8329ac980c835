//! Rust source reduced to its code, for the tidy checks: comments, string
//! literals (plain, byte, C, raw) and character literals become spaces,
//! newlines stay, so that line numbers and columns are those of the file.
//! A lexer good enough for this workspace's sources, not a parser: a
//! token that only looks like a keyword inside a comment or a string is
//! not code.

/// `text` with comments and literals blanked.
pub fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    let mut out = String::with_capacity(text.len());
    let blank = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    let mut i = 0;
    while i < chars.len() {
        let c = at(i);
        let prev_ident = i > 0 && is_ident(at(i - 1));
        if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && at(i) != '\n' {
                blank(&mut out, at(i));
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0usize;
            while i < chars.len() {
                if at(i) == '/' && at(i + 1) == '*' {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if at(i) == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, at(i));
                    i += 1;
                }
            }
        } else if !prev_ident && let Some((prefix, hashes)) = raw_string_start(&chars, i) {
            // r"..", r#".."#, br"..", cr"..": no escapes, ends at `"` and
            // as many `#`.
            for _ in 0..prefix + hashes + 1 {
                blank(&mut out, at(i));
                i += 1;
            }
            while i < chars.len() {
                if at(i) == '"' && (1..=hashes).all(|k| at(i + k) == '#') {
                    for _ in 0..hashes + 1 {
                        blank(&mut out, at(i));
                        i += 1;
                    }
                    break;
                }
                blank(&mut out, at(i));
                i += 1;
            }
        } else if c == '"' {
            blank(&mut out, c);
            i += 1;
            while i < chars.len() {
                let d = at(i);
                if d == '\\' {
                    blank(&mut out, d);
                    blank(&mut out, at(i + 1));
                    i += 2;
                    continue;
                }
                blank(&mut out, d);
                i += 1;
                if d == '"' {
                    break;
                }
            }
        } else if c == '\'' && at(i + 1) == '\\' {
            // '\n', '\'', '\u{..}'.
            out.push_str("   ");
            i += 3;
            while i < chars.len() && at(i) != '\'' && at(i) != '\n' {
                blank(&mut out, at(i));
                i += 1;
            }
            if at(i) == '\'' {
                out.push(' ');
                i += 1;
            }
        } else if c == '\'' && at(i + 2) == '\'' && at(i + 1) != '\n' {
            // 'x' (a lifetime 'a is never followed by a quote).
            out.push_str("   ");
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// At `i`, the start of a raw string literal: the length of its prefix
/// (`r`, `br`, `cr`) and its number of `#`.
fn raw_string_start(chars: &[char], i: usize) -> Option<(usize, usize)> {
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    let prefix = match (at(i), at(i + 1)) {
        ('r', _) => 1,
        ('b' | 'c', 'r') => 2,
        _ => return None,
    };
    let hashes = (i + prefix..chars.len())
        .take_while(|k| at(*k) == '#')
        .count();
    (at(i + prefix + hashes) == '"').then_some((prefix, hashes))
}

/// Whether `c` can be part of an identifier.
pub fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The identifiers and keywords of one line of code, with their columns
/// (in characters).
pub fn words(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (col, (byte, c)) in line.char_indices().enumerate() {
        match (start, is_ident(c)) {
            (None, true) => start = Some((col, byte)),
            (Some((scol, sbyte)), false) => {
                out.push((scol, line.get(sbyte..byte).unwrap_or("")));
                start = None;
            }
            _ => {}
        }
    }
    if let Some((scol, sbyte)) = start {
        out.push((scol, line.get(sbyte..).unwrap_or("")));
    }
    // A number's suffix or a lifetime is not a word of its own here; the
    // checks only look for whole keywords and crate names.
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_strings_and_chars_are_blanked_lines_kept() {
        let src = "let a = \"unsafe { \\\" }\"; // unsafe\n/* unsafe /* nested */ still */ unsafe {}\nlet r = r#\"unsafe \" \"#; let c = '\"'; let l: &'a str = b\"x\";\nfn f<'a>(x: &'a u8) -> char { '\\'' }\n";
        let code = code_only(src);
        assert_eq!(code.lines().count(), src.lines().count());
        for (line, (code, src)) in code.lines().zip(src.lines()).enumerate() {
            assert_eq!(code.chars().count(), src.chars().count(), "line {line}");
        }
        let unsafe_lines: Vec<usize> = code
            .lines()
            .enumerate()
            .filter(|(_, l)| words(l).iter().any(|(_, w)| *w == "unsafe"))
            .map(|(i, _)| i + 1)
            .collect();
        assert_eq!(unsafe_lines, [2], "{code}");
        assert!(code.contains("fn f<'a>(x: &'a u8)"), "{code}");
        assert!(!code.contains('"'), "{code}");
    }

    #[test]
    fn words_have_columns() {
        assert_eq!(
            words("use tokio::net; é_x"),
            [(0, "use"), (4, "tokio"), (11, "net"), (16, "é_x")]
        );
    }
}
