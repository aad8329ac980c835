//! Every SFTP v3 packet as a typed value, and its encoding: a uint32 length,
//! the type byte, then (for all but INIT and VERSION) the request id
//! (draft-02 §3).

use core::fmt;

use ssh_wire::codec::{put_string, put_u32, put_u64};
use ssh_wire::{DecodeError, Reader};

use crate::attrs::{Attrs, bounded_count};
use crate::extensions::{ExtendedRequest, ExtensionPair, read_extension_pairs};
use crate::numbers::{MAX_HANDLE_LEN, MAX_PACKET_LEN, OpenFlags, StatusCode, packet_type as t};

/// An opaque file or directory handle chosen by the server: "The handle
/// strings MUST NOT be longer than 256 bytes" (draft-02 §6.2).
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Handle(pub Vec<u8>);

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Handle(")?;
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// Reads a handle string, refusing one longer than the draft allows.
pub(crate) fn read_handle(r: &mut Reader<'_>) -> Result<Handle, DecodeError> {
    Ok(Handle(r.string_max(MAX_HANDLE_LEN, "handle")?.to_vec()))
}

/// A request from the client (every packet type from 3 to 20, and 200).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Request {
    /// SSH_FXP_OPEN: open (and maybe create) a file.
    Open {
        filename: Vec<u8>,
        flags: OpenFlags,
        attrs: Attrs,
    },
    /// SSH_FXP_CLOSE: close a file or directory handle.
    Close { handle: Handle },
    /// SSH_FXP_READ: up to `len` bytes at `offset`.
    Read {
        handle: Handle,
        offset: u64,
        len: u32,
    },
    /// SSH_FXP_WRITE: `data` at `offset`.
    Write {
        handle: Handle,
        offset: u64,
        data: Vec<u8>,
    },
    /// SSH_FXP_LSTAT: attributes, not following a final symlink.
    Lstat { path: Vec<u8> },
    /// SSH_FXP_FSTAT: attributes of an open handle.
    Fstat { handle: Handle },
    /// SSH_FXP_SETSTAT: change attributes of a path.
    Setstat { path: Vec<u8>, attrs: Attrs },
    /// SSH_FXP_FSETSTAT: change attributes of an open handle.
    Fsetstat { handle: Handle, attrs: Attrs },
    /// SSH_FXP_OPENDIR: open a directory for reading.
    Opendir { path: Vec<u8> },
    /// SSH_FXP_READDIR: the next batch of entries.
    Readdir { handle: Handle },
    /// SSH_FXP_REMOVE: remove a file.
    Remove { filename: Vec<u8> },
    /// SSH_FXP_MKDIR: make a directory.
    Mkdir { path: Vec<u8>, attrs: Attrs },
    /// SSH_FXP_RMDIR: remove a directory.
    Rmdir { path: Vec<u8> },
    /// SSH_FXP_REALPATH: canonical absolute path.
    Realpath { path: Vec<u8> },
    /// SSH_FXP_STAT: attributes, following symlinks.
    Stat { path: Vec<u8> },
    /// SSH_FXP_RENAME: rename, failing if `new_path` exists.
    Rename {
        old_path: Vec<u8>,
        new_path: Vec<u8>,
    },
    /// SSH_FXP_READLINK: the target of a symlink.
    Readlink { path: Vec<u8> },
    /// SSH_FXP_SYMLINK in OpenSSH's argument order: the link's target
    /// first, then the link path. "When OpenSSH's sftp-server was
    /// implemented, the order of arguments to the SSH_FXP_SYMLINK method was
    /// inadvertently reversed" (OpenSSH `PROTOCOL` §4.1); we speak as it
    /// does, as every client in use expects.
    Symlink { target: Vec<u8>, link_path: Vec<u8> },
    /// SSH_FXP_EXTENDED.
    Extended(ExtendedRequest),
}

