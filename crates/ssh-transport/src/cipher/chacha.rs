//! `chacha20-poly1305@openssh.com` (OpenSSH `PROTOCOL.chacha20poly1305`).
//!
//! The 64 bytes of key material are two ChaCha20 keys: K_2 (the first 32
//! bytes) encrypts the payload and K_1 (the last 32) the 4-byte packet
//! length. Both use the original 64-bit-nonce ChaCha20 with the sequence
//! number as a big-endian uint64 nonce. The Poly1305 key is the first 32
//! bytes of K_2's keystream block 0; the payload is encrypted from block 1;
//! the tag covers the encrypted length and the encrypted payload.
//!
//! Two implementations sit behind [`ChaChaPoly`], chosen as for AES-GCM
//! ([`Backend`]): RustCrypto's `chacha20` and `poly1305` (the default)
//! and, with the `aws-lc` feature, AWS-LC's construction of this very
//! cipher (`aws_lc_rs::aead::chacha20_poly1305_openssh`: its ChaCha20 and
//! Poly1305 assembly). AWS-LC's keys wipe themselves when dropped.

use chacha20::ChaCha20Legacy;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use poly1305::Poly1305;
use poly1305::universal_hash::KeyInit;
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use super::CryptoError;
use super::gcm::Backend;

/// Bytes of the Poly1305 tag.
pub(crate) const TAG_LEN: usize = 16;

/// One direction's pair of ChaCha20 keys.
pub(crate) enum ChaChaPoly {
    RustCrypto(Keys),
    /// The same 64 bytes as AWS-LC's sealing and opening keys (a
    /// direction uses one of them).
    #[cfg(feature = "aws-lc")]
    AwsLc(
        aws_lc_rs::aead::chacha20_poly1305_openssh::SealingKey,
        aws_lc_rs::aead::chacha20_poly1305_openssh::OpeningKey,
    ),
}

/// RustCrypto's keys.
pub(crate) struct Keys {
    /// K_2: payload key, also source of the Poly1305 key.
    main: [u8; 32],
    /// K_1: packet-length key.
    header: [u8; 32],
}

impl Drop for Keys {
    fn drop(&mut self) {
        self.main.zeroize();
        self.header.zeroize();
    }
}

fn nonce(seq: u32) -> chacha20::LegacyNonce {
    chacha20::LegacyNonce::from(u64::from(seq).to_be_bytes())
}

impl ChaChaPoly {
    /// Splits 64 bytes of key material into K_2 then K_1; the build's
    /// implementation.
    pub(crate) fn new(key: &[u8]) -> Result<Self, CryptoError> {
        Self::with_backend(key, Backend::DEFAULT)
    }

    /// [`ChaChaPoly::new`] with the implementation named.
    pub(crate) fn with_backend(key: &[u8], backend: Backend) -> Result<Self, CryptoError> {
        let bad = CryptoError::KeyLength {
            expected: 64,
            got: key.len(),
        };
        let key: &[u8; 64] = key.try_into().map_err(|_| bad)?;
        match backend {
            Backend::RustCrypto => {
                let (main, header) = key.split_at(32);
                let mut k = Keys {
                    main: [0; 32],
                    header: [0; 32],
                };
                k.main.copy_from_slice(main);
                k.header.copy_from_slice(header);
                Ok(Self::RustCrypto(k))
            }
            #[cfg(feature = "aws-lc")]
            Backend::AwsLc => {
                use aws_lc_rs::aead::chacha20_poly1305_openssh::{OpeningKey, SealingKey};
                Ok(Self::AwsLc(SealingKey::new(key), OpeningKey::new(key)))
            }
        }
    }

