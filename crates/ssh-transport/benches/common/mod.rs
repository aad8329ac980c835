//! What the two packet benchmarks share: the pairs, a deterministic RNG,
//! and the same cryptographic work done with the primitives directly.
#![allow(dead_code)]

use aes::{Aes128, Aes192, Aes256};
use aes_gcm::aead::consts::U12;
use aes_gcm::{AeadInOut, Aes128Gcm, Aes256Gcm, Nonce};
use chacha20::ChaCha20Legacy;
use ctr::Ctr128BE;
use ctr::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, KeyInit, Mac};
use poly1305::Poly1305;
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use ssh_transport::cipher::{CipherAlg, MacAlg};

pub const PAYLOAD: usize = 32 * 1024;

/// A payload slice of `pool` placed so that copying it to `dst` does not hit
/// 4 KiB aliasing: on this machine's AMD EPYC, glibc's `rep movsb` memcpy
/// runs ~20x slower when `(dst - src) % 4096` is below about 32, which would
/// otherwise decide the result by where the allocator put the buffers.
pub fn source_for(pool: &[u8], dst: *const u8) -> &[u8] {
    let base = pool.as_ptr() as usize;
    let d = dst as usize;
    let off = (0..4096)
        .find(|o| d.wrapping_sub(base + o) % 4096 == 2048)
        .unwrap();
    &pool[off..off + PAYLOAD]
}

/// The benches' RNG: seeded, so runs are alike.
pub use rand::rngs::StdRng as BenchRng;

pub fn pairs() -> Vec<(CipherAlg, MacAlg)> {
    let mut v = vec![
        (CipherAlg::ChaCha20Poly1305, MacAlg::None),
        (CipherAlg::Aes128Gcm, MacAlg::None),
        (CipherAlg::Aes256Gcm, MacAlg::None),
    ];
    for c in [
        CipherAlg::Aes128Ctr,
        CipherAlg::Aes192Ctr,
        CipherAlg::Aes256Ctr,
    ] {
        for m in [
            MacAlg::HmacSha256Etm,
            MacAlg::HmacSha512Etm,
            MacAlg::HmacSha256,
            MacAlg::HmacSha512,
            MacAlg::HmacSha1Etm,
            MacAlg::HmacSha1,
        ] {
            v.push((c, m));
        }
    }
    v.push((CipherAlg::None, MacAlg::None));
    v
}

pub fn name(c: CipherAlg, m: MacAlg) -> String {
    if c.is_aead() || m == MacAlg::None {
        c.name().to_owned()
    } else {
        format!("{}+{}", c.name(), m.name())
    }
}

/// The primitives of one pair, keyed once, both directions.
pub enum Raw {
    ChaCha([u8; 32], [u8; 32]),
    Gcm128(Aes128Gcm),
    Gcm256(Aes256Gcm),
    Ctr(Box<dyn StreamCipher>, Box<dyn StreamCipher>, RawMac),
    Plain,
}

pub enum RawMac {
    Sha1(Hmac<Sha1>),
    Sha256(Hmac<Sha256>),
    Sha512(Hmac<Sha512>),
}

pub fn tag_of<M: Mac + Clone>(m: &M, seq: u32, data: &[u8], out: &mut [u8; 64]) -> usize {
    let mut m = m.clone();
    m.update(&seq.to_be_bytes());
    m.update(data);
    let t = m.finalize().into_bytes();
    out[..t.len()].copy_from_slice(&t);
    t.len()
}

pub fn verify_of<M: Mac + Clone>(m: &M, seq: u32, data: &[u8], tag: &[u8]) {
    let mut m = m.clone();
    m.update(&seq.to_be_bytes());
    m.update(data);
    m.verify_slice(tag).unwrap();
}

