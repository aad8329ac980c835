//! The SFTP server's file system on the host: [`OsFs`], an
//! [`ssh_sftp::Filesystem`] over `std::fs` (and `rustix` for what std
//! lacks: `statvfs`, times and modes without following a symlink).
//!
//! The protocol is `ssh-sftp`'s; this module only makes the calls. It runs
//! in the process of the session's user (the server has already dropped to
//! that user), so the kernel judges every permission, as for OpenSSH's
//! `sftp-server`. Relative paths are taken from a base directory (the
//! user's home) rather than from the process's working directory, which
//! many sessions share.

use std::ffi::OsStr;
use std::fs::{self, DirBuilder, File, FileTimes, OpenOptions, ReadDir};
use std::io::{self, ErrorKind, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustix::fs::{AtFlags, CWD, Mode, Timestamps};
use ssh_os::user::User;
use ssh_sftp::attrs::longname;
use ssh_sftp::{Attrs, Filesystem, FsError, FsResult, NameEntry, OpenFlags, StatVfs, UsersGroups};

#[cfg(test)]
mod openssh_tests;
#[cfg(test)]
mod tests;

/// Entries one `readdir` call reads, as OpenSSH's `process_readdir` (100).
const READDIR_BATCH: usize = 100;

/// The host's file system, as the session's user sees it.
#[derive(Debug, Clone)]
pub struct OsFs {
    base: PathBuf,
    user: Option<User>,
}

/// An open file of an [`OsFs`].
#[derive(Debug)]
pub struct OsFile {
    file: File,
    append: bool,
}

/// An open directory of an [`OsFs`].
#[derive(Debug)]
pub struct OsDir {
    path: PathBuf,
    entries: ReadDir,
    /// `.` and `..` are listed first, as `readdir(3)` gives them and
    /// OpenSSH passes them on; `std::fs::read_dir` skips them.
    dots_sent: bool,
}

impl OsFs {
    /// A file system whose relative paths start at `base`; `user` answers
    /// `home-directory` with an empty name and `~`.
    pub fn new(base: impl Into<PathBuf>, user: Option<User>) -> Self {
        Self {
            base: base.into(),
            user,
        }
    }

    /// For the user's session: relative paths from the user's home.
    pub fn for_user(user: User) -> Self {
        Self {
            base: user.home.clone(),
            user: Some(user),
        }
    }

    fn path(&self, p: &[u8]) -> PathBuf {
        self.base.join(OsStr::from_bytes(p))
    }
}

/// OpenSSH's `errno_to_portable`, by error kind.
fn fs_error(e: &io::Error) -> FsError {
    if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
        return FsError::NotFound;
    }
    match e.kind() {
        ErrorKind::NotFound | ErrorKind::NotADirectory => FsError::NotFound,
        ErrorKind::PermissionDenied => FsError::PermissionDenied,
        ErrorKind::AlreadyExists => FsError::AlreadyExists,
        ErrorKind::DirectoryNotEmpty => FsError::NotEmpty,
        ErrorKind::InvalidInput | ErrorKind::InvalidFilename => FsError::InvalidInput,
        ErrorKind::Unsupported => FsError::Unsupported,
        _ => FsError::Other(e.to_string()),
    }
}

/// An `std` result as the server wants it.
fn check<T>(r: io::Result<T>) -> FsResult<T> {
    r.map_err(|e| fs_error(&e))
}

fn rustix_io<T>(r: rustix::io::Result<T>) -> FsResult<T> {
    r.map_err(|e| fs_error(&io::Error::from(e)))
}

/// Seconds since the epoch as ATTRS carries them (uint32: times before 1970
/// or after 2106 are clamped).
fn secs(t: i64) -> u32 {
    u32::try_from(t.max(0)).unwrap_or(u32::MAX)
}

fn attrs_of(m: &fs::Metadata) -> Attrs {
    Attrs {
        size: Some(m.size()),
        uid_gid: Some((m.uid(), m.gid())),
        permissions: Some(m.mode()),
        atime_mtime: Some((secs(m.atime()), secs(m.mtime()))),
        extended: Vec::new(),
    }
}

