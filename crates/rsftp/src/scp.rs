//! `rscp`: `scp [-3pqr] [-P port] [-i id] [-l limit] [-o opt] [-F cfg]
//! [-J jump] src... dst` over SFTP, as OpenSSH's `scp` since 9.0: remote
//! sources may hold wildcards (expanded on their server), and a copy
//! between two remote hosts goes through this one (`-3`, OpenSSH's
//! default since 8.7).

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use ssh_async::runtime;
use ssh_client_kit::sftp::SftpSession;
use ssh_sftp::ClientConfig;

use crate::SshOptions;
use crate::glob::{self, Word};
use crate::transfer::{self, Options};

const USAGE: &str = "usage: rscp [-346BCpqrv] [-c cipher] [-F ssh_config] [-i identity_file]\n\
\x20           [-J destination] [-l limit] [-o ssh_option] [-P port] source ... target";

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
                // What OpenSSH's scp passes to ssh.
                '4' => a.ssh.options.push("AddressFamily=inet".into()),
                '6' => a.ssh.options.push("AddressFamily=inet6".into()),
                'C' => a.ssh.options.push("Compression=yes".into()),
                'B' => a.ssh.options.push("BatchMode=yes".into()),
                // -s: SFTP, which is all rscp speaks; -T: the legacy
                // protocol's name checks; -A: an agent only -R would use.
                'T' | 'A' | 's' => {}
                'O' => {
                    return Err(
                        "-O (the legacy SCP protocol) is not supported; rscp speaks SFTP".into(),
                    );
                }
                'R' => {
                    return Err("-R is not supported: copies between two remote hosts \
                                go through this one (-3)"
                        .into());
                }
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
                        'S' => {
                            return Err(format!(
                                "-S {value} is not supported: rscp connects with its own SSH \
                                 code (use -F, -o or -J)"
                            ));
                        }
                        'D' => {
                            return Err(format!(
                                "-D {value} is not supported: rscp talks to SFTP servers \
                                 over SSH only"
                            ));
                        }
                        // -X: sftp's buffer size and request count, which
                        // rscp sizes itself (the server's limits and the
                        // measured round trip).
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
    // One thread: the connection's driver runs on it too (the default
    // runtime spawns there inside `CurrentThread::block_on`), so each
    // buffer reaches it without waking another thread, as in `rssh`.
    // rscp reads no terminal that could hold the driver up; its local
    // files are read here, as OpenSSH's scp reads them.
    runtime::CurrentThread::new().block_on(run(a))
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
    let failed = match &target {
        Operand::Remote { host, path } => match Conn::open(&a.ssh, host).await {
            Ok(mut conn) => {
                let failed = to_remote(&a.ssh, &mut conn.sftp, path, &sources, o).await;
                conn.close().await;
                failed
            }
            Err(code) => return code,
        },
        Operand::Local(target) => to_local(&a.ssh, Path::new(target), &sources, o).await,
    };
    i32::from(failed)
}

/// The paths a remote operand names on its server: its wildcards
/// expanded (a backslash quotes), or the path itself; no match is an
/// error.
async fn remote_paths(s: &mut SftpSession, path: &str) -> Result<Vec<Vec<u8>>, String> {
    let path = if path.is_empty() { "." } else { path };
    let word = Word::escaped(path);
    let found = glob::remote(s, b"", &word).await?;
    if found.is_empty() {
        return Err(format!("{}: No such file or directory", word.text()));
    }
    Ok(found)
}

