//! Decoding errors.

use core::fmt;

/// Why a sequence of bytes is not a valid SSH encoding of what was expected.
///
/// Every decoder of this crate returns this type; none of them panics on any
/// input.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before the value did.
    UnexpectedEnd {
        /// What was being read.
        what: &'static str,
    },
    /// Bytes were left after the last field of a message (RFC 4251 has no
    /// trailing data in any message; extra bytes mean a confused peer).
    TrailingBytes {
        /// What was being read.
        what: &'static str,
        /// How many bytes were left.
        count: usize,
    },
    /// A length or count is above the limit this crate accepts for it.
    TooLong {
        /// What was being read.
        what: &'static str,
        /// The length the peer announced.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A value is not valid for its field.
    Invalid {
        /// What was being read.
        what: &'static str,
        /// Why it is not valid.
        why: &'static str,
    },
    /// A message number was not the one expected.
    UnexpectedMessage {
        /// The number that was read.
        got: u8,
        /// What was expected.
        expected: &'static str,
    },
}

impl DecodeError {
    /// Shorthand for [`DecodeError::Invalid`].
    pub const fn invalid(what: &'static str, why: &'static str) -> Self {
        Self::Invalid { what, why }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedEnd { what } => write!(f, "input ended inside {what}"),
            Self::TrailingBytes { what, count } => {
                write!(f, "{count} trailing byte(s) after {what}")
            }
            Self::TooLong { what, len, max } => {
                write!(f, "{what} is {len} long, above the limit of {max}")
            }
            Self::Invalid { what, why } => write!(f, "invalid {what}: {why}"),
            Self::UnexpectedMessage { got, expected } => {
                write!(f, "message number {got} where {expected} was expected")
            }
        }
    }
}

impl std::error::Error for DecodeError {}
