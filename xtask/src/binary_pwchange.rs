//! The forced password change rows (`ssh>rsshd:password-change-*`): an
//! account whose password has expired (`chage -d 0`, as cloud images ship
//! their first user) still logs in, but only to change it, as sshd's
//! `force_pwchange` does. With PAM, account management says so
//! (`PAM_NEW_AUTHTOK_REQD`) whatever the method, and its words reach the
//! user; without PAM, sshd looks at the shadow entry when it checks a
//! password. A session without a terminal is refused with sshd's message
//! and status 1; one with a terminal runs `passwd`, whatever it asked for.
//!
//! Validated with OpenSSH's `sshd` in place of `rsshd`
//! (`XTASK_RSSHD=peer:/usr/sbin/sshd`): the same rows pass.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::bail;
use crate::binary_account::{in_peer, key_login, logged};
use crate::binary_setup::*;
use crate::interop::Ctx;
use crate::peer::RunningSshd;
use crate::util::{self, Result};

/// sshd's first line (`do_pwchange`).
const EXPIRED: &str = "WARNING: Your password has expired.";
/// Its line without a terminal.
const NO_TTY: &str = "Password change required but no TTY available.";
/// Its line on a terminal, before `passwd` (which ends "login again!"
/// up to OpenSSH 9.x, "log in again!" after).
const CHANGE_NOW: &str = "You must change your password now and log";
/// What pam_unix's account management says (the end of its sentence
/// differs by release: "root enforced", "administrator enforced").
const PAM_SAYS: &str = "You are required to change your password immediately";
/// The marker the refused command would create.
const MARKER: &str = "/tmp/xtask-password-change-ran";

/// The password must change at the next login: the last change on day 0
/// (`chage -d 0`, written directly as the account is).
fn force_change(ctx: &Ctx<'_>) -> Result<()> {
    in_peer(
        ctx,
        &format!("rm -f {MARKER}; sed -i 's/^\\({USER}:[^:]*:\\)[^:]*:/\\10:/' /etc/shadow"),
    )
}

/// The command must not have run.
fn not_run(ctx: &Ctx<'_>) -> Result<()> {
    if in_peer(ctx, &format!("test -e {MARKER}")).is_ok() {
        bail!("the command ran ({MARKER} exists)");
    }
    Ok(())
}

/// A session without a terminal: sshd's two lines on stderr, status 1,
/// nothing run; `also` in what the user saw, when given.
fn refused_without_tty(
    ctx: &mut Ctx<'_>,
    setup: &Setup,
    server: &RunningSshd,
    call: &Call,
    also: Option<&str>,
) -> Result<()> {
    let out = setup.run(ctx, server.port(), call)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let missing: Vec<&str> = [Some(EXPIRED), Some(NO_TTY), also]
        .into_iter()
        .flatten()
        .filter(|t| !stderr.contains(t))
        .collect();
    if out.status.code() != Some(1) || !out.stdout.is_empty() || !missing.is_empty() {
        bail!(
            "expected exit 1 and {missing:?}: exit {}, stdout {:?}, stderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            tail(&out.stderr)
        );
    }
    not_run(ctx)
}

/// `UsePAM yes`, `chage -d 0`: a listed key logs in; PAM's words, sshd's
/// warning, and no program without a terminal.
pub(crate) fn pam_no_tty(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, mut call) = key_login(ctx, true, force_change)?;
    call.remote = format!("touch {MARKER}");
    refused_without_tty(ctx, &setup, &server, &call, Some(PAM_SAYS))
}

/// `UsePAM yes`, `chage -d 0`, `ssh -tt`: the warning, then `passwd` runs
/// as the user instead of the command; it waits for the current password
/// on the terminal until the row kills it (it is seen from here: the
/// container's processes are this host's).
pub(crate) fn pam_tty(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, mut call) = key_login(ctx, true, force_change)?;
    call.remote = format!("touch {MARKER}");
    call.opts.push("-tt".into());
    let server_pid = server.pid();
    let (out, killed) = std::thread::scope(|s| {
        let killer = s.spawn(|| kill_passwd_of_user(server_pid));
        let out = setup.run(ctx, server.port(), &call);
        (out, killer.join())
    });
    let out = out?;
    let text = String::from_utf8_lossy(&out.stdout);
    let missing: Vec<&str> = [EXPIRED, CHANGE_NOW, "Changing password for"]
        .into_iter()
        .filter(|t| !text.contains(t))
        .collect();
    if !matches!(killed, Ok(Ok(()))) || out.status.success() || !missing.is_empty() {
        bail!(
            "expected passwd to run (killed: {killed:?}) after {missing:?}: exit {}, output {:?}, stderr: {}",
            out.status,
            text,
            tail(&out.stderr)
        );
    }
    not_run(ctx)
}

