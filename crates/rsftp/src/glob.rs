//! Wildcards as `sftp` and `scp` expand them with glob(3): `*`, `?` and
//! `[...]` in a path component match the names of that directory, a
//! leading `.` only when the pattern has a literal dot there, and a quoted
//! or backslash-escaped character stands for itself. Remote patterns are
//! matched against the server's listings ([`remote`]), local ones against
//! the file system ([`local`]).

use std::path::PathBuf;

use glob::{MatchOptions, Pattern};
use ssh_client_kit::sftp::{SftpResult, SftpSession};
use ssh_sftp::{Attrs, NameEntry};

use crate::transfer::join;

/// The most paths one pattern expands to; more is an error, not a
/// truncated list.
pub const MAX_MATCHES: usize = 65_536;

const OPTIONS: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: true,
};

/// A word of a command line, each character marked literal (quoted or
/// escaped) or not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Word {
    chars: Vec<(char, bool)>,
}

impl Word {
    /// Appends `c`; `literal`: quoted or escaped, never a wildcard.
    pub fn push(&mut self, c: char, literal: bool) {
        self.chars.push((c, literal));
    }

    /// A word whose every character stands for itself.
    pub fn literal(s: &str) -> Word {
        Word {
            chars: s.chars().map(|c| (c, true)).collect(),
        }
    }

    /// A path as `scp` reads a remote one: wildcards are live and a
    /// backslash makes the next character literal.
    pub fn escaped(s: &str) -> Word {
        let mut w = Word::default();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            match (c, c == '\\') {
                (_, true) => match chars.next() {
                    Some(n) => w.push(n, true),
                    None => w.push('\\', true),
                },
                (c, false) => w.push(c, false),
            }
        }
        w
    }

    /// The characters, quoting gone.
    pub fn text(&self) -> String {
        self.chars.iter().map(|&(c, _)| c).collect()
    }

    /// True when an unquoted `*`, `?` or `[` is in it.
    pub fn has_magic(&self) -> bool {
        self.chars
            .iter()
            .any(|&(c, literal)| !literal && matches!(c, '*' | '?' | '['))
    }

    /// The components between slashes (empty ones dropped), and whether
    /// the word starts with one.
    fn components(&self) -> (bool, Vec<Word>) {
        let absolute = self.chars.first().is_some_and(|&(c, _)| c == '/');
        let parts = self
            .chars
            .split(|&(c, _)| c == '/')
            .filter(|p| !p.is_empty())
            .map(|p| Word { chars: p.to_vec() })
            .collect();
        (absolute, parts)
    }

    /// The word as a `glob` pattern: literal wildcard characters in
    /// brackets.
    fn pattern_text(&self) -> String {
        let mut s = String::new();
        for &(c, literal) in &self.chars {
            match c {
                '*' | '?' | '[' | ']' if literal => {
                    s.push('[');
                    s.push(c);
                    s.push(']');
                }
                c => s.push(c),
            }
        }
        s
    }

    /// Whether `name` (one component) matches this component. A pattern
    /// glob(3) would not take (an unclosed `[`) matches only itself.
    fn matches(&self, name: &[u8]) -> bool {
        let name = String::from_utf8_lossy(name);
        match Pattern::new(&self.pattern_text()) {
            Ok(p) => p.matches_with(&name, OPTIONS),
            Err(_) => name == self.text(),
        }
    }
}

/// What [`remote`] asks of the server: an [`SftpSession`], or a fake in
/// the tests.
trait RemoteFs {
    /// The entries of directory `dir`.
    async fn list(&mut self, dir: &[u8]) -> SftpResult<Vec<NameEntry>>;
    /// The attributes of `path`, symlinks followed.
    async fn stat(&mut self, path: &[u8]) -> SftpResult<Attrs>;
}

impl RemoteFs for SftpSession {
    async fn list(&mut self, dir: &[u8]) -> SftpResult<Vec<NameEntry>> {
        SftpSession::list(self, dir).await
    }

    async fn stat(&mut self, path: &[u8]) -> SftpResult<Attrs> {
        SftpSession::stat(self, path).await
    }
}

/// Expands `word` (relative to the remote directory `cwd`; empty: the
/// server's starting directory) against the server's listings, sorted. A word without wildcards is only joined to
/// `cwd`, whether it exists or not; one with wildcards that matches
/// nothing gives an empty list.
pub async fn remote(s: &mut SftpSession, cwd: &[u8], word: &Word) -> Result<Vec<Vec<u8>>, String> {
    expand(s, cwd, word).await
}

