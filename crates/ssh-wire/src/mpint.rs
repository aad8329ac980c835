//! `mpint` (RFC 4251 §5): a multiple-precision integer in two's complement,
//! big-endian, with no unnecessary leading bytes.

use core::fmt;

use crate::codec::{Decode, Encode, Reader, put_u32};
use crate::error::DecodeError;

/// The largest mpint accepted from a peer, in bytes: enough for 16384-bit
/// values (the largest RSA keys and DH groups in use are 8192 bits).
pub const MAX_MPINT_LEN: usize = 2049;

/// An mpint, kept in its canonical encoding (the bytes after the length).
///
/// Decoding rejects non-canonical forms: "Unnecessary leading bytes with the
/// value 0 or 255 MUST NOT be included" (RFC 4251 §5).
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Mpint(Vec<u8>);

impl Mpint {
    /// Zero (encoded as an empty string).
    pub const fn zero() -> Self {
        Self(Vec::new())
    }

    /// The non-negative integer whose big-endian magnitude is `bytes`
    /// (leading zeros allowed).
    pub fn from_positive_be(bytes: &[u8]) -> Self {
        let mut out = Vec::with_capacity(positive_len(bytes));
        encode_positive_body(bytes, &mut out);
        Self(out)
    }

    /// The canonical two's-complement bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// True for a negative value.
    pub fn is_negative(&self) -> bool {
        self.0.first().is_some_and(|b| b & 0x80 != 0)
    }

    /// The big-endian magnitude without leading zeros, if the value is not
    /// negative. Zero gives an empty slice.
    pub fn positive_be(&self) -> Option<&[u8]> {
        if self.is_negative() {
            return None;
        }
        Some(match self.0.split_first() {
            Some((0, rest)) => rest,
            _ => &self.0,
        })
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

fn positive_len(bytes: &[u8]) -> usize {
    let mag = strip_leading_zeros(bytes);
    mag.len() + usize::from(mag.first().is_some_and(|b| b & 0x80 != 0))
}

fn encode_positive_body(bytes: &[u8], out: &mut Vec<u8>) {
    let mag = strip_leading_zeros(bytes);
    if mag.first().is_some_and(|b| b & 0x80 != 0) {
        out.push(0);
    }
    out.extend_from_slice(mag);
}

/// The encoded length (with the uint32 length) of the non-negative integer
/// with big-endian magnitude `bytes`.
pub fn positive_mpint_len(bytes: &[u8]) -> usize {
    4 + positive_len(bytes)
}

/// Appends the non-negative integer with big-endian magnitude `bytes` as an
/// mpint, without an intermediate allocation. This is how shared secrets go
/// into exchange hashes and key derivation (RFC 4253 §7.2, §8).
pub fn put_positive_mpint(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u32(out, u32::try_from(positive_len(bytes)).unwrap_or(u32::MAX));
    encode_positive_body(bytes, out);
}

impl fmt::Debug for Mpint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Mpint(")?;
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

impl Encode for Mpint {
    fn encoded_len(&self) -> usize {
        4 + self.0.len()
    }
    fn encode(&self, out: &mut Vec<u8>) {
        crate::codec::put_string(out, &self.0);
    }
}

impl Decode<'_> for Mpint {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let body = r.string_max(MAX_MPINT_LEN, "mpint")?;
        if let [first, second, ..] = body {
            let redundant =
                (*first == 0 && second & 0x80 == 0) || (*first == 0xff && second & 0x80 != 0);
            if redundant {
                return Err(DecodeError::invalid("mpint", "unnecessary leading byte"));
            }
        } else if body == [0] {
            return Err(DecodeError::invalid(
                "mpint",
                "zero must be encoded as an empty string",
            ));
        }
        Ok(Self(body.to_vec()))
    }
}

#[cfg(feature = "arbitrary")]
impl proptest::arbitrary::Arbitrary for Mpint {
    type Parameters = ();
    type Strategy = proptest::strategy::BoxedStrategy<Self>;

    fn arbitrary_with((): ()) -> Self::Strategy {
        use proptest::prelude::*;
        proptest::collection::vec(any::<u8>(), 0..80)
            .prop_map(|v| Self::from_positive_be(&v))
            .boxed()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        ::hex::decode(s.replace(' ', "")).unwrap()
    }

    #[test]
    fn rfc4251_examples() {
        // RFC 4251 §5, the mpint examples: value, then the encoding.
        let positive = [
            ("", "00000000"),
            ("09a378f9b2e332a7", "0000000809a378f9b2e332a7"),
            ("80", "000000020080"),
        ];
        for (value, wire) in positive {
            let m = Mpint::from_positive_be(&hex(value));
            assert_eq!(m.to_bytes(), hex(wire), "{value}");
            assert_eq!(Mpint::decode_exact(&hex(wire)).unwrap(), m);
            let mut direct = Vec::new();
            put_positive_mpint(&mut direct, &hex(value));
            assert_eq!(direct, hex(wire));
            assert_eq!(positive_mpint_len(&hex(value)), direct.len());
        }
        // -1234 is ed cc; -deadbeef is ff 21 52 41 11.
        let neg = Mpint::decode_exact(&hex("00000002edcc")).unwrap();
        assert!(neg.is_negative());
        assert_eq!(neg.positive_be(), None);
        let neg = Mpint::decode_exact(&hex("00000005ff21524111")).unwrap();
        assert_eq!(neg.as_bytes(), hex("ff21524111"));
    }

    #[test]
    fn leading_zeros_of_input_are_stripped() {
        let m = Mpint::from_positive_be(&hex("000080"));
        assert_eq!(m.as_bytes(), hex("0080"));
        assert_eq!(m.positive_be().unwrap(), hex("80"));
        assert_eq!(Mpint::from_positive_be(&[0, 0]), Mpint::zero());
    }

    #[test]
    fn non_canonical_forms_are_rejected() {
        for bad in [
            "0000000100",
            "000000020001",
            "00000002ff80",
            "00000003007fff",
        ] {
            assert!(Mpint::decode_exact(&hex(bad)).is_err(), "{bad}");
        }
        // A leading 0xff before a byte without the top bit is needed.
        assert!(Mpint::decode_exact(&hex("00000002ff7f")).is_ok());
    }

    #[test]
    fn size_is_bounded() {
        let mut wire = Vec::new();
        put_u32(&mut wire, (MAX_MPINT_LEN + 1) as u32);
        wire.push(1);
        wire.resize(4 + MAX_MPINT_LEN + 1, 0);
        assert!(matches!(
            Mpint::decode_exact(&wire),
            Err(DecodeError::TooLong { .. })
        ));
    }
}
