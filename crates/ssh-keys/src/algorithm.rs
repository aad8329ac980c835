//! Key types and signature algorithms, by their wire names.
//!
//! A *key type* names the format of a public key blob (`ssh-rsa`); a
//! *signature algorithm* names how a signature was made (`rsa-sha2-256`).
//! They coincide except for RSA, where one key type has three signature
//! algorithms (RFC 8332). The host-key algorithms negotiated in KEXINIT are
//! signature algorithms.

use crate::Error;

/// The curves of ECDSA keys (RFC 5656 §10.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EcdsaCurve {
    /// NIST P-256, hashed with SHA-256.
    NistP256,
    /// NIST P-384, hashed with SHA-384.
    NistP384,
    /// NIST P-521, hashed with SHA-512.
    NistP521,
}

impl EcdsaCurve {
    /// The curve identifier inside key blobs (`nistp256`).
    pub const fn identifier(self) -> &'static str {
        match self {
            Self::NistP256 => "nistp256",
            Self::NistP384 => "nistp384",
            Self::NistP521 => "nistp521",
        }
    }

    /// The size of a field element (and of `r` and `s`) in bytes.
    pub const fn field_len(self) -> usize {
        match self {
            Self::NistP256 => 32,
            Self::NistP384 => 48,
            Self::NistP521 => 66,
        }
    }

    /// The length of an uncompressed SEC1 point: `04 || x || y`.
    pub const fn point_len(self) -> usize {
        1 + 2 * self.field_len()
    }
}

/// The type of a public key, named as in its blob (RFC 4253 §6.6).
///
/// OpenSSH certificates (`*-cert-v01@openssh.com`) are not key types here
/// but [`crate::Certificate`]s wrapping a key of one of these types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyType {
    /// `ssh-ed25519` (RFC 8709).
    Ed25519,
    /// `ecdsa-sha2-nistp256/384/521` (RFC 5656).
    Ecdsa(EcdsaCurve),
    /// `ssh-rsa` (RFC 4253, RFC 8332).
    Rsa,
}

impl KeyType {
    /// Every key type this crate implements.
    pub const ALL: [Self; 5] = [
        Self::Ed25519,
        Self::Ecdsa(EcdsaCurve::NistP256),
        Self::Ecdsa(EcdsaCurve::NistP384),
        Self::Ecdsa(EcdsaCurve::NistP521),
        Self::Rsa,
    ];

    /// The wire name (`ssh-ed25519`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Ed25519 => "ssh-ed25519",
            Self::Ecdsa(EcdsaCurve::NistP256) => "ecdsa-sha2-nistp256",
            Self::Ecdsa(EcdsaCurve::NistP384) => "ecdsa-sha2-nistp384",
            Self::Ecdsa(EcdsaCurve::NistP521) => "ecdsa-sha2-nistp521",
            Self::Rsa => "ssh-rsa",
        }
    }

    /// The key type with wire name `name`.
    pub fn from_name(name: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|t| t.name() == name)
            .ok_or_else(|| Error::UnknownAlgorithm(name.to_owned()))
    }

    /// The signature algorithms a key of this type can make, preferred
    /// first (`ssh-rsa` last: SHA-1).
    pub const fn signature_algorithms(self) -> &'static [SignatureAlgorithm] {
        match self {
            Self::Ed25519 => &[SignatureAlgorithm::Ed25519],
            Self::Ecdsa(EcdsaCurve::NistP256) => &[SignatureAlgorithm::Ecdsa(EcdsaCurve::NistP256)],
            Self::Ecdsa(EcdsaCurve::NistP384) => &[SignatureAlgorithm::Ecdsa(EcdsaCurve::NistP384)],
            Self::Ecdsa(EcdsaCurve::NistP521) => &[SignatureAlgorithm::Ecdsa(EcdsaCurve::NistP521)],
            Self::Rsa => &[
                SignatureAlgorithm::RsaSha512,
                SignatureAlgorithm::RsaSha256,
                SignatureAlgorithm::RsaSha1,
            ],
        }
    }
}

/// A signature algorithm (and host-key algorithm of KEXINIT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureAlgorithm {
    /// `ssh-ed25519` (RFC 8709 §6).
    Ed25519,
    /// `ecdsa-sha2-*` (RFC 5656 §3.1.2): the curve's hash, `r` and `s` as
    /// mpints.
    Ecdsa(EcdsaCurve),
    /// `rsa-sha2-256` (RFC 8332).
    RsaSha256,
    /// `rsa-sha2-512` (RFC 8332).
    RsaSha512,
    /// `ssh-rsa`: RSA with SHA-1 (RFC 4253 §6.6). Verified only when the
    /// policy allows it; never offered by default.
    RsaSha1,
}

impl SignatureAlgorithm {
    /// Every signature algorithm this crate implements, in OpenSSH's default
    /// order of preference (`ssh-rsa` last).
    pub const ALL: [Self; 7] = [
        Self::Ed25519,
        Self::Ecdsa(EcdsaCurve::NistP256),
        Self::Ecdsa(EcdsaCurve::NistP384),
        Self::Ecdsa(EcdsaCurve::NistP521),
        Self::RsaSha512,
        Self::RsaSha256,
        Self::RsaSha1,
    ];

    /// The wire name (`rsa-sha2-256`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Ed25519 => "ssh-ed25519",
            Self::Ecdsa(curve) => KeyType::Ecdsa(curve).name(),
            Self::RsaSha256 => "rsa-sha2-256",
            Self::RsaSha512 => "rsa-sha2-512",
            Self::RsaSha1 => "ssh-rsa",
        }
    }

    /// The algorithm with wire name `name`.
    pub fn from_name(name: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|a| a.name() == name)
            .ok_or_else(|| Error::UnknownAlgorithm(name.to_owned()))
    }

    /// The key type that makes signatures of this algorithm.
    pub const fn key_type(self) -> KeyType {
        match self {
            Self::Ed25519 => KeyType::Ed25519,
            Self::Ecdsa(curve) => KeyType::Ecdsa(curve),
            Self::RsaSha256 | Self::RsaSha512 | Self::RsaSha1 => KeyType::Rsa,
        }
    }

    /// True for algorithms built on SHA-1 (`ssh-rsa`).
    pub const fn uses_sha1(self) -> bool {
        matches!(self, Self::RsaSha1)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in KeyType::ALL {
            assert_eq!(KeyType::from_name(t.name()).unwrap(), t);
            for a in t.signature_algorithms() {
                assert_eq!(a.key_type(), t);
            }
        }
        for a in SignatureAlgorithm::ALL {
            assert_eq!(SignatureAlgorithm::from_name(a.name()).unwrap(), a);
        }
        assert_eq!(
            SignatureAlgorithm::from_name("rsa-sha2-512")
                .unwrap()
                .key_type(),
            KeyType::Rsa
        );
    }

    #[test]
    fn unknown_names_are_errors() {
        for name in ["ssh-dss", "ssh-ed25519-cert-v01@openssh.com", "", "SSH-RSA"] {
            assert!(matches!(
                KeyType::from_name(name),
                Err(Error::UnknownAlgorithm(_))
            ));
        }
        assert!(SignatureAlgorithm::from_name("rsa-sha2-384").is_err());
    }
}
