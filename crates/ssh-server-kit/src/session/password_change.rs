//! sshd's forced password change (`force_pwchange`, `do_pwchange`): when
//! the user's password has expired (PAM's account management said
//! `PAM_NEW_AUTHTOK_REQD`, or the shadow entry's age did), a session on a
//! terminal runs `passwd` after a warning, whatever it asked for; without
//! a terminal the program is refused with sshd's words and status 1.

use futures::io::AsyncWriteExt;
use ssh_async::{Channel, Error};
use ssh_os::process::SpawnOptions;

/// The program sshd runs (`_PATH_PASSWD_PROG`).
const PASSWD: &str = "/usr/bin/passwd";

/// sshd's first line, on every session.
const EXPIRED: &str = "WARNING: Your password has expired.\n";
/// Then, on a terminal, before `passwd`.
const CHANGE_NOW: &str = "You must change your password now and log in again!\n";
/// Or without one.
const NO_TTY: &str = "Password change required but no TTY available.\n";

/// The warning on the session's terminal (its line endings the
/// terminal's, as the child's stderr on the PTY would give them).
pub(super) async fn warn(ch: &Channel) -> Result<(), Error> {
    let text = [EXPIRED, CHANGE_NOW].concat().replace('\n', "\r\n");
    let mut out = ch.writer();
    out.write_all(text.as_bytes()).await?;
    out.flush().await?;
    Ok(())
}

/// A session without a terminal: sshd's message on stderr, status 1.
pub(super) async fn refuse_without_tty(ch: Channel) -> Result<(), Error> {
    let mut err = ch.stderr_writer();
    err.write_all([EXPIRED, NO_TTY].concat().as_bytes()).await?;
    err.flush().await?;
    ch.exit_status(1).await?;
    ch.send_eof()?;
    ch.close()?;
    Ok(())
}

/// The session's program becomes `passwd`, run directly (not through the
/// shell), as sshd execs it.
pub(super) fn passwd(opts: &mut SpawnOptions) {
    opts.program = PASSWD.into();
    opts.arg0 = Some("passwd".into());
    opts.args = Vec::new();
}
