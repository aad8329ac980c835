//! Peer data never makes the parsers panic, and nothing but a real
//! signature verifies: arbitrary and mutated blobs, lines and signatures.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::OnceLock;

use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use ssh_keys::{
    EcdsaCurve, KeyType, PrivateKey, PublicKey, SignatureAlgorithm, VerifyPolicy,
    parse_signature_blob, verify_with_policy,
};

/// Keys of every type with one valid signature each over `b"data"`.
fn keys() -> &'static Vec<(PrivateKey, SignatureAlgorithm, Vec<u8>)> {
    static KEYS: OnceLock<Vec<(PrivateKey, SignatureAlgorithm, Vec<u8>)>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = StdRng::seed_from_u64(3);
        let mut keys: Vec<(PrivateKey, SignatureAlgorithm)> = [
            (KeyType::Ed25519, SignatureAlgorithm::Ed25519),
            (
                KeyType::Ecdsa(EcdsaCurve::NistP256),
                SignatureAlgorithm::Ecdsa(EcdsaCurve::NistP256),
            ),
            (
                KeyType::Ecdsa(EcdsaCurve::NistP521),
                SignatureAlgorithm::Ecdsa(EcdsaCurve::NistP521),
            ),
        ]
        .into_iter()
        .map(|(t, a)| (PrivateKey::generate(t, &mut rng).unwrap(), a))
        .collect();
        keys.push((
            PrivateKey::generate_rsa(2048, &mut rng).unwrap(),
            SignatureAlgorithm::RsaSha256,
        ));
        keys.into_iter()
            .map(|(k, a)| {
                let sig = k.sign(a, b"data", &mut rng).unwrap();
                (k, a, sig)
            })
            .collect()
    })
}

#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(i, b)| Edit::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Remove),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(mut v: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let n = v.len().max(1);
        match *e {
            Edit::Flip(i, b) if !v.is_empty() => v[i % n] ^= b,
            Edit::Insert(i, b) => v.insert(i % (v.len() + 1), b),
            Edit::Remove(i) if !v.is_empty() => {
                v.remove(i % n);
            }
            Edit::Truncate(i) => v.truncate(i % (v.len() + 1)),
            _ => {}
        }
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_blobs_do_not_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = PublicKey::from_blob(&bytes);
        let _ = parse_signature_blob(&bytes);
    }

    #[test]
    fn arbitrary_lines_do_not_panic(line in "\\PC{0,200}") {
        let _ = PublicKey::from_openssh(&line);
    }

    /// A mutated key blob either fails or is a valid key that encodes back
    /// to exactly the same bytes (the encoding is canonical).
    #[test]
    fn mutated_key_blobs(which in 0..4usize, edits in proptest::collection::vec(edit(), 1..4)) {
        let blob = apply(keys()[which].0.public().to_blob(), &edits);
        if let Ok(key) = PublicKey::from_blob(&blob) {
            prop_assert_eq!(key.to_blob(), blob);
        }
    }

    /// A mutated signature never verifies (unless the edits cancelled out).
    #[test]
    fn mutated_signatures_fail(which in 0..4usize, edits in proptest::collection::vec(edit(), 1..4)) {
        let (key, alg, sig) = &keys()[which];
        let bad = apply(sig.clone(), &edits);
        let result = verify_with_policy(key.public(), *alg, b"data", &bad, &VerifyPolicy::LEGACY);
        if &bad == sig {
            prop_assert!(result.is_ok());
        } else {
            prop_assert!(result.is_err());
        }
    }
}
