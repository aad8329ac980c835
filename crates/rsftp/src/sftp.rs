//! `rsftp`: `sftp [-b batchfile] [-P port] [-i id] [-o opt] [-F cfg]
//! [-J jump] [-r] [user@]host[:path]`, its commands read from stdin
//! (prompting `sftp> ` on a terminal) or from the batch file. In batch
//! mode a failing command ends the run unless it starts with `-`.

use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use ssh_async::runtime;
use ssh_client_kit::sftp::SftpSession;
use ssh_sftp::Attrs;
use ssh_sftp::attrs::longname;

use crate::SshOptions;
use crate::scp::Conn;
use crate::transfer::{self, Options};

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
/// escapes as `sftp`'s.
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"') | None, '\\') => {
                let n = chars.next().ok_or("Trailing backslash")?;
                cur.push(n);
                in_word = true;
            }
            (Some(_), c) => cur.push(c),
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
                cur.push(c);
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
    pub words: Vec<String>,
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
    runtime::block_on(run(a))
}

struct Shell {
    cwd: Vec<u8>,
    progress: bool,
    recursive: bool,
    preserve: bool,
    limit: Option<u64>,
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
        && let Err(e) = sh.command(&mut conn.sftp, &["cd".into(), p]).await
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

/// Splits `-flags` off the front of `words` (after the command).
fn flags<'a>(words: &'a [String], allowed: &str) -> Result<(String, Vec<&'a String>), String> {
    let mut set = String::new();
    let mut rest = Vec::new();
    let mut options_done = false;
    for w in words.iter().skip(1) {
        if !options_done && w.len() > 1 && w.starts_with('-') {
            for c in w.chars().skip(1) {
                if !allowed.contains(c) {
                    return Err(format!(
                        "{}: Invalid flag -{c}",
                        words.first().map_or("", |s| s)
                    ));
                }
                set.push(c);
            }
        } else {
            options_done = true;
            rest.push(w);
        }
    }
    Ok((set, rest))
}

impl Shell {
    fn remote(&self, p: &str) -> Vec<u8> {
        transfer::join(&self.cwd, p.as_bytes())
    }

