//! ECDH over the NIST curves (RFC 5656 §4): public values are uncompressed
//! SEC1 points, `K` is the x-coordinate of the shared point as an mpint.

use elliptic_curve::Generate;
use rand_core::CryptoRng;
use ssh_keys::EcdsaCurve;
use zeroize::Zeroizing;

use super::{KexError, SecretEncoding, SharedSecret};

/// An ephemeral ECDH secret (zeroized on drop by the curve crates).
pub(crate) enum EcdhSecret {
    P256(p256::SecretKey),
    P384(p384::SecretKey),
    P521(p521::SecretKey),
}

fn uncompressed<C>(secret: &elliptic_curve::SecretKey<C>) -> Vec<u8>
where
    C: elliptic_curve::CurveArithmetic,
    elliptic_curve::AffinePoint<C>:
        elliptic_curve::sec1::FromSec1Point<C> + elliptic_curve::sec1::ToSec1Point<C>,
    elliptic_curve::FieldBytesSize<C>: elliptic_curve::sec1::ModulusSize,
{
    use elliptic_curve::sec1::ToSec1Point;
    secret.public_key().to_sec1_point(false).as_bytes().to_vec()
}

impl EcdhSecret {
    /// A fresh secret and its public point `Q`.
    pub(crate) fn generate<R: CryptoRng + ?Sized>(
        curve: EcdsaCurve,
        rng: &mut R,
    ) -> (Self, Vec<u8>) {
        match curve {
            EcdsaCurve::NistP256 => {
                let s = p256::SecretKey::generate_from_rng(rng);
                let q = uncompressed(&s);
                (Self::P256(s), q)
            }
            EcdsaCurve::NistP384 => {
                let s = p384::SecretKey::generate_from_rng(rng);
                let q = uncompressed(&s);
                (Self::P384(s), q)
            }
            EcdsaCurve::NistP521 => {
                let s = p521::SecretKey::generate_from_rng(rng);
                let q = uncompressed(&s);
                (Self::P521(s), q)
            }
        }
    }

    /// The secret with a fixed scalar (big-endian, the field length); for
    /// known-answer tests.
    #[cfg(test)]
    pub(crate) fn from_scalar(curve: EcdsaCurve, d: &[u8]) -> Option<(Self, Vec<u8>)> {
        Some(match curve {
            EcdsaCurve::NistP256 => {
                let s = p256::SecretKey::from_slice(d).ok()?;
                let q = uncompressed(&s);
                (Self::P256(s), q)
            }
            EcdsaCurve::NistP384 => {
                let s = p384::SecretKey::from_slice(d).ok()?;
                let q = uncompressed(&s);
                (Self::P384(s), q)
            }
            EcdsaCurve::NistP521 => {
                let s = p521::SecretKey::from_slice(d).ok()?;
                let q = uncompressed(&s);
                (Self::P521(s), q)
            }
        })
    }

    fn curve(&self) -> EcdsaCurve {
        match self {
            Self::P256(_) => EcdsaCurve::NistP256,
            Self::P384(_) => EcdsaCurve::NistP384,
            Self::P521(_) => EcdsaCurve::NistP521,
        }
    }

    /// `K` with the peer's point, which must be an uncompressed point of the
    /// exact length, on the curve, not the identity (RFC 5656 §4: "MUST
    /// verify that Q_S is a valid public key").
    pub(crate) fn agree(&self, peer: &[u8]) -> Result<SharedSecret, KexError> {
        let raw = self.agree_raw(peer)?;
        Ok(SharedSecret::new(SecretEncoding::Mpint, &raw))
    }

    /// The shared point's x-coordinate as field-sized big-endian bytes
    /// (the hybrid methods' `K_CL`), with the checks of [`Self::agree`].
    pub(crate) fn agree_raw(&self, peer: &[u8]) -> Result<Zeroizing<Vec<u8>>, KexError> {
        let curve = self.curve();
        if peer.len() != curve.point_len() || peer.first() != Some(&0x04) {
            return Err(KexError::InvalidPublicValue(
                "EC point must be uncompressed and of the curve's length",
            ));
        }
        let bad = |_| KexError::InvalidPublicValue("EC point is not on the curve");
        let raw = match self {
            Self::P256(s) => {
                let q = p256::PublicKey::from_sec1_bytes(peer).map_err(bad)?;
                let z = p256::ecdh::diffie_hellman(s.to_nonzero_scalar(), q.as_affine());
                z.raw_secret_bytes().to_vec()
            }
            Self::P384(s) => {
                let q = p384::PublicKey::from_sec1_bytes(peer).map_err(bad)?;
                let z = p384::ecdh::diffie_hellman(s.to_nonzero_scalar(), q.as_affine());
                z.raw_secret_bytes().to_vec()
            }
            Self::P521(s) => {
                let q = p521::PublicKey::from_sec1_bytes(peer).map_err(bad)?;
                let z = p521::ecdh::diffie_hellman(s.to_nonzero_scalar(), q.as_affine());
                z.raw_secret_bytes().to_vec()
            }
        };
        Ok(Zeroizing::new(raw))
    }
}