impl RawMac {
    fn new(m: MacAlg, key: &[u8]) -> Self {
        match m {
            MacAlg::HmacSha1 | MacAlg::HmacSha1Etm => {
                RawMac::Sha1(Hmac::new_from_slice(key).unwrap())
            }
            MacAlg::HmacSha256 | MacAlg::HmacSha256Etm => {
                RawMac::Sha256(Hmac::new_from_slice(key).unwrap())
            }
            _ => RawMac::Sha512(Hmac::new_from_slice(key).unwrap()),
        }
    }
    fn tag(&self, seq: u32, data: &[u8], out: &mut [u8; 64]) -> usize {
        match self {
            RawMac::Sha1(m) => tag_of(m, seq, data, out),
            RawMac::Sha256(m) => tag_of(m, seq, data, out),
            RawMac::Sha512(m) => tag_of(m, seq, data, out),
        }
    }
    fn verify(&self, seq: u32, data: &[u8], tag: &[u8]) {
        match self {
            RawMac::Sha1(m) => verify_of(m, seq, data, tag),
            RawMac::Sha256(m) => verify_of(m, seq, data, tag),
            RawMac::Sha512(m) => verify_of(m, seq, data, tag),
        }
    }
}

pub fn ctr(c: CipherAlg, key: &[u8], iv: &[u8]) -> Box<dyn StreamCipher> {
    match c {
        CipherAlg::Aes128Ctr => Box::new(Ctr128BE::<Aes128>::new_from_slices(key, iv).unwrap()),
        CipherAlg::Aes192Ctr => Box::new(Ctr128BE::<Aes192>::new_from_slices(key, iv).unwrap()),
        _ => Box::new(Ctr128BE::<Aes256>::new_from_slices(key, iv).unwrap()),
    }
}

impl Raw {
    pub fn new(c: CipherAlg, m: MacAlg, key: &[u8], iv: &[u8], mac_key: &[u8]) -> Self {
        match c {
            CipherAlg::ChaCha20Poly1305 => {
                Raw::ChaCha(key[..32].try_into().unwrap(), key[32..].try_into().unwrap())
            }
            CipherAlg::Aes128Gcm => Raw::Gcm128(Aes128Gcm::new_from_slice(key).unwrap()),
            CipherAlg::Aes256Gcm => Raw::Gcm256(Aes256Gcm::new_from_slice(key).unwrap()),
            CipherAlg::None => Raw::Plain,
            _ => Raw::Ctr(ctr(c, key, iv), ctr(c, key, iv), RawMac::new(m, mac_key)),
        }
    }

    /// Encrypts and authenticates `buf`, then verifies and decrypts it.
    pub fn round(&mut self, seq: u32, buf: &mut [u8]) {
        let mut tag = [0u8; 64];
        match self {
            Raw::ChaCha(main, header) => {
                let nonce = u64::from(seq).to_be_bytes().into();
                for pass in 0..2 {
                    let mut h = ChaCha20Legacy::new(&(*header).into(), &nonce);
                    let mut c = ChaCha20Legacy::new(&(*main).into(), &nonce);
                    let mut block0 = [0u8; 64];
                    c.write_keystream(&mut block0);
                    let pk: [u8; 32] = block0[..32].try_into().unwrap();
                    let poly = <Poly1305 as poly1305::universal_hash::KeyInit>::new(&pk.into());
                    if pass == 0 {
                        h.apply_keystream(&mut buf[..4]);
                        c.apply_keystream(&mut buf[4..]);
                        tag[..16].copy_from_slice(&poly.compute_unpadded(buf));
                    } else {
                        assert_eq!(&poly.compute_unpadded(buf)[..], &tag[..16]);
                        h.apply_keystream(&mut buf[..4]);
                        c.apply_keystream(&mut buf[4..]);
                    }
                }
            }
            Raw::Gcm128(g) => gcm_round(g, seq, buf),
            Raw::Gcm256(g) => gcm_round(g, seq, buf),
            Raw::Ctr(enc, dec, mac) => {
                let n = mac.tag(seq, buf, &mut tag);
                enc.apply_keystream(buf);
                dec.apply_keystream(buf);
                mac.verify(seq, buf, &tag[..n]);
            }
            Raw::Plain => {}
        }
    }
}

pub fn gcm_round<A: AeadInOut<NonceSize = U12>>(g: &A, seq: u32, buf: &mut [u8]) {
    let mut n = [0u8; 12];
    n[8..].copy_from_slice(&seq.to_be_bytes());
    let nonce = Nonce::<U12>::from(n);
    let (aad, body) = buf.split_at_mut(4);
    let tag = g.encrypt_inout_detached(&nonce, aad, body.into()).unwrap();
    g.decrypt_inout_detached(&nonce, aad, body.into(), &tag)
        .unwrap();
}
