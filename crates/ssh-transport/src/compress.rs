//! Payload compression (RFC 4253 §6.2): `zlib`, and `zlib@openssh.com`, the
//! same algorithm switched on only after user authentication succeeds.
//!
//! One compression context per direction lasts the whole session (it
//! survives re-keys); each packet's payload is compressed with a partial
//! flush so the peer can decompress it without waiting for more. The
//! decompressed size of one packet is capped, so a small packet can never
//! inflate into unbounded memory.

use core::fmt;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// A compression method negotiated in KEXINIT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CompressAlg {
    /// No compression.
    None,
    /// `zlib`: compression from the first packet after NEWKEYS.
    Zlib,
    /// `zlib@openssh.com`: compression once user authentication succeeded
    /// (after USERAUTH_SUCCESS is sent / received), or at the first NEWKEYS
    /// after that.
    ZlibOpenssh,
}

impl CompressAlg {
    /// Wire name of [`CompressAlg::None`].
    pub const NONE: &'static str = "none";
    /// Wire name of [`CompressAlg::Zlib`].
    pub const ZLIB: &'static str = "zlib";
    /// Wire name of [`CompressAlg::ZlibOpenssh`].
    pub const ZLIB_OPENSSH: &'static str = "zlib@openssh.com";

    /// Every variant.
    pub const ALL: &'static [CompressAlg] = &[
        CompressAlg::None,
        CompressAlg::ZlibOpenssh,
        CompressAlg::Zlib,
    ];

    /// The name as spelled on the wire.
    pub const fn name(self) -> &'static str {
        match self {
            CompressAlg::None => Self::NONE,
            CompressAlg::Zlib => Self::ZLIB,
            CompressAlg::ZlibOpenssh => Self::ZLIB_OPENSSH,
        }
    }

    /// The method with this wire name, if supported.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|alg| alg.name() == name)
    }

    /// Whether the method compresses at all.
    pub const fn compresses(self) -> bool {
        !matches!(self, CompressAlg::None)
    }

    /// Whether compression waits for user authentication
    /// (`zlib@openssh.com`).
    pub const fn is_delayed(self) -> bool {
        matches!(self, CompressAlg::ZlibOpenssh)
    }
}

/// The largest payload one packet may decompress to by default: 256 KiB,
/// the packet size limit.
pub const MAX_DECOMPRESSED_LEN: usize = 256 * 1024;

/// The zlib level OpenSSH compresses with.
const LEVEL: u32 = 6;

/// Why compression or decompression failed; the session cannot go on.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CompressError {
    /// The payload would decompress to more than the allowed size.
    TooLarge,
    /// The compressed data is not a valid continuation of the zlib stream.
    Corrupt,
    /// The compressor failed (an internal zlib error).
    Compress,
}

impl fmt::Display for CompressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompressError::TooLarge => f.write_str("decompressed payload exceeds the limit"),
            CompressError::Corrupt => f.write_str("corrupt compressed payload"),
            CompressError::Compress => f.write_str("compression failed"),
        }
    }
}

impl std::error::Error for CompressError {}

/// One direction's compression context for the whole session.
pub struct Compressor {
    z: Compress,
}

impl fmt::Debug for Compressor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compressor")
            .field("total_in", &self.z.total_in())
            .field("total_out", &self.z.total_out())
            .finish()
    }
}

impl Default for Compressor {
    fn default() -> Self {
        Self::new()
    }
}

impl Compressor {
    /// A fresh zlib stream (with zlib header), level 6 as OpenSSH.
    pub fn new() -> Self {
        Compressor {
            z: Compress::new(Compression::new(LEVEL), true),
        }
    }

    /// Compresses one packet's payload and appends it to `out`, flushed so
    /// that the peer can decompress all of it now (`Z_PARTIAL_FLUSH`).
    ///
    /// # Errors
    /// [`CompressError::Compress`] if zlib reports an error.
    pub fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), CompressError> {
        let mut rest = input;
        loop {
            // Partial flush adds a few bytes; incompressible data grows by
            // about 0.1%. Keep enough room so most packets take one call.
            let want = rest.len() + rest.len() / 512 + 64;
            if out.capacity() - out.len() < want {
                out.reserve(want);
            }
            let before_in = self.z.total_in();
            let before_out = out.len();
            let status = self
                .z
                .compress_vec(rest, out, FlushCompress::Partial)
                .map_err(|_| CompressError::Compress)?;
            let used = usize::try_from(self.z.total_in() - before_in)
                .map_err(|_| CompressError::Compress)?;
            rest = rest.get(used..).ok_or(CompressError::Compress)?;
            // With input consumed and output room left over, the flush is
            // complete (zlib's contract for Z_PARTIAL_FLUSH).
            if rest.is_empty() && out.len() < out.capacity() {
                return Ok(());
            }
            if status == Status::BufError && used == 0 && out.len() == before_out {
                return Err(CompressError::Compress);
            }
        }
    }
}

/// One direction's decompression context for the whole session.
pub struct Decompressor {
    z: Decompress,
}

impl fmt::Debug for Decompressor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decompressor")
            .field("total_in", &self.z.total_in())
            .field("total_out", &self.z.total_out())
            .finish()
    }
}

impl Default for Decompressor {
    fn default() -> Self {
        Self::new()
    }
}

impl Decompressor {
    /// A fresh zlib stream (with zlib header).
    pub fn new() -> Self {
        Decompressor {
            z: Decompress::new(true),
        }
    }

