//! Signature blobs and their verification (RFC 4253 §6.6, RFC 5656 §3.1.2,
//! RFC 8332 §3, RFC 8709 §6).
//!
//! A signature blob is `string algorithm-name || string signature`, where
//! the inner signature is 64 bytes for Ed25519, `mpint r || mpint s` for
//! ECDSA and the PKCS#1 v1.5 signature (as long as the modulus) for RSA.

use ssh_wire::Reader;
use ssh_wire::codec::put_string;

use crate::public::Inner;
use crate::rsa::{RSA_MIN_BITS, RSA_MIN_BITS_NEW};
use crate::{Error, PublicKey, SignatureAlgorithm};

/// What [`verify_with_policy`] accepts beyond a valid signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyPolicy {
    /// Accept `ssh-rsa` (RSA with SHA-1). Off by default: SHA-1 signatures
    /// are forgeable with chosen-prefix collisions.
    pub allow_ssh_rsa: bool,
    /// The smallest RSA modulus accepted, in bits (at least
    /// [`crate::RSA_MIN_BITS`], which parsing already enforces).
    pub min_rsa_bits: u32,
}

impl VerifyPolicy {
    /// The default: no SHA-1, RSA keys of at least 2048 bits.
    pub const DEFAULT: Self = Self {
        allow_ssh_rsa: false,
        min_rsa_bits: RSA_MIN_BITS_NEW,
    };

    /// For old peers: `ssh-rsa` allowed, RSA keys down to 1024 bits.
    pub const LEGACY: Self = Self {
        allow_ssh_rsa: true,
        min_rsa_bits: RSA_MIN_BITS,
    };
}

impl Default for VerifyPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Splits a signature blob into its algorithm name and inner signature.
/// Trailing bytes are an error.
pub fn parse_signature_blob(blob: &[u8]) -> Result<(&str, &[u8]), Error> {
    let mut r = Reader::new(blob);
    let name = r.ascii("signature algorithm")?;
    let sig = r.string("signature")?;
    r.finish("signature blob")?;
    Ok((name, sig))
}

/// Builds a signature blob from an algorithm and an inner signature.
pub fn encode_signature_blob(alg: SignatureAlgorithm, inner: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + alg.name().len() + inner.len());
    put_string(&mut out, alg.name().as_bytes());
    put_string(&mut out, inner);
    out
}

/// Verifies `signature_blob` over `data` with `key`, for the negotiated or
/// requested algorithm `alg`, under the default [`VerifyPolicy`].
///
/// Fails unless `alg` fits the key type, the name inside the blob is
/// exactly `alg`'s, the policy allows it, and the signature is valid.
pub fn verify(
    key: &PublicKey,
    alg: SignatureAlgorithm,
    data: &[u8],
    signature_blob: &[u8],
) -> Result<(), Error> {
    verify_with_policy(key, alg, data, signature_blob, &VerifyPolicy::DEFAULT)
}

/// [`verify`] under an explicit policy.
pub fn verify_with_policy(
    key: &PublicKey,
    alg: SignatureAlgorithm,
    data: &[u8],
    signature_blob: &[u8],
    policy: &VerifyPolicy,
) -> Result<(), Error> {
    if alg.key_type() != key.key_type() {
        return Err(Error::AlgorithmMismatch {
            expected: alg.name(),
            found: key.key_type().name().to_owned(),
        });
    }
    if alg.uses_sha1() && !policy.allow_ssh_rsa {
        return Err(Error::AlgorithmDisabled(alg.name()));
    }
    let (name, inner) = parse_signature_blob(signature_blob)?;
    // RFC 8332 §3: the name in the signature must be the one in use; a
    // server answering "rsa-sha2-256" with an "ssh-rsa" signature fails.
    if name != alg.name() {
        return Err(Error::AlgorithmMismatch {
            expected: alg.name(),
            found: name.to_owned(),
        });
    }
    match &key.inner {
        Inner::Ed25519(k) => {
            let bytes: &[u8; 64] = inner
                .try_into()
                .map_err(|_| Error::InvalidSignature("Ed25519 signature must be 64 bytes"))?;
            let sig = ed25519_dalek::Signature::from_bytes(bytes);
            k.verify_strict(data, &sig).map_err(|_| Error::BadSignature)
        }
        Inner::Ecdsa(k) => k.verify(data, inner),
        Inner::Rsa(k) => {
            if k.bits() < policy.min_rsa_bits {
                return Err(Error::RsaKeySize {
                    bits: k.bits(),
                    min: policy.min_rsa_bits,
                    max: crate::RSA_MAX_BITS,
                });
            }
            k.verify(alg, data, inner)
        }
    }
}
