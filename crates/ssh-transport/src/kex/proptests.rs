//! Peer values of any length and content never make a key exchange panic;
//! a mutated value either is rejected or yields a different secret.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;

fn alg() -> impl Strategy<Value = KexAlgorithm> {
    proptest::sample::select(
        KexAlgorithm::ALL
            .into_iter()
            .filter(|a| !a.is_group_exchange() && *a != KexAlgorithm::DhGroup18Sha512)
            .collect::<Vec<_>>(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_peer_values_do_not_panic(
        alg in alg(),
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        seed in any::<u64>(),
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let _ = ServerKex::respond(alg, &bytes, &mut rng);
        let (client, _) = ClientKex::start(alg, &mut rng).unwrap();
        let _ = client.finish(&bytes);
    }

    /// The right length but arbitrary content, for the fixed-size methods.
    #[test]
    fn arbitrary_fixed_size_values(alg in alg(), seed in any::<u64>(), fill in any::<u8>()) {
        let mut rng = StdRng::seed_from_u64(seed);
        let (client, init) = ClientKex::start(alg, &mut rng).unwrap();
        let reply = ServerKex::respond(alg, &init, &mut rng).unwrap();
        let mut value = reply.public.clone();
        let n = value.len();
        value[(seed as usize) % n] ^= fill | 1;
        match client.finish(&value) {
            Ok(k) => prop_assert_ne!(k, reply.secret),
            Err(e) => prop_assert!(matches!(e, KexError::InvalidPublicValue(_)), "{}", e),
        }
    }

    #[test]
    fn arbitrary_moduli_text_does_not_panic(text in "\\PC{0,300}") {
        let _ = Moduli::parse(&text);
        let (m, _) = Moduli::parse_lenient(&text);
        let _ = choose_group(&GexRequest::DEFAULT, Some(&m), &mut StdRng::seed_from_u64(1));
    }

    #[test]
    fn arbitrary_gex_requests(min in any::<u32>(), n in any::<u32>(), max in any::<u32>()) {
        let request = GexRequest { min, n, max };
        if let Ok(group) = choose_group(&request, None, &mut StdRng::seed_from_u64(2)) {
            // A group is handed out only within the client's bounds.
            prop_assert!(group.bits() >= min && group.bits() <= max);
        }
    }
}
