//! Login records, as sshd keeps them for sessions with a terminal: utmp
//! (who is on now: `who`, `w`), wtmp (the history: `last`), lastlog
//! (each user's last login, where the file exists) and wtmpdb (Debian
//! 13's history, `wtmpdb last`, where libwtmpdb is installed). Written by
//! a root server; an ordinary user's server cannot and does not try.

mod wtmpdb;

use std::ffi::{CStr, CString, c_char};
use std::fs::OpenOptions;
use std::io;
use std::net::IpAddr;
use std::os::unix::fs::FileExt as _;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// The history file (`_PATH_WTMP`).
pub const WTMP: &str = "/var/log/wtmp";
/// The last-login file (`_PATH_LASTLOG`), written only where it exists.
pub const LASTLOG: &str = "/var/log/lastlog";

/// Size of `struct lastlog`: a 32-bit time, a 32-byte line, a 256-byte host.
const LASTLOG_ENTRY: u64 = 4 + 32 + 256;

/// One terminal session: who, on which line, from where, which process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginRecord {
    /// The terminal without `/dev/` (`pts/3`).
    pub line: String,
    /// The user's name.
    pub user: String,
    /// Their uid (lastlog is indexed by it).
    pub uid: u32,
    /// The remote host as logged (sshd: the address, or its name with
    /// `UseDNS`).
    pub host: String,
    /// The remote address.
    pub addr: Option<IpAddr>,
    /// The session's process.
    pub pid: u32,
}

impl LoginRecord {
    /// The record of a session on terminal `tty` (`/dev/pts/3`).
    pub fn on_tty(
        tty: &Path,
        user: &str,
        uid: u32,
        host: &str,
        addr: Option<IpAddr>,
        pid: u32,
    ) -> Self {
        let tty = tty.to_string_lossy();
        let line = tty.strip_prefix("/dev/").unwrap_or(&tty).to_owned();
        Self {
            line,
            user: user.to_owned(),
            uid,
            host: host.to_owned(),
            addr,
            pid,
        }
    }

    /// The login: utmp and wtmp get a `USER_PROCESS` entry, lastlog (if
    /// the file exists) the time, line and host, wtmpdb (if libwtmpdb is
    /// installed) a row with the user, line and host. Every record is
    /// tried; the first failure is returned.
    pub fn login(&self) -> io::Result<()> {
        let entry = self.entry(libc::USER_PROCESS, true);
        let utmp = write_utmp(&entry);
        let wtmp = write_wtmp(&entry);
        let lastlog = self.write_lastlog(Path::new(LASTLOG));
        let wtmpdb = self.wtmpdb_login(None);
        utmp.and(wtmp).and(lastlog).and(wtmpdb)
    }

    /// The logout: the line's utmp entry becomes `DEAD_PROCESS`, wtmp
    /// gets a logout entry (no user) for the line, and the line's open
    /// wtmpdb row its logout time.
    pub fn logout(&self) -> io::Result<()> {
        let entry = self.entry(libc::DEAD_PROCESS, false);
        let utmp = write_utmp(&entry);
        let wtmp = write_wtmp(&entry);
        let wtmpdb = self.wtmpdb_logout(None);
        utmp.and(wtmp).and(wtmpdb)
    }

    /// The login's wtmpdb row in `db` (`None`: the system's); nothing
    /// where the library is not installed.
    fn wtmpdb_login(&self, db: Option<&CStr>) -> io::Result<()> {
        let Some(lib) = wtmpdb::Wtmpdb::get() else {
            return Ok(());
        };
        let usec = wtmpdb::now_usec();
        lib.login(db, &self.user, usec, &self.line, &self.host)
            .map(|_| ())
    }

    /// The logout time of the line's open row in `db`.
    fn wtmpdb_logout(&self, db: Option<&CStr>) -> io::Result<()> {
        match wtmpdb::Wtmpdb::get() {
            Some(lib) => lib.logout_tty(db, &self.line),
            None => Ok(()),
        }
    }

