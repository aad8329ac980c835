//! `rsftp`: `sftp [-b batchfile] [-P port] [-i id] [-o opt] [-F cfg]
//! [-J jump] [-r] [user@]host[:path]`, its commands read from stdin
//! (prompting `sftp> ` on a terminal) or from the batch file. In batch
//! mode a failing command ends the run unless it starts with `-`.

use std::ffi::OsString;
use std::io::{BufRead, Write};

use ssh_async::runtime;
use ssh_client_kit::sftp::SftpSession;

use crate::SshOptions;
use crate::glob::Word;
use crate::scp::Conn;
use crate::shell::Shell;

const USAGE: &str = "usage: rsftp [-pqrv] [-b batchfile] [-F ssh_config] [-i identity_file]\n\
\x20            [-J destination] [-o ssh_option] [-P port] destination";

/// The parsed command line.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Args {
    /// Connection options.
    pub ssh: SshOptions,
    /// `-b`.
    pub batch: Option<String>,
    /// `-r`.
    pub recursive: bool,
    /// `-p`.
    pub preserve: bool,
    /// `-q`.
    pub quiet: bool,
    /// `-l` Kbit/s.
    pub limit: Option<u64>,
    /// `[user@]host[:path]`.
    pub destination: String,
}

/// Parses the arguments after the program name.
pub fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut a = Args::default();
    let mut dest = None;
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        i += 1;
        let Some(flags) = arg.strip_prefix('-').filter(|f| !f.is_empty()) else {
            if dest.replace(arg.clone()).is_some() {
                return Err("too many arguments".into());
            }
            continue;
        };
        for (at, c) in flags.char_indices() {
            match c {
                'r' => a.recursive = true,
                'p' => a.preserve = true,
                'q' => a.quiet = true,
                'v' => a.ssh.verbose += 1,
                'a' | 'f' | 'N' | 'C' | '4' | '6' => {}
                'P' | 'i' | 'o' | 'F' | 'J' | 'b' | 'B' | 'R' | 'l' | 'c' | 's' | 'S' | 'D' => {
                    let rest = flags.get(at + c.len_utf8()..).unwrap_or_default();
                    let value = if rest.is_empty() {
                        let v = args
                            .get(i)
                            .cloned()
                            .ok_or_else(|| format!("option requires an argument -- {c}"))?;
                        i += 1;
                        v
                    } else {
                        rest.to_owned()
                    };
                    match c {
                        'P' => a.ssh.port = Some(value),
                        'i' => a.ssh.identities.push(value),
                        'o' => a.ssh.options.push(value),
                        'F' => a.ssh.config = Some(value),
                        'J' => a.ssh.jump = Some(value),
                        'b' => a.batch = Some(value),
                        'l' => {
                            a.limit = Some(value.parse().map_err(|_| format!("bad limit {value}"))?)
                        }
                        _ => {}
                    }
                    break;
                }
                _ => return Err(format!("unknown option -- {c}")),
            }
        }
    }
    a.destination = dest.ok_or("destination needed")?;
    Ok(a)
}

/// Splits a command line into words: quotes (`'` `"`) and backslash
/// escapes as `sftp`'s. A quoted or escaped character is literal: never a
/// wildcard.
pub fn split_words(line: &str) -> Result<Vec<Word>, String> {
    let mut words = Vec::new();
    let mut cur = Word::default();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"') | None, '\\') => {
                let n = chars.next().ok_or("Trailing backslash")?;
                cur.push(n, true);
                in_word = true;
            }
            (Some(_), c) => cur.push(c, true),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c, false);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err("Unterminated quoted argument".into());
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// One line of input: the words, and the `-` (ignore failure) and `@`
/// (do not echo) prefixes.
#[derive(Debug, PartialEq, Eq)]
pub struct Line {
    /// The words.
    pub words: Vec<Word>,
    /// `-`: a failure does not end batch mode.
    pub ignore_error: bool,
    /// `@`: not echoed in batch mode.
    pub quiet: bool,
}

/// Parses a line; `None` for a blank line or a comment.
pub fn parse_line(line: &str) -> Result<Option<Line>, String> {
    let mut rest = line.trim_start();
    if rest.is_empty() || rest.starts_with('#') {
        return Ok(None);
    }
    let mut ignore_error = false;
    let mut quiet = false;
    loop {
        if let Some(r) = rest.strip_prefix('-') {
            ignore_error = true;
            rest = r;
        } else if let Some(r) = rest.strip_prefix('@') {
            quiet = true;
            rest = r;
        } else {
            break;
        }
    }
    let words = split_words(rest)?;
    if words.is_empty() {
        return Ok(None);
    }
    Ok(Some(Line {
        words,
        ignore_error,
        quiet,
    }))
}

/// Runs `rsftp`; returns the exit status.
pub fn main_with_args<I: IntoIterator<Item = OsString>>(args: I) -> i32 {
    let args: Vec<String> = args
        .into_iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let a = match parse_args(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("rsftp: {e}");
            eprintln!("{USAGE}");
            return 1;
        }
    };
    // A batch file's lines are read without waiting: the connection's
    // driver then runs on this thread too (the default runtime spawns there
    // inside `CurrentThread::block_on`), and buffers reach it without
    // waking another thread, as in `rssh`. Commands from stdin may wait
    // on a person or a pipe, and a driver on this thread would wait with
    // them (no keepalive answered): they keep the thread pool.
    if a.batch.as_deref().is_some_and(|f| f != "-") {
        runtime::CurrentThread::new().block_on(run(a))
    } else {
        runtime::block_on(run(a))
    }
}

