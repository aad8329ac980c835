//! `chacha20-poly1305@openssh.com` (OpenSSH `PROTOCOL.chacha20poly1305`).
//!
//! The 64 bytes of key material are two ChaCha20 keys: K_2 (the first 32
//! bytes) encrypts the payload and K_1 (the last 32) the 4-byte packet
//! length. Both use the original 64-bit-nonce ChaCha20 with the sequence
//! number as a big-endian uint64 nonce. The Poly1305 key is the first 32
//! bytes of K_2's keystream block 0; the payload is encrypted from block 1;
//! the tag covers the encrypted length and the encrypted payload.

use chacha20::ChaCha20Legacy;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use poly1305::Poly1305;
use poly1305::universal_hash::KeyInit;
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use super::CryptoError;

/// Bytes of the Poly1305 tag.
pub(crate) const TAG_LEN: usize = 16;

/// One direction's pair of ChaCha20 keys.
pub(crate) struct ChaChaPoly {
    /// K_2: payload key, also source of the Poly1305 key.
    main: [u8; 32],
    /// K_1: packet-length key.
    header: [u8; 32],
}

impl Drop for ChaChaPoly {
    fn drop(&mut self) {
        self.main.zeroize();
        self.header.zeroize();
    }
}

fn nonce(seq: u32) -> chacha20::LegacyNonce {
    chacha20::LegacyNonce::from(u64::from(seq).to_be_bytes())
}

impl ChaChaPoly {
    /// Splits 64 bytes of key material into K_2 then K_1.
    pub(crate) fn new(key: &[u8]) -> Result<Self, CryptoError> {
        let bad = CryptoError::KeyLength {
            expected: 64,
            got: key.len(),
        };
        let key: &[u8; 64] = key.try_into().map_err(|_| bad)?;
        let (main, header) = key.split_at(32);
        let mut k = ChaChaPoly {
            main: [0; 32],
            header: [0; 32],
        };
        k.main.copy_from_slice(main);
        k.header.copy_from_slice(header);
        Ok(k)
    }

    /// XORs K_1's keystream for `seq` into the 4 length bytes (encrypts or
    /// decrypts: the same operation).
    pub(crate) fn crypt_length(&self, seq: u32, len: &mut [u8]) -> Result<(), CryptoError> {
        let mut c = ChaCha20Legacy::new(&self.header.into(), &nonce(seq));
        c.try_apply_keystream(len)
            .map_err(|_| CryptoError::KeystreamExhausted)
    }

    /// The payload cipher positioned at block 1, and the Poly1305 instance
    /// keyed from block 0.
    fn payload_cipher(&self, seq: u32) -> Result<(ChaCha20Legacy, Poly1305), CryptoError> {
        let mut c = ChaCha20Legacy::new(&self.main.into(), &nonce(seq));
        let mut block0 = [0u8; 64];
        c.try_write_keystream(&mut block0)
            .map_err(|_| CryptoError::KeystreamExhausted)?;
        let mut poly_key = [0u8; 32];
        if let Some(k) = block0.get(..32) {
            poly_key.copy_from_slice(k);
        }
        let poly = Poly1305::new(&poly_key.into());
        block0.zeroize();
        poly_key.zeroize();
        Ok((c, poly))
    }

    /// Encrypts `packet` (4-byte length then the rest) in place and returns
    /// the tag.
    pub(crate) fn seal(&self, seq: u32, packet: &mut [u8]) -> Result<[u8; TAG_LEN], CryptoError> {
        let (len, body) = packet
            .split_at_mut_checked(4)
            .ok_or(CryptoError::BufferLength)?;
        self.crypt_length(seq, len)?;
        let (mut c, poly) = self.payload_cipher(seq)?;
        c.try_apply_keystream(body)
            .map_err(|_| CryptoError::KeystreamExhausted)?;
        Ok(poly.compute_unpadded(packet).into())
    }

    /// Verifies `tag` over the encrypted `packet`, then decrypts the length
    /// and the rest in place.
    pub(crate) fn open(&self, seq: u32, packet: &mut [u8], tag: &[u8]) -> Result<(), CryptoError> {
        let (mut c, poly) = self.payload_cipher(seq)?;
        let expected = poly.compute_unpadded(packet);
        if !bool::from(expected.as_slice().ct_eq(tag)) {
            return Err(CryptoError::MacMismatch);
        }
        let (len, body) = packet
            .split_at_mut_checked(4)
            .ok_or(CryptoError::BufferLength)?;
        self.crypt_length(seq, len)?;
        c.try_apply_keystream(body)
            .map_err(|_| CryptoError::KeystreamExhausted)
    }
}