impl Request {
    /// The packet type.
    pub const fn packet_type(&self) -> u8 {
        match self {
            Self::Open { .. } => t::OPEN,
            Self::Close { .. } => t::CLOSE,
            Self::Read { .. } => t::READ,
            Self::Write { .. } => t::WRITE,
            Self::Lstat { .. } => t::LSTAT,
            Self::Fstat { .. } => t::FSTAT,
            Self::Setstat { .. } => t::SETSTAT,
            Self::Fsetstat { .. } => t::FSETSTAT,
            Self::Opendir { .. } => t::OPENDIR,
            Self::Readdir { .. } => t::READDIR,
            Self::Remove { .. } => t::REMOVE,
            Self::Mkdir { .. } => t::MKDIR,
            Self::Rmdir { .. } => t::RMDIR,
            Self::Realpath { .. } => t::REALPATH,
            Self::Stat { .. } => t::STAT,
            Self::Rename { .. } => t::RENAME,
            Self::Readlink { .. } => t::READLINK,
            Self::Symlink { .. } => t::SYMLINK,
            Self::Extended(_) => t::EXTENDED,
        }
    }

    /// The name OpenSSH's sftp-server gives the request in its `-P`/`-p`
    /// lists and `-Q requests` output (`open`, `posix-rename`, ...); `None`
    /// for an unknown extension.
    pub fn name(&self) -> Option<&'static str> {
        use crate::extensions::ExtendedRequest as E;
        Some(match self {
            Self::Open { .. } => "open",
            Self::Close { .. } => "close",
            Self::Read { .. } => "read",
            Self::Write { .. } => "write",
            Self::Lstat { .. } => "lstat",
            Self::Fstat { .. } => "fstat",
            Self::Setstat { .. } => "setstat",
            Self::Fsetstat { .. } => "fsetstat",
            Self::Opendir { .. } => "opendir",
            Self::Readdir { .. } => "readdir",
            Self::Remove { .. } => "remove",
            Self::Mkdir { .. } => "mkdir",
            Self::Rmdir { .. } => "rmdir",
            Self::Realpath { .. } => "realpath",
            Self::Stat { .. } => "stat",
            Self::Rename { .. } => "rename",
            Self::Readlink { .. } => "readlink",
            Self::Symlink { .. } => "symlink",
            Self::Extended(e) => match e {
                E::PosixRename { .. } => "posix-rename",
                E::Statvfs { .. } => "statvfs",
                E::Fstatvfs { .. } => "fstatvfs",
                E::Hardlink { .. } => "hardlink",
                E::Fsync { .. } => "fsync",
                E::Lsetstat { .. } => "lsetstat",
                E::Limits => "limits",
                E::ExpandPath { .. } => "expand-path",
                E::CopyData { .. } => "copy-data",
                E::HomeDirectory { .. } => "home-directory",
                E::UsersGroupsById { .. } => "users-groups-by-id",
                E::Unknown { .. } => return None,
            },
        })
    }

    /// True for a request that changes the file system, refused by a
    /// read-only server (OpenSSH's `does_write`; OPEN is judged by its
    /// flags instead).
    pub fn writes(&self) -> bool {
        use crate::extensions::ExtendedRequest as E;
        match self {
            Self::Open { flags, .. } => flags.writes(),
            Self::Write { .. }
            | Self::Setstat { .. }
            | Self::Fsetstat { .. }
            | Self::Remove { .. }
            | Self::Mkdir { .. }
            | Self::Rmdir { .. }
            | Self::Rename { .. }
            | Self::Symlink { .. } => true,
            Self::Extended(e) => matches!(
                e,
                E::PosixRename { .. }
                    | E::Hardlink { .. }
                    | E::Fsync { .. }
                    | E::Lsetstat { .. }
                    | E::CopyData { .. }
            ),
            _ => false,
        }
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        match self {
            Self::Open {
                filename,
                flags,
                attrs,
            } => {
                put_string(out, filename);
                put_u32(out, flags.0);
                attrs.encode(out);
            }
            Self::Close { handle } | Self::Fstat { handle } | Self::Readdir { handle } => {
                put_string(out, &handle.0)
            }
            Self::Read {
                handle,
                offset,
                len,
            } => {
                put_string(out, &handle.0);
                put_u64(out, *offset);
                put_u32(out, *len);
            }
            Self::Write {
                handle,
                offset,
                data,
            } => {
                put_string(out, &handle.0);
                put_u64(out, *offset);
                put_string(out, data);
            }
            Self::Lstat { path }
            | Self::Opendir { path }
            | Self::Rmdir { path }
            | Self::Realpath { path }
            | Self::Stat { path }
            | Self::Readlink { path }
            | Self::Remove { filename: path } => put_string(out, path),
            Self::Setstat { path, attrs } | Self::Mkdir { path, attrs } => {
                put_string(out, path);
                attrs.encode(out);
            }
            Self::Fsetstat { handle, attrs } => {
                put_string(out, &handle.0);
                attrs.encode(out);
            }
            Self::Rename { old_path, new_path } => {
                put_string(out, old_path);
                put_string(out, new_path);
            }
            Self::Symlink { target, link_path } => {
                put_string(out, target);
                put_string(out, link_path);
            }
            Self::Extended(e) => e.encode(out),
        }
    }

    /// Reads the body of a request of type `ty` (after the id). `None` for
    /// a type that is not a request.
    fn decode_body(ty: u8, r: &mut Reader<'_>) -> Result<Option<Self>, DecodeError> {
        let path = |r: &mut Reader<'_>| r.string("path").map(<[u8]>::to_vec);
        let req = match ty {
            t::OPEN => Self::Open {
                filename: path(r)?,
                flags: OpenFlags(r.u32("pflags")?),
                attrs: Attrs::decode(r)?,
            },
            t::CLOSE => Self::Close {
                handle: read_handle(r)?,
            },
            t::READ => Self::Read {
                handle: read_handle(r)?,
                offset: r.u64("offset")?,
                len: r.u32("len")?,
            },
            t::WRITE => Self::Write {
                handle: read_handle(r)?,
                offset: r.u64("offset")?,
                data: r.string("data")?.to_vec(),
            },
            t::LSTAT => Self::Lstat { path: path(r)? },
            t::FSTAT => Self::Fstat {
                handle: read_handle(r)?,
            },
            t::SETSTAT => Self::Setstat {
                path: path(r)?,
                attrs: Attrs::decode(r)?,
            },
            t::FSETSTAT => Self::Fsetstat {
                handle: read_handle(r)?,
                attrs: Attrs::decode(r)?,
            },
            t::OPENDIR => Self::Opendir { path: path(r)? },
            t::READDIR => Self::Readdir {
                handle: read_handle(r)?,
            },
            t::REMOVE => Self::Remove { filename: path(r)? },
            t::MKDIR => Self::Mkdir {
                path: path(r)?,
                attrs: Attrs::decode(r)?,
            },
            t::RMDIR => Self::Rmdir { path: path(r)? },
            t::REALPATH => Self::Realpath { path: path(r)? },
            t::STAT => Self::Stat { path: path(r)? },
            t::RENAME => Self::Rename {
                old_path: path(r)?,
                new_path: path(r)?,
            },
            t::READLINK => Self::Readlink { path: path(r)? },
            t::SYMLINK => Self::Symlink {
                target: path(r)?,
                link_path: path(r)?,
            },
            t::EXTENDED => Self::Extended(ExtendedRequest::decode(r)?),
            _ => return Ok(None),
        };
        Ok(Some(req))
    }
}