    /// sshd's utmpx entry (`construct_utmpx`): the id is the line's last
    /// four characters; a logout entry names no user or host.
    #[allow(unsafe_code)]
    fn entry(&self, kind: libc::c_short, with_user: bool) -> libc::utmpx {
        // SAFETY: `utmpx` is plain data (integers and byte arrays); all
        // zeroes is a valid, empty entry.
        let mut ut: libc::utmpx = unsafe { core::mem::zeroed() };
        ut.ut_type = kind;
        ut.ut_pid = i32::try_from(self.pid).unwrap_or(0);
        copy(&mut ut.ut_line, &self.line);
        let id_from = self.line.len().saturating_sub(ut.ut_id.len());
        copy(&mut ut.ut_id, self.line.get(id_from..).unwrap_or(""));
        if with_user {
            copy(&mut ut.ut_user, &self.user);
            copy(&mut ut.ut_host, &self.host);
            ut.ut_addr_v6 = match self.addr {
                Some(IpAddr::V4(a)) => [i32::from_ne_bytes(a.octets()), 0, 0, 0],
                Some(IpAddr::V6(a)) => {
                    let o = a.octets();
                    let word = |i: usize| {
                        let mut w = [0u8; 4];
                        w.copy_from_slice(o.get(i * 4..i * 4 + 4).unwrap_or(&[0; 4]));
                        i32::from_ne_bytes(w)
                    };
                    [word(0), word(1), word(2), word(3)]
                }
                None => [0; 4],
            };
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        ut.ut_tv.tv_sec = i32::try_from(now.as_secs()).unwrap_or(i32::MAX);
        ut.ut_tv.tv_usec = i32::try_from(now.subsec_micros()).unwrap_or(0);
        ut.ut_session = i32::try_from(self.pid).unwrap_or(0);
        ut
    }

    /// The entry at `uid`'s offset of `path`, if the file exists.
    fn write_lastlog(&self, path: &Path) -> io::Result<()> {
        let file = match OpenOptions::new().write(true).open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        file.write_all_at(&self.lastlog_entry(), u64::from(self.uid) * LASTLOG_ENTRY)
    }

    /// `struct lastlog` in the machine's byte order.
    fn lastlog_entry(&self) -> Vec<u8> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let mut e = Vec::with_capacity(LASTLOG_ENTRY as usize);
        e.extend_from_slice(
            &i32::try_from(now.as_secs())
                .unwrap_or(i32::MAX)
                .to_ne_bytes(),
        );
        let mut field = |text: &str, len: usize| {
            let bytes = text.as_bytes();
            let n = bytes.len().min(len);
            e.extend_from_slice(bytes.get(..n).unwrap_or_default());
            e.resize(e.len() + len - n, 0);
        };
        field(&self.line, 32);
        field(&self.host, 256);
        e
    }
}

/// `text` into a fixed C field, cut to fit (utmp fields need no NUL when full).
fn copy(dst: &mut [c_char], text: &str) {
    for (d, s) in dst.iter_mut().zip(text.bytes()) {
        *d = s as c_char;
    }
}

