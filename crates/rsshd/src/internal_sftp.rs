//! `internal-sftp`: the SFTP server built into rsshd, as OpenSSH's.
//!
//! A session whose command is `internal-sftp [options]` (`Subsystem sftp
//! internal-sftp`, `ForceCommand internal-sftp`) runs rsshd's own binary
//! again, through the same spawn path as any program (the user's ids,
//! groups, environment, working directory and, with `ChrootDirectory`,
//! the chroot), as `rsshd --internal-sftp USER HOME CHROOT [options]` (CHROOT empty
//! without `ChrootDirectory`).
//! [`run_if_requested`], first thing in `main`, sees that and serves
//! ssh-sftp's [`Server`] with [`OsFs`] over stdin and stdout.
//!
//! The hidden mode gives nothing away: it runs with the ids of whoever
//! started it (after the privilege drop for a session; a local user who
//! runs it by hand gets their own file access over a pipe), and is chosen
//! by the first argument only, never by the environment a client may set.

use std::io::{Read, Write};
use std::path::PathBuf;

use ssh_os::syslog::{Facility, Severity};
use ssh_os::user::User;
use ssh_server_kit::session::{InProcessProgram, Stdio};
use ssh_server_kit::sftp::OsFs;
use ssh_sftp::{LogLevel, Server, ServerOptions};

/// The first argument that selects the hidden mode.
pub(crate) const FLAG: &str = "--internal-sftp";

const USAGE: &str = "usage: internal-sftp [-ehR] [-d start_directory] [-f log_facility] \
[-l log_level]\n\t[-P denied_requests] [-p allowed_requests] [-u umask]";

/// When started as `rsshd --internal-sftp USER HOME CHROOT [options]`, serves
/// SFTP on stdin/stdout and exits; otherwise returns.
pub(crate) fn run_if_requested() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_none_or(|a| a != FLAG) {
        return;
    }
    let code = match serve(args.get(2..).unwrap_or_default()) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("internal-sftp: {e}");
            1
        }
    };
    std::process::exit(code);
}

/// What the options ask for.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Options {
    /// `-R`, `-u`, `-P`, `-p` and `-l` for the server.
    pub server: ServerOptions,
    /// `-d`, with its tokens expanded.
    pub start_directory: Option<String>,
    /// `-f`: the syslog facility of the request log (AUTH when not given,
    /// as sftp-server).
    pub facility: Option<Facility>,
    /// `-e`: the request log goes to stderr instead of syslog.
    pub stderr: bool,
}

/// Parses internal-sftp's options as sftp-server's getopt string
/// `d:f:l:P:p:u:ehR` does (clustered flags, an option's value attached or
/// in the next argument; the first non-option ends them). `-l` sets the
/// request log's level, `-f` its syslog facility, `-e` sends it to stderr.
pub(crate) fn parse(args: &[String], user: &str, home: &str) -> Result<Options, String> {
    let mut o = Options::default();
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        i += 1;
        let Some(flags) = arg.strip_prefix('-').filter(|f| !f.is_empty()) else {
            break;
        };
        if flags == "-" {
            break;
        }
        for (at, c) in flags.char_indices() {
            if !"dflPpu".contains(c) {
                match c {
                    'R' => o.server.read_only = true,
                    'e' => o.stderr = true,
                    'h' => return Err(USAGE.to_owned()),
                    _ => return Err(format!("unknown option -- {c}\n{USAGE}")),
                }
                continue;
            }
            let rest = flags.get(at + c.len_utf8()..).unwrap_or_default();
            let value = if rest.is_empty() {
                let v = args
                    .get(i)
                    .ok_or_else(|| format!("option requires an argument -- {c}\n{USAGE}"))?;
                i += 1;
                v.as_str()
            } else {
                rest
            };
            match c {
                'd' => o.start_directory = Some(expand(value, user, home)?),
                'f' => {
                    o.facility = Some(
                        Facility::from_name(value)
                            .ok_or_else(|| format!("Invalid log facility \"{value}\""))?,
                    );
                }
                'l' => {
                    o.server.log_level = LogLevel::from_name(value)
                        .ok_or_else(|| format!("Invalid log level \"{value}\""))?;
                }
                'P' => o
                    .server
                    .denied_requests
                    .extend(ServerOptions::request_list(value)),
                'p' => {
                    if o.server.allowed_requests.is_some() {
                        return Err("Permitted requests already set".to_owned());
                    }
                    o.server.allowed_requests = Some(ServerOptions::request_list(value));
                }
                _ => o.server.umask = Some(umask(value)?),
            }
            break;
        }
    }
    Ok(o)
}