async fn run(a: Args) -> i32 {
    let (host, path) = match crate::scp::parse_operand(&a.destination) {
        crate::scp::Operand::Remote { host, path } => (host, Some(path)),
        crate::scp::Operand::Local(h) => (h, None),
    };
    let input: Box<dyn BufRead> = match &a.batch {
        Some(f) if f == "-" => Box::new(std::io::stdin().lock()),
        Some(f) => match std::fs::File::open(f) {
            Ok(file) => Box::new(std::io::BufReader::new(file)),
            Err(e) => {
                eprintln!("rsftp: {f}: {e}");
                return 1;
            }
        },
        None => Box::new(std::io::stdin().lock()),
    };
    let mut conn = match Conn::open(&a.ssh, &host).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let cwd = match conn.sftp.realpath(b".").await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("Need cwd: {e}");
            conn.close().await;
            return 1;
        }
    };
    let interactive = a.batch.is_none() && ssh_os::terminal::is_tty(std::io::stdin());
    let mut sh = Shell {
        cwd,
        progress: !a.quiet && a.batch.is_none() && ssh_os::terminal::is_tty(std::io::stdout()),
        recursive: a.recursive,
        preserve: a.preserve,
        limit: a.limit,
    };
    if let Some(p) = path.filter(|p| !p.is_empty())
        && let Err(e) = sh
            .command(&mut conn.sftp, &[Word::literal("cd"), Word::literal(&p)])
            .await
    {
        eprintln!("{e}");
        conn.close().await;
        return 1;
    }
    let code = repl(
        &mut sh,
        &mut conn.sftp,
        input,
        a.batch.is_some(),
        interactive,
    )
    .await;
    conn.close().await;
    code
}

async fn repl(
    sh: &mut Shell,
    s: &mut SftpSession,
    mut input: Box<dyn BufRead>,
    batch: bool,
    interactive: bool,
) -> i32 {
    let mut buf = String::new();
    loop {
        if interactive {
            print!("sftp> ");
            let _ = std::io::stdout().flush();
        }
        buf.clear();
        match input.read_line(&mut buf) {
            Ok(0) => {
                if interactive {
                    println!();
                }
                return 0;
            }
            Ok(_) => {}
            Err(e) => {
                eprintln!("rsftp: {e}");
                return 1;
            }
        }
        let text = buf.trim_end_matches(['\n', '\r']);
        let line = match parse_line(text) {
            Ok(Some(l)) => l,
            Ok(None) => continue,
            Err(e) => {
                eprintln!("{e}");
                if batch {
                    return 1;
                }
                continue;
            }
        };
        if !interactive && !line.quiet {
            println!("sftp> {}", text.trim_start().trim_start_matches(['-', '@']));
        }
        match sh.command(s, &line.words).await {
            Ok(true) => {}
            Ok(false) => return 0,
            Err(e) => {
                eprintln!("{e}");
                if batch && !line.ignore_error {
                    return 1;
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn texts(line: &str) -> Vec<String> {
        split_words(line).unwrap().iter().map(Word::text).collect()
    }

    #[test]
    fn words() {
        assert_eq!(
            texts("put 'a b' c\\ d \"e f\""),
            vec!["put", "a b", "c d", "e f"]
        );
        assert_eq!(texts("  ls  "), vec!["ls"]);
        assert_eq!(texts("get ''"), vec!["get", ""]);
        assert!(split_words("get 'a").is_err());
    }

    #[test]
    fn quoted_wildcards_are_literal() {
        let w = split_words("get *.txt '*.c' \\*.h \"x?\" a[b]").unwrap();
        let magic: Vec<bool> = w.iter().map(Word::has_magic).collect();
        assert_eq!(magic, [false, true, false, false, false, true]);
        assert_eq!(w.get(2).unwrap().text(), "*.c");
    }

    #[test]
    fn lines() {
        assert_eq!(parse_line("# c").unwrap(), None);
        assert_eq!(parse_line("   ").unwrap(), None);
        let l = parse_line("-rm x").unwrap().unwrap();
        assert!(l.ignore_error && !l.quiet);
        let words: Vec<String> = l.words.iter().map(Word::text).collect();
        assert_eq!(words, ["rm", "x"]);
        let l = parse_line("@ls").unwrap().unwrap();
        assert!(l.quiet);
    }

    #[test]
    fn options() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let a = parse_args(&v(&["-b", "f", "-P", "22", "-oX=y", "u@h:/p"])).unwrap();
        assert_eq!(a.batch.as_deref(), Some("f"));
        assert_eq!(a.ssh.port.as_deref(), Some("22"));
        assert_eq!(a.ssh.options, vec!["X=y"]);
        assert_eq!(a.destination, "u@h:/p");
        assert!(parse_args(&v(&["-b"])).is_err());
    }
}
