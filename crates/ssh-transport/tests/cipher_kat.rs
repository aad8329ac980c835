//! Known answers for sealed packets: each cipher's output is rebuilt from
//! published vectors or from the raw primitives, step by step, and compared
//! with what `SealingKey::seal` produced.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use core::convert::Infallible;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use ssh_transport::cipher::{CipherAlg, MacAlg, OpeningKey, SealingKey};

/// A deterministic RNG (splitmix64) that can be cloned, so the padding a
/// seal drew can be replayed (rand's StdRng is not `Clone`).
#[derive(Clone)]
struct TestRng(u64);

impl rand_core::TryRng for TestRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Ok(z ^ (z >> 31))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let v = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}
impl rand_core::TryCryptoRng for TestRng {}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// The plaintext packet `seal` should have built: header, payload and the
/// padding the replayed RNG gives.
fn plain_packet(payload: &[u8], pad: usize, rng: &mut TestRng) -> Vec<u8> {
    let len = 1 + payload.len() + pad;
    let mut p = Vec::new();
    p.extend_from_slice(&(len as u32).to_be_bytes());
    p.push(pad as u8);
    p.extend_from_slice(payload);
    let mut padding = vec![0u8; pad];
    rand_core::Rng::fill_bytes(rng, &mut padding);
    p.extend_from_slice(&padding);
    p
}

fn seal_one(key: &mut SealingKey, seq: u32, payload: &[u8], rng: &mut TestRng) -> Vec<u8> {
    let mut buf = vec![0u8; 5];
    buf.extend_from_slice(payload);
    let n = key.seal(seq, &mut buf, 0, rng).unwrap();
    assert_eq!(n, buf.len());
    buf
}

fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

// NIST SP 800-38A F.5.1 / F.5.3 / F.5.5: CTR-AES{128,192,256}.Encrypt.
const CTR_IV: &str = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";
const CTR_P: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51\
                     30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";
const CTR_CASES: &[(CipherAlg, &str, &str)] = &[
    (
        CipherAlg::Aes128Ctr,
        "2b7e151628aed2a6abf7158809cf4f3c",
        "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff\
         5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee",
    ),
    (
        CipherAlg::Aes192Ctr,
        "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
        "1abc932417521ca24f2b0459fe7e6e0b090339ec0aa6faefd5ccc2c6f4ce8e94\
         1e36b26bd1ebc670d1bd1d665620abf74f78a7f6d29809585a97daec58c6b050",
    ),
    (
        CipherAlg::Aes256Ctr,
        "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
        "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5\
         2b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6",
    ),
];

/// Classic layout: two 32-byte packets consume the four NIST blocks, so
/// the counter must continue from one packet into the next; the MAC is
/// HMAC-SHA-256 over `seq || plaintext packet`.
#[test]
fn aes_ctr_nist_sp800_38a_classic_mac() {
    let mac_key = [0x5au8; 32];
    for (alg, key, c) in CTR_CASES {
        let keystream = xor(&unhex(c), &unhex(CTR_P));
        let mut k = SealingKey::new(
            *alg,
            MacAlg::HmacSha256,
            &unhex(key),
            &unhex(CTR_IV),
            &mac_key,
        )
        .unwrap();
        let mut rng = TestRng(1);
        let mut replay = rng.clone();
        // 5 + 11 = 16 bytes; padding one more block keeps 4 <= pad.
        assert_eq!(k.padding_len(11), 16);
        for (i, seq) in [3u32, 4].into_iter().enumerate() {
            let payload = [i as u8 + 0x41; 11];
            let sealed = seal_one(&mut k, seq, &payload, &mut rng);
            let plain = plain_packet(&payload, 16, &mut replay);
            assert_eq!(sealed.len(), 32 + 32);
            assert_eq!(
                xor(&sealed[..32], &plain),
                &keystream[32 * i..32 * (i + 1)],
                "{alg:?} packet {i}"
            );
            let mut m = <Hmac<Sha256>>::new_from_slice(&mac_key).unwrap();
            m.update(&seq.to_be_bytes());
            m.update(&plain);
            assert_eq!(&sealed[32..], &m.finalize().into_bytes()[..]);
        }
    }
}