/// Waits (at most 30 s) for a `passwd` whose real user is the account's,
/// started under `server` (other releases' rows run beside this one), and
/// kills it.
fn kill_passwd_of_user(server: Option<u32>) -> Result<()> {
    let Some(server) = server else {
        bail!("the server's process is not known");
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            if comm.trim() == "passwd"
                && status_field(pid, "Uid:") == Some(UID)
                && descends_from(pid, server)
            {
                // Killed once it waits for input: it printed what comes
                // before its prompt ("Changing password for ..."). Killed
                // when found, it was once killed before it printed it.
                wait_for_read(pid, Duration::from_secs(10));
                util::checked_output(Command::new("kill").args(["-KILL", &pid.to_string()]))?;
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("no passwd of {USER} ran under the server within 30 s")
}

/// Waits until `pid` is blocked reading its standard input
/// (`/proc/PID/syscall`: `read(2)`'s number, 0 on x86-64, then fd 0), at
/// most `limit`.
fn wait_for_read(pid: u32, limit: Duration) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        let call = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
        let mut fields = call.split_whitespace();
        if fields.next() == Some("0") && fields.next() == Some("0x0") {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The first number of a `/proc/PID/status` line (`Uid:` gives the real
/// user, `PPid:` the parent).
fn status_field(pid: u32, name: &str) -> Option<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// `pid` is `ancestor` or below it.
fn descends_from(mut pid: u32, ancestor: u32) -> bool {
    for _ in 0..64 {
        if pid == ancestor {
            return true;
        }
        match status_field(pid, "PPid:") {
            Some(parent) if parent > 1 => pid = parent,
            _ => return false,
        }
    }
    false
}

/// `UsePAM no`, `chage -d 0`, the password method: sshd's shadow check
/// (its log line) and the refusal without a terminal.
pub(crate) fn shadow_no_tty(ctx: &mut Ctx<'_>) -> Result<()> {
    let srv = Srv {
        password: true,
        ..Srv::default()
    };
    let setup = Setup::new(ctx, true)?;
    setup.account(ctx, "")?;
    force_change(ctx)?;
    let server = setup.start(ctx, &srv)?;
    let askpass = setup.askpass(PASSWORD)?;
    let mut call = Call::remote(&format!("touch {MARKER}"))
        .opt("-o")
        .opt("PreferredAuthentications=password")
        .opt("-o")
        .opt("PubkeyAuthentication=no")
        .opt("-o")
        .opt("NumberOfPasswordPrompts=1");
    call.batch = false;
    call.env.push(("SSH_ASKPASS".into(), askpass));
    call.env
        .push(("SSH_ASKPASS_REQUIRE".into(), "force".into()));
    refused_without_tty(ctx, &setup, &server, &call, None)?;
    logged(
        &server,
        &format!("User {USER} password has expired (root forced)"),
    )
}

/// A row's function.
type RowFn = fn(&mut Ctx<'_>) -> Result<()>;

/// The rows: (name, about, function).
pub(crate) const ROWS: &[(&str, &str, RowFn)] = &[
    (
        "password-change-pam",
        "UsePAM yes, chage -d 0: a listed key logs in to PAM's words and sshd's warning; without a TTY nothing runs, exit 1",
        pam_no_tty,
    ),
    (
        "password-change-pam-tty",
        "UsePAM yes, chage -d 0, ssh -tt: the warning, then passwd instead of the command",
        pam_tty,
    ),
    (
        "password-change-shadow",
        "UsePAM no, chage -d 0, password method: sshd's shadow check (\"password has expired (root forced)\"), no TTY: exit 1",
        shadow_no_tty,
    ),
];