fn system_time(secs: u32) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::from(secs))
}

fn timestamps(atime: u32, mtime: u32) -> Timestamps {
    let ts = |s: u32| rustix::fs::Timespec {
        tv_sec: i64::from(s),
        tv_nsec: 0,
    };
    Timestamps {
        last_access: ts(atime),
        last_modification: ts(mtime),
    }
}

fn statvfs_of(s: &rustix::fs::StatVfs) -> StatVfs {
    let mut flag = 0;
    if s.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY) {
        flag |= StatVfs::RDONLY;
    }
    if s.f_flag.contains(rustix::fs::StatVfsMountFlags::NOSUID) {
        flag |= StatVfs::NOSUID;
    }
    StatVfs {
        bsize: s.f_bsize,
        frsize: s.f_frsize,
        blocks: s.f_blocks,
        bfree: s.f_bfree,
        bavail: s.f_bavail,
        files: s.f_files,
        ffree: s.f_ffree,
        favail: s.f_favail,
        fsid: s.f_fsid,
        flag,
        namemax: s.f_namemax,
    }
}

/// SETSTAT's order, as OpenSSH's: size, permissions, times, owner.
fn set_path_attrs(path: &Path, a: &Attrs, follow: bool) -> FsResult<()> {
    let flags = if follow {
        AtFlags::empty()
    } else {
        AtFlags::SYMLINK_NOFOLLOW
    };
    if let Some(size) = a.size {
        check(
            OpenOptions::new()
                .write(true)
                .open(path)
                .and_then(|f| f.set_len(size)),
        )?;
    }
    if let Some(p) = a.permissions {
        // Linux has no mode for a symlink itself (`fchmodat` with
        // AT_SYMLINK_NOFOLLOW fails on one, as glibc's does for OpenSSH);
        // for anything else no-follow changes nothing. A path swapped for
        // a symlink between the check and the change would have its target
        // changed: the session runs as the user, so only the user's own
        // files are at stake.
        if !follow && check(fs::symlink_metadata(path))?.is_symlink() {
            return Err(FsError::Unsupported);
        }
        let mode = Mode::from_raw_mode(p & 0o7777);
        rustix_io(rustix::fs::chmodat(CWD, path, mode, AtFlags::empty()))?;
    }
    if let Some((at, mt)) = a.atime_mtime {
        rustix_io(rustix::fs::utimensat(CWD, path, &timestamps(at, mt), flags))?;
    }
    if let Some((uid, gid)) = a.uid_gid {
        if follow {
            check(std::os::unix::fs::chown(path, Some(uid), Some(gid)))?;
        } else {
            check(std::os::unix::fs::lchown(path, Some(uid), Some(gid)))?;
        }
    }
    Ok(())
}

impl OsFs {
    fn entry(&self, dir: &Path, name: &[u8]) -> Option<NameEntry> {
        let m = fs::symlink_metadata(dir.join(OsStr::from_bytes(name))).ok()?;
        let attrs = attrs_of(&m);
        Some(NameEntry {
            filename: name.to_vec(),
            longname: longname(name, &attrs),
            attrs,
        })
    }
}

impl Filesystem for OsFs {
    type File = OsFile;
    type Dir = OsDir;

    fn open(&mut self, path: &[u8], flags: OpenFlags, attrs: &Attrs) -> FsResult<OsFile> {
        let write = flags.contains(OpenFlags::WRITE) || flags.contains(OpenFlags::APPEND);
        let append = flags.contains(OpenFlags::APPEND);
        let creat = flags.contains(OpenFlags::CREAT);
        let mut o = OpenOptions::new();
        o.read(flags.contains(OpenFlags::READ) || !write)
            .write(write)
            .append(append)
            .truncate(flags.contains(OpenFlags::TRUNC) && write)
            .mode(attrs.permissions.unwrap_or(0o666) & 0o7777);
        if creat && flags.contains(OpenFlags::EXCL) {
            o.create_new(true);
        } else {
            o.create(creat);
        }
        let file = check(o.open(self.path(path)))?;
        Ok(OsFile { file, append })
    }