    /// XORs K_1's keystream for `seq` into the 4 length bytes (encrypts or
    /// decrypts: the same operation).
    pub(crate) fn crypt_length(&self, seq: u32, len: &mut [u8]) -> Result<(), CryptoError> {
        match self {
            Self::RustCrypto(k) => k.crypt_length(seq, len),
            #[cfg(feature = "aws-lc")]
            Self::AwsLc(_, opening) => {
                let bytes: &mut [u8; 4] = len.try_into().map_err(|_| CryptoError::BufferLength)?;
                *bytes = opening.decrypt_packet_length(seq, *bytes);
                Ok(())
            }
        }
    }

    /// Encrypts `packet` (4-byte length then the rest) in place and returns
    /// the tag.
    pub(crate) fn seal(&self, seq: u32, packet: &mut [u8]) -> Result<[u8; TAG_LEN], CryptoError> {
        match self {
            Self::RustCrypto(k) => k.seal(seq, packet),
            #[cfg(feature = "aws-lc")]
            Self::AwsLc(sealing, _) => {
                if packet.len() < 4 {
                    return Err(CryptoError::BufferLength);
                }
                let mut tag = [0u8; TAG_LEN];
                sealing.seal_in_place(seq, packet, &mut tag);
                Ok(tag)
            }
        }
    }

    /// Verifies `tag` over the encrypted `packet`, then decrypts the length
    /// and the rest in place.
    pub(crate) fn open(&self, seq: u32, packet: &mut [u8], tag: &[u8]) -> Result<(), CryptoError> {
        match self {
            Self::RustCrypto(k) => k.open(seq, packet, tag),
            #[cfg(feature = "aws-lc")]
            Self::AwsLc(_, opening) => {
                let tag: &[u8; TAG_LEN] = tag.try_into().map_err(|_| CryptoError::MacMismatch)?;
                if packet.len() < 4 {
                    return Err(CryptoError::BufferLength);
                }
                // The tag is checked (in constant time) before anything is
                // decrypted; AWS-LC leaves the length encrypted.
                opening
                    .open_in_place(seq, packet, tag)
                    .map_err(|_| CryptoError::MacMismatch)?;
                let len = packet.get_mut(..4).ok_or(CryptoError::BufferLength)?;
                self.crypt_length(seq, len)
            }
        }
    }
}

impl Keys {
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// Every implementation seals to the same bytes and tag, opens what
    /// any other sealed, and refuses a changed packet (the published
    /// known answers are in `tests/cipher_kat.rs`, run with each build).
    #[test]
    fn every_backend_seals_alike_and_opens_the_others() {
        let key: Vec<u8> = (0u8..64).map(|i| i.wrapping_mul(37)).collect();
        let plain: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        let mut sealed = Vec::new();
        for &backend in Backend::ALL {
            let k = ChaChaPoly::with_backend(&key, backend).unwrap();
            for seq in [0u32, 1, 0xffff_ffff] {
                let mut packet = plain.clone();
                let tag = k.seal(seq, &mut packet).unwrap();
                assert_ne!(packet[4..], plain[4..]);
                sealed.push((seq, packet, tag));
            }
        }
        let per_backend = sealed.len() / Backend::ALL.len();
        for (i, s) in sealed.iter().enumerate() {
            assert_eq!(s, &sealed[i % per_backend], "backends disagree");
        }
        for &backend in Backend::ALL {
            let k = ChaChaPoly::with_backend(&key, backend).unwrap();
            for (seq, packet, tag) in &sealed {
                let mut len = packet[..4].to_vec();
                k.crypt_length(*seq, &mut len).unwrap();
                assert_eq!(len, plain[..4]);
                let mut opened = packet.clone();
                k.open(*seq, &mut opened, tag).unwrap();
                assert_eq!(opened, plain);
                let mut changed = packet.clone();
                changed[500] ^= 1;
                assert!(matches!(
                    k.open(*seq, &mut changed, tag),
                    Err(CryptoError::MacMismatch)
                ));
                assert!(
                    k.open(seq.wrapping_add(1), &mut packet.clone(), tag)
                        .is_err()
                );
            }
        }
    }
}