    /// Decompresses one packet's payload and appends it to `out`, failing
    /// as soon as it would exceed `max` bytes (`out` then holds at most
    /// `max + 1` new bytes more than before; the caller discards them).
    ///
    /// # Errors
    /// [`CompressError::TooLarge`] past `max`, [`CompressError::Corrupt`] on
    /// invalid data or the end of the zlib stream (a session's stream never
    /// ends). Either is fatal for the session.
    pub fn decompress(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        max: usize,
    ) -> Result<(), CompressError> {
        let start = out.len();
        let mut rest = input;
        loop {
            let produced = out.len() - start;
            if produced > max {
                return Err(CompressError::TooLarge);
            }
            // Never offer room past max + 1 bytes: one more than allowed is
            // how an oversized payload is detected.
            let allowed = max - produced + 1;
            let chunk = allowed.min(rest.len().saturating_mul(4).max(16 * 1024));
            let len = out.len();
            out.resize(len + chunk, 0);
            let window = out.get_mut(len..).unwrap_or_default();
            let before_in = self.z.total_in();
            let before_out = self.z.total_out();
            let status = self.z.decompress(rest, window, FlushDecompress::Sync);
            let used = usize::try_from(self.z.total_in() - before_in);
            let made = usize::try_from(self.z.total_out() - before_out);
            let (Ok(status), Ok(used), Ok(made)) = (status, used, made) else {
                out.truncate(len);
                return Err(CompressError::Corrupt);
            };
            out.truncate(len + made);
            rest = rest.get(used..).ok_or(CompressError::Corrupt)?;
            match status {
                Status::StreamEnd => return Err(CompressError::Corrupt),
                Status::Ok | Status::BufError => {}
            }
            if out.len() - start > max {
                return Err(CompressError::TooLarge);
            }
            if rest.is_empty() && made < chunk {
                // All input consumed and the output not full: nothing pending.
                return Ok(());
            }
            if used == 0 && made == 0 {
                // No progress with input and room available.
                return Err(CompressError::Corrupt);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn pseudo_random(n: usize, seed: u32) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    }

    #[test]
    fn names() {
        for alg in CompressAlg::ALL {
            assert_eq!(CompressAlg::from_name(alg.name()), Some(*alg));
        }
        assert!(CompressAlg::ZlibOpenssh.is_delayed());
        assert!(!CompressAlg::Zlib.is_delayed());
        assert!(!CompressAlg::None.compresses());
        assert_eq!(CompressAlg::from_name("zlib-ng"), None);
    }

    #[test]
    fn round_trip_many_packets_one_context() {
        let mut c = Compressor::new();
        let mut d = Decompressor::new();
        let mut wire = Vec::new();
        let mut plain = Vec::new();
        let text = b"the quick brown fox jumps over the lazy dog; ".repeat(40);
        let random = pseudo_random(70_000, 7);
        let payloads: Vec<&[u8]> = vec![
            b"",
            b"a",
            &text,
            &random[..32768],
            &text[..100],
            &random,
            &text,
            &random[..2000],
            &random[..2000],
        ];
        let mut sizes = Vec::new();
        for p in &payloads {
            wire.clear();
            c.compress(p, &mut wire).unwrap();
            sizes.push(wire.len());
            plain.clear();
            plain.extend_from_slice(b"prefix");
            d.decompress(&wire, &mut plain, MAX_DECOMPRESSED_LEN)
                .unwrap();
            assert_eq!(&plain[..6], b"prefix");
            assert_eq!(&plain[6..], *p);
        }
        // Repetitive text compresses; random data does not.
        assert!(sizes[2] < text.len() / 10, "{sizes:?}");
        assert!(sizes[7] > 2000, "{sizes:?}");
        // The shared context makes a repeat of the previous packet cheap.
        assert!(sizes[8] < 100, "{sizes:?}");
    }

    #[test]
    fn cap_stops_a_zip_bomb() {
        let mut c = Compressor::new();
        let mut d = Decompressor::new();
        let mut wire = Vec::new();
        let zeros = vec![0u8; 8 * 1024 * 1024];
        c.compress(&zeros, &mut wire).unwrap();
        assert!(wire.len() < 16 * 1024, "{}", wire.len());
        let mut out = Vec::new();
        assert_eq!(
            d.decompress(&wire, &mut out, MAX_DECOMPRESSED_LEN),
            Err(CompressError::TooLarge)
        );
        assert!(out.len() <= MAX_DECOMPRESSED_LEN + 1);
    }

    #[test]
    fn exact_limit_is_accepted() {
        let mut c = Compressor::new();
        let mut d = Decompressor::new();
        let mut wire = Vec::new();
        let data = vec![b'x'; 1000];
        c.compress(&data, &mut wire).unwrap();
        let mut out = Vec::new();
        d.decompress(&wire, &mut out, 1000).unwrap();
        assert_eq!(out, data);

        let mut c = Compressor::new();
        let mut d = Decompressor::new();
        wire.clear();
        c.compress(&data, &mut wire).unwrap();
        out.clear();
        assert_eq!(
            d.decompress(&wire, &mut out, 999),
            Err(CompressError::TooLarge)
        );
    }

    #[test]
    fn corrupt_input_is_an_error() {
        let mut d = Decompressor::new();
        let mut out = Vec::new();
        assert_eq!(
            d.decompress(b"\x00\x01\x02\x03garbage", &mut out, 1024),
            Err(CompressError::Corrupt)
        );
    }

    #[test]
    fn finished_stream_is_rejected() {
        // A complete zlib stream (Z_FINISH) of "hi": a session's stream must
        // never end.
        let mut z = Compress::new(Compression::new(6), true);
        let mut wire = Vec::with_capacity(64);
        z.compress_vec(b"hi", &mut wire, FlushCompress::Finish)
            .unwrap();
        let mut d = Decompressor::new();
        let mut out = Vec::new();
        assert_eq!(
            d.decompress(&wire, &mut out, 1024),
            Err(CompressError::Corrupt)
        );
    }
}
