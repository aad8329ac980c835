//! Why a certificate was refused.

use core::fmt;

/// Why a certificate was rejected. The messages of the checks are
/// OpenSSH's reasons (`Certificate invalid: expired`, ...), which its
/// client prints and its server logs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertError {
    /// The blob is not a valid certificate encoding.
    Malformed(String),
    /// The certificate key type is not one this crate knows.
    UnsupportedType(String),
    /// The CA signature does not verify.
    BadSignature(crate::Error),
    /// The CA is not trusted.
    UntrustedCa,
    /// The CA key, or the certified key, is revoked.
    Revoked,
    /// A host certificate used as a user one or the other way round.
    WrongType(super::CertType),
    /// The certificate lists no principal: since OpenSSH 10.3 such a
    /// certificate matches nobody.
    NoPrincipals,
    /// The principal is not listed.
    PrincipalNotListed,
    /// Not yet valid.
    NotYetValid,
    /// Expired.
    Expired,
    /// A critical option this implementation does not understand (for a
    /// host certificate: any critical option).
    UnknownCriticalOption(String),
    /// The CA signed with an algorithm outside `CASignatureAlgorithms`.
    DisallowedSignatureAlgorithm(String),
    /// The client's address is outside the certificate's `source-address`
    /// critical option (or the option cannot be read).
    SourceAddressNotAllowed,
}

pub(super) fn malformed(e: impl fmt::Display) -> CertError {
    CertError::Malformed(e.to_string())
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(why) => write!(f, "malformed certificate: {why}"),
            Self::UnsupportedType(t) => write!(f, "unsupported certificate type {t:?}"),
            Self::BadSignature(e) => write!(f, "certificate signature invalid: {e}"),
            Self::UntrustedCa => f.write_str("certificate signed by an untrusted CA"),
            Self::Revoked => f.write_str("certificate or its CA is revoked"),
            Self::WrongType(super::CertType::Host) => {
                f.write_str("Certificate invalid: not a host certificate")
            }
            Self::WrongType(super::CertType::User) => {
                f.write_str("Certificate invalid: not a user certificate")
            }
            Self::NoPrincipals => f.write_str("Certificate lacks principal list"),
            Self::SourceAddressNotAllowed => {
                f.write_str("Certificate invalid: not from a permitted source address")
            }
            Self::PrincipalNotListed => {
                f.write_str("Certificate invalid: name is not a listed principal")
            }
            Self::NotYetValid => f.write_str("Certificate invalid: not yet valid"),
            Self::Expired => f.write_str("Certificate invalid: expired"),
            Self::UnknownCriticalOption(_) => {
                f.write_str("Certificate contains unsupported critical options")
            }
            Self::DisallowedSignatureAlgorithm(_) => {
                f.write_str("Certificate signed with disallowed algorithm")
            }
        }
    }
}

impl std::error::Error for CertError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::BadSignature(e) => Some(e),
            _ => None,
        }
    }
}
