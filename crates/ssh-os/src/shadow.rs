//! The shadow password database (`getspnam_r`): what sshd reads to refuse
//! a locked or expired account when it does not use PAM.

use std::ffi::{CStr, CString};
use std::io;

use zeroize::Zeroizing;

/// Seconds in a day: shadow dates are days since 1970-01-01.
const DAY: u64 = 24 * 60 * 60;

/// The parts of a shadow entry sshd's account checks use.
#[derive(Clone, PartialEq, Eq)]
pub struct ShadowEntry {
    /// The password field (a crypt hash, `!...` when locked, `*` or empty).
    pub password: Zeroizing<String>,
    /// The day the account expires (`chage -E`), days since the epoch;
    /// `None` when it never does.
    pub expire_day: Option<i64>,
    /// The day of the last password change (`chage -d`), days since the
    /// epoch: 0 means the change is forced (`chage -d 0`, `passwd -e`);
    /// `None` when the field is empty (aging off).
    pub last_change_day: Option<i64>,
    /// The days a password is valid (`chage -M`); `None` when unlimited.
    pub max_days: Option<i64>,
}

impl core::fmt::Debug for ShadowEntry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ShadowEntry")
            .field("locked", &self.locked())
            .field("expire_day", &self.expire_day)
            .field("last_change_day", &self.last_change_day)
            .field("max_days", &self.max_days)
            .finish_non_exhaustive()
    }
}

impl ShadowEntry {
    /// Locked as `usermod -L` and `passwd -l` lock it on Linux: the
    /// password field starts with `!` (OpenSSH's `LOCKED_PASSWD_PREFIX`
    /// there). `*` alone is not locked: it only refuses passwords.
    pub fn locked(&self) -> bool {
        self.password.starts_with('!')
    }

    /// Expired at `now_secs` (seconds since the epoch): the expiry day has
    /// come, as OpenSSH's `auth_shadow_acctexpired` counts it.
    pub fn expired(&self, now_secs: u64) -> bool {
        let today = i64::try_from(now_secs / DAY).unwrap_or(i64::MAX);
        self.expire_day.is_some_and(|day| today >= day)
    }

    /// Why the password has expired at `now_secs`, if it has, in the words
    /// of OpenSSH's `auth_shadow_pwexpired`: `root forced` when the last
    /// change is day 0, `password aged` when it is older than the maximum
    /// age. An expired password must be changed at login.
    pub fn password_expired(&self, now_secs: u64) -> Option<&'static str> {
        let today = i64::try_from(now_secs / DAY).unwrap_or(i64::MAX);
        let last = self.last_change_day?;
        if last == 0 {
            return Some("root forced");
        }
        let max = self.max_days?;
        (last.saturating_add(max) < today).then_some("password aged")
    }

    /// The entry of `name`; `None` when the shadow database has none (or
    /// it cannot be read: not root). A name with a NUL byte has none.
    pub fn by_name(name: &str) -> io::Result<Option<ShadowEntry>> {
        let Ok(cname) = CString::new(name) else {
            return Ok(None);
        };
        let mut size = 1024usize;
        loop {
            match lookup(&cname, size) {
                Err(e) if e.raw_os_error() == Some(libc::ERANGE) && size < 1 << 20 => {
                    size *= 4;
                }
                Err(e) if e.raw_os_error() == Some(libc::EACCES) => return Ok(None),
                other => return other,
            }
        }
    }
}

