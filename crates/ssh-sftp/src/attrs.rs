//! File attributes, the ATTRS structure of draft-02 §5, and the `ls -l`
//! style `longname` of SSH_FXP_NAME.

use ssh_wire::codec::{put_string, put_u32, put_u64};
use ssh_wire::{DecodeError, Reader};

/// ATTRS flag bits (draft-02 §5).
#[allow(missing_docs)]
pub mod attr_flags {
    pub const SIZE: u32 = 0x0000_0001;
    pub const UIDGID: u32 = 0x0000_0002;
    pub const PERMISSIONS: u32 = 0x0000_0004;
    pub const ACMODTIME: u32 = 0x0000_0008;
    pub const EXTENDED: u32 = 0x8000_0000;
}

/// File type bits of `permissions` ("the `st_mode` field of POSIX").
#[allow(missing_docs)]
pub mod file_type {
    pub const MASK: u32 = 0o170_000;
    pub const SOCKET: u32 = 0o140_000;
    pub const SYMLINK: u32 = 0o120_000;
    pub const REGULAR: u32 = 0o100_000;
    pub const BLOCK: u32 = 0o060_000;
    pub const DIRECTORY: u32 = 0o040_000;
    pub const CHAR: u32 = 0o020_000;
    pub const FIFO: u32 = 0o010_000;
}

/// The smallest encoding of one extended attribute pair (two empty strings):
/// bounds the peer's count before anything is allocated.
const MIN_EXTENDED_PAIR: usize = 8;

/// An extended attribute: "`extended_type` ... `extended_data`" pairs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtendedAttr {
    /// Its type, `name@domain` by convention.
    pub name: Vec<u8>,
    /// Its data.
    pub data: Vec<u8>,
}

/// File attributes: each field is present only when its flag bit is.
///
/// "The `flags` specify which of the fields are present. Those fields for
/// which the corresponding flag is not set are not present (not included in
/// the packet)" (draft-02 §5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Attrs {
    /// Size in bytes.
    pub size: Option<u64>,
    /// Owner and group ids.
    pub uid_gid: Option<(u32, u32)>,
    /// POSIX mode bits, file type included.
    pub permissions: Option<u32>,
    /// Access and modification times, seconds since the Unix epoch.
    pub atime_mtime: Option<(u32, u32)>,
    /// Extended attributes.
    pub extended: Vec<ExtendedAttr>,
}

impl Attrs {
    /// Attributes with nothing set (flags 0).
    pub const fn new() -> Self {
        Self {
            size: None,
            uid_gid: None,
            permissions: None,
            atime_mtime: None,
            extended: Vec::new(),
        }
    }

    /// The flags word these attributes encode with.
    pub fn flags(&self) -> u32 {
        let mut f = 0;
        if self.size.is_some() {
            f |= attr_flags::SIZE;
        }
        if self.uid_gid.is_some() {
            f |= attr_flags::UIDGID;
        }
        if self.permissions.is_some() {
            f |= attr_flags::PERMISSIONS;
        }
        if self.atime_mtime.is_some() {
            f |= attr_flags::ACMODTIME;
        }
        if !self.extended.is_empty() {
            f |= attr_flags::EXTENDED;
        }
        f
    }

    /// The file type bits, when permissions are present.
    pub fn file_type(&self) -> Option<u32> {
        self.permissions.map(|p| p & file_type::MASK)
    }

    /// True for a directory.
    pub fn is_dir(&self) -> bool {
        self.file_type() == Some(file_type::DIRECTORY)
    }

    /// True for a regular file.
    pub fn is_regular(&self) -> bool {
        self.file_type() == Some(file_type::REGULAR)
    }

    /// True for a symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.file_type() == Some(file_type::SYMLINK)
    }

    /// Appends the ATTRS encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_u32(out, self.flags());
        if let Some(size) = self.size {
            put_u64(out, size);
        }
        if let Some((uid, gid)) = self.uid_gid {
            put_u32(out, uid);
            put_u32(out, gid);
        }
        if let Some(p) = self.permissions {
            put_u32(out, p);
        }
        if let Some((a, m)) = self.atime_mtime {
            put_u32(out, a);
            put_u32(out, m);
        }
        if !self.extended.is_empty() {
            put_u32(out, u32::try_from(self.extended.len()).unwrap_or(u32::MAX));
            for e in &self.extended {
                put_string(out, &e.name);
                put_string(out, &e.data);
            }
        }
    }

    /// Reads an ATTRS structure. Unknown flag bits are ignored, as OpenSSH's
    /// `decode_attrib` does; the extended count is bounded by the bytes left.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let flags = r.u32("attrs flags")?;
        let mut a = Self::new();
        if flags & attr_flags::SIZE != 0 {
            a.size = Some(r.u64("attrs size")?);
        }
        if flags & attr_flags::UIDGID != 0 {
            a.uid_gid = Some((r.u32("attrs uid")?, r.u32("attrs gid")?));
        }
        if flags & attr_flags::PERMISSIONS != 0 {
            a.permissions = Some(r.u32("attrs permissions")?);
        }
        if flags & attr_flags::ACMODTIME != 0 {
            a.atime_mtime = Some((r.u32("attrs atime")?, r.u32("attrs mtime")?));
        }
        if flags & attr_flags::EXTENDED != 0 {
            let count = bounded_count(r, MIN_EXTENDED_PAIR, "attrs extended count")?;
            let mut ext = Vec::with_capacity(count);
            for _ in 0..count {
                let name = r.string("extended type")?.to_vec();
                let data = r.string("extended data")?.to_vec();
                ext.push(ExtendedAttr { name, data });
            }
            a.extended = ext;
        }
        Ok(a)
    }
}