/// `-u`: an octal mask up to 0777, as sftp-server's `strtol(.., 8)`.
fn umask(v: &str) -> Result<u32, String> {
    u32::from_str_radix(v, 8)
        .ok()
        .filter(|m| *m <= 0o777 && !v.starts_with(['+', '-']))
        .ok_or_else(|| format!("Invalid umask \"{v}\""))
}

/// `-d`'s tokens: `%d` the home directory, `%u` the user name, `%%`.
fn expand(v: &str, user: &str, home: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('d') => out.push_str(home),
            Some('u') => out.push_str(user),
            Some('%') => out.push('%'),
            Some(k) => return Err(format!("percent_expand: unknown key %{k}")),
            None => return Err("percent_expand: invalid format".to_owned()),
        }
    }
    Ok(out)
}

/// The hidden mode: `USER HOME CHROOT [options]`.
fn serve(args: &[std::ffi::OsString]) -> Result<(), String> {
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_str().map(str::to_owned))
        .collect::<Option<_>>()
        .ok_or("arguments are not UTF-8")?;
    let [name, home, chroot, rest @ ..] = args.as_slice() else {
        return Err(USAGE.to_owned());
    };
    let opts = parse(rest, name, home)?;
    let logging = opts.server.log_level >= LogLevel::Info;
    if logging && !opts.stderr {
        // Before the chroot, as sshd: the log socket is outside it.
        ssh_os::syslog::open(c"internal-sftp", opts.facility.unwrap_or(Facility::AUTH));
    }
    let stderr = opts.stderr;
    let mut log = move |line: &str| {
        if stderr {
            eprintln!("internal-sftp: {line}");
        } else {
            ssh_os::syslog::send(Severity::Info, line);
        }
    };
    let from = client_address(std::env::var_os("SSH_CONNECTION"));
    if !chroot.is_empty() {
        // Started as root by a server with ChrootDirectory (a user who
        // runs this by hand cannot chroot): confine, then drop to the user.
        let user = User::by_name(name)
            .map_err(|e| format!("{name}: {e}"))?
            .ok_or_else(|| format!("no user {name}"))?;
        ssh_os::chroot::enter_chroot(std::path::Path::new(chroot), &user)
            .map_err(|e| format!("chroot(\"{chroot}\"): {e}"))?;
    }
    if let Some(mask) = opts.server.umask {
        rustix::process::umask(rustix::fs::Mode::from_raw_mode(mask));
    }
    let mut base = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    if let Some(dir) = &opts.start_directory {
        std::env::set_current_dir(dir).map_err(|e| format!("chdir to \"{dir}\" failed: {e}"))?;
        base = std::env::current_dir().map_err(|e| format!("getcwd: {e}"))?;
    }
    let user = User {
        name: name.clone(),
        uid: rustix::process::getuid().as_raw(),
        gid: rustix::process::getgid().as_raw(),
        home: PathBuf::from(home),
        shell: PathBuf::new(),
    };
    let session = Session {
        user,
        from,
        base,
        options: opts.server,
    };
    session.serve(std::io::stdin().lock(), std::io::stdout().lock(), &mut log)
}

