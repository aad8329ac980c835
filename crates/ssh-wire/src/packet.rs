//! The binary packet layout of RFC 4253 §6, before any cipher is applied.
//!
//! ```text
//! uint32    packet_length
//! byte      padding_length
//! byte[n1]  payload; n1 = packet_length - padding_length - 1
//! byte[n2]  random padding; n2 = padding_length
//! byte[m]   mac (Message Authentication Code - MAC); m = mac_length
//! ```
//!
//! This module computes and checks the layout; sealing and opening with a
//! cipher and MAC belong to the transport. Every length read from the peer
//! is checked here before anything is allocated for it.

use core::ops::Range;

use crate::error::DecodeError;

/// Bytes before the payload: `packet_length` and `padding_length`.
pub const HEADER_LEN: usize = 5;
/// "There MUST be at least four bytes of padding" (RFC 4253 §6).
pub const MIN_PADDING: usize = 4;
/// `padding_length` is a byte.
pub const MAX_PADDING: usize = 255;
/// The smallest block alignment: "the length of the concatenation ... MUST
/// be a multiple of the cipher block size or 8, whichever is larger".
pub const MIN_BLOCK: usize = 8;
/// "The minimum size of a packet is 16 (or the cipher block size, whichever
/// is larger) bytes (plus 'mac')".
pub const MIN_PACKET_SIZE: usize = 16;
/// "All implementations MUST be able to process packets with an
/// uncompressed payload length of 32768 bytes or less and a total packet
/// size of 35000 bytes or less" (RFC 4253 §6.1).
pub const MIN_SUPPORTED_PACKET_LEN: usize = 35_000;
/// The largest `packet_length` accepted from a peer (256 KiB, as OpenSSH's
/// `PACKET_MAX_SIZE`).
pub const MAX_PACKET_LEN: usize = 256 * 1024;
/// The largest payload this implementation sends in one packet.
pub const MAX_PAYLOAD_LEN: usize = 32_768 + 1024;

/// How padding aligns: over the whole packet, or over everything but the
/// length field (encrypt-then-MAC and AEAD modes leave the length outside
/// the encrypted part, and OpenSSH aligns only what is encrypted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alignment {
    /// `packet_length || padding_length || payload || padding` is a multiple
    /// of the block size (RFC 4253 §6).
    WholePacket,
    /// `padding_length || payload || padding` is a multiple of the block
    /// size (OpenSSH's EtM MACs, AES-GCM, chacha20-poly1305).
    ExcludingLength,
}

/// The padding length for a payload of `payload_len` bytes: at least
/// [`MIN_PADDING`], aligning to `block` (taken as at least [`MIN_BLOCK`]),
/// and making the packet at least [`MIN_PACKET_SIZE`] bytes. `extra` asks
/// for that many more blocks of padding (to hide payload lengths), as far
/// as the byte allows.
pub fn padding_len(payload_len: usize, block: usize, align: Alignment, extra: usize) -> usize {
    let block = block.max(MIN_BLOCK);
    let aligned = match align {
        Alignment::WholePacket => HEADER_LEN + payload_len,
        Alignment::ExcludingLength => 1 + payload_len,
    };
    let mut pad = block - (aligned % block);
    if pad < MIN_PADDING {
        pad += block;
    }
    while HEADER_LEN + payload_len + pad < MIN_PACKET_SIZE {
        pad += block;
    }
    let mut extra = extra;
    while extra > 0 && pad + block <= MAX_PADDING {
        pad += block;
        extra -= 1;
    }
    pad
}

/// Checks a `packet_length` read from the peer, before anything is
/// allocated for the packet: not above `max` (itself clamped to
/// [[`MIN_SUPPORTED_PACKET_LEN`], [`MAX_PACKET_LEN`]]), room for the
/// padding length byte and the minimum padding, and the block alignment.
pub fn check_packet_length(
    packet_length: u32,
    block: usize,
    align: Alignment,
    max: usize,
) -> Result<usize, DecodeError> {
    let max = max.clamp(MIN_SUPPORTED_PACKET_LEN, MAX_PACKET_LEN);
    let len = usize::try_from(packet_length).unwrap_or(usize::MAX);
    if len > max {
        return Err(DecodeError::TooLong {
            what: "packet_length",
            len,
            max,
        });
    }
    if len < 1 + MIN_PADDING || len + 4 < MIN_PACKET_SIZE {
        return Err(DecodeError::invalid("packet_length", "too short"));
    }
    let block = block.max(MIN_BLOCK);
    let aligned = match align {
        Alignment::WholePacket => len + 4,
        Alignment::ExcludingLength => len,
    };
    if aligned % block != 0 {
        return Err(DecodeError::invalid(
            "packet_length",
            "not a multiple of the cipher block size",
        ));
    }
    Ok(len)
}

/// Given the decrypted `padding_length || payload || padding` (the bytes
/// `packet_length` counts), the range of the payload within it.
pub fn payload_range(body: &[u8]) -> Result<Range<usize>, DecodeError> {
    let (&pad, rest) = body
        .split_first()
        .ok_or(DecodeError::UnexpectedEnd { what: "packet" })?;
    let pad = usize::from(pad);
    if pad < MIN_PADDING {
        return Err(DecodeError::invalid("padding_length", "less than 4"));
    }
    if pad > rest.len() {
        return Err(DecodeError::invalid(
            "padding_length",
            "longer than the packet",
        ));
    }
    Ok(1..1 + rest.len() - pad)
}

