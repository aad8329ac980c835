//! Key exchange errors.

use core::fmt;

/// Why a key exchange step failed.
///
/// `InvalidPublicValue`, `GroupOutOfRange`, `InvalidGroup` and `HostKey`
/// are the peer's fault (disconnect with `KEY_EXCHANGE_FAILED`); `Misuse`
/// is a bug of the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KexError {
    /// The peer's public value is malformed or unsafe: wrong length, DH
    /// value outside `1 < f < p-1`, point not on the curve, X25519 result
    /// all zero, ...
    InvalidPublicValue(&'static str),
    /// A group exchange group whose modulus size is outside what was
    /// requested.
    GroupOutOfRange {
        /// The modulus size in bits.
        bits: u32,
        /// The requested minimum.
        min: u32,
        /// The requested maximum.
        max: u32,
    },
    /// A DH group that cannot be used (even modulus, bad generator, ...).
    InvalidGroup(&'static str),
    /// A malformed KEX_DH_GEX_REQUEST (`min <= n <= max` violated, sizes
    /// out of bounds).
    InvalidRequest(&'static str),
    /// A line of a moduli file that cannot be parsed.
    InvalidModuli {
        /// The 1-based line number.
        line: usize,
        /// What is wrong.
        why: &'static str,
    },
    /// The host key or its signature over the exchange hash was rejected.
    HostKey(ssh_keys::Error),
    /// The API was used in a way that cannot work (the wrong call for the
    /// method).
    Misuse(&'static str),
}

impl From<ssh_keys::Error> for KexError {
    fn from(e: ssh_keys::Error) -> Self {
        Self::HostKey(e)
    }
}

impl fmt::Display for KexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidPublicValue(why) => write!(f, "invalid key exchange value: {why}"),
            Self::GroupOutOfRange { bits, min, max } => {
                write!(
                    f,
                    "DH group of {bits} bits outside the requested {min}..={max}"
                )
            }
            Self::InvalidGroup(why) => write!(f, "invalid DH group: {why}"),
            Self::InvalidRequest(why) => write!(f, "invalid group exchange request: {why}"),
            Self::InvalidModuli { line, why } => write!(f, "moduli line {line}: {why}"),
            Self::HostKey(e) => write!(f, "host key: {e}"),
            Self::Misuse(why) => write!(f, "key exchange API misuse: {why}"),
        }
    }
}

impl std::error::Error for KexError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::HostKey(e) => Some(e),
            _ => None,
        }
    }
}