/// Copies every source into the remote `path` on `dst`: local files
/// uploaded, remote ones through this host (`-3`, as `scp` does since
/// OpenSSH 8.7). Returns whether anything failed.
async fn to_remote(
    ssh: &SshOptions,
    dst: &mut SftpSession,
    path: &str,
    sources: &[Operand],
    o: Options,
) -> bool {
    let many = sources.len() > 1;
    let dir = match remote_dir(dst, path, many).await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("rscp: {e}");
            return true;
        }
    };
    let target = |name: &[u8]| match &dir {
        Some(d) => transfer::join(d, name),
        None => path.as_bytes().to_vec(),
    };
    let mut failed = false;
    for s in sources {
        match s {
            Operand::Local(l) => {
                let local = Path::new(l);
                let name = local
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if let Err(e) = transfer::upload(dst, local, &target(name.as_bytes()), o).await {
                    eprintln!("rscp: {e}");
                    failed = true;
                }
            }
            Operand::Remote { host, path: from } => {
                let Ok(mut src) = Conn::open(ssh, host).await else {
                    failed = true;
                    continue;
                };
                match remote_paths(&mut src.sftp, from).await {
                    Err(e) => {
                        eprintln!("rscp: {e}");
                        failed = true;
                    }
                    Ok(found) if found.len() > 1 && dir.is_none() => {
                        eprintln!("rscp: {path}: Not a directory");
                        failed = true;
                    }
                    Ok(found) => {
                        for p in found {
                            let to = target(transfer::basename(&p));
                            if let Err(e) =
                                transfer::crossload(&mut src.sftp, &p, dst, &to, o).await
                            {
                                eprintln!("rscp: {e}");
                                failed = true;
                            }
                        }
                    }
                }
                src.close().await;
            }
        }
    }
    failed
}

/// Copies every remote source into the local `target`. Returns whether
/// anything failed.
async fn to_local(ssh: &SshOptions, target: &Path, sources: &[Operand], o: Options) -> bool {
    let mut failed = false;
    for s in sources {
        let (host, path) = match s {
            Operand::Local(l) => {
                eprintln!("rscp: {l}: local to local copies are not supported");
                failed = true;
                continue;
            }
            Operand::Remote { host, path } => (host, path),
        };
        let Ok(mut conn) = Conn::open(ssh, host).await else {
            failed = true;
            continue;
        };
        let found = match remote_paths(&mut conn.sftp, path).await {
            Ok(f) => f,
            Err(e) => {
                eprintln!("rscp: {e}");
                failed = true;
                conn.close().await;
                continue;
            }
        };
        let into_dir = target.is_dir();
        if !into_dir && (sources.len() > 1 || found.len() > 1) {
            eprintln!("rscp: {}: Not a directory", target.display());
            conn.close().await;
            return true;
        }
        for remote in found {
            let local = if into_dir {
                let name = transfer::basename(&remote);
                target.join(std::ffi::OsStr::from_bytes(name))
            } else {
                target.to_path_buf()
            };
            if let Err(e) = transfer::download(&mut conn.sftp, &remote, &local, o).await {
                eprintln!("rscp: {e}");
                failed = true;
            }
        }
        conn.close().await;
    }
    failed
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

    #[test]
    fn ssh_flags_reach_the_connection() {
        // As OpenSSH's scp passes them to ssh: -4, -6, -C as they are,
        // -B as BatchMode; in command line order among -o options.
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let a = parse_args(&v(&["-4C", "-o", "A=b", "-B", "x", "h:y"])).unwrap();
        assert_eq!(
            a.ssh.options,
            [
                "AddressFamily=inet",
                "Compression=yes",
                "A=b",
                "BatchMode=yes"
            ]
        );
        let a = parse_args(&v(&["-6", "x", "h:y"])).unwrap();
        assert_eq!(a.ssh.options, ["AddressFamily=inet6"]);
    }

    #[test]
    fn legacy_protocol_is_refused() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        for flags in ["-O", "-rO", "-Oq"] {
            assert_eq!(
                parse_args(&v(&[flags, "x", "h:y"])).unwrap_err(),
                "-O (the legacy SCP protocol) is not supported; rscp speaks SFTP"
            );
        }
    }

    /// `-S program` and `-D server` name programs rscp would not run:
    /// refused, not ignored.
    #[test]
    fn other_programs_are_refused() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        for args in [
            &["-S", "/usr/bin/ssh"][..],
            &["-S/usr/bin/ssh"],
            &["-r", "-D", "/x"],
        ] {
            let mut all = v(args);
            all.extend(v(&["x", "h:y"]));
            let e = parse_args(&all).unwrap_err();
            assert!(e.contains("is not supported"), "{args:?}: {e}");
        }
        assert!(parse_args(&v(&["-X", "buffer=1024", "x", "h:y"])).is_ok());
    }
}