/// Writes a whole unencrypted packet for `payload` into `out`, with
/// `padding` bytes from the caller (the transport supplies random ones; see
/// [`padding_len`] for how many). Used before the first NEWKEYS.
pub fn write_plain(out: &mut Vec<u8>, payload: &[u8], padding: &[u8]) {
    let packet_length = 1 + payload.len() + padding.len();
    crate::codec::put_u32(out, u32::try_from(packet_length).unwrap_or(u32::MAX));
    out.push(u8::try_from(padding.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(payload);
    out.extend_from_slice(padding);
}

/// The outcome of looking for one unencrypted packet at the start of a
/// buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum PlainPacket {
    /// More bytes are needed; at least this many in total.
    Incomplete(usize),
    /// A whole packet: its payload's range within the buffer and how many
    /// bytes it occupies.
    Complete {
        /// Where the payload is.
        payload: Range<usize>,
        /// The packet's size on the wire.
        len: usize,
    },
}

/// Reads one unencrypted packet (block size 8, no MAC) from the start of
/// `buf`, as before the first NEWKEYS.
pub fn read_plain(buf: &[u8], max: usize) -> Result<PlainPacket, DecodeError> {
    let Some(len_bytes) = buf.first_chunk::<4>() else {
        return Ok(PlainPacket::Incomplete(4));
    };
    let len = check_packet_length(
        u32::from_be_bytes(*len_bytes),
        MIN_BLOCK,
        Alignment::WholePacket,
        max,
    )?;
    let Some(body) = buf.get(4..4 + len) else {
        return Ok(PlainPacket::Incomplete(4 + len));
    };
    let range = payload_range(body)?;
    Ok(PlainPacket::Complete {
        payload: range.start + 4..range.end + 4,
        len: 4 + len,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn padding_aligns_and_is_at_least_four() {
        for block in [8, 16] {
            for align in [Alignment::WholePacket, Alignment::ExcludingLength] {
                for len in 0..200 {
                    let pad = padding_len(len, block, align, 0);
                    assert!((MIN_PADDING..=MAX_PADDING).contains(&pad));
                    // Minimal: one block less would break a rule.
                    assert!(pad < MIN_PADDING + block || 5 + len + pad - block < MIN_PACKET_SIZE);
                    let aligned = match align {
                        Alignment::WholePacket => 5 + len + pad,
                        Alignment::ExcludingLength => 1 + len + pad,
                    };
                    assert_eq!(aligned % block, 0, "len {len} block {block}");
                    assert!(5 + len + pad >= MIN_PACKET_SIZE);
                }
            }
        }
    }

    #[test]
    fn extra_padding_stays_within_a_byte() {
        let pad = padding_len(10, 16, Alignment::WholePacket, 100);
        assert!(pad <= MAX_PADDING);
        assert_eq!((5 + 10 + pad) % 16, 0);
        assert!(pad > 200);
    }

    #[test]
    fn packet_length_limits() {
        let ok = |n: u32| check_packet_length(n, 8, Alignment::WholePacket, MAX_PACKET_LEN);
        assert_eq!(ok(12).unwrap(), 12);
        assert!(ok(4).is_err(), "too short for the padding");
        assert!(ok(13).is_err(), "not aligned");
        assert!(ok(35_000 - 4).is_ok());
        assert!(ok(MAX_PACKET_LEN as u32 + 4).is_err());
        assert!(ok(u32::MAX).is_err());
        // A caller's lower limit never goes below what RFC 4253 requires.
        assert!(check_packet_length(34_996, 8, Alignment::WholePacket, 1000).is_ok());
        assert!(check_packet_length(16, 16, Alignment::ExcludingLength, 0).is_ok());
        assert!(check_packet_length(20, 16, Alignment::ExcludingLength, 0).is_err());
    }

    #[test]
    fn plain_round_trip_and_incomplete_input() {
        let payload = b"\x15";
        let pad = padding_len(payload.len(), 8, Alignment::WholePacket, 0);
        let mut wire = Vec::new();
        write_plain(&mut wire, payload, &vec![0xaa; pad]);
        assert_eq!(wire.len() % 8, 0);
        for cut in 0..wire.len() {
            assert!(matches!(
                read_plain(&wire[..cut], MAX_PACKET_LEN).unwrap(),
                PlainPacket::Incomplete(_)
            ));
        }
        let PlainPacket::Complete { payload: r, len } = read_plain(&wire, MAX_PACKET_LEN).unwrap()
        else {
            panic!("complete packet expected");
        };
        assert_eq!(&wire[r], payload);
        assert_eq!(len, wire.len());
    }

    #[test]
    fn bad_padding_is_rejected() {
        assert!(payload_range(&[3, 0, 0, 0]).is_err(), "padding below 4");
        assert!(payload_range(&[9, 0, 0, 0, 0]).is_err(), "padding past end");
        assert!(payload_range(&[]).is_err());
        assert_eq!(payload_range(&[4, 7, 0, 0, 0, 0]).unwrap(), 1..2);
    }
}