#[allow(unsafe_code)]
fn lookup(name: &CStr, size: usize) -> io::Result<Option<ShadowEntry>> {
    let mut buf = Zeroizing::new(vec![0u8; size]);
    // SAFETY: an all-zero `spwd` is a valid value (null pointers and
    // integers); getspnam_r only writes it.
    let mut entry: libc::spwd = unsafe { core::mem::zeroed() };
    let mut result: *mut libc::spwd = core::ptr::null_mut();
    // SAFETY: `name` is a NUL-terminated string; `entry`, `buf` (of
    // `buf.len()` bytes) and `result` are valid for writes for the whole
    // call, and getspnam_r is the reentrant form (no static storage).
    let rc = unsafe {
        libc::getspnam_r(
            name.as_ptr(),
            &mut entry,
            buf.as_mut_ptr().cast::<libc::c_char>(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 {
        return match rc {
            libc::ENOENT => Ok(None),
            e => Err(io::Error::from_raw_os_error(e)),
        };
    }
    if result.is_null() {
        return Ok(None);
    }
    let password = if entry.sp_pwdp.is_null() {
        String::new()
    } else {
        // SAFETY: on success `sp_pwdp` points to a NUL-terminated string
        // inside `buf`, which is alive here.
        unsafe { CStr::from_ptr(entry.sp_pwdp) }
            .to_string_lossy()
            .into_owned()
    };
    // `c_long`: 32 bits on some targets.
    #[allow(clippy::useless_conversion)]
    let expire_day = (entry.sp_expire >= 0).then_some(i64::from(entry.sp_expire));
    // An empty field reads as -1.
    #[allow(clippy::useless_conversion)]
    let last_change_day = (entry.sp_lstchg >= 0).then_some(i64::from(entry.sp_lstchg));
    #[allow(clippy::useless_conversion)]
    let max_days = (entry.sp_max >= 0).then_some(i64::from(entry.sp_max));
    Ok(Some(ShadowEntry {
        password: Zeroizing::new(password),
        expire_day,
        last_change_day,
        max_days,
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn entry(password: &str, expire_day: Option<i64>) -> ShadowEntry {
        ShadowEntry {
            password: Zeroizing::new(password.to_owned()),
            expire_day,
            last_change_day: Some(20_000),
            max_days: None,
        }
    }

    #[test]
    fn a_password_expires_when_forced_or_aged() {
        let day = 20_000u64;
        let now = day * DAY + 3600;
        let aged = |last: Option<i64>, max: Option<i64>| ShadowEntry {
            last_change_day: last,
            max_days: max,
            ..entry("$6$x", None)
        };
        assert_eq!(
            aged(Some(0), None).password_expired(now),
            Some("root forced")
        );
        assert_eq!(
            aged(Some(0), Some(99_999)).password_expired(now),
            Some("root forced")
        );
        assert_eq!(aged(Some(19_000), None).password_expired(now), None);
        assert_eq!(aged(None, Some(10)).password_expired(now), None);
        // Valid through day last + max.
        assert_eq!(aged(Some(19_990), Some(10)).password_expired(now), None);
        assert_eq!(
            aged(Some(19_989), Some(10)).password_expired(now),
            Some("password aged")
        );
        assert_eq!(aged(Some(19_000), Some(99_999)).password_expired(now), None);
    }

    #[test]
    fn locked_is_a_leading_bang() {
        assert!(entry("!$6$salt$hash", None).locked());
        assert!(entry("!", None).locked());
        assert!(entry("!*", None).locked());
        assert!(!entry("$6$salt$hash", None).locked());
        assert!(!entry("*", None).locked());
        assert!(!entry("", None).locked());
    }

    #[test]
    fn expired_from_the_expiry_day_on() {
        let day = 20_000i64;
        let e = entry("x", Some(day));
        let start = u64::try_from(day).unwrap() * DAY;
        assert!(!e.expired(start - 1));
        assert!(e.expired(start));
        assert!(e.expired(start + 5 * DAY));
        // `chage -E 1`: long gone.
        assert!(entry("x", Some(1)).expired(start));
        // `chage -E -1`: never.
        assert!(!entry("x", None).expired(u64::MAX));
    }

    #[test]
    fn a_missing_name_has_no_entry() {
        assert_eq!(ShadowEntry::by_name("no-such-user-xyzzy").unwrap(), None);
        assert_eq!(ShadowEntry::by_name("nul\0name").unwrap(), None);
    }

    #[test]
    fn root_has_an_entry_when_readable() {
        // Readable by root only; elsewhere the lookup is `None`, not an
        // error.
        let e = ShadowEntry::by_name("root").unwrap();
        if crate::user::is_root() && std::path::Path::new("/etc/shadow").exists() {
            assert!(e.is_some());
        }
    }
}
