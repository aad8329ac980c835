//! The login records of a terminal session (utmp, wtmp, lastlog): written
//! here when this process is root, or by the process that can
//! ([`LoginRecorder`]: rsshd's monitor, for a user's session process).

use std::path::Path;
use std::sync::Arc;

use ssh_os::loginrec::LoginRecord;
use ssh_os::user::User;

/// Writes login records for a process that cannot.
pub trait LoginRecorder: Send + Sync + std::fmt::Debug {
    /// The session on `record.line` began.
    fn login(&self, record: &LoginRecord) -> std::io::Result<()>;
    /// The session on `record.line` ended.
    fn logout(&self, record: &LoginRecord) -> std::io::Result<()>;
}

/// Where a session's user comes from, as the login records name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteHost {
    /// The host as logged (sshd: the address unless `UseDNS`).
    pub name: String,
    /// The address.
    pub addr: std::net::IpAddr,
}

/// A session's login, recorded, and who will record its logout.
pub(super) struct Recorded {
    record: LoginRecord,
    recorder: Option<Arc<dyn LoginRecorder>>,
}

impl Recorded {
    /// Records the login of `user` from `from` on `tty` for the program
    /// `pid` (a failure is logged: the session goes on, as with sshd).
    pub(super) fn login(
        tty: &Path,
        user: &User,
        from: &RemoteHost,
        pid: u32,
        recorder: Option<Arc<dyn LoginRecorder>>,
    ) -> Self {
        let record =
            LoginRecord::on_tty(tty, &user.name, user.uid, &from.name, Some(from.addr), pid);
        let written = match &recorder {
            Some(r) => r.login(&record),
            None => record.login(),
        };
        if let Err(e) = written {
            tracing::info!("login records for {}: {e}", record.line);
        }
        Self { record, recorder }
    }

    /// Records the logout.
    pub(super) fn logout(&self) {
        let written = match &self.recorder {
            Some(r) => r.logout(&self.record),
            None => self.record.logout(),
        };
        if let Err(e) = written {
            tracing::info!("logout records for {}: {e}", self.record.line);
        }
    }
}
