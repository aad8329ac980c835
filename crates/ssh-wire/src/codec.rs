//! RFC 4251 §5 data types: a borrowed [`Reader`] and the [`Encode`] /
//! [`Decode`] traits.
//!
//! The reader never allocates: every variable-length field is a sub-slice of
//! the input, so a length announced by the peer can never be larger than the
//! bytes it actually sent (and those are bounded by the packet length limit).

use crate::error::DecodeError;

/// A cursor over borrowed input. Each `read_*` consumes a field or fails
/// without consuming anything useful; [`Reader::finish`] rejects trailing
/// bytes.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub const fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    /// The bytes not read yet.
    pub const fn rest(&self) -> &'a [u8] {
        self.buf
    }

    /// How many bytes are left.
    pub const fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// True when every byte was read.
    pub const fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Fails unless every byte was read.
    pub fn finish(&self, what: &'static str) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes {
                what,
                count: self.buf.len(),
            })
        }
    }

    /// Takes every remaining byte.
    pub fn take_rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.buf)
    }

    /// Takes exactly `n` bytes.
    pub fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if n > self.buf.len() {
            return Err(DecodeError::UnexpectedEnd { what });
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// Takes a fixed-size array.
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let bytes = self.bytes(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// `byte`: an arbitrary 8-bit value.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    /// `boolean`: "All non-zero values MUST be interpreted as TRUE"
    /// (RFC 4251 §5).
    pub fn bool(&mut self, what: &'static str) -> Result<bool, DecodeError> {
        Ok(self.u8(what)? != 0)
    }

    /// `uint32`, network byte order.
    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    /// `uint64`, network byte order.
    pub fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    /// `string` as raw bytes: a uint32 length and that many bytes. The length
    /// is checked against the bytes actually present before anything is
    /// touched.
    pub fn string(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let len = self.u32(what)?;
        let len = usize::try_from(len).map_err(|_| DecodeError::UnexpectedEnd { what })?;
        self.bytes(len, what)
    }

    /// `string` with at most `max` bytes.
    pub fn string_max(&mut self, max: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let s = self.string(what)?;
        if s.len() > max {
            return Err(DecodeError::TooLong {
                what,
                len: s.len(),
                max,
            });
        }
        Ok(s)
    }

    /// `string` holding ISO-10646 UTF-8 text (RFC 4251 §5).
    pub fn utf8(&mut self, what: &'static str) -> Result<&'a str, DecodeError> {
        core::str::from_utf8(self.string(what)?)
            .map_err(|_| DecodeError::invalid(what, "not valid UTF-8"))
    }

    /// `string` holding US-ASCII text (names, for example).
    pub fn ascii(&mut self, what: &'static str) -> Result<&'a str, DecodeError> {
        let s = self.string(what)?;
        if !s.is_ascii() {
            return Err(DecodeError::invalid(what, "not US-ASCII"));
        }
        core::str::from_utf8(s).map_err(|_| DecodeError::invalid(what, "not US-ASCII"))
    }

    /// A `string` whose contents are read by a nested reader, which must
    /// consume all of them.
    pub fn nested<T>(
        &mut self,
        what: &'static str,
        f: impl FnOnce(&mut Reader<'a>) -> Result<T, DecodeError>,
    ) -> Result<T, DecodeError> {
        let mut inner = Reader::new(self.string(what)?);
        let value = f(&mut inner)?;
        inner.finish(what)?;
        Ok(value)
    }

    /// Decodes a value of type `T`.
    pub fn read<T: Decode<'a>>(&mut self) -> Result<T, DecodeError> {
        T::decode(self)
    }
}

/// A value with an SSH encoding.
pub trait Encode {
    /// The exact number of bytes [`Encode::encode`] appends.
    fn encoded_len(&self) -> usize;

    /// Appends the encoding to `out`.
    fn encode(&self, out: &mut Vec<u8>);

    /// The encoding in a new vector of exactly the right size.
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out);
        out
    }
}

/// A value that can be read from SSH-encoded bytes.
pub trait Decode<'a>: Sized {
    /// Reads one value, leaving the reader after it.
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError>;

    /// Reads one value that must fill `buf` exactly.
    fn decode_exact(buf: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        let value = Self::decode(&mut r)?;
        r.finish(core::any::type_name::<Self>())?;
        Ok(value)
    }
}

/// Appends a `uint32`.
pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a `uint64`.
pub fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a `boolean` (1 for true, 0 for false).
pub fn put_bool(out: &mut Vec<u8>, v: bool) {
    out.push(u8::from(v));
}

/// Appends a `string`.
///
/// The length of anything this crate encodes fits a `uint32`: every buffer
/// ends up in a packet of at most [`crate::packet::MAX_PACKET_LEN`] bytes.
/// A longer slice is a bug of the caller; its length is saturated, which the
/// peer rejects, rather than silently truncated.
pub fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    put_u32(out, u32::try_from(s.len()).unwrap_or(u32::MAX));
    out.extend_from_slice(s);
}