/// One entry of SSH_FXP_NAME: "`filename`, `longname`, `attrs`".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NameEntry {
    /// The file name (for READDIR, relative to the directory).
    pub filename: Vec<u8>,
    /// An `ls -l` line; see [`crate::attrs::longname`].
    pub longname: Vec<u8>,
    /// Its attributes.
    pub attrs: Attrs,
}

impl NameEntry {
    /// The bytes this entry adds to a NAME packet.
    pub fn encoded_len(&self) -> usize {
        let mut v = Vec::new();
        self.attrs.encode(&mut v);
        8 + self.filename.len() + self.longname.len() + v.len()
    }
}

/// A reply from the server (packet types 101 to 105, and 201).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// SSH_FXP_STATUS.
    Status {
        /// The code.
        code: StatusCode,
        /// A human-readable message.
        message: String,
        /// Its language tag (RFC 1766).
        language: String,
    },
    /// SSH_FXP_HANDLE.
    Handle(Handle),
    /// SSH_FXP_DATA.
    Data(Vec<u8>),
    /// SSH_FXP_NAME.
    Name(Vec<NameEntry>),
    /// SSH_FXP_ATTRS.
    Attrs(Attrs),
    /// SSH_FXP_EXTENDED_REPLY: its layout depends on the request it
    /// answers, so it stays bytes here ([`crate::extensions::StatVfs`],
    /// [`crate::extensions::Limits`] and
    /// [`crate::extensions::UsersGroups`] read it).
    ExtendedReply(Vec<u8>),
}

