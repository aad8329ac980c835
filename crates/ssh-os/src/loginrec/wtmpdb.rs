//! wtmpdb, the login history of Debian 13 and later (`wtmpdb last`, their
//! `last`): one row per login in an SQLite database, given its logout time
//! when the session ends. Written as Debian's sshd writes it, through
//! libwtmpdb: a `USER_PROCESS` row with the user, the line (`pts/3`) and
//! the remote host, no service; at the logout, the line's open row (found
//! by `wtmpdb_get_id`) gets its time.
//!
//! The library is loaded when first needed, not linked: where it is not
//! installed (Debian 12) nothing is written and nothing fails, as with an
//! sshd built without it.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::io;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// The library's run-time name (Debian's `libwtmpdb0`).
const LIBRARY: &CStr = c"libwtmpdb.so.0";

/// `USER_PROCESS` of `wtmpdb.h`: a user's login (not utmp's 7).
const USER_PROCESS: c_int = 3;

/// `int64_t wtmpdb_login(const char *db_path, int type, const char *user,
/// uint64_t usec_login, const char *tty, const char *rhost, const char
/// *service, char **error)`: the new row's id, or negative.
type LoginFn = unsafe extern "C" fn(
    *const c_char,
    c_int,
    *const c_char,
    u64,
    *const c_char,
    *const c_char,
    *const c_char,
    *mut *mut c_char,
) -> i64;

/// `int wtmpdb_logout(const char *db_path, int64_t id, uint64_t
/// usec_logout, char **error)`: 0, or negative.
type LogoutFn = unsafe extern "C" fn(*const c_char, i64, u64, *mut *mut c_char) -> c_int;

/// `int64_t wtmpdb_get_id(const char *db_path, const char *tty, char
/// **error)`: the id of the tty's row without a logout time, or negative.
type GetIdFn = unsafe extern "C" fn(*const c_char, *const c_char, *mut *mut c_char) -> i64;

/// The library's functions. The library is never unloaded, so the
/// pointers stay valid for the life of the process.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Wtmpdb {
    login: LoginFn,
    logout: LogoutFn,
    get_id: GetIdFn,
}

impl Wtmpdb {
    /// The library, loaded at the first call; `None` when it is not
    /// installed (or lacks one of the functions).
    pub(crate) fn get() -> Option<Self> {
        static LOADED: OnceLock<Option<Wtmpdb>> = OnceLock::new();
        *LOADED.get_or_init(|| Self::load(LIBRARY))
    }

    #[allow(unsafe_code)]
    fn load(name: &CStr) -> Option<Self> {
        // SAFETY: `name` is a NUL-terminated string alive for the call.
        // Loading runs the library's initialisers: libwtmpdb's (and
        // SQLite's, which it needs) only set up their own state.
        let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if handle.is_null() {
            return None;
        }
        let symbol = |name: &CStr| {
            // SAFETY: `handle` is a live handle from dlopen (never closed)
            // and `name` a NUL-terminated string alive for the call.
            let p = unsafe { libc::dlsym(handle, name.as_ptr()) };
            (!p.is_null()).then_some(p)
        };
        let (login, logout, get_id) = (
            symbol(c"wtmpdb_login")?,
            symbol(c"wtmpdb_logout")?,
            symbol(c"wtmpdb_get_id")?,
        );
        // SAFETY: each pointer is the library's function of that name,
        // whose C signature (`wtmpdb.h`, unchanged since version 0.1) the
        // type spells; a data pointer from dlsym is the function's address
        // on the platforms glibc supports. The handle is never closed.
        let wtmpdb = unsafe {
            Self {
                login: core::mem::transmute::<*mut c_void, LoginFn>(login),
                logout: core::mem::transmute::<*mut c_void, LogoutFn>(logout),
                get_id: core::mem::transmute::<*mut c_void, GetIdFn>(get_id),
            }
        };
        Some(wtmpdb)
    }

    /// Records a login of `user` on `tty` from `rhost` at `usec` (µs since
    /// the epoch) in `db` (`None`: the library's default,
    /// `/var/lib/wtmpdb/wtmp.db`); the row's id.
    #[allow(unsafe_code)]
    pub(crate) fn login(
        self,
        db: Option<&CStr>,
        user: &str,
        usec: u64,
        tty: &str,
        rhost: &str,
    ) -> io::Result<i64> {
        let (user, tty, rhost) = (c_text(user)?, c_text(tty)?, c_text(rhost)?);
        let mut error = Error::default();
        // SAFETY: every pointer is null (the default database, no service)
        // or a NUL-terminated string alive for the call; the library only
        // reads them, and sets `error` to a string it allocated or leaves
        // it null.
        let id = unsafe {
            (self.login)(
                db_ptr(db),
                USER_PROCESS,
                user.as_ptr(),
                usec,
                tty.as_ptr(),
                rhost.as_ptr(),
                core::ptr::null(),
                &mut error.0,
            )
        };
        if id < 0 {
            return Err(error.into_io("wtmpdb_login"));
        }
        Ok(id)
    }

    /// The id of `tty`'s row that has no logout time yet.
    #[allow(unsafe_code)]
    pub(crate) fn get_id(self, db: Option<&CStr>, tty: &str) -> io::Result<i64> {
        let tty = c_text(tty)?;
        let mut error = Error::default();
        // SAFETY: `db` is null or a NUL-terminated string, `tty` one, both
        // alive for the call and only read; `error` as in `login`.
        let id = unsafe { (self.get_id)(db_ptr(db), tty.as_ptr(), &mut error.0) };
        if id < 0 {
            return Err(error.into_io("wtmpdb_get_id"));
        }
        Ok(id)
    }