    /// Runs one command; `Ok(false)` to quit.
    async fn command(&mut self, s: &mut SftpSession, words: &[String]) -> Result<bool, String> {
        let Some(cmd) = words.first() else {
            return Ok(true);
        };
        let err =
            |p: &[u8], e: &dyn std::fmt::Display| format!("{}: {e}", String::from_utf8_lossy(p));
        match cmd.as_str() {
            "bye" | "quit" | "exit" => return Ok(false),
            "get" | "reget" | "put" | "reput" => {
                let (f, args) = flags(words, "aprfP")?;
                let o = Options {
                    recursive: self.recursive || f.contains('r'),
                    preserve: self.preserve || f.contains('p') || f.contains('P'),
                    resume: f.contains('a') || cmd.starts_with("re"),
                    progress: self.progress,
                    follow_links: false,
                    limit_kbps: self.limit,
                };
                let Some(src) = args.first() else {
                    return Err(format!("{cmd}: missing argument"));
                };
                let dst = args.get(1);
                if cmd.ends_with("get") {
                    let remote = self.remote(src);
                    let name = String::from_utf8_lossy(transfer::basename(&remote)).into_owned();
                    let mut local = PathBuf::from(dst.map_or(name.as_str(), |d| d.as_str()));
                    if dst.is_some() && local.is_dir() {
                        local = local.join(&name);
                    }
                    println!(
                        "Fetching {} to {}",
                        String::from_utf8_lossy(&remote),
                        local.display()
                    );
                    transfer::download(s, &remote, &local, o).await?;
                } else {
                    let local = Path::new(src.as_str());
                    let name = local
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let mut remote = self.remote(dst.map_or(name.as_str(), |d| d.as_str()));
                    if dst.is_some() && s.stat(&remote).await.is_ok_and(|a| a.is_dir()) {
                        remote = transfer::join(&remote, name.as_bytes());
                    }
                    println!(
                        "Uploading {} to {}",
                        local.display(),
                        String::from_utf8_lossy(&remote)
                    );
                    transfer::upload(s, local, &remote, o).await?;
                }
            }
            "ls" | "dir" => {
                let (f, args) = flags(words, "1aflnrSth")?;
                let path = args
                    .first()
                    .map_or_else(|| self.cwd.clone(), |p| self.remote(p));
                let attrs = s.stat(&path).await.map_err(|e| err(&path, &e))?;
                let mut entries = if attrs.is_dir() {
                    s.list(&path).await.map_err(|e| err(&path, &e))?
                } else {
                    vec![ssh_sftp::NameEntry {
                        filename: path.clone(),
                        longname: Vec::new(),
                        attrs,
                    }]
                };
                entries.retain(|e| f.contains('a') || !e.filename.starts_with(b"."));
                entries.sort_by(|a, b| a.filename.cmp(&b.filename));
                let mut out = std::io::stdout().lock();
                for e in entries {
                    let line = if f.contains('l') || f.contains('n') {
                        longname(&e.filename, &e.attrs)
                    } else {
                        e.filename
                    };
                    let _ = out.write_all(&line);
                    let _ = out.write_all(b"\n");
                }
            }
            "cd" => {
                let target = words
                    .get(1)
                    .map_or_else(|| b".".to_vec(), |p| self.remote(p));
                let real = s.realpath(&target).await.map_err(|e| err(&target, &e))?;
                let a = s.stat(&real).await.map_err(|e| err(&real, &e))?;
                if !a.is_dir() {
                    return Err(format!(
                        "Can't change directory: \"{}\" is not a directory",
                        String::from_utf8_lossy(&real)
                    ));
                }
                self.cwd = real;
            }
            "lcd" => {
                let p = words.get(1).ok_or("lcd: missing argument")?;
                std::env::set_current_dir(p)
                    .map_err(|e| format!("Couldn't change local directory to \"{p}\": {e}"))?;
            }
            "pwd" => println!(
                "Remote working directory: {}",
                String::from_utf8_lossy(&self.cwd)
            ),
            "lpwd" => {
                let d = std::env::current_dir().map_err(|e| e.to_string())?;
                println!("Local working directory: {}", d.display());
            }
            "mkdir" => {
                let p = self.remote(words.get(1).ok_or("mkdir: missing argument")?);
                let mut a = Attrs::new();
                a.permissions = Some(0o777);
                s.mkdir(&p, a).await.map_err(|e| err(&p, &e))?;
            }
            "rmdir" => {
                let p = self.remote(words.get(1).ok_or("rmdir: missing argument")?);
                s.rmdir(&p).await.map_err(|e| err(&p, &e))?;
            }
            "rm" => {
                let (_, args) = flags(words, "f")?;
                let p = self.remote(args.first().ok_or("rm: missing argument")?);
                s.remove(&p).await.map_err(|e| err(&p, &e))?;
            }
            "rename" => {
                let (_, args) = flags(words, "l")?;
                let (Some(a), Some(b)) = (args.first(), args.get(1)) else {
                    return Err("rename: two arguments needed".into());
                };
                let (a, b) = (self.remote(a), self.remote(b));
                s.rename(&a, &b).await.map_err(|e| err(&a, &e))?;
            }
            "ln" | "symlink" => {
                let (f, args) = flags(words, "s")?;
                let (Some(a), Some(b)) = (args.first(), args.get(1)) else {
                    return Err("ln: two arguments needed".into());
                };
                let link = self.remote(b);
                if f.contains('s') || cmd == "symlink" {
                    // The target is stored as given.
                    s.symlink(a.as_bytes(), &link)
                        .await
                        .map_err(|e| err(&link, &e))?;
                } else {
                    let old = self.remote(a);
                    s.hardlink(&old, &link).await.map_err(|e| err(&link, &e))?;
                }
            }
            "chmod" => {
                let (_, args) = flags(words, "h")?;
                let (Some(mode), Some(p)) = (args.first(), args.get(1)) else {
                    return Err("chmod: two arguments needed".into());
                };
                let mode =
                    u32::from_str_radix(mode, 8).map_err(|_| format!("Invalid mode \"{mode}\""))?;
                let p = self.remote(p);
                let mut a = Attrs::new();
                a.permissions = Some(mode & 0o7777);
                println!("Changing mode on {}", String::from_utf8_lossy(&p));
                s.setstat(&p, a).await.map_err(|e| err(&p, &e))?;
            }
            "df" => {
                let (f, args) = flags(words, "hi")?;
                let p = args
                    .first()
                    .map_or_else(|| self.cwd.clone(), |p| self.remote(p));
                let v = s.statvfs(&p).await.map_err(|e| err(&p, &e))?;
                let k = |blocks: u64| blocks.saturating_mul(v.frsize) / 1024;
                let (size, avail, free) = (k(v.blocks), k(v.bavail), k(v.bfree));
                let used = size.saturating_sub(free);
                let cap = used.saturating_mul(100).checked_div(size).unwrap_or(0);
                if f.contains('h') {
                    let h = |kb: u64| crate::meter::human(kb.saturating_mul(1024));
                    println!("    Size     Used    Avail   (root)    %Capacity");
                    println!(
                        "{:>8} {:>8} {:>8} {:>8}         {cap}%",
                        h(size),
                        h(used),
                        h(avail),
                        h(k(v.bfree))
                    );
                } else {
                    println!("        Size         Used        Avail       (root)    %Capacity");
                    println!("{size:>12} {used:>12} {avail:>12} {free:>12}         {cap}%");
                }
            }
            "progress" => {
                self.progress = !self.progress;
                println!(
                    "Progress meter {}",
                    if self.progress { "enabled" } else { "disabled" }
                );
            }
            "help" | "?" => println!("{HELP}"),
            other => return Err(format!("Invalid command \"{other}\".")),
        }
        Ok(true)
    }
}