/// The client's address from `SSH_CONNECTION`, as sftp-server logs it.
fn client_address(connection: Option<std::ffi::OsString>) -> String {
    connection
        .and_then(|c| c.to_str()?.split(' ').next().map(str::to_owned))
        .unwrap_or_else(|| "UNKNOWN".to_owned())
}

/// One session of the server, however it was started.
struct Session {
    user: User,
    /// The client's address, for the log.
    from: String,
    /// Where relative paths start.
    base: PathBuf,
    options: ServerOptions,
}

impl Session {
    fn serve(
        self,
        input: impl Read,
        output: impl Write,
        log: &mut dyn FnMut(&str),
    ) -> Result<(), String> {
        let logging = self.options.log_level >= LogLevel::Info;
        let (name, from) = (self.user.name.clone(), self.from);
        // "session opened for local user U from [ADDR]", as sftp-server.
        if logging {
            log(&format!(
                "session opened for local user {name} from [{from}]"
            ));
        }
        let server = Server::new(OsFs::new(self.base, Some(self.user)), self.options);
        let r = pump(server, input, output, log);
        if logging {
            log(&format!(
                "session closed for local user {name} from [{from}]"
            ));
        }
        r
    }
}

/// internal-sftp in a session process that is already its user
/// (privilege separation), confined to its `ChrootDirectory` or not:
/// sessions share the process, so what the exec'd server sets for the
/// whole process (its working directory, umask and syslog facility) is
/// each session's own here. Confined, the process's syslog connection was
/// opened before the chroot, and its umask set to 0: the server masks
/// what it creates. Unconfined, the process also spawns the user's
/// programs, which inherit its umask and working directory: each
/// session's thread gets its own (`own_thread_fs`), starting in the home
/// with umask 0, as the exec'd server started there.
#[derive(Debug)]
pub(crate) struct InProcess {
    user: User,
    /// The umask sessions without `-u` get (the process's, before it was
    /// set to 0, or what its programs get).
    umask: u32,
    /// Each session's thread has a working directory and umask of its own.
    own_fs: bool,
}

impl InProcess {
    /// For a process confined to a chroot, whose working directory and
    /// umask (0) are the sessions'.
    pub(crate) fn confined(user: User, umask: u32) -> Self {
        Self {
            user,
            umask,
            own_fs: false,
        }
    }

    /// For a process that is not confined and also runs the user's
    /// programs with umask `umask`.
    pub(crate) fn unconfined(user: User, umask: u32) -> Self {
        Self {
            user,
            umask,
            own_fs: true,
        }
    }

    fn serve(
        &self,
        args: &[String],
        env: &[(std::ffi::OsString, std::ffi::OsString)],
        stdin: impl Read,
        stdout: impl Write,
        stderr: &mut dyn Write,
    ) -> Result<(), String> {
        let name = &self.user.name;
        let home = self.user.home.display().to_string();
        let mut opts = parse(args, name, &home)?;
        if self.own_fs {
            ssh_os::process::own_thread_fs(&self.user.home, 0)
                .map_err(|e| format!("a file system context of its own: {e}"))?;
        }
        // The process's working directory: the home inside the chroot,
        // or its root.
        let cwd = std::env::current_dir().map_err(|e| format!("getcwd: {e}"))?;
        let base = match &opts.start_directory {
            Some(dir) => std::fs::canonicalize(cwd.join(dir))
                .and_then(|p| {
                    if p.is_dir() {
                        Ok(p)
                    } else {
                        Err(std::io::Error::from(std::io::ErrorKind::NotADirectory))
                    }
                })
                .map_err(|e| format!("chdir to \"{dir}\" failed: {e}"))?,
            None => cwd,
        };
        opts.server.umask.get_or_insert(self.umask);
        let facility = opts.facility.unwrap_or(Facility::AUTH);
        let to_stderr = opts.stderr;
        let mut log = move |line: &str| {
            if to_stderr {
                let _ = writeln!(stderr, "internal-sftp: {line}");
            } else {
                ssh_os::syslog::send_as(facility, Severity::Info, line);
            }
        };
        let connection = env
            .iter()
            .find(|(n, _)| n == "SSH_CONNECTION")
            .map(|(_, v)| v.clone());
        let session = Session {
            user: self.user.clone(),
            from: client_address(connection),
            base,
            options: opts.server,
        };
        session.serve(stdin, stdout, &mut log)
    }
}

