//! ECDSA over the NIST curves (RFC 5656 §3.1): points, signatures as
//! `mpint r || mpint s`, and the curve's hash (SHA-256/384/512).

use ecdsa::signature::hazmat::{PrehashVerifier, RandomizedPrehashSigner};
use elliptic_curve::Generate;
use rand_core::CryptoRng;
use sha2::{Digest, Sha256, Sha384, Sha512};
use ssh_wire::mpint::put_positive_mpint;
use ssh_wire::{Mpint, Reader};

use crate::{EcdsaCurve, Error};

/// Runs `$body` with `$k` bound to the curve-specific value of `$e`, for an
/// enum with the variants `P256`, `P384` and `P521`.
macro_rules! per_curve {
    ($e:expr, $ty:ident, $k:ident => $body:expr) => {
        match $e {
            $ty::P256($k) => $body,
            $ty::P384($k) => $body,
            $ty::P521($k) => $body,
        }
    };
}

/// A validated ECDSA public key.
#[derive(Clone, Debug)]
pub(crate) enum EcdsaPublic {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    P521(p521::ecdsa::VerifyingKey),
}

impl EcdsaPublic {
    /// Parses the `Q` field of a key blob: an uncompressed SEC1 point of the
    /// exact length for `curve`, which must lie on the curve and not be the
    /// identity.
    pub(crate) fn from_point(curve: EcdsaCurve, point: &[u8]) -> Result<Self, Error> {
        if point.len() != curve.point_len() {
            return Err(Error::InvalidKey("EC point has the wrong length"));
        }
        if point.first() != Some(&0x04) {
            return Err(Error::InvalidKey("EC point is not in uncompressed form"));
        }
        let bad = |_| Error::InvalidKey("EC point is not on the curve");
        Ok(match curve {
            EcdsaCurve::NistP256 => {
                Self::P256(p256::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(bad)?)
            }
            EcdsaCurve::NistP384 => {
                Self::P384(p384::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(bad)?)
            }
            EcdsaCurve::NistP521 => {
                Self::P521(p521::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(bad)?)
            }
        })
    }

    pub(crate) fn curve(&self) -> EcdsaCurve {
        match self {
            Self::P256(_) => EcdsaCurve::NistP256,
            Self::P384(_) => EcdsaCurve::NistP384,
            Self::P521(_) => EcdsaCurve::NistP521,
        }
    }

    /// The uncompressed SEC1 point.
    pub(crate) fn point(&self) -> Vec<u8> {
        per_curve!(self, Self, k => k.to_sec1_point(false).as_bytes().to_vec())
    }

    /// Verifies the inner signature blob `mpint r || mpint s` over `data`.
    pub(crate) fn verify(&self, data: &[u8], inner: &[u8]) -> Result<(), Error> {
        let rs = parse_rs(self.curve(), inner)?;
        let bad_sig = |_| Error::InvalidSignature("r or s out of range");
        match self {
            Self::P256(k) => {
                let sig = p256::ecdsa::Signature::from_slice(&rs).map_err(bad_sig)?;
                k.verify_prehash(&Sha256::digest(data), &sig)
            }
            Self::P384(k) => {
                let sig = p384::ecdsa::Signature::from_slice(&rs).map_err(bad_sig)?;
                k.verify_prehash(&Sha384::digest(data), &sig)
            }
            Self::P521(k) => {
                let sig = p521::ecdsa::Signature::from_slice(&rs).map_err(bad_sig)?;
                k.verify_prehash(&Sha512::digest(data), &sig)
            }
        }
        .map_err(|_| Error::BadSignature)
    }
}

/// Reads `mpint r || mpint s` into the fixed-width `r || s` form.
fn parse_rs(curve: EcdsaCurve, inner: &[u8]) -> Result<Vec<u8>, Error> {
    let n = curve.field_len();
    let mut r = Reader::new(inner);
    let mut out = vec![0u8; 2 * n];
    for (i, what) in [(0, "ecdsa r"), (n, "ecdsa s")] {
        let m = r.read::<Mpint>()?;
        let mag = m
            .positive_be()
            .ok_or(Error::InvalidSignature("negative r or s"))?;
        if mag.is_empty() || mag.len() > n {
            return Err(Error::InvalidSignature("r or s has the wrong size"));
        }
        let end = i + n;
        out.get_mut(end - mag.len()..end)
            .ok_or(Error::InvalidSignature(what))?
            .copy_from_slice(mag);
    }
    r.finish("ecdsa signature")?;
    Ok(out)
}

