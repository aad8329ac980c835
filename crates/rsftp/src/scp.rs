//! `rscp`: `scp [-3pqr] [-P port] [-i id] [-l limit] [-o opt] [-F cfg]
//! [-J jump] src... dst` over SFTP, as OpenSSH's `scp` since 9.0.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use ssh_async::runtime;
use ssh_client_kit::sftp::SftpSession;
use ssh_sftp::ClientConfig;

use crate::SshOptions;
use crate::transfer::{self, Options};

const USAGE: &str = "usage: rscp [-3pqrv] [-F ssh_config] [-i identity_file] [-J destination]\n\
\x20           [-l limit] [-o ssh_option] [-P port] source ... target";

/// One operand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// A local path.
    Local(String),
    /// `[user@]host:path`.
    Remote {
        /// `user@host` or `host`.
        host: String,
        /// The path (empty: the home directory).
        path: String,
    },
}

/// Classifies an operand as `scp` does: a colon before any slash makes it
/// remote (`host:path`, `user@host:path`, `[v6addr]:path`); a leading
/// colon, or a slash first (`./a:b`), makes it local.
pub fn parse_operand(arg: &str) -> Operand {
    let local = || Operand::Local(arg.to_owned());
    // [user@][addr]:path
    let (user, rest) = match arg.split_once('@') {
        Some((u, r)) if !u.contains('/') && !u.contains(':') => (Some(u), r),
        _ => (None, arg),
    };
    let with_user = |h: &str| match user {
        Some(u) => format!("{u}@{h}"),
        None => h.to_owned(),
    };
    if let Some(inner) = rest.strip_prefix('[') {
        if let Some((host, after)) = inner.split_once(']')
            && let Some(path) = after.strip_prefix(':')
        {
            return Operand::Remote {
                host: with_user(host),
                path: path.to_owned(),
            };
        }
        return local();
    }
    match rest.find([':', '/']) {
        Some(i) if i > 0 && rest.as_bytes().get(i) == Some(&b':') => Operand::Remote {
            host: with_user(rest.get(..i).unwrap_or_default()),
            path: rest.get(i + 1..).unwrap_or_default().to_owned(),
        },
        _ => local(),
    }
}

/// The parsed command line.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Args {
    /// Connection options.
    pub ssh: SshOptions,
    /// `-r`.
    pub recursive: bool,
    /// `-p`.
    pub preserve: bool,
    /// `-q`.
    pub quiet: bool,
    /// `-3`.
    pub through_local: bool,
    /// `-l` Kbit/s.
    pub limit: Option<u64>,
    /// Sources then the target.
    pub operands: Vec<String>,
}