/// [`remote`] against any [`RemoteFs`].
async fn expand<S: RemoteFs>(s: &mut S, cwd: &[u8], word: &Word) -> Result<Vec<Vec<u8>>, String> {
    if !word.has_magic() {
        return Ok(vec![join(cwd, word.text().as_bytes())]);
    }
    let (absolute, parts) = word.components();
    let base = if absolute {
        b"/".to_vec()
    } else {
        cwd.to_vec()
    };
    let mut found = vec![base];
    let last = parts.len().saturating_sub(1);
    for (i, part) in parts.iter().enumerate() {
        if !part.has_magic() {
            for p in &mut found {
                *p = join(p, part.text().as_bytes());
            }
            continue;
        }
        let mut next = Vec::new();
        for dir in &found {
            // An unreadable directory matches nothing, as in glob(3).
            let listed = if dir.is_empty() { b"." } else { dir.as_slice() };
            let Ok(entries) = s.list(listed).await else {
                continue;
            };
            for e in entries {
                if e.filename == b"." || e.filename == b".." || !part.matches(&e.filename) {
                    continue;
                }
                let path = join(dir, &e.filename);
                if i < last {
                    let is_dir = e.attrs.is_dir()
                        || (e.attrs.is_symlink() && s.stat(&path).await.is_ok_and(|a| a.is_dir()));
                    if !is_dir {
                        continue;
                    }
                }
                if next.len() >= MAX_MATCHES {
                    return Err(format!("{}: more than {MAX_MATCHES} matches", word.text()));
                }
                next.push(path);
            }
        }
        found = next;
        if found.is_empty() {
            break;
        }
    }
    found.sort();
    Ok(found)
}

