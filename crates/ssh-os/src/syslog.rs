//! The system log (syslog(3)), where sshd writes when not told `-e`: one
//! message per log line, under an identity (`rsshd[pid]`) and a facility
//! (`SyslogFacility`, AUTH by default).

use std::ffi::{CStr, CString, c_int};

/// A syslog facility, by the names `SyslogFacility` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Facility(c_int);

impl Facility {
    /// `AUTH`, sshd's default.
    pub const AUTH: Self = Self(libc::LOG_AUTH);

    /// `DAEMON`, `USER`, `AUTH`, `AUTHPRIV`, `LOCAL0` to `LOCAL7` (any
    /// case), as sshd_config spells them.
    pub fn from_name(name: &str) -> Option<Self> {
        let code = match name.to_ascii_uppercase().as_str() {
            "DAEMON" => libc::LOG_DAEMON,
            "USER" => libc::LOG_USER,
            "AUTH" => libc::LOG_AUTH,
            "AUTHPRIV" => libc::LOG_AUTHPRIV,
            "LOCAL0" => libc::LOG_LOCAL0,
            "LOCAL1" => libc::LOG_LOCAL1,
            "LOCAL2" => libc::LOG_LOCAL2,
            "LOCAL3" => libc::LOG_LOCAL3,
            "LOCAL4" => libc::LOG_LOCAL4,
            "LOCAL5" => libc::LOG_LOCAL5,
            "LOCAL6" => libc::LOG_LOCAL6,
            "LOCAL7" => libc::LOG_LOCAL7,
            _ => return None,
        };
        Some(Self(code))
    }
}

/// How grave a message is; sshd logs errors as `LOG_ERR`, INFO and
/// VERBOSE as `LOG_INFO`, the DEBUG levels as `LOG_DEBUG`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// `LOG_ERR`.
    Error,
    /// `LOG_WARNING`.
    Warning,
    /// `LOG_INFO`.
    Info,
    /// `LOG_DEBUG`.
    Debug,
}

impl Severity {
    fn code(self) -> c_int {
        match self {
            Self::Error => libc::LOG_ERR,
            Self::Warning => libc::LOG_WARNING,
            Self::Info => libc::LOG_INFO,
            Self::Debug => libc::LOG_DEBUG,
        }
    }
}

/// Opens the log for this process: messages go out as `ident[pid]` under
/// `facility`. The identity must live as long as the process (syslog(3)
/// keeps the pointer), hence `'static`.
#[allow(unsafe_code)]
pub fn open(ident: &'static CStr, facility: Facility) {
    // SAFETY: `ident` is a NUL-terminated string that lives for the rest
    // of the process, as openlog(3) requires of the pointer it keeps; the
    // options and facility are plain integers.
    unsafe { libc::openlog(ident.as_ptr(), libc::LOG_PID | libc::LOG_NDELAY, facility.0) };
}

/// Sends one message. A NUL inside it (which C strings cannot hold) is
/// written as `\000`, as the log's other control characters are escaped.
pub fn send(severity: Severity, message: &str) {
    send_priority(severity.code(), message);
}

/// Sends one message under `facility` rather than the one [`open`] gave
/// (one process logging for several parties, each with its own).
pub fn send_as(facility: Facility, severity: Severity, message: &str) {
    send_priority(facility.0 | severity.code(), message);
}

#[allow(unsafe_code)]
fn send_priority(priority: libc::c_int, message: &str) {
    let text = match CString::new(message) {
        Ok(t) => t,
        Err(_) => CString::new(message.replace('\0', "\\000")).unwrap_or_default(),
    };
    // SAFETY: the format is the constant "%s" and its one argument a
    // NUL-terminated string that outlives the call, so syslog(3) reads
    // exactly one valid C string.
    unsafe { libc::syslog(priority, c"%s".as_ptr(), text.as_ptr()) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facilities_by_sshd_config_names() {
        assert_eq!(Facility::from_name("auth"), Some(Facility(libc::LOG_AUTH)));
        assert_eq!(
            Facility::from_name("AUTHPRIV"),
            Some(Facility(libc::LOG_AUTHPRIV))
        );
        assert_eq!(
            Facility::from_name("Local7"),
            Some(Facility(libc::LOG_LOCAL7))
        );
        assert_eq!(Facility::from_name("kern"), None);
    }
}