const HELP: &str = "Available commands:\n\
bye                                Quit sftp\n\
cd path                            Change remote directory to 'path'\n\
chmod mode path                    Change permissions of file 'path' to 'mode'\n\
df [-h] [path]                     Display statistics for current directory or filesystem containing 'path'\n\
exit                               Quit sftp\n\
get [-apr] remote [local]          Download file\n\
help                               Display this help text\n\
lcd path                           Change local directory to 'path'\n\
ln [-s] oldpath newpath            Link remote file (-s for symlink)\n\
lpwd                               Print local working directory\n\
ls [-la] [path]                    Display remote directory listing\n\
mkdir path                         Create remote directory\n\
progress                           Toggle display of progress meter\n\
put [-apr] local [remote]          Upload file\n\
pwd                                Display remote working directory\n\
quit                               Quit sftp\n\
reget [-pr] remote [local]         Resume download file\n\
rename oldpath newpath             Rename remote file\n\
reput [-pr] local [remote]         Resume upload file\n\
rm path                            Delete remote file\n\
rmdir path                         Remove remote directory\n\
?                                  Synonym for help";

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert_eq!(
            split_words("put 'a b' c\\ d \"e f\"").unwrap(),
            vec!["put", "a b", "c d", "e f"]
        );
        assert_eq!(split_words("  ls  ").unwrap(), vec!["ls"]);
        assert_eq!(split_words("get ''").unwrap(), vec!["get", ""]);
        assert!(split_words("get 'a").is_err());
    }

    #[test]
    fn lines() {
        assert_eq!(parse_line("# c").unwrap(), None);
        assert_eq!(parse_line("   ").unwrap(), None);
        let l = parse_line("-rm x").unwrap().unwrap();
        assert!(l.ignore_error && !l.quiet);
        assert_eq!(l.words, vec!["rm", "x"]);
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