    fn read(&mut self, file: &mut OsFile, offset: u64, len: u32) -> FsResult<Vec<u8>> {
        let mut buf = vec![0; len as usize];
        let n = check(file.file.read_at(&mut buf, offset))?;
        buf.truncate(n);
        Ok(buf)
    }

    fn write(&mut self, file: &mut OsFile, offset: u64, data: &[u8]) -> FsResult<()> {
        if file.append {
            check(file.file.write_all(data))
        } else {
            check(file.file.write_all_at(data, offset))
        }
    }

    fn close(&mut self, file: OsFile) -> FsResult<()> {
        drop(file);
        Ok(())
    }

    fn fstat(&mut self, file: &mut OsFile) -> FsResult<Attrs> {
        Ok(attrs_of(&check(file.file.metadata())?))
    }

    fn fsetstat(&mut self, file: &mut OsFile, a: &Attrs) -> FsResult<()> {
        if let Some(size) = a.size {
            check(file.file.set_len(size))?;
        }
        if let Some(p) = a.permissions {
            check(
                file.file
                    .set_permissions(fs::Permissions::from_mode(p & 0o7777)),
            )?;
        }
        if let Some((at, mt)) = a.atime_mtime {
            let times = FileTimes::new()
                .set_accessed(system_time(at))
                .set_modified(system_time(mt));
            check(file.file.set_times(times))?;
        }
        if let Some((uid, gid)) = a.uid_gid {
            check(std::os::unix::fs::fchown(&file.file, Some(uid), Some(gid)))?;
        }
        Ok(())
    }

    fn fsync(&mut self, file: &mut OsFile) -> FsResult<()> {
        check(file.file.sync_all())
    }

    fn fstatvfs(&mut self, file: &mut OsFile) -> FsResult<StatVfs> {
        Ok(statvfs_of(&rustix_io(rustix::fs::fstatvfs(&file.file))?))
    }

    fn opendir(&mut self, path: &[u8]) -> FsResult<OsDir> {
        let path = self.path(path);
        let entries = check(fs::read_dir(&path))?;
        Ok(OsDir {
            path,
            entries,
            dots_sent: false,
        })
    }

    fn readdir(&mut self, dir: &mut OsDir) -> FsResult<Vec<NameEntry>> {
        let mut out = Vec::new();
        if !dir.dots_sent {
            dir.dots_sent = true;
            for dot in [&b"."[..], b".."] {
                out.extend(self.entry(&dir.path, dot));
            }
        }
        while out.len() < READDIR_BATCH {
            let Some(e) = dir.entries.next() else {
                break;
            };
            let e = check(e)?;
            // An entry removed since it was listed is skipped, as `ls`
            // would not show it either.
            out.extend(self.entry(&dir.path, e.file_name().as_bytes()));
        }
        Ok(out)
    }

    fn closedir(&mut self, dir: OsDir) -> FsResult<()> {
        drop(dir);
        Ok(())
    }

    fn stat(&mut self, path: &[u8]) -> FsResult<Attrs> {
        Ok(attrs_of(&check(fs::metadata(self.path(path)))?))
    }

    fn lstat(&mut self, path: &[u8]) -> FsResult<Attrs> {
        Ok(attrs_of(&check(fs::symlink_metadata(self.path(path)))?))
    }

    fn setstat(&mut self, path: &[u8], attrs: &Attrs) -> FsResult<()> {
        set_path_attrs(&self.path(path), attrs, true)
    }

    fn lsetstat(&mut self, path: &[u8], attrs: &Attrs) -> FsResult<()> {
        set_path_attrs(&self.path(path), attrs, false)
    }

    fn remove(&mut self, path: &[u8]) -> FsResult<()> {
        check(fs::remove_file(self.path(path)))
    }