    /// Gives row `id` its logout time `usec`.
    #[allow(unsafe_code)]
    pub(crate) fn logout(self, db: Option<&CStr>, id: i64, usec: u64) -> io::Result<()> {
        let mut error = Error::default();
        // SAFETY: `db` is null or a NUL-terminated string alive for the
        // call and only read; `error` as in `login`.
        let r = unsafe { (self.logout)(db_ptr(db), id, usec, &mut error.0) };
        if r < 0 {
            return Err(error.into_io("wtmpdb_logout"));
        }
        Ok(())
    }

    /// The logout of the session on `tty`: its open row (the latest login
    /// on the line) is closed now.
    pub(crate) fn logout_tty(self, db: Option<&CStr>, tty: &str) -> io::Result<()> {
        let id = self.get_id(db, tty)?;
        self.logout(db, id, now_usec())
    }
}

/// Microseconds since the epoch, wtmpdb's time.
pub(crate) fn now_usec() -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(now.as_micros()).unwrap_or(u64::MAX)
}

fn db_ptr(db: Option<&CStr>) -> *const c_char {
    db.map_or(core::ptr::null(), CStr::as_ptr)
}

fn c_text(text: &str) -> io::Result<CString> {
    CString::new(text).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL in a field"))
}

/// The library's error message (`char **error`), freed when dropped.
struct Error(*mut c_char);

impl Default for Error {
    fn default() -> Self {
        Self(core::ptr::null_mut())
    }
}

impl Error {
    /// The call's failure with the library's message, if it gave one.
    #[allow(unsafe_code)]
    fn into_io(self, call: &str) -> io::Error {
        let message = if self.0.is_null() {
            "failed".to_owned()
        } else {
            // SAFETY: a non-null error is a NUL-terminated string the
            // library allocated; it lives until `drop` frees it.
            unsafe { CStr::from_ptr(self.0) }
                .to_string_lossy()
                .into_owned()
        };
        io::Error::other(format!("{call}: {message}"))
    }
}

impl Drop for Error {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the library allocates its error strings with
            // malloc (strdup, asprintf) for the caller to free; freed
            // once, here.
            unsafe { libc::free(self.0.cast()) };
        }
    }
}

/// Every row of `db`, column name to value, through the library's own
/// reader (`wtmpdb_read_all_v2`, libwtmpdb 0.50 and later); `None` when
/// the library is not installed.
#[cfg(test)]
#[allow(unsafe_code)]
pub(crate) fn rows(db: &CStr) -> Option<io::Result<Vec<Row>>> {
    /// `int wtmpdb_read_all_v2(const char *db_path, int (*cb)(void *,
    /// int, char **, char **), void *userdata, char **error)`.
    type ReadAllFn = unsafe extern "C" fn(
        *const c_char,
        extern "C" fn(*mut c_void, c_int, *mut *mut c_char, *mut *mut c_char) -> c_int,
        *mut c_void,
        *mut *mut c_char,
    ) -> c_int;

    /// One row into the `Vec<Row>` behind `userdata`.
    extern "C" fn collect(
        userdata: *mut c_void,
        argc: c_int,
        argv: *mut *mut c_char,
        names: *mut *mut c_char,
    ) -> c_int {
        let text = |p: *mut c_char| {
            // SAFETY: SQLite gives each value and name as a NUL-terminated
            // string or null, valid during the callback.
            (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
        };
        let mut row = Row::new();
        for i in 0..usize::try_from(argc).unwrap_or(0) {
            // SAFETY: `argv` and `names` hold `argc` pointers each.
            let (value, name) = unsafe { (*argv.add(i), *names.add(i)) };
            row.insert(text(name).unwrap_or_default(), text(value));
        }
        // SAFETY: `userdata` is the `Vec<Row>` that `rows` lends for the
        // call, borrowed by no one else meanwhile.
        unsafe { &mut *userdata.cast::<Vec<Row>>() }.push(row);
        0
    }

    // SAFETY: as in `Wtmpdb::load`; the handle is never closed.
    let handle = unsafe { libc::dlopen(LIBRARY.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if handle.is_null() {
        return None;
    }
    // SAFETY: a live handle and a NUL-terminated name.
    let read_all = unsafe { libc::dlsym(handle, c"wtmpdb_read_all_v2".as_ptr()) };
    if read_all.is_null() {
        return Some(Err(io::Error::other("no wtmpdb_read_all_v2")));
    }
    // SAFETY: the function of that name, with the header's signature.
    let read_all = unsafe { core::mem::transmute::<*mut c_void, ReadAllFn>(read_all) };
    let mut rows: Vec<Row> = Vec::new();
    let mut error = Error::default();
    // SAFETY: `db` is a NUL-terminated string; `collect` matches the
    // callback's type and gets `rows` back as its userdata, alive for the
    // call; `error` as in `Wtmpdb::login`.
    let r = unsafe { read_all(db.as_ptr(), collect, (&raw mut rows).cast(), &mut error.0) };
    if r < 0 {
        return Some(Err(error.into_io("wtmpdb_read_all_v2")));
    }
    Some(Ok(rows))
}

/// A row of the database: column name to value (`None`: NULL).
#[cfg(test)]
pub(crate) type Row = std::collections::BTreeMap<String, Option<String>>;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn an_absent_library_is_none() {
        assert!(Wtmpdb::load(c"libwtmpdb-that-is-not-there.so.0").is_none());
    }

    #[test]
    fn a_nul_in_a_field_is_refused_before_the_library() {
        let e = c_text("pts/1\0x").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}
