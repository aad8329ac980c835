//! The account rows (`ssh>rsshd:account-*`): sshd's checks of the account
//! itself, whatever the method. A key that `authorized_keys` lists still
//! does not log in an expired or locked account, one whose shell is
//! missing, or anyone but root while `/etc/nologin` exists; with PAM its
//! account management says so to the user. Each row changes the account
//! in the container (its shadow entry, its shell, `/etc/nologin`);
//! [`Setup::account`] undoes it for the next row.
//!
//! Validated with OpenSSH's `sshd` in place of `rsshd`
//! (`XTASK_RSSHD=peer:/usr/sbin/sshd`): the same rows pass.

use std::time::{Duration, Instant};

use crate::bail;
use crate::binary_setup::*;
use crate::interop::Ctx;
use crate::peer::RunningSshd;
use crate::util::{self, Result};

/// The text the rows put in `/etc/nologin`.
const NOLOGIN: &str = "xtask: down for maintenance";

/// Runs `f` while `/etc/nologin` exists in the container; removes it
/// after, passed or not.
fn with_nologin(ctx: &mut Ctx<'_>, f: impl FnOnce(&mut Ctx<'_>) -> Result<()>) -> Result<()> {
    in_peer(ctx, &format!("echo '{NOLOGIN}' > /etc/nologin"))?;
    let r = f(ctx);
    let cleanup = in_peer(ctx, "rm -f /etc/nologin");
    r.and(cleanup)
}

/// Runs `script` as root in the container.
pub(crate) fn in_peer(ctx: &Ctx<'_>, script: &str) -> Result<()> {
    util::checked_output(&mut ctx.backend.command("sh", &["-c", script]))?;
    Ok(())
}

/// The account's shadow entry with this password field prefix and
/// expiry day (`chage -E`; empty: never).
fn shadow(ctx: &Ctx<'_>, prefix: &str, expire: &str) -> Result<()> {
    let hash = password_hash()?;
    in_peer(
        ctx,
        &format!(
            "sed -i '/^{USER}:/d' /etc/shadow; \
             echo '{USER}:{prefix}{hash}:20000:0:99999:7::{expire}:' >> /etc/shadow"
        ),
    )
}

/// A key login of the account, started (the server with `UsePAM
/// pam`); then `change` alters the account.
pub(crate) fn key_login(
    ctx: &mut Ctx<'_>,
    pam: bool,
    change: impl FnOnce(&Ctx<'_>) -> Result<()>,
) -> Result<(Setup, RunningSshd, Call)> {
    let srv = Srv {
        pam,
        ..Srv::default()
    };
    let (setup, server, call) = with_key(ctx, &srv)?;
    change(ctx)?;
    let mut call = call;
    call.remote = "echo ok".to_owned();
    Ok((setup, server, call))
}

/// The login must fail as a refused login does: exit 255, the command
/// never run, `stderr_has` in what the user saw (when given).
fn refused(
    ctx: &mut Ctx<'_>,
    setup: &Setup,
    server: &RunningSshd,
    call: &Call,
    stderr_has: Option<&str>,
) -> Result<()> {
    let out = setup.run(ctx, server.port(), call)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.stdout.is_empty() {
        bail!(
            "the command ran: stdout {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    if out.status.code() != Some(255) {
        bail!(
            "exit status {}, expected 255; stderr: {}",
            out.status,
            tail(&out.stderr)
        );
    }
    if let Some(text) = stderr_has
        && !stderr.contains(text)
    {
        bail!(
            "the client was not told {text:?}; stderr: {}",
            tail(&out.stderr)
        );
    }
    Ok(())
}

/// The server's log must come to hold `line` (it may follow the client's
/// exit by a moment).
pub(crate) fn logged(server: &RunningSshd, line: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if server.log().contains(line) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the server's log lacks {line:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `UsePAM yes`, `chage -E 1`: pam_unix's account management refuses, and
/// the user reads why.
pub(crate) fn expired_pam(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, call) = key_login(ctx, true, |ctx| shadow(ctx, "", "1"))?;
    refused(
        ctx,
        &setup,
        &server,
        &call,
        Some("Your account has expired"),
    )
}

/// `UsePAM yes` and `/etc/nologin`: pam_nologin refuses with its text.
pub(crate) fn nologin_pam(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, call) = key_login(ctx, true, |_| Ok(()))?;
    with_nologin(ctx, |ctx| {
        refused(ctx, &setup, &server, &call, Some(NOLOGIN))
    })
}

/// `UsePAM no`, `usermod -L` (a `!` before the hash): refused before any
/// method, as sshd logs it.
pub(crate) fn locked(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, call) = key_login(ctx, false, |ctx| shadow(ctx, "!", ""))?;
    refused(ctx, &setup, &server, &call, None)?;
    logged(
        &server,
        &format!("User {USER} not allowed because account is locked"),
    )
}

