//! The packet layer's own cost, measured robustly on a shared machine: for
//! each pair, seal+open of a 32 KiB payload and the same work with the
//! primitives directly are timed in alternation, and the fastest batch of
//! each is kept (interference only ever adds time). Prints a table.
//!
//! `cargo bench -p ssh-transport --bench overhead`
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::time::Instant;

use ssh_transport::cipher::{OpeningKey, SealingKey};

mod common;
use common::{BenchRng, PAYLOAD, Raw, name, pairs, source_for};

/// The fastest per-iteration time over `batches` batches of `per` calls.
fn fastest(mut f: impl FnMut(), batches: usize, per: usize) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..batches {
        let t = Instant::now();
        for _ in 0..per {
            f();
        }
        best = best.min(t.elapsed().as_secs_f64() / per as f64);
    }
    best
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument selects pairs.
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let pool: Vec<u8> = (0..PAYLOAD + 4096).map(|i| (i * 7 % 251) as u8).collect();
    let mibs = |secs: f64| PAYLOAD as f64 / secs / (1024.0 * 1024.0);
    println!("seal+open of one {PAYLOAD}-byte payload, fastest of 75 batches of 10");
    for (ci, m) in pairs() {
        let label = name(ci, m);
        if filter.as_ref().is_some_and(|f| !label.contains(f.as_str())) {
            continue;
        }
        let key = vec![0x42u8; ci.key_len()];
        let iv = vec![0x24u8; ci.iv_len()];
        let mac_key = vec![0x17u8; m.key_len()];
        let mut s = SealingKey::new(ci, m, &key, &iv, &mac_key).unwrap();
        let mut o = OpeningKey::new(ci, m, &key, &iv, &mac_key).unwrap();
        let mut rng = <BenchRng as rand::SeedableRng>::seed_from_u64(1);
        let mut buf: Vec<u8> = Vec::with_capacity(PAYLOAD + 256);
        let payload = source_for(&pool, buf.as_ptr().wrapping_add(5));
        let mut seq = 0u32;
        let mut raw = Raw::new(ci, m, &key, &iv, &mac_key);
        let mut rbuf = vec![0u8; s.sealed_len(PAYLOAD) - s.tag_len()];
        let rpayload = source_for(&pool, rbuf.as_ptr().wrapping_add(5));
        let mut rseq = 0u32;
        let (mut packet, mut direct) = (f64::MAX, f64::MAX);
        for _ in 0..15 {
            packet = packet.min(fastest(
                || {
                    buf.clear();
                    buf.extend_from_slice(&[0; 5]);
                    buf.extend_from_slice(black_box(payload));
                    s.seal(seq, &mut buf, 0, &mut rng).unwrap();
                    let total = o.packet_length(seq, &buf).unwrap();
                    let r = o.open(seq, &mut buf[..total]).unwrap();
                    black_box(&buf[r]);
                    seq = seq.wrapping_add(1);
                },
                5,
                10,
            ));
            direct = direct.min(fastest(
                || {
                    rbuf[5..5 + PAYLOAD].copy_from_slice(black_box(rpayload));
                    raw.round(rseq, &mut rbuf);
                    black_box(&rbuf);
                    rseq = rseq.wrapping_add(1);
                },
                5,
                10,
            ));
        }
        println!(
            "{label:55} packet {:8.1} MiB/s  raw {:8.1} MiB/s  overhead {:5.1}%",
            mibs(packet),
            mibs(direct),
            (packet / direct - 1.0) * 100.0
        );
    }
}