/// Parses the arguments after the program name.
pub fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut a = Args::default();
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        i += 1;
        if arg == "--" {
            a.operands.extend(args.iter().skip(i).cloned());
            break;
        }
        let Some(flags) = arg.strip_prefix('-').filter(|f| !f.is_empty()) else {
            a.operands.push(arg.clone());
            continue;
        };
        for (at, c) in flags.char_indices() {
            match c {
                'r' => a.recursive = true,
                'p' => a.preserve = true,
                'q' => a.quiet = true,
                '3' => a.through_local = true,
                'v' => a.ssh.verbose += 1,
                'T' | 'A' | 'B' | 'C' | 'O' | 's' | 'R' | '4' | '6' => {}
                'P' | 'i' | 'l' | 'o' | 'F' | 'J' | 'c' | 'S' | 'D' | 'X' => {
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
                        'c' => a.ssh.options.push(format!("Ciphers={value}")),
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
    if a.operands.len() < 2 {
        return Err("source and target needed".into());
    }
    Ok(a)
}

/// Runs `rscp`; returns the exit status.
pub fn main_with_args<I: IntoIterator<Item = OsString>>(args: I) -> i32 {
    let args: Vec<String> = args
        .into_iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let a = match parse_args(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("rscp: {e}");
            eprintln!("{USAGE}");
            return 1;
        }
    };
    runtime::block_on(run(a))
}

async fn run(a: Args) -> i32 {
    let Some((target, sources)) = a.operands.split_last() else {
        return 1;
    };
    let target = parse_operand(target);
    let sources: Vec<Operand> = sources.iter().map(|s| parse_operand(s)).collect();
    let progress = !a.quiet && ssh_os::terminal::is_tty(std::io::stdout());
    let o = Options {
        recursive: a.recursive,
        preserve: a.preserve,
        resume: false,
        progress,
        follow_links: true,
        limit_kbps: a.limit,
    };
    match &target {
        Operand::Remote { host, path } => {
            if sources.iter().any(|s| matches!(s, Operand::Remote { .. })) {
                eprintln!("rscp: remote to remote copies are not supported");
                return 1;
            }
            let mut conn = match Conn::open(&a.ssh, host).await {
                Ok(c) => c,
                Err(code) => return code,
            };
            let mut failed = false;
            let dir = remote_dir(&mut conn.sftp, path, sources.len() > 1).await;
            match dir {
                Err(e) => {
                    eprintln!("rscp: {e}");
                    failed = true;
                }
                Ok(dir) => {
                    for s in &sources {
                        let Operand::Local(l) = s else { continue };
                        let local = Path::new(l);
                        let remote = match &dir {
                            Some(d) => {
                                let name = local
                                    .file_name()
                                    .map(|n| n.to_string_lossy().into_owned())
                                    .unwrap_or_default();
                                transfer::join(d, name.as_bytes())
                            }
                            None => path.as_bytes().to_vec(),
                        };
                        if let Err(e) = transfer::upload(&mut conn.sftp, local, &remote, o).await {
                            eprintln!("rscp: {e}");
                            failed = true;
                        }
                    }
                }
            }
            conn.close().await;
            i32::from(failed)
        }
        Operand::Local(target) => {
            let target = PathBuf::from(target);
            let many = sources.len() > 1;
            let mut failed = false;
            for s in &sources {
                match s {
                    Operand::Local(l) => {
                        eprintln!("rscp: {l}: local to local copies are not supported");
                        failed = true;
                    }
                    Operand::Remote { host, path } => {
                        let mut conn = match Conn::open(&a.ssh, host).await {
                            Ok(c) => c,
                            Err(_) => {
                                failed = true;
                                continue;
                            }
                        };
                        let remote = if path.is_empty() {
                            ".".to_owned()
                        } else {
                            path.clone()
                        };
                        let local = if target.is_dir() {
                            let name = transfer::basename(remote.as_bytes());
                            target.join(String::from_utf8_lossy(name).as_ref())
                        } else if many {
                            eprintln!("rscp: {}: Not a directory", target.display());
                            conn.close().await;
                            return 1;
                        } else {
                            target.clone()
                        };
                        if let Err(e) =
                            transfer::download(&mut conn.sftp, remote.as_bytes(), &local, o).await
                        {
                            eprintln!("rscp: {e}");
                            failed = true;
                        }
                        conn.close().await;
                    }
                }
            }
            i32::from(failed)
        }
    }
}

/// The remote target as a directory to put sources in (`Some`), or as the
/// name of the one source (`None`).
async fn remote_dir(
    s: &mut SftpSession,
    path: &str,
    many: bool,
) -> Result<Option<Vec<u8>>, String> {
    let p = if path.is_empty() { "." } else { path };
    match s.stat(p.as_bytes()).await {
        Ok(a) if a.is_dir() => Ok(Some(p.as_bytes().to_vec())),
        _ if many => Err(format!("{p}: Not a directory")),
        _ => Ok(None),
    }
}

/// A connection and its SFTP session.
pub struct Conn {
    /// The connection.
    pub conn: rssh::Connection,
    /// The session.
    pub sftp: SftpSession,
}

impl Conn {
    /// Connects to `host` (`[user@]host`) and starts SFTP.
    pub async fn open(ssh: &SshOptions, host: &str) -> Result<Conn, i32> {
        let conn = rssh::connect(ssh.ssh_args(host)).await?;
        match SftpSession::start(&conn.client, ClientConfig::default()).await {
            Ok(sftp) => Ok(Conn { conn, sftp }),
            Err(e) => {
                eprintln!("Connection closed: {e}");
                conn.close().await;
                Err(255)
            }
        }
    }

    /// Ends the session and the connection.
    pub async fn close(self) {
        self.sftp.finish().await;
        self.conn.close().await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn remote(h: &str, p: &str) -> Operand {
        Operand::Remote {
            host: h.into(),
            path: p.into(),
        }
    }

    #[test]
    fn operands() {
        assert_eq!(parse_operand("host:path"), remote("host", "path"));
        assert_eq!(parse_operand("u@host:/a b"), remote("u@host", "/a b"));
        assert_eq!(parse_operand("host:"), remote("host", ""));
        assert_eq!(parse_operand("[::1]:x"), remote("::1", "x"));
        assert_eq!(parse_operand("u@[::1]:x"), remote("u@::1", "x"));
        assert_eq!(parse_operand("./a:b"), Operand::Local("./a:b".into()));
        assert_eq!(parse_operand("/a:b"), Operand::Local("/a:b".into()));
        assert_eq!(parse_operand(":b"), Operand::Local(":b".into()));
        assert_eq!(parse_operand("file"), Operand::Local("file".into()));
        assert_eq!(parse_operand("a/b:c"), Operand::Local("a/b:c".into()));
    }

    #[test]
    fn options() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let a = parse_args(&v(&[
            "-rp", "-P2222", "-i", "k", "-o", "A=b", "-q", "x", "h:y",
        ]))
        .unwrap();
        assert!(a.recursive && a.preserve && a.quiet);
        assert_eq!(a.ssh.port.as_deref(), Some("2222"));
        assert_eq!(a.ssh.identities, vec!["k"]);
        assert_eq!(a.ssh.options, vec!["A=b"]);
        assert_eq!(a.operands, vec!["x", "h:y"]);
        assert!(parse_args(&v(&["x"])).is_err());
        assert!(parse_args(&v(&["-Z", "x", "y"])).is_err());
    }
}
