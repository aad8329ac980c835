//! Packet protection throughput on 32 KiB payloads: `packet/<pair>` seals
//! and opens one packet through `SealingKey` / `OpeningKey`; `raw/<pair>`
//! does the same cryptographic work on the same number of bytes with the
//! primitives called directly (no header, padding, RNG or length checks),
//! so the difference is the packet layer's own cost.
//!
//! `cargo bench -p ssh-transport --bench packet -- --warm-up-time 1 --measurement-time 3`
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use core::convert::Infallible;
use std::hint::black_box;

use aes::{Aes128, Aes192, Aes256};
use aes_gcm::aead::consts::U12;
use aes_gcm::{AeadInOut, Aes128Gcm, Aes256Gcm, Nonce};
use chacha20::ChaCha20Legacy;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ctr::Ctr128BE;
use ctr::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, KeyInit, Mac};
use poly1305::Poly1305;
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use ssh_transport::cipher::{CipherAlg, MacAlg, OpeningKey, SealingKey};
use ssh_transport::compress::{Compressor, Decompressor, MAX_DECOMPRESSED_LEN};

const PAYLOAD: usize = 32 * 1024;

struct BenchRng(u64);

impl rand_core::TryRng for BenchRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
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
impl rand_core::TryCryptoRng for BenchRng {}

fn pairs() -> Vec<(CipherAlg, MacAlg)> {
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

fn name(c: CipherAlg, m: MacAlg) -> String {
    if c.is_aead() || m == MacAlg::None {
        c.name().to_owned()
    } else {
        format!("{}+{}", c.name(), m.name())
    }
}

/// The primitives of one pair, keyed once, both directions.
enum Raw {
    ChaCha([u8; 32], [u8; 32]),
    Gcm128(Aes128Gcm),
    Gcm256(Aes256Gcm),
    Ctr(Box<dyn StreamCipher>, Box<dyn StreamCipher>, RawMac),
    Plain,
}

enum RawMac {
    Sha1(Hmac<Sha1>),
    Sha256(Hmac<Sha256>),
    Sha512(Hmac<Sha512>),
}

fn tag_of<M: Mac + Clone>(m: &M, seq: u32, data: &[u8], out: &mut [u8; 64]) -> usize {
    let mut m = m.clone();
    m.update(&seq.to_be_bytes());
    m.update(data);
    let t = m.finalize().into_bytes();
    out[..t.len()].copy_from_slice(&t);
    t.len()
}

fn verify_of<M: Mac + Clone>(m: &M, seq: u32, data: &[u8], tag: &[u8]) {
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

fn ctr(c: CipherAlg, key: &[u8], iv: &[u8]) -> Box<dyn StreamCipher> {
    match c {
        CipherAlg::Aes128Ctr => Box::new(Ctr128BE::<Aes128>::new_from_slices(key, iv).unwrap()),
        CipherAlg::Aes192Ctr => Box::new(Ctr128BE::<Aes192>::new_from_slices(key, iv).unwrap()),
        _ => Box::new(Ctr128BE::<Aes256>::new_from_slices(key, iv).unwrap()),
    }
}

impl Raw {
    fn new(c: CipherAlg, m: MacAlg, key: &[u8], iv: &[u8], mac_key: &[u8]) -> Self {
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
    fn round(&mut self, seq: u32, buf: &mut [u8]) {
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

fn gcm_round<A: AeadInOut<NonceSize = U12>>(g: &A, seq: u32, buf: &mut [u8]) {
    let mut n = [0u8; 12];
    n[8..].copy_from_slice(&seq.to_be_bytes());
    let nonce = Nonce::<U12>::from(n);
    let (aad, body) = buf.split_at_mut(4);
    let tag = g.encrypt_inout_detached(&nonce, aad, body.into()).unwrap();
    g.decrypt_inout_detached(&nonce, aad, body.into(), &tag)
        .unwrap();
}

fn bench_packets(c: &mut Criterion) {
    let payload: Vec<u8> = (0..PAYLOAD).map(|i| (i * 7 % 251) as u8).collect();
    let mut group = c.benchmark_group("packet");
    group.throughput(Throughput::Bytes(PAYLOAD as u64));
    for (ci, m) in pairs() {
        let key = vec![0x42u8; ci.key_len()];
        let iv = vec![0x24u8; ci.iv_len()];
        let mac_key = vec![0x17u8; m.key_len()];
        let label = name(ci, m);

        let mut s = SealingKey::new(ci, m, &key, &iv, &mac_key).unwrap();
        let mut o = OpeningKey::new(ci, m, &key, &iv, &mac_key).unwrap();
        let mut rng = BenchRng(1);
        let mut buf = Vec::with_capacity(PAYLOAD + 256);
        let mut seq = 0u32;
        group.bench_function(format!("packet/{label}"), |b| {
            b.iter(|| {
                buf.clear();
                buf.extend_from_slice(&[0; 5]);
                buf.extend_from_slice(black_box(&payload));
                s.seal(seq, &mut buf, 0, &mut rng).unwrap();
                let total = o.packet_length(seq, &buf).unwrap();
                let r = o.open(seq, &mut buf[..total]).unwrap();
                black_box(&buf[r]);
                seq = seq.wrapping_add(1);
            });
        });

        // The same bytes the packet layer encrypts: header, payload, padding.
        let body_len = s.sealed_len(PAYLOAD) - s.tag_len();
        let mut raw = Raw::new(ci, m, &key, &iv, &mac_key);
        let mut rbuf = vec![0u8; body_len];
        let mut rseq = 0u32;
        group.bench_function(format!("raw/{label}"), |b| {
            b.iter(|| {
                rbuf[5..5 + PAYLOAD].copy_from_slice(black_box(&payload));
                raw.round(rseq, &mut rbuf);
                black_box(&rbuf);
                rseq = rseq.wrapping_add(1);
            });
        });
    }
    group.finish();
}

fn bench_zlib(c: &mut Criterion) {
    let text: Vec<u8> = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit; "
        .iter()
        .cycle()
        .take(PAYLOAD)
        .copied()
        .collect();
    let mut group = c.benchmark_group("zlib");
    group.throughput(Throughput::Bytes(PAYLOAD as u64));
    let mut comp = Compressor::new();
    let mut decomp = Decompressor::new();
    let mut wire = Vec::new();
    let mut out = Vec::new();
    group.bench_function("compress+decompress/text", |b| {
        b.iter(|| {
            wire.clear();
            out.clear();
            comp.compress(black_box(&text), &mut wire).unwrap();
            decomp
                .decompress(&wire, &mut out, MAX_DECOMPRESSED_LEN)
                .unwrap();
            black_box(&out);
        });
    });
    group.finish();
}

criterion_group!(benches, bench_packets, bench_zlib);
criterion_main!(benches);