/// Replaces the line's entry in utmp (pututxline finds it by id).
#[allow(unsafe_code)]
fn write_utmp(entry: &libc::utmpx) -> io::Result<()> {
    // SAFETY: the utmpx calls take no pointers but `entry`, a valid entry
    // borrowed for the call; pututxline copies it. The set/end pair
    // brackets the use of the library's file position.
    let written = unsafe {
        libc::setutxent();
        let r = libc::pututxline(entry);
        libc::endutxent();
        r
    };
    if written.is_null() {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

// SAFETY: glibc's `updwtmpx(const char *, const struct utmpx *)`, which the
// libc crate does not declare; the signature is the header's.
#[allow(unsafe_code)]
unsafe extern "C" {
    fn updwtmpx(wtmpx_file: *const c_char, utmpx: *const libc::utmpx);
}

/// Appends the entry to wtmp (glibc locks the file around the write).
#[allow(unsafe_code)]
fn write_wtmp(entry: &libc::utmpx) -> io::Result<()> {
    if !Path::new(WTMP).exists() {
        return Ok(());
    }
    let path = CString::new(WTMP).map_err(io::Error::other)?;
    // SAFETY: `path` is a NUL-terminated string and `entry` a valid
    // entry, both alive for the call; updwtmpx only reads them.
    unsafe { updwtmpx(path.as_ptr(), entry) };
    Ok(())
}

/// A user's last login, from lastlog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastLogin {
    /// When, in seconds since the epoch.
    pub time: i64,
    /// The terminal (`pts/3`).
    pub line: String,
    /// From where (empty for a local login).
    pub host: String,
}

impl LastLogin {
    /// The last login of `uid` recorded in `path` (sshd reads
    /// [`LASTLOG`]); `None` when the file or the entry does not exist, or
    /// the entry was never written (time 0).
    pub fn read(path: &Path, uid: u32) -> io::Result<Option<Self>> {
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut entry = [0u8; LASTLOG_ENTRY as usize];
        match file.read_exact_at(&mut entry, u64::from(uid) * LASTLOG_ENTRY) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        Ok(Self::from_entry(&entry))
    }

    /// A `struct lastlog` in the machine's byte order.
    fn from_entry(entry: &[u8; LASTLOG_ENTRY as usize]) -> Option<Self> {
        let (time, rest) = entry.split_first_chunk::<4>()?;
        let time = i32::from_ne_bytes(*time);
        if time == 0 {
            return None;
        }
        let text = |field: &[u8]| {
            let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
            String::from_utf8_lossy(field.get(..end).unwrap_or_default()).into_owned()
        };
        let (line, host) = rest.split_at(32);
        Some(Self {
            time: i64::from(time),
            line: text(line),
            host: text(host),
        })
    }

    /// What sshd tells a login shell (`store_lastlog_message`): `Last
    /// login: <ctime in local time> from <host>` and CR LF, without
    /// `from` for a local login. Control characters in the host are
    /// shown as `?`.
    pub fn message(&self) -> String {
        let when = local_ctime(self.time);
        let host: String = self
            .host
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect();
        if host.is_empty() {
            format!("Last login: {when}\r\n")
        } else {
            format!("Last login: {when} from {host}\r\n")
        }
    }
}

/// `time` as ctime(3) gives it, in local time, without its line feed:
/// `Mon Dec  7 06:53:53 2026`.
#[allow(unsafe_code)]
fn local_ctime(time: i64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // `time_t` is 32 bits on some targets.
    #[allow(clippy::useless_conversion)]
    let t: libc::time_t = time.try_into().unwrap_or(0);
    // SAFETY: an all-zero `tm` is a valid value (integers and a null
    // zone pointer); localtime_r only writes it.
    let mut tm: libc::tm = unsafe { core::mem::zeroed() };
    // SAFETY: `t` and `tm` are valid for the whole call; localtime_r is
    // the reentrant form (no static storage). Null: the time could not be
    // converted, and `tm` is left zero.
    let converted = unsafe { libc::localtime_r(&t, &mut tm) };
    if converted.is_null() {
        return format!("@{time}");
    }
    let pick = |names: &[&'static str], i: libc::c_int| {
        usize::try_from(i)
            .ok()
            .and_then(|i| names.get(i).copied())
            .unwrap_or("???")
    };
    format!(
        "{} {} {:2} {:02}:{:02}:{:02} {}",
        pick(&DAYS, tm.tm_wday),
        pick(&MONTHS, tm.tm_mon),
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        i64::from(tm.tm_year) + 1900
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn record() -> LoginRecord {
        LoginRecord::on_tty(
            Path::new("/dev/pts/12"),
            "alice",
            1000,
            "192.0.2.7",
            Some("192.0.2.7".parse().unwrap()),
            4321,
        )
    }

    fn text(field: &[c_char]) -> String {
        field
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8 as char)
            .collect()
    }

    #[test]
    fn a_login_entry_as_sshd_builds_it() {
        let r = record();
        assert_eq!(r.line, "pts/12");
        let ut = r.entry(libc::USER_PROCESS, true);
        assert_eq!(ut.ut_type, libc::USER_PROCESS);
        assert_eq!(ut.ut_pid, 4321);
        assert_eq!(text(&ut.ut_line), "pts/12");
        assert_eq!(ut.ut_id.map(|c| c as u8), *b"s/12");
        assert_eq!(text(&ut.ut_user), "alice");
        assert_eq!(text(&ut.ut_host), "192.0.2.7");
        assert_eq!(ut.ut_addr_v6[0].to_ne_bytes(), [192, 0, 2, 7]);
        assert!(ut.ut_tv.tv_sec > 1_700_000_000);
    }

    #[test]
    fn a_logout_entry_keeps_the_line_and_drops_the_user() {
        let ut = record().entry(libc::DEAD_PROCESS, false);
        assert_eq!(ut.ut_type, libc::DEAD_PROCESS);
        assert_eq!(text(&ut.ut_line), "pts/12");
        assert_eq!(text(&ut.ut_user), "");
        assert_eq!(text(&ut.ut_host), "");
    }

    /// Where libwtmpdb is installed (Debian 13 and later), a session's
    /// row in a database of its own, read back through the library:
    /// sshd's fields, then its logout time. Skipped, saying so, where the
    /// library is not (this test can be run inside the xtask's trixie
    /// image: `chroot target/openssh-images/trixie/rootfs <test binary>`).
    #[test]
    fn a_terminal_session_is_a_wtmpdb_row_closed_at_the_logout() {
        let Some(lib) = wtmpdb::Wtmpdb::get() else {
            eprintln!("skipped: libwtmpdb.so.0 is not installed here");
            return;
        };
        let dir = std::env::temp_dir().join(format!("ssh-os-wtmpdb-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = CString::new(dir.join("wtmp.db").to_str().unwrap()).unwrap();
        let r = record();
        let before = wtmpdb::now_usec();
        r.wtmpdb_login(Some(&db)).unwrap();
        let id = lib.get_id(Some(&db), "pts/12").unwrap();
        let rows = wtmpdb::rows(&db).unwrap().unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        let row = &rows[0];
        let field = |name: &str| row[name].clone();
        assert_eq!(field("ID"), Some(id.to_string()));
        assert_eq!(field("Type"), Some("3".into()), "USER_PROCESS");
        assert_eq!(field("User"), Some("alice".into()));
        assert_eq!(field("TTY"), Some("pts/12".into()));
        assert_eq!(field("RemoteHost"), Some("192.0.2.7".into()));
        assert_eq!(field("Service"), None, "sshd names no service");
        assert_eq!(field("Logout"), None);
        let login: u64 = field("Login").unwrap().parse().unwrap();
        assert!(login >= before && login <= wtmpdb::now_usec());
        r.wtmpdb_logout(Some(&db)).unwrap();
        let rows = wtmpdb::rows(&db).unwrap().unwrap();
        let logout: u64 = rows[0]["Logout"].clone().unwrap().parse().unwrap();
        assert!(logout >= login, "{rows:?}");
        let again = r.wtmpdb_logout(Some(&db)).unwrap_err();
        assert!(again.to_string().contains("wtmpdb_get_id"), "{again}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_last_login_reads_back_as_sshd_tells_it() {
        let dir = std::env::temp_dir().join(format!("ssh-os-lastlog-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("lastlog");
        assert_eq!(LastLogin::read(&path, 7).unwrap(), None, "no file");
        std::fs::write(&path, b"").unwrap();
        assert_eq!(LastLogin::read(&path, 7).unwrap(), None, "no entry");
        let mut r = record();
        r.uid = 7;
        r.host = "192.0.2.9".into();
        r.write_lastlog(&path).unwrap();
        assert_eq!(LastLogin::read(&path, 6).unwrap(), None, "a zero entry");
        let last = LastLogin::read(&path, 7).unwrap().unwrap();
        assert_eq!(last.line, r.line);
        assert_eq!(last.host, "192.0.2.9");
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(now.abs_diff(u64::try_from(last.time).unwrap()) < 60);
        let text = last.message();
        assert!(
            text.starts_with("Last login: ") && text.ends_with(" from 192.0.2.9\r\n"),
            "{text:?}"
        );
        // ctime's shape: "Mon Dec  7 06:53:53 2026".
        let when = text
            .trim_start_matches("Last login: ")
            .split(" from ")
            .next()
            .unwrap();
        assert_eq!(when.len(), 24, "{when:?}");
        let local = LastLogin {
            host: String::new(),
            ..last
        };
        assert!(!local.message().contains("from"));
        let evil = LastLogin {
            host: "a\x1b[2Jb".into(),
            ..local
        };
        assert!(evil.message().contains("a?[2Jb"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn lastlog_is_written_at_the_uid_and_only_where_the_file_exists() {
        let dir = std::env::temp_dir().join(format!("ssh-os-lastlog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("lastlog");
        let r = record();
        r.write_lastlog(&path).unwrap();
        assert!(!path.exists(), "lastlog made where there was none");
        std::fs::write(&path, b"").unwrap();
        r.write_lastlog(&path).unwrap();
        let data = std::fs::read(&path).unwrap();
        assert_eq!(data.len() as u64, 1001 * LASTLOG_ENTRY);
        let at = (1000 * LASTLOG_ENTRY) as usize;
        assert!(i32::from_ne_bytes(data[at..at + 4].try_into().unwrap()) > 1_700_000_000);
        assert_eq!(&data[at + 4..at + 10], b"pts/12");
        assert_eq!(&data[at + 36..at + 45], b"192.0.2.7");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
