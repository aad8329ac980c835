//! AES-GCM as OpenSSH does it (RFC 5647 §7.1, OpenSSH `PROTOCOL` §1.6): the
//! 4-byte packet length in clear is the associated data; the 12-byte nonce is
//! a 4-byte fixed field and an 8-byte big-endian invocation counter, both from
//! the derived IV, the counter incremented after each packet.
//!
//! Two implementations sit behind [`AesGcm`]: RustCrypto's `aes-gcm` (the
//! default) and, with the `aws-lc` feature, AWS-LC's through `aws-lc-rs`
//! (its AES-NI/VAES and carry-less multiplication assembly: several times
//! RustCrypto's rate on the same CPU). AWS-LC keeps the key schedule in an
//! `EVP_AEAD_CTX` it allocated, and its `OPENSSL_free` overwrites an
//! allocation before freeing it, so that key is wiped when the cipher is
//! dropped, as RustCrypto's is by its `zeroize` feature.

use aes_gcm::aead::consts::U12;
use aes_gcm::{AeadInOut, Aes128Gcm, Aes256Gcm, KeyInit, Nonce, Tag};
use zeroize::Zeroize;

use super::{CipherAlg, CryptoError};

/// Bytes of the GCM tag.
pub(crate) const TAG_LEN: usize = 16;

/// Which implementation seals and opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    // Only the known-answer tests use it when `aws-lc` is on.
    #[cfg_attr(all(feature = "aws-lc", not(test)), allow(dead_code))]
    RustCrypto,
    #[cfg(feature = "aws-lc")]
    AwsLc,
}

impl Backend {
    /// The build's choice: AWS-LC when the `aws-lc` feature is on.
    pub(crate) const DEFAULT: Self = {
        #[cfg(feature = "aws-lc")]
        {
            Backend::AwsLc
        }
        #[cfg(not(feature = "aws-lc"))]
        {
            Backend::RustCrypto
        }
    };

    /// Every implementation this build has.
    #[cfg(test)]
    pub(crate) const ALL: &[Self] = &[
        Backend::RustCrypto,
        #[cfg(feature = "aws-lc")]
        Backend::AwsLc,
    ];
}

enum Aes {
    A128(Aes128Gcm),
    A256(Aes256Gcm),
    #[cfg(feature = "aws-lc")]
    AwsLc(aws_lc_rs::aead::LessSafeKey),
}

/// One direction's AES-GCM key and invocation counter.
pub(crate) struct AesGcm {
    aes: Aes,
    fixed: [u8; 4],
    invocation: u64,
}

impl Drop for AesGcm {
    fn drop(&mut self) {
        self.fixed.zeroize();
        self.invocation.zeroize();
    }
}

impl AesGcm {
    /// Keys the cipher; `key` and `iv` lengths are checked by the caller.
    pub(crate) fn new(alg: CipherAlg, key: &[u8], iv: &[u8]) -> Result<Self, CryptoError> {
        Self::with_backend(alg, key, iv, Backend::DEFAULT)
    }

