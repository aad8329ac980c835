//! X25519 (RFC 7748) for `curve25519-sha256` (RFC 8731) and the hybrid
//! methods.

use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{KexError, SecretEncoding, SharedSecret};
#[cfg(fuzzing)]
use crate::fuzzing::x25519;
#[cfg(not(fuzzing))]
use x25519_dalek::x25519;

/// The length of X25519 public values and results.
pub(crate) const X25519_LEN: usize = 32;

/// An ephemeral X25519 key pair.
pub(crate) struct X25519KeyPair {
    secret: Zeroizing<[u8; X25519_LEN]>,
    public: [u8; X25519_LEN],
}

impl X25519KeyPair {
    pub(crate) fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut secret = Zeroizing::new([0u8; X25519_LEN]);
        rng.fill_bytes(secret.as_mut());
        Self::from_secret(secret)
    }

    /// The key pair with a given scalar (clamped by X25519 itself).
    pub(crate) fn from_secret(secret: Zeroizing<[u8; X25519_LEN]>) -> Self {
        let public = x25519(*secret, x25519_dalek::X25519_BASEPOINT_BYTES);
        Self { secret, public }
    }

    pub(crate) fn public(&self) -> &[u8; X25519_LEN] {
        &self.public
    }

    /// The raw X25519 result with the peer's 32-byte public value.
    ///
    /// RFC 7748 §6.1 / RFC 8731 §3: a peer value of small order gives the
    /// all-zero result, which "MUST" be rejected; the check is
    /// constant-time.
    pub(crate) fn agree_raw(&self, peer: &[u8]) -> Result<Zeroizing<[u8; X25519_LEN]>, KexError> {
        let peer: [u8; X25519_LEN] = peer
            .try_into()
            .map_err(|_| KexError::InvalidPublicValue("X25519 value must be 32 bytes"))?;
        let shared = Zeroizing::new(x25519(*self.secret, peer));
        if bool::from(shared.ct_eq(&[0u8; X25519_LEN])) {
            return Err(KexError::InvalidPublicValue(
                "X25519 value of small order (all-zero shared secret)",
            ));
        }
        Ok(shared)
    }

    /// `K` for `curve25519-sha256`: the 32 result bytes read as a
    /// big-endian integer, encoded as an mpint (RFC 8731 §3.1).
    pub(crate) fn agree(&self, peer: &[u8]) -> Result<SharedSecret, KexError> {
        let shared = self.agree_raw(peer)?;
        Ok(SharedSecret::new(SecretEncoding::Mpint, shared.as_ref()))
    }
}
