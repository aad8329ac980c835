//! Numbers of the protocol: packet types, status codes, open and attribute
//! flags, the version and the limits (draft-ietf-secsh-filexfer-02 §3, §5,
//! §6.3, §7; OpenSSH `sftp.h`).

use core::fmt;

/// The protocol version this crate speaks: "This document describes
/// version 3 of the protocol" (draft-02 §4).
pub const SFTP_VERSION: u32 = 3;

/// The largest packet (the value of the uint32 length prefix) accepted or
/// sent: OpenSSH's `SFTP_MAX_MSG_LENGTH`, 256 KiB.
pub const MAX_PACKET_LEN: usize = 256 * 1024;

/// The largest READ the server answers whole and the largest WRITE it
/// announces: OpenSSH's `SFTP_MAX_READ_LENGTH`, the packet limit less 1 KiB
/// of headers.
pub const MAX_DATA_LEN: usize = MAX_PACKET_LEN - 1024;

/// "The handle strings MUST NOT be longer than 256 bytes" (draft-02 §6.2).
pub const MAX_HANDLE_LEN: usize = 256;

/// Packet type numbers (draft-02 §3, OpenSSH `sftp.h`).
#[allow(missing_docs)]
pub mod packet_type {
    pub const INIT: u8 = 1;
    pub const VERSION: u8 = 2;
    pub const OPEN: u8 = 3;
    pub const CLOSE: u8 = 4;
    pub const READ: u8 = 5;
    pub const WRITE: u8 = 6;
    pub const LSTAT: u8 = 7;
    pub const FSTAT: u8 = 8;
    pub const SETSTAT: u8 = 9;
    pub const FSETSTAT: u8 = 10;
    pub const OPENDIR: u8 = 11;
    pub const READDIR: u8 = 12;
    pub const REMOVE: u8 = 13;
    pub const MKDIR: u8 = 14;
    pub const RMDIR: u8 = 15;
    pub const REALPATH: u8 = 16;
    pub const STAT: u8 = 17;
    pub const RENAME: u8 = 18;
    pub const READLINK: u8 = 19;
    pub const SYMLINK: u8 = 20;
    pub const STATUS: u8 = 101;
    pub const HANDLE: u8 = 102;
    pub const DATA: u8 = 103;
    pub const NAME: u8 = 104;
    pub const ATTRS: u8 = 105;
    pub const EXTENDED: u8 = 200;
    pub const EXTENDED_REPLY: u8 = 201;
}

/// An SSH_FXP_STATUS code: an open newtype, so codes of later versions or
/// vendors stay representable (draft-02 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusCode(pub u32);

impl StatusCode {
    /// Success.
    pub const OK: Self = Self(0);
    /// End of file, or no more directory entries.
    pub const EOF: Self = Self(1);
    /// A reference to a file that does not exist.
    pub const NO_SUCH_FILE: Self = Self(2);
    /// The user lacks permission.
    pub const PERMISSION_DENIED: Self = Self(3);
    /// Any other error.
    pub const FAILURE: Self = Self(4);
    /// A badly formatted packet or protocol incompatibility.
    pub const BAD_MESSAGE: Self = Self(5);
    /// Client only: there is no connection to the server.
    pub const NO_CONNECTION: Self = Self(6);
    /// Client only: the connection was lost.
    pub const CONNECTION_LOST: Self = Self(7);
    /// The server does not support the operation.
    pub const OP_UNSUPPORTED: Self = Self(8);

    /// The English message OpenSSH sends with the code.
    pub const fn message(self) -> &'static str {
        match self.0 {
            0 => "Success",
            1 => "End of file",
            2 => "No such file",
            3 => "Permission denied",
            4 => "Failure",
            5 => "Bad message",
            6 => "No connection",
            7 => "Connection lost",
            8 => "Operation unsupported",
            _ => "Unknown error",
        }
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message(), self.0)
    }
}

/// The `pflags` of SSH_FXP_OPEN (draft-02 §6.3): a bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct OpenFlags(pub u32);

impl OpenFlags {
    /// Open for reading.
    pub const READ: Self = Self(0x01);
    /// Open for writing.
    pub const WRITE: Self = Self(0x02);
    /// "Force all writes to append data at the end of the file."
    pub const APPEND: Self = Self(0x04);
    /// Create the file if it does not exist.
    pub const CREAT: Self = Self(0x08);
    /// Truncate an existing file (requires CREAT).
    pub const TRUNC: Self = Self(0x10);
    /// Fail if the file exists (requires CREAT).
    pub const EXCL: Self = Self(0x20);

    /// True when every bit of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// True when the open may change the file system: a read-only server
    /// refuses these (OpenSSH: not O_RDONLY, or O_CREAT/O_TRUNC).
    pub const fn writes(self) -> bool {
        self.0 & (Self::WRITE.0 | Self::APPEND.0 | Self::CREAT.0 | Self::TRUNC.0) != 0
    }
}

impl core::ops::BitOr for OpenFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}