impl InProcessProgram for InProcess {
    fn run(
        &self,
        args: Vec<String>,
        env: Vec<(std::ffi::OsString, std::ffi::OsString)>,
        io: Stdio,
    ) -> u32 {
        let Stdio {
            stdin,
            stdout,
            mut stderr,
        } = io;
        match self.serve(&args, &env, stdin, stdout, &mut stderr) {
            Ok(()) => 0,
            Err(e) => {
                // On the channel's stderr, as the exec'd server's.
                let _ = writeln!(stderr, "internal-sftp: {e}");
                1
            }
        }
    }
}

/// Reads requests and writes replies until stdin ends. The server stops
/// taking input while its replies wait; what it left is offered again
/// from the read buffer after they are written (no copy of the input
/// besides the server's own).
fn pump<F: ssh_sftp::Filesystem>(
    mut server: Server<F>,
    mut input: impl Read,
    mut output: impl Write,
    log: &mut dyn FnMut(&str),
) -> Result<(), String> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    // What was read and not yet taken: `buf[start..end]`.
    let (mut start, mut end) = (0, 0);
    let mut eof = false;
    loop {
        if start < end {
            let n = server
                .handle_input(buf.get(start..end).unwrap_or_default())
                .map_err(|e| e.to_string())?;
            start += n;
            while let Some(line) = server.poll_log() {
                log(&line);
            }
        }
        if server.poll_transmit(&mut out) {
            output
                .write_all(&out)
                .and_then(|()| output.flush())
                .map_err(|e| format!("write: {e}"))?;
            out.clear();
            continue;
        }
        if eof {
            break;
        }
        if start < end {
            // Not taken while replies waited, and none wait now: offer it
            // again before reading more.
            continue;
        }
        match input.read(&mut buf) {
            Ok(0) => eof = true,
            Ok(n) => (start, end) = (0, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("read: {e}")),
        }
    }
    server.into_filesystem();
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Options, String> {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        parse(&args, "alice", "/home/alice")
    }

    #[test]
    fn options_as_sftp_server() {
        assert_eq!(p(&[]).unwrap(), Options::default());
        let o = p(&["-R", "-u", "027", "-l", "VERBOSE", "-f", "AUTHPRIV", "-e"]).unwrap();
        assert!(o.server.read_only);
        assert_eq!(o.server.log_level, LogLevel::Verbose);
        assert_eq!(o.facility, Facility::from_name("authpriv"));
        assert!(o.stderr);
        assert_eq!(
            p(&["-l", "debug3"]).unwrap().server.log_level,
            LogLevel::Debug
        );
        assert_eq!(o.server.umask, Some(0o027));
        // Clustered flags and attached values.
        let o = p(&["-eRu002", "-d%d/up", "-Pwrite,remove", "-P", "rename"]).unwrap();
        assert!(o.server.read_only);
        assert_eq!(o.server.umask, Some(0o002));
        assert_eq!(o.start_directory.as_deref(), Some("/home/alice/up"));
        assert_eq!(o.server.denied_requests, ["write", "remove", "rename"]);
        let o = p(&["-p", "open,read,close", "-d", "/srv/%u/100%%"]).unwrap();
        assert_eq!(
            o.server.allowed_requests.as_deref(),
            Some(&["open".to_owned(), "read".to_owned(), "close".to_owned()][..])
        );
        assert_eq!(o.start_directory.as_deref(), Some("/srv/alice/100%"));
        // The first non-option ends the options.
        assert!(!p(&["x", "-R"]).unwrap().server.read_only);
        assert!(!p(&["--", "-R"]).unwrap().server.read_only);
    }

    #[test]
    fn invalid_options_are_errors() {
        for bad in [
            &["-x"][..],
            &["-u"],
            &["-u", "8"],
            &["-u", "1000"],
            &["-u", ""],
            &["-u", "-1"],
            &["-l", "LOUD"],
            &["-f", "KERN"],
            &["-d", "%h"],
            &["-d", "x%"],
            &["-p", "a", "-p", "b"],
            &["-h"],
        ] {
            assert!(p(bad).is_err(), "{bad:?}");
        }
        assert!(p(&["-u", "8"]).unwrap_err().contains("Invalid umask"));
    }

    #[test]
    fn pump_answers_until_end_of_input() {
        let dir = std::env::temp_dir().join(format!("rsshd-isftp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // SSH_FXP_INIT version 3, then REALPATH "." (id 1).
        let mut input = vec![0, 0, 0, 5, 1, 0, 0, 0, 3];
        input.extend_from_slice(&[0, 0, 0, 10, 16, 0, 0, 0, 1, 0, 0, 0, 1, b'.']);
        let mut output = Vec::new();
        let server = Server::new(OsFs::new(&dir, None), ServerOptions::default());
        let mut lines = Vec::new();
        pump(server, &input[..], &mut output, &mut |l: &str| {
            lines.push(l.to_owned())
        })
        .unwrap();
        assert!(lines.is_empty(), "nothing is logged at ERROR: {lines:?}");
        // VERSION, then NAME (104) for id 1.
        assert_eq!(output.get(4), Some(&2));
        let len = u32::from_be_bytes(output.get(..4).unwrap().try_into().unwrap()) as usize;
        assert_eq!(output.get(4 + len + 4), Some(&104));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A packet of `body`.
    fn packet(body: &[u8]) -> Vec<u8> {
        let mut p = u32::try_from(body.len()).unwrap().to_be_bytes().to_vec();
        p.extend_from_slice(body);
        p
    }

    #[test]
    fn pump_offers_again_what_the_server_left_while_replies_waited() {
        let dir = std::env::temp_dir().join(format!("rsshd-isftp-big-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let content: Vec<u8> = (0..64 * 1024u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.join("f"), &content).unwrap();
        // INIT; OPEN "f" for reading (id 1; the first handle is 1 as 8
        // bytes); then 40 READs of 32 KiB at 0: 1.3 MB of replies, past
        // the server's output limit, from one read of the input.
        let mut input = packet(&[1, 0, 0, 0, 3]);
        input.extend(packet(&[
            3, 0, 0, 0, 1, 0, 0, 0, 1, b'f', 0, 0, 0, 1, 0, 0, 0, 0,
        ]));
        const READS: u32 = 40;
        for id in 2..2 + READS {
            let mut body = vec![5];
            body.extend_from_slice(&id.to_be_bytes());
            body.extend_from_slice(&[0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1]);
            body.extend_from_slice(&0u64.to_be_bytes());
            body.extend_from_slice(&32768u32.to_be_bytes());
            input.extend(packet(&body));
        }
        let mut output = Vec::new();
        let server = Server::new(OsFs::new(&dir, None), ServerOptions::default());
        pump(server, &input[..], &mut output, &mut |_: &str| {}).unwrap();
        // Every READ answered with DATA (103), in order.
        let mut at = 0;
        let mut ids = Vec::new();
        while at + 4 <= output.len() {
            let len = u32::from_be_bytes(output[at..at + 4].try_into().unwrap()) as usize;
            let body = &output[at + 4..at + 4 + len];
            if body[0] == 103 {
                ids.push(u32::from_be_bytes(body[1..5].try_into().unwrap()));
                assert_eq!(&body[9..], &content[..32768]);
            }
            at += 4 + len;
        }
        assert_eq!(at, output.len());
        assert_eq!(ids, (2..2 + READS).collect::<Vec<_>>());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
