//! SSH_FXP_EXTENDED requests and their replies: OpenSSH's extensions as its
//! `PROTOCOL` file (§4) specifies them, with an `Unknown` fallback for any
//! other name.

use ssh_wire::codec::{put_string, put_u32, put_u64};
use ssh_wire::{DecodeError, Reader};

use crate::attrs::Attrs;
use crate::message::{Handle, read_handle};

/// Extension names, spelled as on the wire.
#[allow(missing_docs)]
pub mod names {
    pub const POSIX_RENAME: &str = "posix-rename@openssh.com";
    pub const STATVFS: &str = "statvfs@openssh.com";
    pub const FSTATVFS: &str = "fstatvfs@openssh.com";
    pub const HARDLINK: &str = "hardlink@openssh.com";
    pub const FSYNC: &str = "fsync@openssh.com";
    pub const LSETSTAT: &str = "lsetstat@openssh.com";
    pub const LIMITS: &str = "limits@openssh.com";
    pub const EXPAND_PATH: &str = "expand-path@openssh.com";
    pub const COPY_DATA: &str = "copy-data";
    pub const HOME_DIRECTORY: &str = "home-directory";
    pub const USERS_GROUPS_BY_ID: &str = "users-groups-by-id@openssh.com";
}

/// The extensions a server built on this crate announces in VERSION, with
/// the versions OpenSSH's sftp-server announces.
pub const SERVER_EXTENSIONS: [(&str, &str); 11] = [
    (names::POSIX_RENAME, "1"),
    (names::STATVFS, "2"),
    (names::FSTATVFS, "2"),
    (names::HARDLINK, "1"),
    (names::FSYNC, "1"),
    (names::LSETSTAT, "1"),
    (names::LIMITS, "1"),
    (names::EXPAND_PATH, "1"),
    (names::COPY_DATA, "1"),
    (names::HOME_DIRECTORY, "1"),
    (names::USERS_GROUPS_BY_ID, "1"),
];

/// One `extension-name` / `extension-data` pair of INIT or VERSION.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtensionPair {
    /// The name.
    pub name: Vec<u8>,
    /// The data (OpenSSH: a version number as decimal text).
    pub data: Vec<u8>,
}

/// An SSH_FXP_EXTENDED request, typed by its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtendedRequest {
    /// `posix-rename@openssh.com`: rename with POSIX semantics (replacing
    /// the target).
    PosixRename {
        /// The existing path.
        old_path: Vec<u8>,
        /// The new path.
        new_path: Vec<u8>,
    },
    /// `statvfs@openssh.com`: file system statistics of a path.
    Statvfs {
        /// The path.
        path: Vec<u8>,
    },
    /// `fstatvfs@openssh.com`: file system statistics of an open handle.
    Fstatvfs {
        /// The handle.
        handle: Handle,
    },
    /// `hardlink@openssh.com`: a hard link `new_path` to `old_path`.
    Hardlink {
        /// The existing path.
        old_path: Vec<u8>,
        /// The link to make.
        new_path: Vec<u8>,
    },
    /// `fsync@openssh.com`: flush an open file to disk.
    Fsync {
        /// The handle.
        handle: Handle,
    },
    /// `lsetstat@openssh.com`: setstat without following a final symlink.
    Lsetstat {
        /// The path.
        path: Vec<u8>,
        /// The attributes to set.
        attrs: Attrs,
    },
    /// `limits@openssh.com`: the server's limits (no arguments).
    Limits,
    /// `expand-path@openssh.com`: realpath that also expands `~` and
    /// `~user` prefixes.
    ExpandPath {
        /// The path.
        path: Vec<u8>,
    },
    /// `copy-data`: copy bytes between two open handles on the server.
    CopyData {
        /// The handle read from.
        read_handle: Handle,
        /// Where reading starts.
        read_offset: u64,
        /// How many bytes; 0 copies until end of file.
        read_length: u64,
        /// The handle written to.
        write_handle: Handle,
        /// Where writing starts.
        write_offset: u64,
    },
    /// `home-directory`: the home directory of a user, as a NAME.
    HomeDirectory {
        /// The user name.
        username: Vec<u8>,
    },
    /// `users-groups-by-id@openssh.com`: names of user and group ids.
    UsersGroupsById {
        /// User ids to name.
        uids: Vec<u32>,
        /// Group ids to name.
        gids: Vec<u32>,
    },
    /// Any other extension, kept as bytes.
    Unknown {
        /// The extension name.
        name: Vec<u8>,
        /// The request-specific data after the name.
        data: Vec<u8>,
    },
}