impl Response {
    /// A STATUS with OpenSSH's message for the code.
    pub fn status(code: StatusCode) -> Self {
        Self::Status {
            code,
            message: code.message().to_owned(),
            language: String::new(),
        }
    }

    /// The packet type.
    pub const fn packet_type(&self) -> u8 {
        match self {
            Self::Status { .. } => t::STATUS,
            Self::Handle(_) => t::HANDLE,
            Self::Data(_) => t::DATA,
            Self::Name(_) => t::NAME,
            Self::Attrs(_) => t::ATTRS,
            Self::ExtendedReply(_) => t::EXTENDED_REPLY,
        }
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        match self {
            Self::Status {
                code,
                message,
                language,
            } => {
                put_u32(out, code.0);
                put_string(out, message.as_bytes());
                put_string(out, language.as_bytes());
            }
            Self::Handle(h) => put_string(out, &h.0),
            Self::Data(d) => put_string(out, d),
            Self::Name(entries) => {
                put_u32(out, u32::try_from(entries.len()).unwrap_or(u32::MAX));
                for e in entries {
                    put_string(out, &e.filename);
                    put_string(out, &e.longname);
                    e.attrs.encode(out);
                }
            }
            Self::Attrs(a) => a.encode(out),
            Self::ExtendedReply(d) => out.extend_from_slice(d),
        }
    }

    fn decode_body(ty: u8, r: &mut Reader<'_>) -> Result<Option<Self>, DecodeError> {
        let resp = match ty {
            t::STATUS => {
                let code = StatusCode(r.u32("status code")?);
                // Version 3 adds the message and language tag; a server of
                // an older version omits them (OpenSSH reads them only if
                // present).
                let (message, language) = if r.is_empty() {
                    (String::new(), String::new())
                } else {
                    let m = String::from_utf8_lossy(r.string("status message")?).into_owned();
                    let l = String::from_utf8_lossy(r.string("language tag")?).into_owned();
                    (m, l)
                };
                Self::Status {
                    code,
                    message,
                    language,
                }
            }
            t::HANDLE => Self::Handle(read_handle(r)?),
            t::DATA => Self::Data(r.string("data")?.to_vec()),
            t::NAME => {
                // The smallest entry: two empty strings and empty attrs.
                let count = bounded_count(r, 12, "name count")?;
                let mut entries = Vec::with_capacity(count);
                for _ in 0..count {
                    entries.push(NameEntry {
                        filename: r.string("filename")?.to_vec(),
                        longname: r.string("longname")?.to_vec(),
                        attrs: Attrs::decode(r)?,
                    });
                }
                Self::Name(entries)
            }
            t::ATTRS => Self::Attrs(Attrs::decode(r)?),
            t::EXTENDED_REPLY => Self::ExtendedReply(r.take_rest().to_vec()),
            _ => return Ok(None),
        };
        Ok(Some(resp))
    }
}

/// One SFTP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// SSH_FXP_INIT: the client's version and extensions (draft-02 §4).
    Init {
        /// The client's version.
        version: u32,
        /// Extension pairs (none from OpenSSH's client).
        extensions: Vec<ExtensionPair>,
    },
    /// SSH_FXP_VERSION: the version in use and the server's extensions.
    Version {
        /// The version the server will speak.
        version: u32,
        /// Extension pairs.
        extensions: Vec<ExtensionPair>,
    },
    /// A request with its id.
    Request {
        /// The request id, echoed by the reply.
        id: u32,
        /// The request.
        request: Request,
    },
    /// A reply with the id of its request.
    Response {
        /// The id of the request answered.
        id: u32,
        /// The reply.
        response: Response,
    },
    /// A packet of a type this crate does not know; for a request, the
    /// server answers OP_UNSUPPORTED with its id.
    Unknown {
        /// The type byte.
        packet_type: u8,
        /// The request id, when the packet had four bytes for it.
        id: Option<u32>,
    },
}

/// Why a packet could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge {
    /// The packet's length.
    pub len: usize,
}

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "an SFTP packet of {} bytes is above the limit of {MAX_PACKET_LEN}",
            self.len
        )
    }
}

impl std::error::Error for TooLarge {}

