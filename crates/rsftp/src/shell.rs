//! `rsftp`'s commands: what each line of input does to the remote side
//! (`get`, `put`, `ls`, `rm`, `chmod` with wildcards, as `sftp`'s), and
//! the local directory.

use std::io::Write;
use std::path::{Path, PathBuf};

use ssh_client_kit::sftp::SftpSession;
use ssh_sftp::Attrs;
use ssh_sftp::attrs::longname;

use crate::glob::{self, Word};
use crate::transfer::{self, Options};

/// The interpreter's state.
pub(crate) struct Shell {
    /// The remote working directory.
    pub(crate) cwd: Vec<u8>,
    /// Draw the meter.
    pub(crate) progress: bool,
    /// `-r` given to the program.
    pub(crate) recursive: bool,
    /// `-p` given to the program.
    pub(crate) preserve: bool,
    /// `-l` Kbit/s.
    pub(crate) limit: Option<u64>,
}

/// Splits `-flags` off the front of `words` (after the command).
fn flags<'a>(words: &'a [Word], allowed: &str) -> Result<(String, Vec<&'a Word>), String> {
    let command = words.first().map(Word::text).unwrap_or_default();
    let mut set = String::new();
    let mut rest = Vec::new();
    let mut options_done = false;
    for w in words.iter().skip(1) {
        let text = w.text();
        if !options_done && text.len() > 1 && text.starts_with('-') {
            for c in text.chars().skip(1) {
                if !allowed.contains(c) {
                    return Err(format!("{command}: Invalid flag -{c}"));
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

fn show(p: &[u8]) -> String {
    String::from_utf8_lossy(p).into_owned()
}

fn err(p: &[u8], e: &dyn std::fmt::Display) -> String {
    format!("{}: {e}", show(p))
}

/// A text argument, or the error naming what is missing.
fn arg(words: &[Word], i: usize, what: &str) -> Result<String, String> {
    words
        .get(i)
        .map(Word::text)
        .ok_or_else(|| format!("{what}: missing argument"))
}

impl Shell {
    fn remote(&self, p: &str) -> Vec<u8> {
        transfer::join(&self.cwd, p.as_bytes())
    }

    /// `path` as it is shown: relative to the working directory when
    /// under it.
    fn relative<'a>(&self, path: &'a [u8]) -> &'a [u8] {
        path.strip_prefix(self.cwd.as_slice())
            .and_then(|rest| rest.strip_prefix(b"/"))
            .filter(|rest| !rest.is_empty())
            .unwrap_or(path)
    }

    /// The remote paths `word` names: its wildcards expanded; one that
    /// matches nothing is an error naming it.
    async fn remote_glob(&self, s: &mut SftpSession, word: &Word) -> Result<Vec<Vec<u8>>, String> {
        let found = glob::remote(s, &self.cwd, word).await?;
        if found.is_empty() {
            return Err(format!("File \"{}\" not found.", word.text()));
        }
        Ok(found)
    }

    /// Runs one command; `Ok(false)` to quit.
    pub(crate) async fn command(
        &mut self,
        s: &mut SftpSession,
        words: &[Word],
    ) -> Result<bool, String> {
        let Some(cmd) = words.first().map(Word::text) else {
            return Ok(true);
        };
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
                let dst = args.get(1).map(|w| w.text());
                if cmd.ends_with("get") {
                    self.get(s, src, dst, o).await?;
                } else {
                    self.put(s, src, dst, o).await?;
                }
            }
            "ls" | "dir" => {
                let (f, args) = flags(words, "1aflnrSth")?;
                self.ls(s, &f, args.first().copied()).await?;
            }
            "cd" => {
                let target = words
                    .get(1)
                    .map_or_else(|| b".".to_vec(), |p| self.remote(&p.text()));
                let real = s.realpath(&target).await.map_err(|e| err(&target, &e))?;
                let a = s.stat(&real).await.map_err(|e| err(&real, &e))?;
                if !a.is_dir() {
                    return Err(format!(
                        "Can't change directory: \"{}\" is not a directory",
                        show(&real)
                    ));
                }
                self.cwd = real;
            }
            "lcd" => {
                let p = arg(words, 1, "lcd")?;
                std::env::set_current_dir(&p)
                    .map_err(|e| format!("Couldn't change local directory to \"{p}\": {e}"))?;
            }
            "pwd" => println!("Remote working directory: {}", show(&self.cwd)),
            "lpwd" => {
                let d = std::env::current_dir().map_err(|e| e.to_string())?;
                println!("Local working directory: {}", d.display());
            }
            "mkdir" => {
                let p = self.remote(&arg(words, 1, "mkdir")?);
                let mut a = Attrs::new();
                a.permissions = Some(0o777);
                s.mkdir(&p, a).await.map_err(|e| err(&p, &e))?;
            }
            "rmdir" => {
                let p = self.remote(&arg(words, 1, "rmdir")?);
                s.rmdir(&p).await.map_err(|e| err(&p, &e))?;
            }
            "rm" => {
                let (_, args) = flags(words, "f")?;
                let word = args.first().ok_or("rm: missing argument")?;
                for p in self.remote_glob(s, word).await? {
                    println!("Removing {}", show(&p));
                    s.remove(&p).await.map_err(|e| err(&p, &e))?;
                }
            }
            "rename" => {
                let (_, args) = flags(words, "l")?;
                let (Some(a), Some(b)) = (args.first(), args.get(1)) else {
                    return Err("rename: two arguments needed".into());
                };
                let (a, b) = (self.remote(&a.text()), self.remote(&b.text()));
                s.rename(&a, &b).await.map_err(|e| err(&a, &e))?;
            }
            "ln" | "symlink" => {
                let (f, args) = flags(words, "s")?;
                let (Some(a), Some(b)) = (args.first(), args.get(1)) else {
                    return Err("ln: two arguments needed".into());
                };
                let link = self.remote(&b.text());
                if f.contains('s') || cmd == "symlink" {
                    // The target is stored as given.
                    s.symlink(a.text().as_bytes(), &link)
                        .await
                        .map_err(|e| err(&link, &e))?;
                } else {
                    let old = self.remote(&a.text());
                    s.hardlink(&old, &link).await.map_err(|e| err(&link, &e))?;
                }
            }
            "chmod" => {
                let (_, args) = flags(words, "h")?;
                let (Some(mode), Some(word)) = (args.first(), args.get(1)) else {
                    return Err("chmod: two arguments needed".into());
                };
                let mode = mode.text();
                let mode = u32::from_str_radix(&mode, 8)
                    .map_err(|_| format!("Invalid mode \"{mode}\""))?;
                for p in self.remote_glob(s, word).await? {
                    let mut a = Attrs::new();
                    a.permissions = Some(mode & 0o7777);
                    println!("Changing mode on {}", show(&p));
                    s.setstat(&p, a).await.map_err(|e| err(&p, &e))?;
                }
            }
            "df" => {
                let (f, args) = flags(words, "hi")?;
                let p = args
                    .first()
                    .map_or_else(|| self.cwd.clone(), |p| self.remote(&p.text()));
                df(s, &p, f.contains('h')).await?;
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

    /// `get`: every match of `src`, into `dst` (a directory when there
    /// are several) or the local directory.
    async fn get(
        &self,
        s: &mut SftpSession,
        src: &Word,
        dst: Option<String>,
        o: Options,
    ) -> Result<(), String> {
        let found = self.remote_glob(s, src).await?;
        let into_dir = dst.as_ref().is_some_and(|d| Path::new(d).is_dir());
        if let Some(d) = &dst
            && found.len() > 1
            && !into_dir
        {
            return Err(format!(
                "Multiple source paths, but destination \"{d}\" is not a directory"
            ));
        }
        for remote in found {
            let name = show(transfer::basename(&remote));
            let local = match &dst {
                Some(d) if into_dir => Path::new(d).join(&name),
                Some(d) => PathBuf::from(d),
                None => PathBuf::from(&name),
            };
            println!("Fetching {} to {}", show(&remote), local.display());
            transfer::download(s, &remote, &local, o).await?;
        }
        Ok(())
    }

    /// `put`: every local match of `src`, into `dst` (a directory when
    /// there are several) or the remote directory.
    async fn put(
        &self,
        s: &mut SftpSession,
        src: &Word,
        dst: Option<String>,
        o: Options,
    ) -> Result<(), String> {
        let found = glob::local(src)?;
        if found.is_empty() {
            return Err(format!("File \"{}\" not found.", src.text()));
        }
        let target = dst.as_ref().map(|d| self.remote(d));
        let into_dir = match &target {
            Some(t) => s.stat(t).await.is_ok_and(|a| a.is_dir()),
            None => false,
        };
        if let Some(d) = &dst
            && found.len() > 1
            && !into_dir
        {
            return Err(format!(
                "Multiple paths match, but destination \"{d}\" is not a directory"
            ));
        }
        for local in found {
            let name = local
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let remote = match &target {
                Some(t) if into_dir => transfer::join(t, name.as_bytes()),
                Some(t) => t.clone(),
                None => self.remote(&name),
            };
            println!("Uploading {} to {}", local.display(), show(&remote));
            transfer::upload(s, &local, &remote, o).await?;
        }
        Ok(())
    }

    /// `ls`: the working directory, a directory, or the matches of a
    /// pattern (one directory matched: its contents).
    async fn ls(&self, s: &mut SftpSession, f: &str, word: Option<&Word>) -> Result<(), String> {
        let found = match word {
            None => vec![self.cwd.clone()],
            Some(w) => glob::remote(s, &self.cwd, w).await?,
        };
        if found.is_empty() {
            let text = word.map(Word::text).unwrap_or_default();
            return Err(format!("Can't ls: \"{text}\" not found"));
        }
        let mut entries = Vec::new();
        if let [only] = found.as_slice() {
            let attrs = s.stat(only).await.map_err(|e| err(only, &e))?;
            if attrs.is_dir() {
                entries = s.list(only).await.map_err(|e| err(only, &e))?;
                entries.retain(|e| f.contains('a') || !e.filename.starts_with(b"."));
            } else {
                entries.push(ssh_sftp::NameEntry {
                    filename: self.relative(only).to_vec(),
                    longname: Vec::new(),
                    attrs,
                });
            }
        } else {
            for p in &found {
                let attrs = s.lstat(p).await.map_err(|e| err(p, &e))?;
                entries.push(ssh_sftp::NameEntry {
                    filename: self.relative(p).to_vec(),
                    longname: Vec::new(),
                    attrs,
                });
            }
        }
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
        Ok(())
    }
}

/// `df [-h] path`.
async fn df(s: &mut SftpSession, p: &[u8], human: bool) -> Result<(), String> {
    let v = s.statvfs(p).await.map_err(|e| err(p, &e))?;
    let k = |blocks: u64| blocks.saturating_mul(v.frsize) / 1024;
    let (size, avail, free) = (k(v.blocks), k(v.bavail), k(v.bfree));
    let used = size.saturating_sub(free);
    let cap = used.saturating_mul(100).checked_div(size).unwrap_or(0);
    if human {
        let h = |kb: u64| crate::meter::human(kb.saturating_mul(1024));
        println!("    Size     Used    Avail   (root)    %Capacity");
        println!(
            "{:>8} {:>8} {:>8} {:>8}         {cap}%",
            h(size),
            h(used),
            h(avail),
            h(free)
        );
    } else {
        println!("        Size         Used        Avail       (root)    %Capacity");
        println!("{size:>12} {used:>12} {avail:>12} {free:>12}         {cap}%");
    }
    Ok(())
}

const HELP: &str = "Available commands:\n\
bye                                Quit sftp\n\
cd path                            Change remote directory to 'path'\n\
chmod mode path                    Change permissions of file 'path' to 'mode'\n\
df [-h] [path]                     Display statistics for current directory or filesystem containing 'path'\n\
exit                               Quit sftp\n\
get [-apr] remote [local]          Download file (wildcards: every match)\n\
help                               Display this help text\n\
lcd path                           Change local directory to 'path'\n\
ln [-s] oldpath newpath            Link remote file (-s for symlink)\n\
lpwd                               Print local working directory\n\
ls [-la] [path]                    Display remote directory listing\n\
mkdir path                         Create remote directory\n\
progress                           Toggle display of progress meter\n\
put [-apr] local [remote]          Upload file (wildcards: every match)\n\
pwd                                Display remote working directory\n\
quit                               Quit sftp\n\
reget [-pr] remote [local]         Resume download file\n\
rename oldpath newpath             Rename remote file\n\
reput [-pr] local [remote]         Resume upload file\n\
rm path                            Delete remote file\n\
rmdir path                         Remove remote directory\n\
?                                  Synonym for help";
