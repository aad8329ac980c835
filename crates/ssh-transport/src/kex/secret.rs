//! The shared secret `K` and its two encodings.

use core::fmt;

use ssh_wire::codec::put_string;
use ssh_wire::mpint::put_positive_mpint;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// How `K` enters the exchange hash and key derivation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretEncoding {
    /// As an `mpint` of the big-endian bytes (RFC 4253 §8, RFC 5656 §4,
    /// RFC 8731 §3.1).
    Mpint,
    /// As a `string` (the hybrid methods: `K` is a hash output).
    String,
}

/// The shared secret `K` of a key exchange. Zeroized on drop; `Debug`
/// does not show it; equality is constant-time.
pub struct SharedSecret {
    encoding: SecretEncoding,
    bytes: Zeroizing<Vec<u8>>,
}

impl SharedSecret {
    pub(crate) fn new(encoding: SecretEncoding, bytes: &[u8]) -> Self {
        Self {
            encoding,
            bytes: Zeroizing::new(bytes.to_vec()),
        }
    }

    /// A second copy (for a request that leaves the transport), zeroized
    /// on drop as well.
    pub(crate) fn duplicate(&self) -> Self {
        Self::new(self.encoding, &self.bytes)
    }

    /// How this secret is encoded.
    pub fn encoding(&self) -> SecretEncoding {
        self.encoding
    }

    /// The raw secret: the big-endian integer for mpint secrets, the hash
    /// output for string secrets.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Appends `K` in its encoding (`mpint` or `string`), as it goes into
    /// the exchange hash and key derivation. The caller zeroizes `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self.encoding {
            SecretEncoding::Mpint => put_positive_mpint(out, &self.bytes),
            SecretEncoding::String => put_string(out, &self.bytes),
        }
    }

    /// `K` in its encoding, in a buffer zeroized on drop.
    pub fn encoded(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(self.bytes.len() + 5));
        self.encode(&mut out);
        out
    }
}

impl PartialEq for SharedSecret {
    fn eq(&self, other: &Self) -> bool {
        self.encoding == other.encoding && bool::from(self.bytes.ct_eq(&other.bytes))
    }
}

impl Eq for SharedSecret {}

impl fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SharedSecret({:?}, {} bytes)",
            self.encoding,
            self.bytes.len()
        )
    }
}
