//! The "Last login" row (`ssh>rsshd:admin-last-login`): with sshd's
//! defaults `PrintLastLog yes` and `PrintMotd yes`, a login shell on a
//! terminal is told when and from where the account last logged in (read
//! from lastlog before this login is recorded), then shown `/etc/motd`; a
//! first login has no last one, and a command or `~/.hushlogin` gets
//! neither.
//!
//! Validated with OpenSSH's `sshd` in place of `rsshd`
//! (`XTASK_RSSHD=peer:/usr/sbin/sshd`): the same row passes.

use crate::bail;
use crate::binary_setup::*;
use crate::interop::Ctx;
use crate::peer::RunningSshd;
use crate::util::{self, Result};

/// The row's `/etc/motd`.
const MOTD: &str = "xtask motd: first line\nand a second\n";

/// A login shell on a terminal that exits at once; what it printed.
fn shell(ctx: &mut Ctx<'_>, setup: &Setup, server: &RunningSshd, remote: &str) -> Result<String> {
    let mut call = Call::remote(remote)
        .opt("-tt")
        .opt("-i")
        .opt(&setup.client("id"));
    call.stdin = b"exit\n".to_vec();
    let out = setup.run(ctx, server.port(), &call)?;
    if !out.status.success() {
        bail!("the session failed: {}", tail(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn last_login(ctx: &mut Ctx<'_>) -> Result<()> {
    // No login on record.
    let setup = crate::binary_admin::key_account(ctx)?;
    util::checked_output(&mut ctx.backend.command(
        "sh",
        &[
            "-c",
            &format!(
                "rm -f /home/xbin/.hushlogin; \
                 [ -e /etc/motd.xtask ] || cp -p /etc/motd /etc/motd.xtask; printf '{}' > /etc/motd",
                MOTD.replace('\n', "\\n")
            ),
        ],
    ))?;
    let r = told(ctx, &setup);
    // The image's own motd back, passed or not.
    let restore = util::checked_output(
        &mut ctx
            .backend
            .command("sh", &["-c", "mv /etc/motd.xtask /etc/motd"]),
    );
    r.and(restore.map(|_| ()))
}

/// The logins and what each was told.
fn told(ctx: &mut Ctx<'_>, setup: &Setup) -> Result<()> {
    let server = setup.start(ctx, &Srv::default())?;
    let first = shell(ctx, setup, &server, "")?;
    if first.contains("Last login") {
        bail!("a first login was told of a last one: {first:?}");
    }
    let motd = MOTD.replace('\n', "\r\n");
    if !first.contains(&motd) {
        bail!("a login shell was not shown /etc/motd: {first:?}");
    }
    let second = shell(ctx, setup, &server, "")?;
    let told = second
        .lines()
        .find(|l| l.starts_with("Last login: "))
        .map(|l| l.trim_end_matches('\r').to_owned());
    match &told {
        // "Last login: Mon Dec  7 06:53:53 2026 from 127.0.0.1"
        Some(l) if l.ends_with(" from 127.0.0.1") && l.len() > 40 => {}
        _ => bail!("the second login was not told of the first: {second:?}"),
    }
    // The last login, then the motd.
    match (second.find("Last login: "), second.find(&motd)) {
        (Some(a), Some(b)) if a < b => {}
        _ => bail!("expected the last login, then /etc/motd: {second:?}"),
    }
    // A command on a terminal is not told (sshd's check_quietlogin).
    let command = shell(ctx, setup, &server, "true")?;
    if command.contains("Last login") || command.contains("xtask motd") {
        bail!("a command was told of the last login or shown the motd: {command:?}");
    }
    // Nor is a user with ~/.hushlogin.
    util::checked_output(
        &mut ctx
            .backend
            .command("sh", &["-c", "touch /home/xbin/.hushlogin"]),
    )?;
    let hushed = shell(ctx, setup, &server, "")?;
    if hushed.contains("Last login") || hushed.contains("xtask motd") {
        bail!("~/.hushlogin did not quiet the login: {hushed:?}");
    }
    Ok(())
}

/// A row's function.
type RowFn = fn(&mut Ctx<'_>) -> Result<()>;

/// The rows: (name, about, function).
pub(crate) const ROWS: &[(&str, &str, RowFn)] = &[(
    "admin-last-login",
    "PrintLastLog, PrintMotd: a second login shell on a terminal reads \"Last login: ... from 127.0.0.1\", then /etc/motd; not a first login; neither for a command or with ~/.hushlogin",
    last_login,
)];