/// Encrypt-then-MAC: the length stays in clear, the keystream starts at
/// byte 4, and the MAC is over `seq || length || ciphertext`.
#[test]
fn aes_ctr_nist_sp800_38a_etm() {
    let mac_key = [0xa5u8; 32];
    for (alg, key, c) in CTR_CASES {
        let keystream = xor(&unhex(c), &unhex(CTR_P));
        let mut k = SealingKey::new(
            *alg,
            MacAlg::HmacSha256Etm,
            &unhex(key),
            &unhex(CTR_IV),
            &mac_key,
        )
        .unwrap();
        let mut rng = TestRng(2);
        let mut replay = rng.clone();
        // 1 + 15 = 16 bytes after the length; one block of padding.
        assert_eq!(k.padding_len(15), 16);
        for i in 0..2 {
            let seq = 100 + i as u32;
            let payload = [0x30 + i as u8; 15];
            let sealed = seal_one(&mut k, seq, &payload, &mut rng);
            let plain = plain_packet(&payload, 16, &mut replay);
            assert_eq!(sealed.len(), 36 + 32);
            assert_eq!(sealed[..4], plain[..4], "length in clear");
            assert_eq!(
                xor(&sealed[4..36], &plain[4..]),
                &keystream[32 * i..32 * (i + 1)]
            );
            let mut m = <Hmac<Sha256>>::new_from_slice(&mac_key).unwrap();
            m.update(&seq.to_be_bytes());
            m.update(&sealed[..36]);
            assert_eq!(&sealed[36..], &m.finalize().into_bytes()[..]);
        }
    }
}

/// AES-GCM as RFC 5647 / OpenSSH: the McGrew-Viega key and IV, the
/// 4-byte length as associated data, the invocation counter (the IV's low
/// 8 bytes) incremented per packet. Rebuilt with the raw AEAD.
#[test]
fn aes_gcm_packets_from_the_raw_aead() {
    use aes_gcm::aead::consts::U12;
    use aes_gcm::{AeadInOut, Aes128Gcm, Aes256Gcm, Nonce};

    let iv = unhex("cafebabefacedbaddecaf888");
    for (alg, key) in [
        (
            CipherAlg::Aes128Gcm,
            unhex("feffe9928665731c6d6a8f9467308308"),
        ),
        (
            CipherAlg::Aes256Gcm,
            unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"),
        ),
    ] {
        let mut k = SealingKey::new(alg, MacAlg::HmacSha256, &key, &iv, &[]).unwrap();
        assert_eq!(k.mac(), MacAlg::None, "AEAD ignores the MAC");
        let mut rng = TestRng(3);
        let mut replay = rng.clone();
        for i in 0..3u64 {
            let payload = vec![0x61 + i as u8; 20 + 7 * i as usize];
            let pad = k.padding_len(payload.len());
            assert_eq!((1 + payload.len() + pad) % 16, 0);
            let sealed = seal_one(&mut k, 9, &payload, &mut rng);
            let plain = plain_packet(&payload, pad, &mut replay);

            let mut nonce = [0u8; 12];
            nonce[..4].copy_from_slice(&iv[..4]);
            let counter = u64::from_be_bytes(iv[4..].try_into().unwrap()) + i;
            nonce[4..].copy_from_slice(&counter.to_be_bytes());
            let nonce = Nonce::<U12>::from(nonce);
            let mut body = plain[4..].to_vec();
            let tag = match alg {
                CipherAlg::Aes128Gcm => Aes128Gcm::new_from_slice(&key)
                    .unwrap()
                    .encrypt_inout_detached(&nonce, &plain[..4], (&mut body[..]).into()),
                _ => Aes256Gcm::new_from_slice(&key)
                    .unwrap()
                    .encrypt_inout_detached(&nonce, &plain[..4], (&mut body[..]).into()),
            }
            .unwrap();
            let mut want = plain[..4].to_vec();
            want.extend_from_slice(&body);
            want.extend_from_slice(&tag);
            assert_eq!(sealed, want, "{alg:?} packet {i}");
        }
    }
}