/// The encoded length of a `string` of `len` bytes.
pub const fn string_len(len: usize) -> usize {
    4 + len
}

impl Encode for u8 {
    fn encoded_len(&self) -> usize {
        1
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(*self);
    }
}

impl Decode<'_> for u8 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.u8("byte")
    }
}

impl Encode for bool {
    fn encoded_len(&self) -> usize {
        1
    }
    fn encode(&self, out: &mut Vec<u8>) {
        put_bool(out, *self);
    }
}

impl Decode<'_> for bool {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.bool("boolean")
    }
}

impl Encode for u32 {
    fn encoded_len(&self) -> usize {
        4
    }
    fn encode(&self, out: &mut Vec<u8>) {
        put_u32(out, *self);
    }
}

impl Decode<'_> for u32 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.u32("uint32")
    }
}

impl Encode for u64 {
    fn encoded_len(&self) -> usize {
        8
    }
    fn encode(&self, out: &mut Vec<u8>) {
        put_u64(out, *self);
    }
}

impl Decode<'_> for u64 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.u64("uint64")
    }
}

impl Encode for [u8] {
    fn encoded_len(&self) -> usize {
        string_len(self.len())
    }
    fn encode(&self, out: &mut Vec<u8>) {
        put_string(out, self);
    }
}

impl Encode for Vec<u8> {
    fn encoded_len(&self) -> usize {
        string_len(self.len())
    }
    fn encode(&self, out: &mut Vec<u8>) {
        put_string(out, self);
    }
}

impl Decode<'_> for Vec<u8> {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(r.string("string")?.to_vec())
    }
}

impl<'a> Decode<'a> for &'a [u8] {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        r.string("string")
    }
}

impl Encode for str {
    fn encoded_len(&self) -> usize {
        string_len(self.len())
    }
    fn encode(&self, out: &mut Vec<u8>) {
        put_string(out, self.as_bytes());
    }
}

impl Encode for String {
    fn encoded_len(&self) -> usize {
        string_len(self.len())
    }
    fn encode(&self, out: &mut Vec<u8>) {
        put_string(out, self.as_bytes());
    }
}

impl Decode<'_> for String {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(r.utf8("string")?.to_owned())
    }
}

impl<'a> Decode<'a> for &'a str {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        r.utf8("string")
    }
}

impl<T: Encode + ?Sized> Encode for &T {
    fn encoded_len(&self) -> usize {
        (**self).encoded_len()
    }
    fn encode(&self, out: &mut Vec<u8>) {
        (**self).encode(out);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn rfc4251_string_testing() {
        // RFC 4251 §5: "the US-ASCII string "testing" is represented as
        // 00 00 00 07 t e s t i n g".
        let enc = "testing".to_bytes();
        assert_eq!(enc, b"\x00\x00\x00\x07testing");
        assert_eq!(<&str>::decode_exact(&enc).unwrap(), "testing");
    }

    #[test]
    fn uint32_and_uint64_are_big_endian() {
        assert_eq!(0x2941_1234u32.to_bytes(), [0x29, 0x41, 0x12, 0x34]);
        assert_eq!(
            0x0102_0304_0506_0708u64.to_bytes(),
            [1, 2, 3, 4, 5, 6, 7, 8]
        );
        assert_eq!(u32::decode_exact(&[0, 0, 1, 0]).unwrap(), 256);
    }

    #[test]
    fn boolean_nonzero_is_true() {
        assert!(bool::decode_exact(&[2]).unwrap());
        assert!(!bool::decode_exact(&[0]).unwrap());
        assert_eq!(true.to_bytes(), [1]);
    }

    #[test]
    fn string_length_beyond_input_is_an_error() {
        let err = <&[u8]>::decode_exact(&[0xff, 0xff, 0xff, 0xff, 1, 2]).unwrap_err();
        assert!(matches!(err, DecodeError::UnexpectedEnd { .. }));
        assert!(<&[u8]>::decode_exact(&[0, 0, 0]).is_err());
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let err = u32::decode_exact(&[0, 0, 0, 1, 9]).unwrap_err();
        assert!(matches!(err, DecodeError::TrailingBytes { count: 1, .. }));
    }

    #[test]
    fn nested_must_consume_its_string() {
        let buf = b"\x00\x00\x00\x05\x00\x00\x00\x01x";
        let mut r = Reader::new(buf);
        let err = r.nested("inner", |r| r.u32("n")).unwrap_err();
        assert!(matches!(err, DecodeError::TrailingBytes { .. }));
    }

    #[test]
    fn utf8_is_checked() {
        assert!(<&str>::decode_exact(b"\x00\x00\x00\x01\xff").is_err());
    }
}