impl ExtendedRequest {
    /// The name as sent on the wire.
    pub fn name(&self) -> &[u8] {
        let s = match self {
            Self::PosixRename { .. } => names::POSIX_RENAME,
            Self::Statvfs { .. } => names::STATVFS,
            Self::Fstatvfs { .. } => names::FSTATVFS,
            Self::Hardlink { .. } => names::HARDLINK,
            Self::Fsync { .. } => names::FSYNC,
            Self::Lsetstat { .. } => names::LSETSTAT,
            Self::Limits => names::LIMITS,
            Self::ExpandPath { .. } => names::EXPAND_PATH,
            Self::CopyData { .. } => names::COPY_DATA,
            Self::HomeDirectory { .. } => names::HOME_DIRECTORY,
            Self::UsersGroupsById { .. } => names::USERS_GROUPS_BY_ID,
            Self::Unknown { name, .. } => return name,
        };
        s.as_bytes()
    }

    /// Appends the name and the request-specific data.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        put_string(out, self.name());
        match self {
            Self::PosixRename { old_path, new_path } | Self::Hardlink { old_path, new_path } => {
                put_string(out, old_path);
                put_string(out, new_path);
            }
            Self::Statvfs { path } | Self::ExpandPath { path } => put_string(out, path),
            Self::Fstatvfs { handle } | Self::Fsync { handle } => put_string(out, &handle.0),
            Self::Lsetstat { path, attrs } => {
                put_string(out, path);
                attrs.encode(out);
            }
            Self::Limits => {}
            Self::CopyData {
                read_handle,
                read_offset,
                read_length,
                write_handle,
                write_offset,
            } => {
                put_string(out, &read_handle.0);
                put_u64(out, *read_offset);
                put_u64(out, *read_length);
                put_string(out, &write_handle.0);
                put_u64(out, *write_offset);
            }
            Self::HomeDirectory { username } => put_string(out, username),
            Self::UsersGroupsById { uids, gids } => {
                put_id_list(out, uids);
                put_id_list(out, gids);
            }
            Self::Unknown { data, .. } => out.extend_from_slice(data),
        }
    }

    /// Reads the name and the request-specific data (the rest of the
    /// packet).
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let name = r.string("extended request name")?;
        let path = |r: &mut Reader<'_>, what| r.string(what).map(<[u8]>::to_vec);
        let req = match core::str::from_utf8(name).unwrap_or("") {
            names::POSIX_RENAME => Self::PosixRename {
                old_path: path(r, "old path")?,
                new_path: path(r, "new path")?,
            },
            names::STATVFS => Self::Statvfs {
                path: path(r, "path")?,
            },
            names::FSTATVFS => Self::Fstatvfs {
                handle: read_handle(r)?,
            },
            names::HARDLINK => Self::Hardlink {
                old_path: path(r, "old path")?,
                new_path: path(r, "new path")?,
            },
            names::FSYNC => Self::Fsync {
                handle: read_handle(r)?,
            },
            names::LSETSTAT => Self::Lsetstat {
                path: path(r, "path")?,
                attrs: Attrs::decode(r)?,
            },
            names::LIMITS => Self::Limits,
            names::EXPAND_PATH => Self::ExpandPath {
                path: path(r, "path")?,
            },
            names::COPY_DATA => Self::CopyData {
                read_handle: read_handle(r)?,
                read_offset: r.u64("read offset")?,
                read_length: r.u64("read length")?,
                write_handle: read_handle(r)?,
                write_offset: r.u64("write offset")?,
            },
            names::HOME_DIRECTORY => Self::HomeDirectory {
                username: path(r, "username")?,
            },
            names::USERS_GROUPS_BY_ID => Self::UsersGroupsById {
                uids: read_id_list(r, "uids")?,
                gids: read_id_list(r, "gids")?,
            },
            _ => Self::Unknown {
                name: name.to_vec(),
                data: r.take_rest().to_vec(),
            },
        };
        Ok(req)
    }
}

/// "a string containing a packed array of uint32 ids" (OpenSSH `PROTOCOL`
/// §4.11).
fn put_id_list(out: &mut Vec<u8>, ids: &[u32]) {
    put_u32(out, u32::try_from(ids.len() * 4).unwrap_or(u32::MAX));
    for id in ids {
        put_u32(out, *id);
    }
}

fn read_id_list(r: &mut Reader<'_>, what: &'static str) -> Result<Vec<u32>, DecodeError> {
    let bytes = r.string(what)?;
    if bytes.len() % 4 != 0 {
        return Err(DecodeError::invalid(what, "not a whole number of uint32"));
    }
    let mut inner = Reader::new(bytes);
    let mut ids = Vec::with_capacity(bytes.len() / 4);
    while !inner.is_empty() {
        ids.push(inner.u32(what)?);
    }
    Ok(ids)
}

