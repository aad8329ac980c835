//! Errors of key parsing, signing and verification.

use core::fmt;

use ssh_wire::DecodeError;

/// Why a key or signature was rejected, or why an operation could not run.
///
/// Peer data never causes a panic: every malformed blob ends up here.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not a valid SSH encoding (truncated, trailing bytes,
    /// non-canonical mpint, ...).
    Decode(DecodeError),
    /// A key type or signature algorithm name this crate does not know
    /// (certificates, `ssh-dss`, security keys, ...).
    UnknownAlgorithm(String),
    /// The key blob is well-formed but its contents are not a valid key: a
    /// point off the curve, a wrong length, an even RSA modulus, ...
    InvalidKey(&'static str),
    /// An RSA modulus outside the accepted size range.
    RsaKeySize {
        /// The size of the modulus in bits.
        bits: u32,
        /// The smallest size accepted.
        min: u32,
        /// The largest size accepted.
        max: u32,
    },
    /// The signature algorithm does not fit the key type (an ECDSA P-256
    /// signature for an Ed25519 key, `rsa-sha2-256` for an ECDSA key, ...).
    AlgorithmMismatch {
        /// The algorithm that was expected (negotiated or requested).
        expected: &'static str,
        /// What was found instead (a key type or the name inside a
        /// signature blob).
        found: String,
    },
    /// The algorithm is known but not allowed by the verification policy
    /// (`ssh-rsa`, SHA-1, unless enabled).
    AlgorithmDisabled(&'static str),
    /// The signature blob is well-formed but does not verify.
    BadSignature,
    /// The signature blob is malformed (wrong length, zero `r` or `s`, ...).
    InvalidSignature(&'static str),
    /// Text that is not an OpenSSH public key line.
    InvalidText(&'static str),
    /// Signing failed (the key cannot produce this algorithm, the backend
    /// refused, the RNG failed, ...).
    Signing(&'static str),
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        Self::Decode(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Decode(e) => write!(f, "malformed key or signature: {e}"),
            Self::UnknownAlgorithm(name) => {
                write!(f, "unknown key or signature algorithm {name:?}")
            }
            Self::InvalidKey(why) => write!(f, "invalid key: {why}"),
            Self::RsaKeySize { bits, min, max } => {
                write!(f, "RSA key of {bits} bits, outside {min}..={max}")
            }
            Self::AlgorithmMismatch { expected, found } => {
                write!(f, "expected algorithm {expected}, found {found:?}")
            }
            Self::AlgorithmDisabled(name) => write!(f, "algorithm {name} is disabled"),
            Self::BadSignature => f.write_str("signature does not verify"),
            Self::InvalidSignature(why) => write!(f, "invalid signature: {why}"),
            Self::InvalidText(why) => write!(f, "invalid public key line: {why}"),
            Self::Signing(why) => write!(f, "signing failed: {why}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Decode(e) => Some(e),
            _ => None,
        }
    }
}