impl Packet {
    /// The type byte.
    pub const fn packet_type(&self) -> u8 {
        match self {
            Self::Init { .. } => t::INIT,
            Self::Version { .. } => t::VERSION,
            Self::Request { request, .. } => request.packet_type(),
            Self::Response { response, .. } => response.packet_type(),
            Self::Unknown { packet_type, .. } => *packet_type,
        }
    }

    /// Appends the framed packet (length prefix included) to `out`. A packet
    /// above [`MAX_PACKET_LEN`] is refused and nothing is appended.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), TooLarge> {
        let start = out.len();
        put_u32(out, 0);
        match self {
            Self::Init {
                version,
                extensions,
            }
            | Self::Version {
                version,
                extensions,
            } => {
                out.push(if matches!(self, Self::Init { .. }) {
                    t::INIT
                } else {
                    t::VERSION
                });
                put_u32(out, *version);
                for e in extensions {
                    put_string(out, &e.name);
                    put_string(out, &e.data);
                }
            }
            Self::Request { id, request } => {
                out.push(request.packet_type());
                put_u32(out, *id);
                request.encode_body(out);
            }
            Self::Response { id, response } => {
                out.push(response.packet_type());
                put_u32(out, *id);
                response.encode_body(out);
            }
            Self::Unknown { packet_type, id } => {
                out.push(*packet_type);
                if let Some(id) = id {
                    put_u32(out, *id);
                }
            }
        }
        let len = out.len() - start - 4;
        if len > MAX_PACKET_LEN {
            out.truncate(start);
            return Err(TooLarge { len });
        }
        let prefix = u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes();
        if let Some(slot) = out.get_mut(start..start + 4) {
            slot.copy_from_slice(&prefix);
        }
        Ok(())
    }

    /// Appends `SSH_FXP_WRITE` with request `id` to `out`, the bytes
    /// [`Packet::encode`] gives for [`Request::Write`], from borrowed
    /// data: an upload's bytes go from the caller's buffer into the packet
    /// with one copy.
    pub fn encode_write(
        out: &mut Vec<u8>,
        id: u32,
        handle: &Handle,
        offset: u64,
        data: &[u8],
    ) -> Result<(), TooLarge> {
        // type, id, string handle, offset, string data.
        let len = 1 + 4 + 4 + handle.0.len() + 8 + 4 + data.len();
        if len > MAX_PACKET_LEN {
            return Err(TooLarge { len });
        }
        out.reserve(4 + len);
        put_u32(out, u32::try_from(len).unwrap_or(u32::MAX));
        out.push(t::WRITE);
        put_u32(out, id);
        put_string(out, &handle.0);
        put_u64(out, offset);
        put_string(out, data);
        Ok(())
    }

    /// Reads one packet from its body (the bytes after the length prefix):
    /// the type byte and what follows, with no trailing bytes.
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        if body.len() > MAX_PACKET_LEN {
            return Err(DecodeError::TooLong {
                what: "sftp packet",
                len: body.len(),
                max: MAX_PACKET_LEN,
            });
        }
        let mut r = Reader::new(body);
        let ty = r.u8("packet type")?;
        let packet = match ty {
            t::INIT | t::VERSION => {
                let version = r.u32("version")?;
                let extensions = read_extension_pairs(&mut r)?;
                if ty == t::INIT {
                    Self::Init {
                        version,
                        extensions,
                    }
                } else {
                    Self::Version {
                        version,
                        extensions,
                    }
                }
            }
            _ => {
                if r.remaining() < 4 && !is_known(ty) {
                    r.take_rest();
                    return Ok(Self::Unknown {
                        packet_type: ty,
                        id: None,
                    });
                }
                let id = r.u32("request id")?;
                if let Some(request) = Request::decode_body(ty, &mut r)? {
                    Self::Request { id, request }
                } else if let Some(response) = Response::decode_body(ty, &mut r)? {
                    Self::Response { id, response }
                } else {
                    r.take_rest();
                    Self::Unknown {
                        packet_type: ty,
                        id: Some(id),
                    }
                }
            }
        };
        r.finish("sftp packet")?;
        Ok(packet)
    }
}

/// True for a packet type this crate knows.
const fn is_known(ty: u8) -> bool {
    matches!(ty, 1..=20 | 101..=105 | 200 | 201)
}