    /// Keys the cipher with the implementation `backend`.
    pub(crate) fn with_backend(
        alg: CipherAlg,
        key: &[u8],
        iv: &[u8],
        backend: Backend,
    ) -> Result<Self, CryptoError> {
        let bad_key = CryptoError::KeyLength {
            expected: alg.key_len(),
            got: key.len(),
        };
        let aes = match (backend, alg) {
            (Backend::RustCrypto, CipherAlg::Aes128Gcm) => {
                Aes::A128(Aes128Gcm::new_from_slice(key).map_err(|_| bad_key)?)
            }
            (Backend::RustCrypto, CipherAlg::Aes256Gcm) => {
                Aes::A256(Aes256Gcm::new_from_slice(key).map_err(|_| bad_key)?)
            }
            #[cfg(feature = "aws-lc")]
            (Backend::AwsLc, CipherAlg::Aes128Gcm | CipherAlg::Aes256Gcm) => {
                use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, LessSafeKey, UnboundKey};
                let algorithm = if alg == CipherAlg::Aes128Gcm {
                    &AES_128_GCM
                } else {
                    &AES_256_GCM
                };
                let unbound = UnboundKey::new(algorithm, key).map_err(|_| bad_key)?;
                Aes::AwsLc(LessSafeKey::new(unbound))
            }
            _ => return Err(CryptoError::UnsupportedCombination),
        };
        let bad_iv = CryptoError::IvLength {
            expected: alg.iv_len(),
            got: iv.len(),
        };
        let (fixed, invocation) = iv.split_first_chunk::<4>().ok_or(bad_iv.clone())?;
        let invocation: &[u8; 8] = invocation.try_into().map_err(|_| bad_iv)?;
        Ok(AesGcm {
            aes,
            fixed: *fixed,
            invocation: u64::from_be_bytes(*invocation),
        })
    }

    /// The IV as of now: the fixed field and the next invocation counter
    /// (a key made from it continues where this one is).
    pub(crate) fn current_iv(&self) -> [u8; 12] {
        let mut iv = [0u8; 12];
        let (f, c) = iv.split_at_mut(4);
        f.copy_from_slice(&self.fixed);
        c.copy_from_slice(&self.invocation.to_be_bytes());
        iv
    }

    fn nonce(&self) -> Nonce<U12> {
        Nonce::from(self.current_iv())
    }

    /// Encrypts `body` in place with `aad` authenticated and returns the tag.
    pub(crate) fn seal(
        &mut self,
        aad: &[u8],
        body: &mut [u8],
    ) -> Result<[u8; TAG_LEN], CryptoError> {
        let nonce = self.nonce();
        let too_large = |_| CryptoError::PacketTooLarge;
        let tag: [u8; TAG_LEN] = match &self.aes {
            Aes::A128(c) => c
                .encrypt_inout_detached(&nonce, aad, body.into())
                .map_err(too_large)?
                .into(),
            Aes::A256(c) => c
                .encrypt_inout_detached(&nonce, aad, body.into())
                .map_err(too_large)?
                .into(),
            #[cfg(feature = "aws-lc")]
            Aes::AwsLc(key) => {
                use aws_lc_rs::aead::{Aad, Nonce as LcNonce};
                let nonce = LcNonce::assume_unique_for_key(self.current_iv());
                let tag = key
                    .seal_in_place_separate_tag(nonce, Aad::from(aad), body)
                    .map_err(|_| CryptoError::PacketTooLarge)?;
                tag.as_ref()
                    .try_into()
                    .map_err(|_| CryptoError::PacketTooLarge)?
            }
        };
        self.invocation = self.invocation.wrapping_add(1);
        Ok(tag)
    }

    /// Verifies `tag` over `aad` and `body`, then decrypts `body` in place.
    pub(crate) fn open(
        &mut self,
        aad: &[u8],
        body: &mut [u8],
        tag: &[u8],
    ) -> Result<(), CryptoError> {
        let checked = Tag::try_from(tag).map_err(|_| CryptoError::MacMismatch)?;
        let nonce = self.nonce();
        match &self.aes {
            Aes::A128(c) => c
                .decrypt_inout_detached(&nonce, aad, body.into(), &checked)
                .map_err(|_| CryptoError::MacMismatch)?,
            Aes::A256(c) => c
                .decrypt_inout_detached(&nonce, aad, body.into(), &checked)
                .map_err(|_| CryptoError::MacMismatch)?,
            // A failed open may leave `body` garbled (AWS-LC decrypts as
            // it authenticates); the packet is refused either way.
            #[cfg(feature = "aws-lc")]
            Aes::AwsLc(key) => {
                use aws_lc_rs::aead::{Aad, Nonce as LcNonce};
                let nonce = LcNonce::assume_unique_for_key(self.current_iv());
                key.open_in_place_separate_tag(nonce, Aad::from(aad), tag, body)
                    .map_err(|_| CryptoError::MacMismatch)?;
            }
        }
        self.invocation = self.invocation.wrapping_add(1);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    // McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 3,
    // 4, 15 and 16 (also NIST SP 800-38D's examples).
    const K128: &str = "feffe9928665731c6d6a8f9467308308";
    const K256: &str = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
    const IV: &str = "cafebabefacedbaddecaf888";
    const P: &str = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
                     1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
    const AAD: &str = "feedfacedeadbeeffeedfacedeadbeefabaddad2";

    fn case(alg: CipherAlg, key: &str, aad: &str, plain_len: usize, c: &str, t: &str) {
        let key = hex::decode(key).unwrap();
        let iv = hex::decode(IV).unwrap();
        let aad = hex::decode(aad).unwrap();
        let plain = hex::decode(P).unwrap();
        // Every implementation of this build, and each opening what the
        // other sealed.
        for &sealing in Backend::ALL {
            for &opening in Backend::ALL {
                let mut buf = plain[..plain_len].to_vec();
                let mut sealer = AesGcm::with_backend(alg, &key, &iv, sealing).unwrap();
                let tag = sealer.seal(&aad, &mut buf).unwrap();
                assert_eq!(hex::encode(&buf), c, "{sealing:?}");
                assert_eq!(hex::encode(tag), t, "{sealing:?}");

                let mut opener = AesGcm::with_backend(alg, &key, &iv, opening).unwrap();
                let mut bad = buf.clone();
                bad[0] ^= 0x80;
                assert_eq!(
                    opener.open(&aad, &mut bad, &tag),
                    Err(CryptoError::MacMismatch),
                    "{opening:?}"
                );
                let mut bad_tag = tag;
                bad_tag[15] ^= 1;
                let mut copy = buf.clone();
                assert_eq!(
                    opener.open(&aad, &mut copy, &bad_tag),
                    Err(CryptoError::MacMismatch),
                    "{opening:?}"
                );
                // A failed open leaves the invocation counter alone.
                opener.open(&aad, &mut buf, &tag).unwrap();
                assert_eq!(buf, &plain[..plain_len], "{opening:?}");
                assert_eq!(opener.invocation, 0xface_dbad_deca_f889);
            }
        }
    }

    #[test]
    fn mcgrew_viega_aes128() {
        case(
            CipherAlg::Aes128Gcm,
            K128,
            "",
            64,
            "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e\
             21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
            "4d5c2af327cd64a62cf35abd2ba6fab4",
        );
        case(
            CipherAlg::Aes128Gcm,
            K128,
            AAD,
            60,
            "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e\
             21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
            "5bc94fbc3221a5db94fae95ae7121a47",
        );
    }

    #[test]
    fn mcgrew_viega_aes256() {
        case(
            CipherAlg::Aes256Gcm,
            K256,
            "",
            64,
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
             8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
            "b094dac5d93471bdec1a502270e3cc6c",
        );
        case(
            CipherAlg::Aes256Gcm,
            K256,
            AAD,
            60,
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
             8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
            "76fc6ece0f4e1768cddf8853bb2d551b",
        );
    }

    #[test]
    fn invocation_counter_increments_per_packet() {
        // RFC 5647 §7.1: the second packet uses IV + 1 in its low 64 bits,
        // carrying into... nothing: the fixed field never changes.
        let key = hex::decode(K128).unwrap();
        let mut iv = hex::decode(IV).unwrap();
        iv[4..].copy_from_slice(&u64::MAX.to_be_bytes());
        for &backend in Backend::ALL {
            counter_carries(&key, &iv, backend);
        }
    }

    fn counter_carries(key: &[u8], iv: &[u8], backend: Backend) {
        let mut g = AesGcm::with_backend(CipherAlg::Aes128Gcm, key, iv, backend).unwrap();
        let mut a = [0u8; 16];
        let mut b = [0u8; 16];
        g.seal(&[], &mut a).unwrap();
        g.seal(&[], &mut b).unwrap();
        // Recompute both from the raw AEAD with the expected nonces.
        let raw = Aes128Gcm::new_from_slice(key).unwrap();
        for (ct, counter) in [(a, u64::MAX), (b, 0)] {
            let mut n = [0u8; 12];
            n[..4].copy_from_slice(&iv[..4]);
            n[4..].copy_from_slice(&counter.to_be_bytes());
            let mut z = [0u8; 16];
            raw.encrypt_inout_detached(&Nonce::from(n), &[], (&mut z[..]).into())
                .unwrap();
            assert_eq!(ct, z, "{backend:?}");
        }
    }
}