/// Reads a uint32 count of items each at least `min_item` bytes long and
/// rejects it when the bytes left cannot hold that many: a hostile count
/// never sizes an allocation.
pub(crate) fn bounded_count(
    r: &mut Reader<'_>,
    min_item: usize,
    what: &'static str,
) -> Result<usize, DecodeError> {
    let count = usize::try_from(r.u32(what)?).unwrap_or(usize::MAX);
    let max = r.remaining() / min_item.max(1);
    if count > max {
        return Err(DecodeError::TooLong {
            what,
            len: count,
            max,
        });
    }
    Ok(count)
}

/// An `ls -l` line for SSH_FXP_NAME's `longname`, in the shape OpenSSH's
/// `ls_file` gives: "The format of the `longname` field is unspecified by
/// this protocol" but "SHOULD be suitable for use in the output of a
/// directory listing command" (draft-02 §7).
pub fn longname(name: &[u8], attrs: &Attrs) -> Vec<u8> {
    let mode = attrs.permissions.unwrap_or(0);
    let (uid, gid) = attrs.uid_gid.unwrap_or((0, 0));
    let size = attrs.size.unwrap_or(0);
    let mtime = attrs.atime_mtime.map_or(0, |(_, m)| m);
    let mut line = format!(
        "{} {:>4} {:<8} {:<8} {:>8} {} ",
        mode_string(mode),
        1,
        uid,
        gid,
        size,
        date_string(mtime)
    )
    .into_bytes();
    line.extend_from_slice(name);
    line
}

/// `-rwxr-xr-x` from POSIX mode bits (as `strmode(3)`).
pub fn mode_string(mode: u32) -> String {
    let kind = match mode & file_type::MASK {
        file_type::DIRECTORY => 'd',
        file_type::SYMLINK => 'l',
        file_type::CHAR => 'c',
        file_type::BLOCK => 'b',
        file_type::FIFO => 'p',
        file_type::SOCKET => 's',
        file_type::REGULAR => '-',
        _ => '?',
    };
    let mut s = String::with_capacity(10);
    s.push(kind);
    let bit = |b: u32, c: char| if mode & b != 0 { c } else { '-' };
    let exec =
        |x: u32, special: u32, set: char, unset: char| match (mode & x != 0, mode & special != 0) {
            (true, true) => set,
            (false, true) => unset,
            (true, false) => 'x',
            (false, false) => '-',
        };
    s.push(bit(0o400, 'r'));
    s.push(bit(0o200, 'w'));
    s.push(exec(0o100, 0o4000, 's', 'S'));
    s.push(bit(0o040, 'r'));
    s.push(bit(0o020, 'w'));
    s.push(exec(0o010, 0o2000, 's', 'S'));
    s.push(bit(0o004, 'r'));
    s.push(bit(0o002, 'w'));
    s.push(exec(0o001, 0o1000, 't', 'T'));
    s
}

/// `Mon dd HH:MM` (UTC) from seconds since the epoch; the caller's time
/// zone is not known to a sans-IO crate.
fn date_string(secs: u32) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = i64::from(secs / 86_400);
    let rem = secs % 86_400;
    // Days to civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let name = usize::try_from(month - 1)
        .ok()
        .and_then(|m| MONTHS.get(m))
        .copied()
        .unwrap_or("???");
    format!("{name} {day:>2} {:02}:{:02}", rem / 3600, rem % 3600 / 60)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn round_trip(a: &Attrs) {
        let mut out = Vec::new();
        a.encode(&mut out);
        let mut r = Reader::new(&out);
        assert_eq!(&Attrs::decode(&mut r).unwrap(), a);
        r.finish("attrs").unwrap();
    }

    #[test]
    fn every_field_round_trips() {
        round_trip(&Attrs::new());
        round_trip(&Attrs {
            size: Some(u64::MAX),
            uid_gid: Some((1000, 100)),
            permissions: Some(0o100_644),
            atime_mtime: Some((1, 2)),
            extended: vec![ExtendedAttr {
                name: b"a@b".to_vec(),
                data: b"x".to_vec(),
            }],
        });
    }

    #[test]
    fn hostile_extended_count_is_refused_before_allocation() {
        let buf = [0x80, 0, 0, 0, 0xff, 0xff, 0xff, 0xff];
        let err = Attrs::decode(&mut Reader::new(&buf)).unwrap_err();
        assert!(matches!(err, DecodeError::TooLong { .. }));
    }

    #[test]
    fn longname_looks_like_ls() {
        let a = Attrs {
            size: Some(42),
            uid_gid: Some((0, 0)),
            permissions: Some(0o040_755),
            atime_mtime: Some((0, 86_400 * 31 + 3_660)),
            extended: Vec::new(),
        };
        let l = String::from_utf8(longname(b"dir", &a)).unwrap();
        assert!(l.starts_with("drwxr-xr-x"), "{l}");
        assert!(l.contains("Feb  1 01:01"), "{l}");
        assert!(l.ends_with(" dir"));
        assert_eq!(mode_string(0o104_755), "-rwsr-xr-x");
        assert_eq!(mode_string(0o041_777), "drwxrwxrwt");
    }
}