/// chacha20-poly1305@openssh.com from `PROTOCOL.chacha20poly1305`, with
/// an all-zero key and sequence number 0 so that the published ChaCha20
/// keystream (RFC 8439 A.1 test vectors 1 and 2: zero key and nonce,
/// blocks 0 and 1) applies to both the length key and the payload key.
#[test]
fn chacha20_poly1305_zero_key_published_keystream() {
    use poly1305::Poly1305;
    use poly1305::universal_hash::KeyInit as _;

    let block0 = unhex(
        "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7\
         da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586",
    );
    let block1 = unhex(
        "9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed\
         29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f",
    );
    let mut k = SealingKey::new(
        CipherAlg::ChaCha20Poly1305,
        MacAlg::None,
        &[0; 64],
        &[],
        &[],
    )
    .unwrap();
    let mut rng = TestRng(4);
    let mut replay = rng.clone();
    let payload = b"SSH-chacha20-poly1305 known answer";
    let pad = k.padding_len(payload.len());
    assert_eq!((1 + payload.len() + pad) % 8, 0);
    let sealed = seal_one(&mut k, 0, payload, &mut rng);
    let plain = plain_packet(payload, pad, &mut replay);
    assert!(plain.len() - 4 <= 64, "one keystream block covers the body");

    // K_1 (bytes 32..64) block 0 encrypts the length.
    assert_eq!(sealed[..4], xor(&plain[..4], &block0[..4])[..]);
    // K_2 (bytes 0..32) from block 1 encrypts the rest.
    let body_end = plain.len();
    assert_eq!(sealed[4..body_end], xor(&plain[4..], &block1)[..]);
    // Poly1305 keyed with K_2's block 0, over the encrypted length and body.
    let poly_key: [u8; 32] = block0[..32].try_into().unwrap();
    let tag = Poly1305::new(&poly_key.into()).compute_unpadded(&sealed[..body_end]);
    assert_eq!(&sealed[body_end..], &tag[..]);

    let mut o = OpeningKey::new(
        CipherAlg::ChaCha20Poly1305,
        MacAlg::None,
        &[0; 64],
        &[],
        &[],
    )
    .unwrap();
    let mut wire = sealed.clone();
    assert_eq!(o.packet_length(0, &wire[..4]).unwrap(), wire.len());
    let r = o.open(0, &mut wire).unwrap();
    assert_eq!(&wire[r], payload);
}

/// chacha20-poly1305@openssh.com with distinct keys and a large sequence
/// number, rebuilt with the IETF ChaCha20 (32-bit counter, 96-bit nonce
/// `0^32 || uint64 seq`), which equals the original 64-bit-nonce ChaCha20
/// for counters below 2^32: an independent path through the primitives.
#[test]
fn chacha20_poly1305_first_principles() {
    use chacha20::ChaCha20;
    use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
    use poly1305::Poly1305;
    use poly1305::universal_hash::KeyInit as _;

    let key: Vec<u8> = (0u8..64)
        .map(|i| i.wrapping_mul(7).wrapping_add(3))
        .collect();
    let (k2, k1) = key.split_at(32);
    let mut k = SealingKey::new(CipherAlg::ChaCha20Poly1305, MacAlg::None, &key, &[], &[]).unwrap();
    let mut o = OpeningKey::new(CipherAlg::ChaCha20Poly1305, MacAlg::None, &key, &[], &[]).unwrap();
    let mut rng = TestRng(5);
    let mut replay = rng.clone();
    for (seq, len) in [(0xfffffffeu32, 0usize), (0xffffffff, 200), (0, 1000)] {
        let payload: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        let pad = k.padding_len(len);
        let sealed = seal_one(&mut k, seq, &payload, &mut rng);
        let plain = plain_packet(&payload, pad, &mut replay);

        let mut nonce = [0u8; 12];
        nonce[4..].copy_from_slice(&u64::from(seq).to_be_bytes());
        let mut want = plain.clone();
        ChaCha20::new(k1.try_into().unwrap(), &nonce.into()).apply_keystream(&mut want[..4]);
        let mut main = ChaCha20::new(k2.try_into().unwrap(), &nonce.into());
        let mut poly_key = [0u8; 32];
        main.apply_keystream(&mut poly_key);
        main.seek(64u32);
        main.apply_keystream(&mut want[4..]);
        let tag = Poly1305::new(&poly_key.into()).compute_unpadded(&want);
        want.extend_from_slice(&tag);
        assert_eq!(sealed, want, "seq {seq:#x}");

        let mut wire = sealed;
        let total = o.packet_length(seq, &wire[..4]).unwrap();
        assert_eq!(total, wire.len());
        let r = o.open(seq, &mut wire).unwrap();
        assert_eq!(wire[r], payload[..]);
    }
}