/// `UsePAM no`, `chage -E 1`: sshd counts an expired account as locked.
pub(crate) fn expired(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, call) = key_login(ctx, false, |ctx| shadow(ctx, "", "1"))?;
    refused(ctx, &setup, &server, &call, None)?;
    logged(&server, &format!("Account {USER} has expired"))?;
    logged(
        &server,
        &format!("User {USER} not allowed because account is locked"),
    )
}

/// A login shell that does not exist.
pub(crate) fn no_shell(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, call) = key_login(ctx, false, |ctx| {
        in_peer(
            ctx,
            &format!("sed -i 's|^\\({USER}:.*:\\)/bin/sh$|\\1/nonexistent/shell|' /etc/passwd"),
        )
    })?;
    refused(ctx, &setup, &server, &call, None)?;
    logged(
        &server,
        &format!("User {USER} not allowed because shell /nonexistent/shell does not exist"),
    )
}

/// `UsePAM no` and `/etc/nologin`: the login succeeds, but no program
/// runs; its text on stderr, exit status 254 (sshd's child).
pub(crate) fn nologin(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, call) = key_login(ctx, false, |_| Ok(()))?;
    with_nologin(ctx, |ctx| {
        let out = setup.run(ctx, server.port(), &call)?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.stdout.is_empty() || out.status.code() != Some(254) || !stderr.contains(NOLOGIN) {
            bail!(
                "expected exit 254 showing {NOLOGIN:?}: exit {}, stdout {:?}, stderr: {}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                tail(&out.stderr)
            );
        }
        // sshd logs it from the session's child, whose stderr (with -e)
        // is the client's; rsshd in its own log.
        let line = format!("User {USER} not allowed because /etc/nologin exists");
        if stderr.contains(&line) {
            return Ok(());
        }
        logged(&server, &line)
    })
}

/// A wrong password by `method`, for `user` (`-l`); (how long the
/// refusal took, what the client printed with the user's name as `USER`).
fn wrong_password(
    ctx: &mut Ctx<'_>,
    setup: &Setup,
    server: &RunningSshd,
    method: &str,
    user: &str,
) -> Result<(Duration, String)> {
    let mut call = Call::remote("echo ok")
        .opt("-l")
        .opt(user)
        .opt("-o")
        .opt(&format!("PreferredAuthentications={method}"))
        .opt("-o")
        .opt("PubkeyAuthentication=no")
        .opt("-o")
        .opt("NumberOfPasswordPrompts=1");
    call.batch = false;
    call.env
        .push(("SSH_ASKPASS".into(), setup.client("askpass")));
    call.env
        .push(("SSH_ASKPASS_REQUIRE".into(), "force".into()));
    let start = Instant::now();
    let out = setup.run(ctx, server.port(), &call)?;
    let took = start.elapsed();
    if out.status.code() != Some(255) || !out.stdout.is_empty() {
        bail!(
            "{user}: a wrong password was not refused: exit {}",
            out.status
        );
    }
    let text = String::from_utf8_lossy(&out.stderr).replace(user, "USER");
    Ok((took, text))
}

/// A missing user and an existing one with a wrong password must look
/// the same to the client: the same messages and about the same time
/// (PAM's delay after a failure). Two rounds, alternating.
fn missing_user(ctx: &mut Ctx<'_>, method: &str) -> Result<()> {
    let srv = Srv {
        password: method == "password",
        kbd: method == "keyboard-interactive",
        pam: true,
        ..Srv::default()
    };
    let setup = Setup::new(ctx, true)?;
    let server = setup.start(ctx, &srv)?;
    setup.askpass("not the password")?;
    let (mut existing, mut missing) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..2 {
        let (t, seen_existing) = wrong_password(ctx, &setup, &server, method, USER)?;
        existing += t;
        let (t, seen_missing) = wrong_password(ctx, &setup, &server, method, "xtasknosuchuser")?;
        missing += t;
        if seen_existing != seen_missing {
            bail!(
                "the client saw different things:\n--- existing user:\n{seen_existing}\n--- missing user:\n{seen_missing}"
            );
        }
    }
    let ratio = missing.as_secs_f64() / existing.as_secs_f64().max(0.001);
    if !(0.6..=1.67).contains(&ratio) {
        bail!(
            "a missing user is refused in {:.2} s, an existing one in {:.2} s (two tries each)",
            missing.as_secs_f64(),
            existing.as_secs_f64()
        );
    }
    Ok(())
}

