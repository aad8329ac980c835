//! What an administrator sees of logins (`ssh>rsshd:admin-*`): the
//! system log when the server runs without `-e`, the login records of a
//! terminal session (utmp while it runs, wtmp and lastlog after), and the
//! identity of the server's process that serves an authenticated
//! connection (the user's, never root's: privilege separation), and the
//! PAM session around a user's session.
//!
//! Validated with OpenSSH's `sshd` in place of `rsshd`
//! (`XTASK_RSSHD=peer:/usr/sbin/sshd`): the same rows pass.

use std::fs;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::bail;
use crate::binary_setup::*;
use crate::interop::Ctx;
use crate::util::{self, Context, Result};

/// The container's root directory as seen from here (found from the
/// scratch directory's two names, here and inside).
fn container_root(setup: &Setup) -> Result<PathBuf> {
    let host = setup.scratch_host.to_string_lossy().into_owned();
    let Some(root) = host.strip_suffix(setup.scratch_peer.as_str()) else {
        bail!("cannot find the container's root from {host}");
    };
    Ok(PathBuf::from(root))
}

/// `/dev/log` of the container, bound here for one row; removed after.
pub(crate) struct SyslogSink {
    path: PathBuf,
    socket: UnixDatagram,
}

impl SyslogSink {
    /// Binds the container's `/dev/log`.
    pub(crate) fn bind(setup: &Setup) -> Result<Self> {
        let path = container_root(setup)?.join("dev/log");
        let _ = fs::remove_file(&path);
        let socket =
            UnixDatagram::bind(&path).context(format_args!("binding {}", path.display()))?;
        // Writable by all, as the real /dev/log: a user's session logs too.
        set_mode(&path, 0o666)?;
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .context("socket timeout")?;
        Ok(Self { path, socket })
    }

    /// The messages received until one holds `text` (or `wait` passed).
    pub(crate) fn until(&self, text: &str, wait: Duration, seen: &mut Vec<String>) -> bool {
        let deadline = Instant::now() + wait;
        let mut buf = vec![0u8; 8192];
        while Instant::now() < deadline {
            if let Ok(n) = self.socket.recv(&mut buf) {
                let msg = String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).into_owned();
                let hit = msg.contains(text);
                seen.push(msg);
                if hit {
                    return true;
                }
            }
        }
        false
    }
}

/// Messages read from a [`SyslogSink`] by a thread of their own, so that
/// a busy logger never blocks on a full socket while a row runs.
pub(crate) struct SyslogCollector {
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl SyslogSink {
    /// Starts reading every message as it comes.
    pub(crate) fn collect(&self) -> Result<SyslogCollector> {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex, PoisonError};
        let socket = self.socket.try_clone().context("cloning the log socket")?;
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 8192];
            while !st.load(Ordering::Relaxed) {
                if let Ok(n) = socket.recv(&mut buf) {
                    let msg = String::from_utf8_lossy(buf.get(..n).unwrap_or_default());
                    s.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(msg.into_owned());
                }
            }
        });
        Ok(SyslogCollector { seen, stop })
    }
}

