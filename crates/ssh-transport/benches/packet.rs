//! Packet protection throughput on 32 KiB payloads: `packet/<pair>` seals
//! and opens one packet through `SealingKey` / `OpeningKey`; `raw/<pair>`
//! does the same cryptographic work on the same number of bytes with the
//! primitives called directly (no header, padding, RNG or length checks),
//! so the difference is the packet layer's own cost. On a loaded shared
//! machine criterion's means swing by tens of percent; `benches/overhead.rs`
//! measures the same comparison by fastest batches, which is steadier.
//!
//! `cargo bench -p ssh-transport --bench packet -- --warm-up-time 1 --measurement-time 3`
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ssh_transport::cipher::{OpeningKey, SealingKey};
use ssh_transport::compress::{Compressor, Decompressor, MAX_DECOMPRESSED_LEN};

mod common;
use common::{BenchRng, PAYLOAD, Raw, name, pairs, source_for};

fn bench_packets(c: &mut Criterion) {
    let pool: Vec<u8> = (0..PAYLOAD + 4096).map(|i| (i * 7 % 251) as u8).collect();
    let mut group = c.benchmark_group("packet");
    group.throughput(Throughput::Bytes(PAYLOAD as u64));
    for (ci, m) in pairs() {
        let key = vec![0x42u8; ci.key_len()];
        let iv = vec![0x24u8; ci.iv_len()];
        let mac_key = vec![0x17u8; m.key_len()];
        let label = name(ci, m);

        let mut s = SealingKey::new(ci, m, &key, &iv, &mac_key).unwrap();
        let mut o = OpeningKey::new(ci, m, &key, &iv, &mac_key).unwrap();
        let mut rng = <BenchRng as rand::SeedableRng>::seed_from_u64(1);
        let mut buf: Vec<u8> = Vec::with_capacity(PAYLOAD + 256);
        let mut seq = 0u32;
        let payload = source_for(&pool, buf.as_ptr().wrapping_add(5));
        group.bench_function(format!("packet/{label}"), |b| {
            b.iter(|| {
                buf.clear();
                buf.extend_from_slice(&[0; 5]);
                buf.extend_from_slice(black_box(payload));
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
        let payload = source_for(&pool, rbuf.as_ptr().wrapping_add(5));
        group.bench_function(format!("raw/{label}"), |b| {
            b.iter(|| {
                rbuf[5..5 + PAYLOAD].copy_from_slice(black_box(payload));
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
