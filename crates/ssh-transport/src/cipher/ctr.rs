//! AES in counter mode (RFC 4344 §4): the IV is a 128-bit big-endian counter
//! incremented once per cipher block, and it continues from one packet to the
//! next for as long as the key is in use.

use aes::{Aes128, Aes192, Aes256};
use ctr::Ctr128BE;
use ctr::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};

use super::{CipherAlg, CryptoError};

/// One direction's AES-CTR keystream. Its position is the stream position,
/// so the caller must feed every byte of every packet through it exactly once,
/// in order.
pub(crate) enum AesCtr {
    A128(Ctr128BE<Aes128>),
    A192(Ctr128BE<Aes192>),
    A256(Ctr128BE<Aes256>),
}

impl AesCtr {
    /// Keys the cipher; `key` and `iv` lengths are checked by the caller.
    pub(crate) fn new(alg: CipherAlg, key: &[u8], iv: &[u8]) -> Result<Self, CryptoError> {
        let bad = |_| CryptoError::KeyLength {
            expected: alg.key_len(),
            got: key.len(),
        };
        Ok(match alg {
            CipherAlg::Aes128Ctr => AesCtr::A128(Ctr128BE::new_from_slices(key, iv).map_err(bad)?),
            CipherAlg::Aes192Ctr => AesCtr::A192(Ctr128BE::new_from_slices(key, iv).map_err(bad)?),
            CipherAlg::Aes256Ctr => AesCtr::A256(Ctr128BE::new_from_slices(key, iv).map_err(bad)?),
            _ => return Err(CryptoError::UnsupportedCombination),
        })
    }

    /// XORs the next `data.len()` keystream bytes into `data`.
    pub(crate) fn apply(&mut self, data: &mut [u8]) -> Result<(), CryptoError> {
        // The 128-bit counter cannot wrap within a key's lifetime (re-key comes
        // after 2^32 blocks), but report it instead of panicking if it did.
        let r = match self {
            AesCtr::A128(c) => c.try_apply_keystream(data),
            AesCtr::A192(c) => c.try_apply_keystream(data),
            AesCtr::A256(c) => c.try_apply_keystream(data),
        };
        r.map_err(|_| CryptoError::KeystreamExhausted)
    }

    /// The keystream position in bytes since the key was made.
    pub(crate) fn position(&self) -> Result<u64, CryptoError> {
        let r = match self {
            AesCtr::A128(c) => c.try_current_pos::<u64>(),
            AesCtr::A192(c) => c.try_current_pos::<u64>(),
            AesCtr::A256(c) => c.try_current_pos::<u64>(),
        };
        r.map_err(|_| CryptoError::KeystreamExhausted)
    }

    /// Moves the keystream to `pos` bytes since the key was made.
    pub(crate) fn seek(&mut self, pos: u64) -> Result<(), CryptoError> {
        let r = match self {
            AesCtr::A128(c) => c.try_seek(pos),
            AesCtr::A192(c) => c.try_seek(pos),
            AesCtr::A256(c) => c.try_seek(pos),
        };
        r.map_err(|_| CryptoError::KeystreamExhausted)
    }
}