/// Writes fixed-width `r || s` as `mpint r || mpint s`.
fn encode_rs(r: &[u8], s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(r.len() + s.len() + 10);
    put_positive_mpint(&mut out, r);
    put_positive_mpint(&mut out, s);
    out
}

/// An ECDSA private key (zeroized on drop by the curve crates).
#[derive(Clone)]
pub(crate) enum EcdsaPrivate {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    P521(p521::ecdsa::SigningKey),
}

impl EcdsaPrivate {
    pub(crate) fn generate<R: CryptoRng + ?Sized>(curve: EcdsaCurve, rng: &mut R) -> Self {
        match curve {
            EcdsaCurve::NistP256 => Self::P256(p256::ecdsa::SigningKey::generate_from_rng(rng)),
            EcdsaCurve::NistP384 => Self::P384(p384::ecdsa::SigningKey::generate_from_rng(rng)),
            EcdsaCurve::NistP521 => Self::P521(p521::ecdsa::SigningKey::generate_from_rng(rng)),
        }
    }

    /// The key with private scalar `d` (big-endian, exactly the field
    /// length), as stored in OpenSSH key files.
    pub(crate) fn from_scalar(curve: EcdsaCurve, d: &[u8]) -> Result<Self, Error> {
        let bad = |_| Error::InvalidKey("ECDSA private scalar out of range");
        if d.len() != curve.field_len() {
            return Err(Error::InvalidKey(
                "ECDSA private scalar has the wrong length",
            ));
        }
        Ok(match curve {
            EcdsaCurve::NistP256 => {
                Self::P256(p256::ecdsa::SigningKey::from_slice(d).map_err(bad)?)
            }
            EcdsaCurve::NistP384 => {
                Self::P384(p384::ecdsa::SigningKey::from_slice(d).map_err(bad)?)
            }
            EcdsaCurve::NistP521 => {
                Self::P521(p521::ecdsa::SigningKey::from_slice(d).map_err(bad)?)
            }
        })
    }

    pub(crate) fn public(&self) -> EcdsaPublic {
        match self {
            Self::P256(k) => EcdsaPublic::P256(*k.verifying_key()),
            Self::P384(k) => EcdsaPublic::P384(*k.verifying_key()),
            Self::P521(k) => EcdsaPublic::P521(*k.verifying_key()),
        }
    }

    /// Signs `data` with the curve's hash; RFC 6979 nonces with added
    /// randomness from `rng`. Returns the inner blob `mpint r || mpint s`.
    pub(crate) fn sign<R: CryptoRng + ?Sized>(
        &self,
        data: &[u8],
        rng: &mut R,
    ) -> Result<Vec<u8>, Error> {
        let fail = |_| Error::Signing("ECDSA signing failed");
        Ok(match self {
            Self::P256(k) => {
                let sig: p256::ecdsa::Signature = k
                    .sign_prehash_with_rng(rng, &Sha256::digest(data))
                    .map_err(fail)?;
                let (r, s) = sig.split_bytes();
                encode_rs(&r, &s)
            }
            Self::P384(k) => {
                let sig: p384::ecdsa::Signature = k
                    .sign_prehash_with_rng(rng, &Sha384::digest(data))
                    .map_err(fail)?;
                let (r, s) = sig.split_bytes();
                encode_rs(&r, &s)
            }
            Self::P521(k) => {
                let sig: p521::ecdsa::Signature = k
                    .sign_prehash_with_rng(rng, &Sha512::digest(data))
                    .map_err(fail)?;
                let (r, s) = sig.split_bytes();
                encode_rs(&r, &s)
            }
        })
    }
}