/// `statvfs@openssh.com` and `fstatvfs@openssh.com` reply: the fields of
/// POSIX `struct statvfs`, each a uint64 (OpenSSH `PROTOCOL` §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatVfs {
    /// File system block size.
    pub bsize: u64,
    /// Fundamental file system block size.
    pub frsize: u64,
    /// Number of blocks (in units of `frsize`).
    pub blocks: u64,
    /// Free blocks.
    pub bfree: u64,
    /// Free blocks for non-root.
    pub bavail: u64,
    /// Total file inodes.
    pub files: u64,
    /// Free file inodes.
    pub ffree: u64,
    /// Free file inodes for non-root.
    pub favail: u64,
    /// File system id.
    pub fsid: u64,
    /// Bit mask of flags ([`StatVfs::RDONLY`], [`StatVfs::NOSUID`]).
    pub flag: u64,
    /// Maximum file name length.
    pub namemax: u64,
}

impl StatVfs {
    /// `SSH2_FXE_STATVFS_ST_RDONLY`: read-only.
    pub const RDONLY: u64 = 0x1;
    /// `SSH2_FXE_STATVFS_ST_NOSUID`: no setuid.
    pub const NOSUID: u64 = 0x2;

    fn fields(&self) -> [u64; 11] {
        [
            self.bsize,
            self.frsize,
            self.blocks,
            self.bfree,
            self.bavail,
            self.files,
            self.ffree,
            self.favail,
            self.fsid,
            self.flag,
            self.namemax,
        ]
    }

    /// The EXTENDED_REPLY data.
    pub fn encode(&self, out: &mut Vec<u8>) {
        for v in self.fields() {
            put_u64(out, v);
        }
    }

    /// Reads the EXTENDED_REPLY data, which must be exactly the 11 fields.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let mut f = [0u64; 11];
        for v in &mut f {
            *v = r.u64("statvfs field")?;
        }
        r.finish("statvfs reply")?;
        let [
            bsize,
            frsize,
            blocks,
            bfree,
            bavail,
            files,
            ffree,
            favail,
            fsid,
            flag,
            namemax,
        ] = f;
        Ok(Self {
            bsize,
            frsize,
            blocks,
            bfree,
            bavail,
            files,
            ffree,
            favail,
            fsid,
            flag,
            namemax,
        })
    }
}

/// `limits@openssh.com` reply (OpenSSH `PROTOCOL` §4.8): "A value of zero
/// indicates that there is no specified limit".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    /// The largest packet the server accepts.
    pub max_packet_len: u64,
    /// The largest READ the server answers in full.
    pub max_read_len: u64,
    /// The largest WRITE the server accepts.
    pub max_write_len: u64,
    /// How many handles may be open at once.
    pub max_open_handles: u64,
}

impl Limits {
    /// The EXTENDED_REPLY data.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u64(out, self.max_packet_len);
        put_u64(out, self.max_read_len);
        put_u64(out, self.max_write_len);
        put_u64(out, self.max_open_handles);
    }

    /// Reads the EXTENDED_REPLY data.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let l = Self {
            max_packet_len: r.u64("max packet length")?,
            max_read_len: r.u64("max read length")?,
            max_write_len: r.u64("max write length")?,
            max_open_handles: r.u64("max open handles")?,
        };
        r.finish("limits reply")?;
        Ok(l)
    }
}

/// `users-groups-by-id@openssh.com` reply: one name per id asked, in
/// order; an empty name for an id the server could not name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UsersGroups {
    /// User names, one per uid asked.
    pub users: Vec<Vec<u8>>,
    /// Group names, one per gid asked.
    pub groups: Vec<Vec<u8>>,
}

impl UsersGroups {
    /// The EXTENDED_REPLY data: two strings, each packing a string per
    /// name.
    pub fn encode(&self, out: &mut Vec<u8>) {
        for list in [&self.users, &self.groups] {
            let mut packed = Vec::new();
            for n in list {
                put_string(&mut packed, n);
            }
            put_string(out, &packed);
        }
    }

    /// Reads the EXTENDED_REPLY data.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let mut read_list = |what| {
            r.nested(what, |inner| {
                let mut names = Vec::new();
                while !inner.is_empty() {
                    names.push(inner.string(what)?.to_vec());
                }
                Ok(names)
            })
        };
        let users = read_list("user names")?;
        let groups = read_list("group names")?;
        r.finish("users-groups-by-id reply")?;
        Ok(Self { users, groups })
    }
}

/// Reads INIT's or VERSION's extension pairs (the rest of the packet).
pub(crate) fn read_extension_pairs(r: &mut Reader<'_>) -> Result<Vec<ExtensionPair>, DecodeError> {
    let mut pairs = Vec::new();
    while !r.is_empty() {
        let name = r.string("extension name")?.to_vec();
        let data = r.string("extension data")?.to_vec();
        pairs.push(ExtensionPair { name, data });
    }
    Ok(pairs)
}
