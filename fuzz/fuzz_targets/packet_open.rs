//! Packet opening (`ssh-transport`'s `OpeningKey`) under every cipher and
//! MAC pair the transport can negotiate, keys fixed. The first byte picks
//! the pair; the rest is a list of chunks making one stream: packets
//! sealed here (a payload of the input's bytes), the same with one byte
//! flipped, or raw bytes. The stream is opened packet by packet as the
//! transport does (`packet_length` on the first bytes, then `open`).
//!
//! What must hold: no panic; under an authenticated pair (anything but
//! `none` without a MAC) only packets sealed here, untampered, at their
//! own offset and sequence number open, with their payload; whatever
//! opens (under any pair) seals again, with its padding replayed, to the
//! bytes it was opened from.
#![no_main]

use core::convert::Infallible;

use libfuzzer_sys::fuzz_target;
use ssh_transport::cipher::{CipherAlg, MacAlg, OpeningKey, SealingKey};

/// Every pair: the AEADs alone, CTR with each MAC, `none` alone and with
/// each MAC (as the transport's `cipher_packets` tests).
fn pairs() -> Vec<(CipherAlg, MacAlg)> {
    let macs: Vec<MacAlg> = MacAlg::ALL
        .iter()
        .copied()
        .filter(|m| *m != MacAlg::None)
        .collect();
    let mut v = vec![
        (CipherAlg::ChaCha20Poly1305, MacAlg::None),
        (CipherAlg::Aes128Gcm, MacAlg::None),
        (CipherAlg::Aes256Gcm, MacAlg::None),
        (CipherAlg::None, MacAlg::None),
    ];
    for c in CipherAlg::ALL {
        if c.is_aead() {
            continue;
        }
        for m in &macs {
            v.push((*c, *m));
        }
    }
    v
}

fn material(n: usize, salt: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(13).wrapping_add(salt))
        .collect()
}

fn sealing(c: CipherAlg, m: MacAlg) -> SealingKey {
    let (k, iv, mk) = (
        material(c.key_len(), 1),
        material(c.iv_len(), 2),
        material(m.key_len(), 3),
    );
    SealingKey::new(c, m, &k, &iv, &mk).expect("fixed keys of the right lengths")
}

fn opening(c: CipherAlg, m: MacAlg) -> OpeningKey {
    let (k, iv, mk) = (
        material(c.key_len(), 1),
        material(c.iv_len(), 2),
        material(m.key_len(), 3),
    );
    OpeningKey::new(c, m, &k, &iv, &mk).expect("fixed keys of the right lengths")
}

/// Gives back the bytes it holds (the padding of an opened packet), then
/// zeros.
struct Replay(Vec<u8>, usize);

impl rand_core::TryRng for Replay {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for d in dst {
            *d = self.0.get(self.1).copied().unwrap_or(0);
            self.1 += 1;
        }
        Ok(())
    }
}
impl rand_core::TryCryptoRng for Replay {}

/// A packet sealed here: where it starts in the stream, its sequence
/// number, its payload, and whether a byte of it was flipped.
struct Sealed {
    at: usize,
    seq: u32,
    payload: Vec<u8>,
    tampered: bool,
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, mut rest)) = data.split_first() else {
        return;
    };
    let pairs = pairs();
    let (cipher, mac) = pairs[usize::from(pick) % pairs.len()];
    let authenticated = cipher.is_aead() || mac != MacAlg::None;

    // The stream.
    let mut sealer = sealing(cipher, mac);
    let mut stream = Vec::new();
    let mut sealed = Vec::new();
    let mut seq = 0u32;
    while let Some((&op, tail)) = rest.split_first() {
        let Some((&n, tail)) = tail.split_first() else {
            break;
        };
        let n = usize::from(n).min(tail.len());
        let (chunk, tail) = tail.split_at(n);
        rest = tail;
        if op % 4 == 0 {
            stream.extend_from_slice(chunk);
            continue;
        }
        let at = stream.len();
        stream.extend_from_slice(&[0; 5]);
        stream.extend_from_slice(chunk);
        // Padding from the input too (zeros past its end).
        let mut rng = Replay(rest.to_vec(), 0);
        sealer
            .seal(seq, &mut stream, at, &mut rng)
            .expect("a payload under 256 bytes seals");
        let tampered = op % 4 == 3;
        if tampered {
            let len = stream.len() - at;
            let i = at + usize::from(op) * 7 % len;
            stream[i] ^= 1 << (op % 8);
        }
        sealed.push(Sealed {
            at,
            seq,
            payload: chunk.to_vec(),
            tampered,
        });
        seq = seq.wrapping_add(1);
    }

    // Opening it, as the transport does.
    let mut opener = opening(cipher, mac);
    let mut resealer = sealing(cipher, mac);
    let mut reopener = opening(cipher, mac);
    let mut at = 0;
    let mut seq = 0u32;
    while stream.len() - at >= opener.first_len() {
        let Ok(total) = opener.packet_length(seq, &stream[at..]) else {
            break;
        };
        if stream.len() - at < total {
            break;
        }
        let wire = stream[at..at + total].to_vec();
        let packet = &mut stream[at..at + total];
        let Ok(range) = opener.open(seq, packet) else {
            break;
        };
        assert!(range.start == 5 && range.end <= total - opener.tag_len());
        let payload = packet[range.clone()].to_vec();
        let padding = packet[range.end..total - opener.tag_len()].to_vec();
        if authenticated {
            let ours = sealed
                .iter()
                .find(|s| s.at == at && s.seq == seq)
                .unwrap_or_else(|| panic!("a packet not sealed here opened at {at}, seq {seq}"));
            assert!(!ours.tampered, "a tampered packet opened at {at}");
            assert_eq!(ours.payload, payload);
        }
        // Sealed again with its own padding: the same bytes, when the
        // padding is the length a sealer picks (a peer may pad more); in
        // any case what opens the same.
        let mut again = vec![0; 5];
        again.extend_from_slice(&payload);
        let minimal = resealer.padding_len(payload.len()) == padding.len();
        resealer
            .seal(seq, &mut again, 0, &mut Replay(padding, 0))
            .expect("what opened seals");
        if minimal {
            assert_eq!(again, wire, "re-sealed differently at {at}");
        }
        let range = reopener
            .open(seq, &mut again)
            .expect("a re-sealed packet opens");
        assert_eq!(again[range], payload[..]);
        at += total;
        seq = seq.wrapping_add(1);
    }
});