fn missing_user_password(ctx: &mut Ctx<'_>) -> Result<()> {
    missing_user(ctx, "password")
}

fn missing_user_kbd(ctx: &mut Ctx<'_>) -> Result<()> {
    missing_user(ctx, "keyboard-interactive")
}

/// `RefuseConnection yes` in a `Match User` block (sshd 10.1): the
/// login with a listed key ends before any method succeeds, the command
/// never runs, and the server logs sshd's line. With OpenSSH's `sshd`
/// older than 10.1 in `rsshd`'s place (validation) the row is n/a: that
/// `sshd` does not know the keyword.
fn refuse_connection(ctx: &mut Ctx<'_>) -> Result<()> {
    let openssh_sshd = matches!(
        crate::binaries::locate(crate::binaries::Bin::Rsshd),
        Ok(crate::binaries::Location::Peer(_))
    );
    if openssh_sshd
        && crate::binary_hostcerts::openssh_version(ctx.backend.openssh_version())
            .is_some_and(|v| v < (10, 1))
    {
        return Err(crate::interop::skip(
            "OpenSSH's sshd before 10.1 has no RefuseConnection",
        ));
    }
    let srv = Srv {
        extra: vec![
            format!("Match User {USER}"),
            "  RefuseConnection yes".to_owned(),
        ],
        ..Srv::default()
    };
    let (setup, server, mut call) = with_key(ctx, &srv)?;
    call.remote = "echo ok".to_owned();
    // sshd's monitor exits (the connection just closes); rsshd says why
    // in a DISCONNECT (host not allowed to connect), which ssh prints.
    let says: &[&str] = if openssh_sshd {
        &["Connection closed by 127.0.0.1 port"]
    } else {
        &[
            "Received disconnect from 127.0.0.1 port",
            ":1: administratively prohibited connection",
        ]
    };
    let out = setup.run(ctx, server.port(), &call)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.stdout.is_empty() || out.status.code() != Some(255) {
        bail!(
            "expected exit 255 and no output: exit {}, stdout {:?}",
            out.status,
            String::from_utf8_lossy(&out.stdout)
        );
    }
    if let Some(missing) = says.iter().find(|t| !stderr.contains(**t)) {
        bail!(
            "the client did not say {missing:?}; stderr: {}",
            tail(&out.stderr)
        );
    }
    logged(
        &server,
        &format!("administratively prohibited connection for {USER} from 127.0.0.1 port"),
    )
}

/// A row's function.
type RowFn = fn(&mut Ctx<'_>) -> Result<()>;

/// The rows: (name, about, function).
pub(crate) const ROWS: &[(&str, &str, RowFn)] = &[
    (
        "account-expired-pam",
        "UsePAM yes, chage -E 1: a listed key is refused; the user reads \"Your account has expired\"",
        expired_pam,
    ),
    (
        "account-nologin-pam",
        "UsePAM yes, /etc/nologin: pam_nologin refuses the login with the file's text",
        nologin_pam,
    ),
    (
        "account-locked",
        "UsePAM no, usermod -L: a listed key is refused; \"not allowed because account is locked\"",
        locked,
    ),
    (
        "account-expired",
        "UsePAM no, chage -E 1: refused as locked (\"Account ... has expired\")",
        expired,
    ),
    (
        "account-no-shell",
        "a login shell that does not exist: refused (\"shell ... does not exist\")",
        no_shell,
    ),
    (
        "missing-user-password",
        "a wrong password for a missing user and for an existing one: the same messages, the same time",
        missing_user_password,
    ),
    (
        "missing-user-kbd",
        "keyboard-interactive: a missing user is prompted as an existing one, refused in the same time",
        missing_user_kbd,
    ),
    (
        "refuse-connection",
        "RefuseConnection yes in a Match User block (sshd 10.1): a listed key is refused, the command never runs, sshd's log line",
        refuse_connection,
    ),
    (
        "account-nologin",
        "UsePAM no, /etc/nologin: the program does not run; its text, exit 254",
        nologin,
    ),
];