    fn mkdir(&mut self, path: &[u8], attrs: &Attrs) -> FsResult<()> {
        let mode = attrs.permissions.unwrap_or(0o777) & 0o7777;
        check(DirBuilder::new().mode(mode).create(self.path(path)))
    }

    fn rmdir(&mut self, path: &[u8]) -> FsResult<()> {
        check(fs::remove_dir(self.path(path)))
    }

    /// `realpath(3)` as OpenSSH's `sftp_realpath`: the last component may
    /// be missing.
    fn realpath(&mut self, path: &[u8]) -> FsResult<Vec<u8>> {
        let full = self.path(path);
        let resolved = match fs::canonicalize(&full) {
            Ok(p) => p,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let (Some(parent), Some(name)) = (full.parent(), full.file_name()) else {
                    return Err(FsError::NotFound);
                };
                check(fs::canonicalize(parent))?.join(name)
            }
            Err(e) => return Err(fs_error(&e)),
        };
        Ok(resolved.into_os_string().into_vec())
    }

    /// SSH_FXP_RENAME must not replace the target. As OpenSSH: a regular
    /// file is hard-linked then unlinked (atomic refusal); where links
    /// fail, or for other types, the target is checked first (a race the
    /// draft's semantics leave no better way around).
    fn rename(&mut self, old: &[u8], new: &[u8]) -> FsResult<()> {
        let (old, new) = (self.path(old), self.path(new));
        let meta = check(fs::symlink_metadata(&old))?;
        if meta.is_file() {
            match fs::hard_link(&old, &new) {
                Ok(()) => {
                    if let Err(e) = fs::remove_file(&old) {
                        let _ = fs::remove_file(&new);
                        return Err(fs_error(&e));
                    }
                    return Ok(());
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    return Err(FsError::AlreadyExists);
                }
                Err(_) => {}
            }
        }
        if fs::symlink_metadata(&new).is_ok() {
            return Err(FsError::AlreadyExists);
        }
        check(fs::rename(&old, &new))
    }

    fn posix_rename(&mut self, old: &[u8], new: &[u8]) -> FsResult<()> {
        check(fs::rename(self.path(old), self.path(new)))
    }

    fn readlink(&mut self, path: &[u8]) -> FsResult<Vec<u8>> {
        Ok(check(fs::read_link(self.path(path)))?
            .into_os_string()
            .into_vec())
    }

    fn symlink(&mut self, target: &[u8], link_path: &[u8]) -> FsResult<()> {
        check(std::os::unix::fs::symlink(
            OsStr::from_bytes(target),
            self.path(link_path),
        ))
    }

    fn hardlink(&mut self, old: &[u8], new: &[u8]) -> FsResult<()> {
        check(fs::hard_link(self.path(old), self.path(new)))
    }

    fn statvfs(&mut self, path: &[u8]) -> FsResult<StatVfs> {
        Ok(statvfs_of(&rustix_io(rustix::fs::statvfs(
            self.path(path),
        ))?))
    }

    fn home_directory(&mut self, user: &[u8]) -> FsResult<Vec<u8>> {
        let found = if user.is_empty() {
            self.user.clone()
        } else {
            let name = std::str::from_utf8(user).map_err(|_| FsError::InvalidInput)?;
            check(User::by_name(name))?
        };
        found
            .map(|u| u.home.into_os_string().into_vec())
            .ok_or_else(|| FsError::Other("user not found".into()))
    }

    fn users_groups_by_id(&mut self, uids: &[u32], gids: &[u32]) -> FsResult<UsersGroups> {
        let users = uids
            .iter()
            .map(|u| {
                User::by_uid(*u)
                    .ok()
                    .flatten()
                    .map(|u| u.name.into_bytes())
                    .unwrap_or_default()
            })
            .collect();
        let groups = gids
            .iter()
            .map(|g| {
                nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(*g))
                    .ok()
                    .flatten()
                    .map(|g| g.name.into_bytes())
                    .unwrap_or_default()
            })
            .collect();
        Ok(UsersGroups { users, groups })
    }
}
