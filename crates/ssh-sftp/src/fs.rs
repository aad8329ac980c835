//! The file system a [`crate::Server`] answers from: synchronous calls
//! returning typed errors, which the server maps to SFTP status codes.

use core::fmt;

use crate::attrs::Attrs;
use crate::extensions::{StatVfs, UsersGroups};
use crate::message::NameEntry;
use crate::numbers::{OpenFlags, StatusCode};

/// Why a file system call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FsError {
    /// The path (or a component of it) does not exist; also "not a
    /// directory" and symlink loops, as OpenSSH maps ENOENT, ENOTDIR and
    /// ELOOP.
    NotFound,
    /// Not allowed (EPERM, EACCES).
    PermissionDenied,
    /// The target exists (EEXIST).
    AlreadyExists,
    /// A directory is not empty (ENOTEMPTY).
    NotEmpty,
    /// A bad argument or a too-long name (EINVAL, ENAMETOOLONG).
    InvalidInput,
    /// Not supported by this file system (ENOSYS, EOPNOTSUPP).
    Unsupported,
    /// Any other failure, with a message for the client.
    Other(String),
}

impl FsError {
    /// The status code sent for this error, as OpenSSH's
    /// `errno_to_portable` chooses.
    pub const fn status_code(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NO_SUCH_FILE,
            Self::PermissionDenied => StatusCode::PERMISSION_DENIED,
            Self::InvalidInput => StatusCode::BAD_MESSAGE,
            Self::Unsupported => StatusCode::OP_UNSUPPORTED,
            Self::AlreadyExists | Self::NotEmpty | Self::Other(_) => StatusCode::FAILURE,
        }
    }
}

impl fmt::Display for FsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Other(m) => f.write_str(m),
            Self::AlreadyExists => f.write_str("File exists"),
            Self::NotEmpty => f.write_str("Directory not empty"),
            e => f.write_str(e.status_code().message()),
        }
    }
}

impl std::error::Error for FsError {}

/// The result of a file system call.
pub type FsResult<T> = Result<T, FsError>;

/// A file system as the SFTP server sees it. Paths are bytes as the client
/// sent them, made absolute against the server's start directory when one
/// is set. Every method is synchronous: the server is sans-IO, the
/// implementation is not.
pub trait Filesystem {
    /// An open file.
    type File;
    /// An open directory stream.
    type Dir;

    /// Opens (maybe creates) a file. `attrs` are for a created file; the
    /// server has applied its umask to their permissions.
    fn open(&mut self, path: &[u8], flags: OpenFlags, attrs: &Attrs) -> FsResult<Self::File>;
    /// Up to `len` bytes at `offset`; fewer is a short read, none is end of
    /// file.
    fn read(&mut self, file: &mut Self::File, offset: u64, len: u32) -> FsResult<Vec<u8>>;
    /// Writes all of `data` at `offset` (at the end for an append handle).
    fn write(&mut self, file: &mut Self::File, offset: u64, data: &[u8]) -> FsResult<()>;
    /// Closes a file.
    fn close(&mut self, file: Self::File) -> FsResult<()>;
    /// Attributes of an open file.
    fn fstat(&mut self, file: &mut Self::File) -> FsResult<Attrs>;
    /// Changes attributes of an open file.
    fn fsetstat(&mut self, file: &mut Self::File, attrs: &Attrs) -> FsResult<()>;
    /// Flushes a file to stable storage.
    fn fsync(&mut self, file: &mut Self::File) -> FsResult<()>;
    /// File system statistics of an open file.
    fn fstatvfs(&mut self, file: &mut Self::File) -> FsResult<StatVfs>;

    /// Opens a directory for listing.
    fn opendir(&mut self, path: &[u8]) -> FsResult<Self::Dir>;
    /// The next entries (with `longname` filled); an empty vector at the
    /// end. The server splits a large batch over several NAME replies.
    fn readdir(&mut self, dir: &mut Self::Dir) -> FsResult<Vec<NameEntry>>;
    /// Closes a directory stream.
    fn closedir(&mut self, dir: Self::Dir) -> FsResult<()>;