/// Expands `word` against the local file system, sorted; a word without
/// wildcards is given back as it is.
pub fn local(word: &Word) -> Result<Vec<PathBuf>, String> {
    if !word.has_magic() {
        return Ok(vec![PathBuf::from(word.text())]);
    }
    let paths = match glob::glob_with(&word.pattern_text(), OPTIONS) {
        Ok(p) => p,
        // Not a pattern glob(3) takes: the word names itself.
        Err(_) => return Ok(vec![PathBuf::from(word.text())]),
    };
    let mut found = Vec::new();
    for p in paths.flatten() {
        if found.len() >= MAX_MATCHES {
            return Err(format!("{}: more than {MAX_MATCHES} matches", word.text()));
        }
        found.push(p);
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::HashMap;

    use ssh_async::runtime;
    use ssh_client_kit::sftp::SftpError;
    use ssh_sftp::attrs::file_type;

    use super::*;

    /// A server's directories in memory, by path.
    #[derive(Default)]
    struct Fake {
        dirs: HashMap<Vec<u8>, Vec<NameEntry>>,
    }

    impl RemoteFs for Fake {
        async fn list(&mut self, dir: &[u8]) -> SftpResult<Vec<NameEntry>> {
            self.dirs
                .get(dir)
                .cloned()
                .ok_or_else(|| SftpError::Protocol("not a directory".into()))
        }

        async fn stat(&mut self, path: &[u8]) -> SftpResult<Attrs> {
            match self.dirs.contains_key(path) {
                true => Ok(entry("", file_type::DIRECTORY).attrs),
                false => Err(SftpError::Protocol("not a directory".into())),
            }
        }
    }

    fn entry(name: &str, kind: u32) -> NameEntry {
        let mut attrs = Attrs::new();
        attrs.permissions = Some(kind | 0o644);
        NameEntry {
            filename: name.as_bytes().to_vec(),
            longname: Vec::new(),
            attrs,
        }
    }

    /// `n` regular files `f0`, `f1`, ...
    fn files(n: usize) -> impl Iterator<Item = NameEntry> {
        (0..n).map(|i| entry(&format!("f{i}"), file_type::REGULAR))
    }

    fn unquoted(s: &str) -> Word {
        let mut w = Word::default();
        for c in s.chars() {
            w.push(c, false);
        }
        w
    }

    #[test]
    fn magic_only_when_unquoted() {
        assert!(unquoted("*.txt").has_magic());
        assert!(unquoted("a[bc]").has_magic());
        assert!(!Word::literal("*.txt").has_magic());
        assert!(!Word::escaped(r"\*.txt").has_magic());
        assert!(Word::escaped(r"\\*").has_magic());
        assert_eq!(Word::escaped(r"a\ b\*").text(), "a b*");
    }

    #[test]
    fn components_match_as_glob3() {
        let w = unquoted("*.txt");
        assert!(w.matches(b"a.txt"));
        assert!(!w.matches(b".hidden.txt"), "a leading dot is literal");
        assert!(unquoted(".*").matches(b".hidden"));
        assert!(unquoted("?").matches(b"x") && !unquoted("?").matches(b"xy"));
        assert!(unquoted("[a-c]1").matches(b"b1") && !unquoted("[a-c]1").matches(b"d1"));
        assert!(unquoted("[!a]").matches(b"b") && !unquoted("[!a]").matches(b"a"));
        // Quoted wildcards are the characters themselves.
        let mut w = unquoted("a");
        w.push('*', true);
        assert!(w.matches(b"a*") && !w.matches(b"ab"));
        let mut w = Word::default();
        w.push('[', true);
        w.push('x', false);
        w.push(']', true);
        assert!(w.matches(b"[x]"));
        // An unclosed bracket names itself.
        assert!(unquoted("a[b").matches(b"a[b") && !unquoted("a[b").matches(b"ab"));
        // Names that are not UTF-8 still match wildcards.
        assert!(unquoted("f*").matches(b"f\xff"));
        assert!(unquoted("*").matches(b"new\nline"));
    }

    #[test]
    fn components_split_on_slashes() {
        let (abs, parts) = unquoted("/a//b*/c").components();
        assert!(abs);
        let texts: Vec<String> = parts.iter().map(Word::text).collect();
        assert_eq!(texts, ["a", "b*", "c"]);
        assert!(!unquoted("a/b").components().0);
    }

    #[test]
    fn local_expansion() {
        let dir = std::env::temp_dir().join(format!("rsftp-glob-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        for f in ["a.txt", "b.txt", ".h.txt", "c.bin", "sub/d.txt"] {
            std::fs::write(dir.join(f), b"x").unwrap();
        }
        let d = dir.display().to_string();
        let got = local(&unquoted(&format!("{d}/*.txt"))).unwrap();
        assert_eq!(got, [dir.join("a.txt"), dir.join("b.txt")]);
        let got = local(&unquoted(&format!("{d}/*/*.txt"))).unwrap();
        assert_eq!(got, [dir.join("sub/d.txt")]);
        assert!(local(&unquoted(&format!("{d}/*.none"))).unwrap().is_empty());
        // No wildcard: the word itself, existing or not.
        let none = format!("{d}/missing");
        assert_eq!(
            local(&Word::literal(&none)).unwrap(),
            [PathBuf::from(&none)]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn remote_expansion_of_max_matches_names() {
        let mut d = vec![
            entry(".", file_type::DIRECTORY),
            entry("..", file_type::DIRECTORY),
            entry("other", file_type::REGULAR),
        ];
        d.extend(files(MAX_MATCHES));
        let mut fake = Fake::default();
        fake.dirs.insert(b"/d".to_vec(), d);
        let got = runtime::block_on(expand(&mut fake, b"", &unquoted("/d/f*"))).unwrap();
        assert_eq!(got.len(), MAX_MATCHES);
        assert!(got.is_sorted());
        assert_eq!(got.first().unwrap(), b"/d/f0");
    }

    #[test]
    fn remote_expansion_past_max_matches_is_refused() {
        // One more than the bound, from two directories: the bound is on
        // what the whole component matches.
        let half = MAX_MATCHES / 2;
        let mut fake = Fake::default();
        fake.dirs.insert(
            b"/".to_vec(),
            vec![
                entry("a", file_type::DIRECTORY),
                entry("b", file_type::DIRECTORY),
            ],
        );
        fake.dirs.insert(b"/a".to_vec(), files(half).collect());
        fake.dirs
            .insert(b"/b".to_vec(), files(MAX_MATCHES - half + 1).collect());
        let err = runtime::block_on(expand(&mut fake, b"", &unquoted("/*/f*"))).unwrap_err();
        assert_eq!(err, format!("/*/f*: more than {MAX_MATCHES} matches"));
        // One fewer name in /b and they all pass.
        fake.dirs.get_mut(b"/b".as_slice()).unwrap().pop();
        let got = runtime::block_on(expand(&mut fake, b"", &unquoted("/*/f*"))).unwrap();
        assert_eq!(got.len(), MAX_MATCHES);
    }
}