impl SyslogCollector {
    /// Waits up to `wait` for a message holding each of `texts`; the
    /// missing ones and everything seen otherwise.
    pub(crate) fn wait_for(
        &self,
        texts: &[String],
        wait: Duration,
    ) -> std::result::Result<(), String> {
        let deadline = Instant::now() + wait;
        loop {
            let seen = self
                .seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            let missing: Vec<&String> = texts
                .iter()
                .filter(|t| !seen.iter().any(|m| m.contains(t.as_str())))
                .collect();
            if missing.is_empty() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("missing {missing:?}; the log got: {seen:#?}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for SyslogCollector {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Drop for SyslogSink {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// The server started through a script that drops the harness's `-e`
/// (and keeps `-D`), so that it logs as a daemon does.
pub(crate) fn without_dash_e(setup: &Setup) -> Result<String> {
    let script = format!(
        "#!/bin/sh\n# The server without -e: its log goes to syslog.\n\
         for a do shift; [ \"$a\" = -e ] || set -- \"$@\" \"$a\"; done\n\
         exec {} \"$@\"\n",
        setup.server
    );
    let path = setup.host("no-e.sh");
    fs::write(&path, script).context("writing the wrapper")?;
    set_mode(&path, 0o755)?;
    Ok(setup.peer("no-e.sh"))
}

/// `SyslogFacility AUTH` (the default): a key login logged at auth.info
/// (`<38>`) with sshd's words.
fn syslog(ctx: &mut Ctx<'_>) -> Result<()> {
    let setup = Setup::new(ctx, true)?;
    let line = setup.keygen("id", "ed25519", "")?;
    setup.account(ctx, &line)?;
    let sink = SyslogSink::bind(&setup)?;
    let srv = Srv {
        extra: vec!["LogLevel INFO".into(), "PidFile none".into()],
        ..Srv::default()
    };
    let program = without_dash_e(&setup)?;
    let server = setup.start_program(ctx, &srv, &program)?;
    let call = Call::remote("echo ok").opt("-i").opt(&setup.client("id"));
    let out = setup.run(ctx, server.port(), &call)?;
    if out.stdout != b"ok\n" {
        bail!("the login failed: {}", tail(&out.stderr));
    }
    let mut seen = Vec::new();
    let wanted = format!("Accepted publickey for {USER} from 127.0.0.1");
    if !sink.until(&wanted, Duration::from_secs(10), &mut seen) {
        bail!("no {wanted:?} in the system log; it got: {seen:#?}");
    }
    let Some(hit) = seen.iter().find(|m| m.contains(&wanted)) else {
        bail!("lost the message");
    };
    if !hit.starts_with("<38>") {
        bail!("logged, but not at auth.info (<38>): {hit:?}");
    }
    if !server.log().trim().is_empty() {
        bail!("the server wrote to stderr without -e: {}", server.log());
    }
    Ok(())
}

/// One utmp/wtmp entry (glibc x86_64 and aarch64 `struct utmp`, 384 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Utmp {
    kind: i16,
    pid: i32,
    line: String,
    user: String,
    host: String,
}

const UTMP_SIZE: usize = 384;
const USER_PROCESS: i16 = 7;
const DEAD_PROCESS: i16 = 8;

/// The entries of a utmp or wtmp file.
fn utmp_entries(data: &[u8]) -> Vec<Utmp> {
    let text = |b: &[u8]| {
        let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
        String::from_utf8_lossy(b.get(..end).unwrap_or_default()).into_owned()
    };
    data.chunks_exact(UTMP_SIZE)
        .map(|e| {
            let field = |from: usize, len: usize| e.get(from..from + len).unwrap_or_default();
            let mut pid = [0u8; 4];
            pid.copy_from_slice(field(4, 4));
            Utmp {
                kind: i16::from_ne_bytes([
                    e.first().copied().unwrap_or(0),
                    e.get(1).copied().unwrap_or(0),
                ]),
                pid: i32::from_ne_bytes(pid),
                line: text(field(8, 32)),
                user: text(field(44, 32)),
                host: text(field(76, 256)),
            }
        })
        .collect()
}

/// `(line, host)` of `uid`'s lastlog entry, if it has one.
fn lastlog_entry(data: &[u8], uid: u32) -> Option<(String, String)> {
    let size = 4 + 32 + 256;
    let at = usize::try_from(uid).ok()? * size;
    let e = data.get(at..at + size)?;
    let text = |b: &[u8]| {
        let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
        String::from_utf8_lossy(b.get(..end).unwrap_or_default()).into_owned()
    };
    let time = e.get(..4)?;
    if time == [0; 4] {
        return None;
    }
    Some((text(e.get(4..36)?), text(e.get(36..)?)))
}

/// A row's account with the key `id`, and the login records a booted
/// system has (the chroot has no boot): an empty utmp, wtmp and lastlog,
/// group utmp.
pub(crate) fn key_account(ctx: &mut Ctx<'_>) -> Result<Setup> {
    let setup = Setup::new(ctx, true)?;
    let line = setup.keygen("id", "ed25519", "")?;
    setup.account(ctx, &line)?;
    util::checked_output(&mut ctx.backend.command(
        "sh",
        &[
            "-c",
            ": > /var/run/utmp; : > /var/log/wtmp; : > /var/log/lastlog; \
             chgrp utmp /var/run/utmp /var/log/wtmp /var/log/lastlog; \
             chmod 664 /var/run/utmp /var/log/wtmp /var/log/lastlog",
        ],
    ))?;
    Ok(setup)
}

/// A terminal session (`ssh -tt host sleep 3`): while it runs utmp has
/// the user on its line from 127.0.0.1; after, the line's entry is dead,
/// and wtmp holds the login and the logout, lastlog the line and host.
fn login_records(ctx: &mut Ctx<'_>) -> Result<()> {
    let setup = key_account(ctx)?;
    let root = container_root(&setup)?;
    let server = setup.start(ctx, &Srv::default())?;
    let call = Call::remote("sleep 3")
        .opt("-tt")
        .opt("-i")
        .opt(&setup.client("id"));
    let mut client = setup
        .command(ctx, server.port(), &call)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting the client")?;
    let read = |name: &str| fs::read(root.join(name)).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(20);
    let during = loop {
        let live: Vec<Utmp> = utmp_entries(&read("run/utmp"))
            .into_iter()
            .filter(|e| e.kind == USER_PROCESS && e.user == USER)
            .collect();
        if let Some(e) = live.first() {
            break e.clone();
        }
        if Instant::now() > deadline || matches!(client.try_wait(), Ok(Some(_))) {
            let _ = client.kill();
            let out = client.wait_with_output().context("the client")?;
            bail!(
                "no utmp entry for {USER} while the session ran; utmp: {:?}; client: {}",
                utmp_entries(&read("run/utmp")),
                tail(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = client.wait_with_output().context("the client")?;
    if !out.status.success() {
        bail!("the session failed: {}", tail(&out.stderr));
    }
    if !during.line.starts_with("pts/") || during.host != "127.0.0.1" || during.pid <= 0 {
        bail!("utmp entry {during:?}: expected pts/N from 127.0.0.1 with a pid");
    }
    // The logout is written as the session ends: give it a moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let utmp = utmp_entries(&read("run/utmp"));
        let wtmp = utmp_entries(&read("var/log/wtmp"));
        let dead = utmp
            .iter()
            .any(|e| e.line == during.line && e.kind == DEAD_PROCESS)
            && !utmp
                .iter()
                .any(|e| e.line == during.line && e.kind == USER_PROCESS);
        let logged_in = wtmp
            .iter()
            .any(|e| e.kind == USER_PROCESS && e.user == USER && e.line == during.line);
        let logged_out = wtmp
            .iter()
            .any(|e| e.kind == DEAD_PROCESS && e.line == during.line);
        let last = lastlog_entry(&read("var/log/lastlog"), UID);
        let last_ok = last.as_ref() == Some(&(during.line.clone(), "127.0.0.1".to_owned()));
        if dead && logged_in && logged_out && last_ok {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "after the session: utmp line dead {dead}, wtmp login {logged_in}, \
                 wtmp logout {logged_out}, lastlog {last:?}\nutmp: {utmp:?}\nwtmp: {wtmp:?}"
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The program's parent is the server's process for the connection
/// (OpenSSH's unprivileged session child; rsshd's session process of the
/// user): every uid and gid it has is the user's.
fn session_as_user(ctx: &mut Ctx<'_>) -> Result<()> {
    let setup = Setup::new(ctx, true)?;
    let line = setup.keygen("id", "ed25519", "")?;
    setup.account(ctx, &line)?;
    let server = setup.start(ctx, &Srv::default())?;
    let call = Call::remote("grep -E '^(Uid|Gid):' /proc/$PPID/status; id -u; id -g")
        .opt("-i")
        .opt(&setup.client("id"));
    let out = setup.run(ctx, server.port(), &call)?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines();
    let (Some(uids), Some(gids), Some(uid), Some(gid)) =
        (lines.next(), lines.next(), lines.next(), lines.next())
    else {
        bail!("unexpected output {text:?}: {}", tail(&out.stderr));
    };
    let all = |line: &str, label: &str, id: &str| {
        line.strip_prefix(label).is_some_and(|ids| {
            ids.split_whitespace().all(|i| i == id) && ids.split_whitespace().count() == 4
        })
    };
    if uid != UID.to_string() || !all(uids, "Uid:", uid) || !all(gids, "Gid:", gid) {
        bail!("the session's parent is not the user's alone (user {uid}:{gid}): {uids:?} {gids:?}");
    }
    Ok(())
}

/// `UsePAM yes`: the PAM session around the user's session, opened as
/// root with the client's address and `ssh` as the terminal, its
/// environment given to the program, and closed after the connection
/// ends. Two lines are added to the image's own `/etc/pam.d/sshd` for the
/// row (and the file put back after it): `pam_exec` records each session
/// call, `pam_env` sets a variable.
fn pam_session(ctx: &mut Ctx<'_>) -> Result<()> {
    pam_session_in(ctx, false)
}

/// The same with the server in debug mode (`-d`: one connection, served
/// by the process that accepted it, which holds its PAM session).
fn pam_session_debug(ctx: &mut Ctx<'_>) -> Result<()> {
    pam_session_in(ctx, true)
}

fn pam_session_in(ctx: &mut Ctx<'_>, debug: bool) -> Result<()> {
    let setup = Setup::new(ctx, true)?;
    let line = setup.keygen("id", "ed25519", "")?;
    setup.account(ctx, &line)?;
    let (record, log, env) = (
        setup.peer("pam-record"),
        setup.peer("pam.log"),
        setup.peer("pam_env.conf"),
    );
    fs::write(
        setup.host("pam-record"),
        format!("#!/bin/sh\necho \"$PAM_TYPE $PAM_USER $PAM_RHOST $PAM_TTY $(id -u)\" >> {log}\n"),
    )
    .context("writing the recorder")?;
    fs::write(setup.host("pam_env.conf"), "XTASK_PAM DEFAULT=from-pam\n")
        .context("writing pam_env.conf")?;
    // A copy left by an interrupted run is the original.
    let stack = format!(
        "set -e; chmod 755 {record}; \
         if [ -e /etc/pam.d/sshd.xtask ]; then cp /etc/pam.d/sshd.xtask /etc/pam.d/sshd; fi; \
         cp /etc/pam.d/sshd /etc/pam.d/sshd.xtask; \
         echo 'session optional pam_exec.so {record}' >> /etc/pam.d/sshd; \
         echo 'session required pam_env.so conffile={env} readenv=0' >> /etc/pam.d/sshd"
    );
    util::checked_output(&mut ctx.backend.command("sh", &["-c", &stack]))?;
    let result = pam_session_checks(ctx, &setup, debug);
    util::checked_output(
        &mut ctx
            .backend
            .command("sh", &["-c", "mv /etc/pam.d/sshd.xtask /etc/pam.d/sshd"]),
    )?;
    result
}

fn pam_session_checks(ctx: &mut Ctx<'_>, setup: &Setup, debug: bool) -> Result<()> {
    let srv = Srv {
        pam: true,
        ..Srv::default()
    };
    let server = if debug {
        let script = format!(
            "#!/bin/sh\n# The server in debug mode.\nexec {} -d \"$@\"\n",
            setup.server
        );
        let path = setup.host("debug.sh");
        fs::write(&path, script).context("writing the wrapper")?;
        set_mode(&path, 0o755)?;
        setup.start_program(ctx, &srv, &setup.peer("debug.sh"))?
    } else {
        setup.start(ctx, &srv)?
    };
    let call = Call::remote("echo \"$XTASK_PAM\"")
        .opt("-i")
        .opt(&setup.client("id"));
    let out = setup.run(ctx, server.port(), &call)?;
    if out.stdout != b"from-pam\n" {
        bail!(
            "the program's XTASK_PAM: {:?}; stderr: {}",
            String::from_utf8_lossy(&out.stdout),
            tail(&out.stderr)
        );
    }
    let opened = format!("open_session {USER} 127.0.0.1 ssh 0");
    let closed = format!("close_session {USER} 127.0.0.1 ssh 0");
    let read = || fs::read_to_string(setup.host("pam.log")).unwrap_or_default();
    if !read().lines().any(|l| l == opened) {
        bail!("no {opened:?} in the PAM log: {:?}", read());
    }
    // Closed when the server is done with the connection (rsshd's session
    // process waits 5 s for a next one).
    let deadline = Instant::now() + Duration::from_secs(20);
    while !read().lines().any(|l| l == closed) {
        if Instant::now() > deadline {
            bail!("no {closed:?} in the PAM log: {:?}", read());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// A row's function.
type RowFn = fn(&mut Ctx<'_>) -> Result<()>;

/// The rows: (name, about, function).
pub(crate) const ROWS: &[(&str, &str, RowFn)] = &[
    (
        "admin-syslog",
        "-D without -e: the login logged to /dev/log at auth.info (<38>), nothing on stderr",
        syslog,
    ),
    (
        "admin-login-records",
        "ssh -tt: utmp has the user on pts/N from 127.0.0.1 while it runs; wtmp login and logout, lastlog after",
        login_records,
    ),
    (
        "admin-session-as-user",
        "ssh host: the program's parent, the server's process for the connection, has only the user's uids and gids",
        session_as_user,
    ),
    (
        "admin-pam-session",
        "UsePAM yes: pam_open_session as root with the client's address and tty ssh, PAM's environment in the program, pam_close_session after",
        pam_session,
    ),
    (
        "admin-pam-session-debug",
        "UsePAM yes, the server in debug mode (-d): the same PAM session around the one connection",
        pam_session_debug,
    ),
];