    /// Attributes, following symlinks.
    fn stat(&mut self, path: &[u8]) -> FsResult<Attrs>;
    /// Attributes of the path itself.
    fn lstat(&mut self, path: &[u8]) -> FsResult<Attrs>;
    /// Changes attributes, following symlinks.
    fn setstat(&mut self, path: &[u8], attrs: &Attrs) -> FsResult<()>;
    /// Changes attributes of the path itself.
    fn lsetstat(&mut self, path: &[u8], attrs: &Attrs) -> FsResult<()>;
    /// Removes a file.
    fn remove(&mut self, path: &[u8]) -> FsResult<()>;
    /// Makes a directory; the server has applied its umask.
    fn mkdir(&mut self, path: &[u8], attrs: &Attrs) -> FsResult<()>;
    /// Removes an empty directory.
    fn rmdir(&mut self, path: &[u8]) -> FsResult<()>;
    /// The canonical absolute form of a path.
    fn realpath(&mut self, path: &[u8]) -> FsResult<Vec<u8>>;
    /// Renames, failing if `new` exists (SSH_FXP_RENAME).
    fn rename(&mut self, old: &[u8], new: &[u8]) -> FsResult<()>;
    /// Renames, replacing `new` (`posix-rename@openssh.com`).
    fn posix_rename(&mut self, old: &[u8], new: &[u8]) -> FsResult<()>;
    /// The target of a symlink.
    fn readlink(&mut self, path: &[u8]) -> FsResult<Vec<u8>>;
    /// Makes a symlink at `link_path` pointing to `target`.
    fn symlink(&mut self, target: &[u8], link_path: &[u8]) -> FsResult<()>;
    /// Makes a hard link `new` to `old`.
    fn hardlink(&mut self, old: &[u8], new: &[u8]) -> FsResult<()>;
    /// File system statistics of a path.
    fn statvfs(&mut self, path: &[u8]) -> FsResult<StatVfs>;
    /// The home directory of `user`, or of the session's user when empty.
    fn home_directory(&mut self, user: &[u8]) -> FsResult<Vec<u8>>;
    /// Names for user and group ids; an empty name for an unknown id.
    fn users_groups_by_id(&mut self, uids: &[u32], gids: &[u32]) -> FsResult<UsersGroups>;

    /// `expand-path@openssh.com`: `~` and `~user` prefixes replaced by home
    /// directories, then [`Filesystem::realpath`]. The default does that
    /// with [`Filesystem::home_directory`].
    fn expand_path(&mut self, path: &[u8]) -> FsResult<Vec<u8>> {
        let Some(rest) = path.strip_prefix(b"~") else {
            return self.realpath(path);
        };
        let (user, tail) = match rest.iter().position(|&b| b == b'/') {
            Some(i) => rest.split_at(i),
            None => (rest, &b""[..]),
        };
        let mut full = self.home_directory(user)?;
        full.extend_from_slice(tail);
        self.realpath(&full)
    }

    /// `copy-data`: copies `len` bytes (0: until end of file) from one open
    /// file to another. The default reads and writes in 64 KiB pieces;
    /// "If the read handle reaches EOF before `read-data-length` bytes have
    /// been copied, ... the server will return SSH2_FX_EOF" unless
    /// `len` was 0 (OpenSSH `PROTOCOL` §4.10).
    fn copy_data(
        &mut self,
        from: &mut Self::File,
        from_offset: u64,
        len: u64,
        to: &mut Self::File,
        to_offset: u64,
    ) -> Result<(), CopyError> {
        let until_eof = len == 0;
        let mut left = len;
        let (mut rpos, mut wpos) = (from_offset, to_offset);
        while until_eof || left > 0 {
            let want = if until_eof { 65_536 } else { left.min(65_536) };
            let data = self.read(from, rpos, u32::try_from(want).unwrap_or(65_536))?;
            if data.is_empty() {
                return if until_eof {
                    Ok(())
                } else {
                    Err(CopyError::Eof)
                };
            }
            self.write(to, wpos, &data)?;
            let n = data.len() as u64;
            rpos = rpos.saturating_add(n);
            wpos = wpos.saturating_add(n);
            left = left.saturating_sub(n);
        }
        Ok(())
    }
}

/// Why a `copy-data` stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyError {
    /// The source ended before the requested length.
    Eof,
    /// A read or write failed.
    Fs(FsError),
}

impl From<FsError> for CopyError {
    fn from(e: FsError) -> Self {
        Self::Fs(e)
    }
}
