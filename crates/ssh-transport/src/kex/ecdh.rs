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
    stand_in_public(
        || secret.public_key().to_sec1_point(false).as_bytes().to_vec(),
        <elliptic_curve::FieldBytesSize<C> as elliptic_curve::array::typenum::Unsigned>::USIZE,
    )
}

/// The public point `make` computes.
#[cfg(not(fuzzing))]
fn stand_in_public(make: impl FnOnce() -> Vec<u8>, _field_len: usize) -> Vec<u8> {
    make()
}

/// Fuzzing: an uncompressed point of the right length, not computed (see
/// `crate::fuzzing`).
#[cfg(fuzzing)]
fn stand_in_public(_make: impl FnOnce() -> Vec<u8>, field_len: usize) -> Vec<u8> {
    let mut q = vec![0; 1 + 2 * field_len];
    q[0] = 0x04;
    q
}

/// The shared x-coordinate `agree` computes with the (checked) peer point.
#[cfg(not(fuzzing))]
fn stand_in_shared(agree: impl FnOnce() -> Vec<u8>, _peer: &[u8]) -> Vec<u8> {
    agree()
}

/// Fuzzing: the peer point's own x-coordinate, as if our scalar were 1.
#[cfg(fuzzing)]
fn stand_in_shared(_agree: impl FnOnce() -> Vec<u8>, peer: &[u8]) -> Vec<u8> {
    let field_len = peer.len() / 2;
    peer.get(1..1 + field_len).unwrap_or_default().to_vec()
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
                stand_in_shared(
                    || {
                        let z = p256::ecdh::diffie_hellman(s.to_nonzero_scalar(), q.as_affine());
                        z.raw_secret_bytes().to_vec()
                    },
                    peer,
                )
            }
            Self::P384(s) => {
                let q = p384::PublicKey::from_sec1_bytes(peer).map_err(bad)?;
                stand_in_shared(
                    || {
                        let z = p384::ecdh::diffie_hellman(s.to_nonzero_scalar(), q.as_affine());
                        z.raw_secret_bytes().to_vec()
                    },
                    peer,
                )
            }
            Self::P521(s) => {
                let q = p521::PublicKey::from_sec1_bytes(peer).map_err(bad)?;
                stand_in_shared(
                    || {
                        let z = p521::ecdh::diffie_hellman(s.to_nonzero_scalar(), q.as_affine());
                        z.raw_secret_bytes().to_vec()
                    },
                    peer,
                )
            }
        };
        Ok(Zeroizing::new(raw))
    }
}
