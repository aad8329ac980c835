//! Round trips of every method, host-key signatures over H, and the
//! rejection of invalid peer values.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::OnceLock;

use rand::SeedableRng;
use rand::rngs::StdRng;
use ssh_keys::{KeyType, PrivateKey, SignatureAlgorithm, VerifyPolicy};

use super::*;

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// A moduli file with one 2048-bit and one 4096-bit group (the RFC 3526
/// primes, in moduli(5) format).
fn moduli_text() -> String {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02X}")).collect::<String>();
    format!(
        "# test moduli\n\n20240101000000 2 6 100 2047 2 {}\n20240101000000 2 6 100 4095 5 {}\n",
        hex(DhGroup::group14().p()),
        hex(DhGroup::group16().p())
    )
}

struct Exchange {
    client_public: Vec<u8>,
    server_public: Vec<u8>,
    gex: Option<(GexRequest, DhGroup)>,
    client_k: SharedSecret,
    server_k: SharedSecret,
}

fn run(alg: KexAlgorithm, seed: u64) -> Exchange {
    let mut crng = rng(seed);
    let mut srng = rng(seed + 1000);
    if alg.is_group_exchange() {
        let request = GexRequest::DEFAULT;
        let moduli = Moduli::parse(&moduli_text()).unwrap();
        let group = choose_group(&request, Some(&moduli), &mut srng).unwrap();
        let (client, e) =
            ClientKex::start_gex(alg, &request, group.p(), group.g(), &mut crng).unwrap();
        assert_eq!(client.group(), Some(&group));
        let reply = ServerKex::respond_gex(alg, &group, &e, &mut srng).unwrap();
        let client_k = client.finish(&reply.public).unwrap();
        Exchange {
            client_public: e,
            server_public: reply.public,
            gex: Some((request, group)),
            client_k,
            server_k: reply.secret,
        }
    } else {
        let (client, init) = ClientKex::start(alg, &mut crng).unwrap();
        assert_eq!(client.client_public(), init.as_slice());
        assert_eq!(client.algorithm(), alg);
        let reply = ServerKex::respond(alg, &init, &mut srng).unwrap();
        let client_k = client.finish(&reply.public).unwrap();
        Exchange {
            client_public: init,
            server_public: reply.public,
            gex: None,
            client_k,
            server_k: reply.secret,
        }
    }
}

fn hash_of(alg: KexAlgorithm, x: &Exchange, k: &SharedSecret, host_key: &[u8]) -> Vec<u8> {
    let input = ExchangeHashInput {
        client_version: b"SSH-2.0-client",
        server_version: b"SSH-2.0-server",
        client_kexinit: b"\x14client",
        server_kexinit: b"\x14server",
        host_key,
        gex: x.gex.as_ref().map(|(r, g)| (r, g)),
        client_public: &x.client_public,
        server_public: &x.server_public,
    };
    exchange_hash(alg, &input, k)
}

fn rsa_host_key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| PrivateKey::generate_rsa(2048, &mut rng(99)).unwrap())
}

#[test]
fn every_method_agrees_on_k_and_h() {
    let host = PrivateKey::generate(KeyType::Ed25519, &mut rng(5)).unwrap();
    let k_s = host.public().to_blob();
    for (i, alg) in KexAlgorithm::ALL.into_iter().enumerate() {
        let x = run(alg, i as u64);
        assert_eq!(x.client_k, x.server_k, "{}", alg.name());
        assert_eq!(x.client_k.encoding(), alg.secret_encoding());
        let h_c = hash_of(alg, &x, &x.client_k, &k_s);
        let h_s = hash_of(alg, &x, &x.server_k, &k_s);
        assert_eq!(h_c, h_s, "{}", alg.name());
        assert_eq!(h_c.len(), alg.hash().output_len());
        // A different run gives a different secret.
        let y = run(alg, i as u64 + 500);
        assert_ne!(x.client_k, y.client_k, "{}", alg.name());
        // Derived keys agree too.
        let kc = derive_key(alg.hash(), &x.client_k, &h_c, b'C', &h_c, 64);
        let ks = derive_key(alg.hash(), &x.server_k, &h_s, b'C', &h_s, 64);
        assert_eq!(kc, ks);
    }
}

#[test]
fn public_value_sizes() {
    let sizes = [
        (KexAlgorithm::MlKem768X25519Sha256, 1184 + 32, 1088 + 32, 32),
        (
            KexAlgorithm::MlKem768Nistp256Sha256,
            1184 + 65,
            1088 + 65,
            32,
        ),
        (
            KexAlgorithm::Sntrup761X25519Sha512,
            1158 + 32,
            1039 + 32,
            64,
        ),
        (
            KexAlgorithm::Sntrup761X25519Sha512OpenSsh,
            1158 + 32,
            1039 + 32,
            64,
        ),
        (KexAlgorithm::Curve25519Sha256, 32, 32, 32),
        (KexAlgorithm::EcdhNistp256, 65, 65, 32),
        (KexAlgorithm::EcdhNistp384, 97, 97, 48),
        (KexAlgorithm::EcdhNistp521, 133, 133, 66),
    ];
    for (alg, c, s, k) in sizes {
        let x = run(alg, 3);
        assert_eq!(x.client_public.len(), c, "{}", alg.name());
        assert_eq!(x.server_public.len(), s, "{}", alg.name());
        // Hybrid K is the hash output; ECDH K is the field-sized
        // x-coordinate.
        assert_eq!(x.client_k.as_bytes().len(), k, "{}", alg.name());
    }
}

#[test]
fn names_hashes_and_defaults() {
    for alg in KexAlgorithm::ALL {
        assert_eq!(KexAlgorithm::from_name(alg.name()), Some(alg));
    }
    assert_eq!(
        KexAlgorithm::from_name("diffie-hellman-group15-sha512"),
        None
    );
    assert_eq!(KexAlgorithm::EcdhNistp384.hash(), HashAlg::Sha384);
    assert_eq!(KexAlgorithm::EcdhNistp521.hash(), HashAlg::Sha512);
    assert_eq!(
        KexAlgorithm::MlKem768X25519Sha256.secret_encoding(),
        SecretEncoding::String
    );
    assert_eq!(
        KexAlgorithm::Curve25519Sha256.secret_encoding(),
        SecretEncoding::Mpint
    );
    // The SHA-1 methods are available but not offered by default, nor
    // mlkem768nistp256-sha256 (not in OpenSSH's default list either).
    for alg in KexAlgorithm::ALL {
        assert_eq!(
            KexAlgorithm::DEFAULT.contains(&alg),
            alg.hash() != HashAlg::Sha1 && alg != KexAlgorithm::MlKem768Nistp256Sha256,
            "{}",
            alg.name()
        );
    }
    assert_eq!(DhGroup::group1().bits(), 1024);
    assert_eq!(DhGroup::group14().bits(), 2048);
    assert_eq!(DhGroup::group16().bits(), 4096);
    assert_eq!(DhGroup::group18().bits(), 8192);
}

#[test]
fn fixed_groups_are_valid() {
    for (group, bits) in [
        (DhGroup::group1(), 1024),
        (DhGroup::group14(), 2048),
        (DhGroup::group16(), 4096),
        (DhGroup::group18(), 8192),
    ] {
        assert_eq!(group.bits(), bits);
        assert_eq!(group.g(), [2]);
        // RFC 3526: the first and last 64 bits are all ones, and the
        // constant pi part starts with C90FDAA2 2168C234.
        assert_eq!(&group.p()[..12], &h("ffffffffffffffffc90fdaa2"));
        assert_eq!(&group.p()[group.p().len() - 8..], &[0xff; 8]);
        assert!(DhGroup::new(group.p(), group.g()).is_ok());
    }
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

#[test]
fn host_key_signature_over_h_for_every_key_type() {
    let x = run(KexAlgorithm::Curve25519Sha256, 11);
    let mut r = rng(12);
    let mut hosts: Vec<PrivateKey> = [
        KeyType::Ed25519,
        KeyType::from_name("ecdsa-sha2-nistp256").unwrap(),
        KeyType::from_name("ecdsa-sha2-nistp384").unwrap(),
        KeyType::from_name("ecdsa-sha2-nistp521").unwrap(),
    ]
    .into_iter()
    .map(|t| PrivateKey::generate(t, &mut r).unwrap())
    .collect();
    hosts.push(PrivateKey::generate_rsa(2048, &mut rng(98)).unwrap());
    let policy = VerifyPolicy::default();
    for host in &hosts {
        let k_s = host.public().to_blob();
        let hash = hash_of(KexAlgorithm::Curve25519Sha256, &x, &x.server_k, &k_s);
        for &alg in host.key_type().signature_algorithms() {
            if alg == SignatureAlgorithm::RsaSha1 {
                continue;
            }
            let sig = sign_exchange_hash(host, alg, &hash, &mut r).unwrap();
            let key = verify_exchange_hash(alg, &k_s, &hash, &sig, &policy).unwrap();
            assert_eq!(&key, host.public());
            // A tampered H, signature or host key blob fails.
            let mut bad_h = hash.clone();
            bad_h[0] ^= 1;
            assert!(verify_exchange_hash(alg, &k_s, &bad_h, &sig, &policy).is_err());
            let mut bad_sig = sig.clone();
            let n = bad_sig.len();
            bad_sig[n - 3] ^= 4;
            assert!(verify_exchange_hash(alg, &k_s, &hash, &bad_sig, &policy).is_err());
            let mut bad_ks = k_s.clone();
            let n = bad_ks.len();
            bad_ks[n - 1] ^= 2;
            assert!(verify_exchange_hash(alg, &bad_ks, &hash, &sig, &policy).is_err());
        }
    }
    // Signing with an algorithm the key cannot make is refused.
    assert!(matches!(
        sign_exchange_hash(&hosts[0], SignatureAlgorithm::RsaSha256, b"h", &mut r),
        Err(KexError::Misuse(_))
    ));
    // ssh-rsa host signatures only under a policy that allows them.
    let rsa = rsa_host_key();
    let k_s = rsa.public().to_blob();
    let sig = sign_exchange_hash(rsa, SignatureAlgorithm::RsaSha1, b"h", &mut r).unwrap();
    assert!(verify_exchange_hash(SignatureAlgorithm::RsaSha1, &k_s, b"h", &sig, &policy).is_err());
    assert!(
        verify_exchange_hash(
            SignatureAlgorithm::RsaSha1,
            &k_s,
            b"h",
            &sig,
            &VerifyPolicy::LEGACY
        )
        .is_ok()
    );
}

#[test]
fn tampered_public_values_break_agreement() {
    for alg in [
        KexAlgorithm::MlKem768X25519Sha256,
        KexAlgorithm::MlKem768Nistp256Sha256,
        KexAlgorithm::Sntrup761X25519Sha512,
        KexAlgorithm::Curve25519Sha256,
        KexAlgorithm::DhGroup14Sha256,
    ] {
        let mut crng = rng(21);
        let (client, init) = ClientKex::start(alg, &mut crng).unwrap();
        let reply = ServerKex::respond(alg, &init, &mut rng(22)).unwrap();
        let mut public = reply.public.clone();
        // Flip a bit in the middle (the KEM ciphertext for hybrids: ML-KEM
        // and sntrup761 decapsulate implicitly to an unrelated key).
        let mid = public.len() / 2;
        public[mid] ^= 0x01;
        match client.finish(&public) {
            Ok(k) => assert_ne!(k, reply.secret, "{}", alg.name()),
            Err(e) => assert!(matches!(e, KexError::InvalidPublicValue(_)), "{e}"),
        }
    }
}

#[test]
fn dh_values_out_of_range_are_rejected() {
    let group = DhGroup::group14();
    let p = group.p().to_vec();
    let mut p_minus_1 = p.clone();
    *p_minus_1.last_mut().unwrap() -= 1;
    let body = |mag: &[u8]| ssh_wire::Mpint::from_positive_be(mag).as_bytes().to_vec();
    let alg = KexAlgorithm::DhGroup14Sha256;
    let (client, _) = ClientKex::start(alg, &mut rng(31)).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("0", vec![]),
        ("1", body(&[1])),
        ("p-1", body(&p_minus_1)),
        ("p", body(&p)),
        ("2^2048", body(&[&[1u8][..], &[0u8; 256][..]].concat())),
        ("negative", vec![0x80, 1]),
        ("non-canonical", vec![0, 1]),
        ("lone zero", vec![0]),
    ];
    for (name, value) in &cases {
        assert!(
            matches!(
                ServerKex::respond(alg, value, &mut rng(33)),
                Err(KexError::InvalidPublicValue(_))
            ),
            "server accepted e = {name}"
        );
    }
    for (name, value) in cases {
        let (c, _) = ClientKex::start(alg, &mut rng(34)).unwrap();
        assert!(
            matches!(c.finish(&value), Err(KexError::InvalidPublicValue(_))),
            "client accepted f = {name}"
        );
    }
    // 2 and p-2 are the extremes that are accepted.
    assert!(ServerKex::respond(alg, &body(&[2]), &mut rng(35)).is_ok());
    let mut p_minus_2 = p.clone();
    *p_minus_2.last_mut().unwrap() -= 2;
    assert!(client.finish(&body(&p_minus_2)).is_ok());
}

#[test]
fn x25519_low_order_and_wrong_lengths_are_rejected() {
    let alg = KexAlgorithm::Curve25519Sha256;
    // Points of small order: 0, 1, and the order-8 point of RFC 7748's
    // errata list; all give the all-zero shared secret.
    let low_order = [
        [0u8; 32].to_vec(),
        {
            let mut v = vec![0u8; 32];
            v[0] = 1;
            v
        },
        h("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
        h("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
        h("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
    ];
    for p in &low_order {
        assert!(
            matches!(
                ServerKex::respond(alg, p, &mut rng(41)),
                Err(KexError::InvalidPublicValue(_))
            ),
            "{}",
            hex::encode(p)
        );
        let (c, _) = ClientKex::start(alg, &mut rng(42)).unwrap();
        assert!(c.finish(p).is_err());
    }
    for len in [0, 31, 33, 64] {
        assert!(ServerKex::respond(alg, &vec![9u8; len], &mut rng(43)).is_err());
    }
    // The hybrids check the X25519 half too.
    for alg in [
        KexAlgorithm::MlKem768X25519Sha256,
        KexAlgorithm::Sntrup761X25519Sha512,
    ] {
        let (_, mut init) = ClientKex::start(alg, &mut rng(44)).unwrap();
        let n = init.len();
        init[n - 32..].fill(0);
        assert!(matches!(
            ServerKex::respond(alg, &init, &mut rng(45)),
            Err(KexError::InvalidPublicValue(_))
        ));
    }
}

#[test]
fn hybrid_wrong_lengths_are_rejected() {
    for alg in [
        KexAlgorithm::MlKem768X25519Sha256,
        KexAlgorithm::MlKem768Nistp256Sha256,
        KexAlgorithm::Sntrup761X25519Sha512OpenSsh,
    ] {
        let (client, init) = ClientKex::start(alg, &mut rng(51)).unwrap();
        for cut in [1usize, 32] {
            assert!(ServerKex::respond(alg, &init[..init.len() - cut], &mut rng(52)).is_err());
        }
        let mut longer = init.clone();
        longer.push(0);
        assert!(ServerKex::respond(alg, &longer, &mut rng(52)).is_err());
        let reply = ServerKex::respond(alg, &init, &mut rng(53)).unwrap();
        let mut short = reply.public.clone();
        short.pop();
        assert!(matches!(
            client.finish(&short),
            Err(KexError::InvalidPublicValue(_))
        ));
    }
    // An ML-KEM encapsulation key with a coefficient >= q fails the FIPS 203
    // modulus check.
    let (_, mut init) = ClientKex::start(KexAlgorithm::MlKem768X25519Sha256, &mut rng(54)).unwrap();
    init[0] = 0xff;
    init[1] |= 0x0f;
    assert!(matches!(
        ServerKex::respond(KexAlgorithm::MlKem768X25519Sha256, &init, &mut rng(55)),
        Err(KexError::InvalidPublicValue(_))
    ));
}

#[test]
fn hybrid_k_is_hash_of_kem_and_x25519_secrets() {
    // Rebuild K from the parts with the KEM crates directly: the order is
    // K_PQ || K_CL and the hash is the method's.
    use ml_kem::{Decapsulate, DecapsulationKey, Generate, KeyExport, MlKem768};
    use sha2::Digest;
    let mut crng = rng(61);
    let dk = DecapsulationKey::<MlKem768>::generate_from_rng(&mut crng);
    let x_secret = [7u8; 32];
    let x_pub = x25519_dalek::x25519(x_secret, x25519_dalek::X25519_BASEPOINT_BYTES);
    let mut init = dk.encapsulation_key().to_bytes().to_vec();
    init.extend_from_slice(&x_pub);
    let reply =
        ServerKex::respond(KexAlgorithm::MlKem768X25519Sha256, &init, &mut rng(62)).unwrap();
    let (ct, server_x) = reply.public.split_at(1088);
    let k_pq = dk.decapsulate_slice(ct).unwrap();
    let k_cl = x25519_dalek::x25519(x_secret, server_x.try_into().unwrap());
    let mut hasher = sha2::Sha256::new();
    hasher.update(k_pq);
    hasher.update(k_cl);
    assert_eq!(reply.secret.as_bytes(), hasher.finalize().as_slice());
    // As a string in the hash: uint32 32 || the 32 bytes.
    assert_eq!(&reply.secret.encoded()[..4], &[0, 0, 0, 32]);

    let (ek, dk) = sntrup761::generate_key(&mut crng);
    let mut init = ek.as_ref().to_vec();
    init.extend_from_slice(&x_pub);
    let reply =
        ServerKex::respond(KexAlgorithm::Sntrup761X25519Sha512, &init, &mut rng(63)).unwrap();
    let (ct, server_x) = reply.public.split_at(1039);
    let k_pq = dk.decapsulate(&sntrup761::Ciphertext::try_from(ct).unwrap());
    let k_cl = x25519_dalek::x25519(x_secret, server_x.try_into().unwrap());
    let mut hasher = sha2::Sha512::new();
    hasher.update(k_pq.as_ref());
    hasher.update(k_cl);
    assert_eq!(reply.secret.as_bytes(), hasher.finalize().as_slice());
}

#[test]
fn ecdh_invalid_points_are_rejected() {
    let alg = KexAlgorithm::EcdhNistp256;
    let (_, q) = ClientKex::start(alg, &mut rng(71)).unwrap();
    let mut off_curve = q.clone();
    off_curve[64] ^= 1;
    let mut compressed = vec![2 | (q[64] & 1)];
    compressed.extend_from_slice(&q[1..33]);
    let mut identity = vec![0u8; 65];
    identity[0] = 4;
    for bad in [
        off_curve,
        compressed,
        identity,
        q[..64].to_vec(),
        vec![0],
        vec![],
    ] {
        assert!(matches!(
            ServerKex::respond(alg, &bad, &mut rng(72)),
            Err(KexError::InvalidPublicValue(_))
        ));
    }
    // A P-256 point offered to P-384.
    assert!(ServerKex::respond(KexAlgorithm::EcdhNistp384, &q, &mut rng(73)).is_err());
}

#[test]
fn group_exchange_requests_and_choice() {
    let moduli = Moduli::parse(&moduli_text()).unwrap();
    assert_eq!(moduli.groups().len(), 2);
    assert_eq!(moduli.groups()[0].bits, 2048);
    assert_eq!(moduli.groups()[1].g, [5]);
    let mut r = rng(81);
    let pick = |min, n, max, r: &mut StdRng| {
        choose_group(&GexRequest { min, n, max }, Some(&moduli), r).map(|g| g.bits())
    };
    // Closest size at or above n, else the largest below.
    assert_eq!(pick(2048, 3072, 8192, &mut r).unwrap(), 4096);
    assert_eq!(pick(2048, 2048, 8192, &mut r).unwrap(), 2048);
    assert_eq!(pick(2048, 8192, 8192, &mut r).unwrap(), 4096);
    assert_eq!(pick(1024, 1024, 3000, &mut r).unwrap(), 2048);
    // Bounds are clamped to 2048..=8192 but must make sense.
    assert!(matches!(
        pick(4096, 3072, 8192, &mut r),
        Err(KexError::InvalidRequest(_))
    ));
    assert!(matches!(
        pick(2048, 9000, 8192, &mut r),
        Err(KexError::InvalidRequest(_))
    ));
    assert!(matches!(
        pick(1024, 1024, 1024, &mut r),
        Err(KexError::InvalidRequest(_))
    ));
    // Without moduli: the RFC 3526 fallback, never above max.
    let fallback = |min, n, max| {
        choose_group(&GexRequest { min, n, max }, None, &mut rng(82)).map(|g| g.bits())
    };
    assert_eq!(fallback(2048, 3072, 8192).unwrap(), 8192);
    assert_eq!(fallback(2048, 3072, 4096).unwrap(), 4096);
    assert_eq!(fallback(2048, 2048, 3072).unwrap(), 2048);
    assert!(fallback(3000, 3072, 3500).is_err());

    // The client checks the group against its request.
    let request = GexRequest {
        min: 3072,
        n: 3072,
        max: 8192,
    };
    let g14 = DhGroup::group14();
    assert!(matches!(
        ClientKex::start_gex(
            KexAlgorithm::DhGexSha256,
            &request,
            g14.p(),
            g14.g(),
            &mut r
        ),
        Err(KexError::GroupOutOfRange { bits: 2048, .. })
    ));
    // Bad generators and even moduli.
    for g in [&[][..], &[1], g14.p()] {
        assert!(GexRequest::DEFAULT.check_group(g14.p(), g).is_err());
    }
    let mut even = g14.p().to_vec();
    *even.last_mut().unwrap() = 0xfe;
    assert!(matches!(
        GexRequest::DEFAULT.check_group(&even, &[2]),
        Err(KexError::InvalidGroup(_))
    ));
    // Misuse: group exchange through the fixed-group entry points and back.
    assert!(matches!(
        ClientKex::start(KexAlgorithm::DhGexSha256, &mut r),
        Err(KexError::Misuse(_))
    ));
    assert!(matches!(
        ServerKex::respond_gex(KexAlgorithm::Curve25519Sha256, &g14, &[2], &mut r),
        Err(KexError::Misuse(_))
    ));
}

#[test]
fn moduli_parsing() {
    let good = moduli_text();
    let bad_lines = [
        "20240101000000 2 6 100 2047 2",                      // truncated
        "20240101000000 4 6 100 2047 2 FF",                   // not type 2
        "20240101000000 2 1 100 2047 2 FF",                   // composite
        "20240101000000 2 6 0 2047 2 FF",                     // no trials
        "20240101000000 2 6 100 2047 2 XYZ",                  // not hex
        "20240101000000 2 6 100 4095 2 FFFFFFFFFFFFFFFFFFFF", // wrong size / too small
    ];
    for bad in bad_lines {
        let text = format!("{good}{bad}\n");
        assert!(
            matches!(
                Moduli::parse(&text),
                Err(KexError::InvalidModuli { line: 5, .. })
            ),
            "{bad}"
        );
        let (lenient, errors) = Moduli::parse_lenient(&text);
        assert_eq!(lenient.groups().len(), 2);
        assert_eq!(errors.len(), 1);
    }
    // The size field must be the modulus size minus one.
    let wrong = good.replace(" 2047 ", " 2048 ");
    assert!(Moduli::parse(&wrong).is_err());
    assert_eq!(Moduli::parse("").unwrap().groups().len(), 0);
}

#[test]
fn exponent_sizes_follow_openssh() {
    assert_eq!(dh::exponent_bits(HashAlg::Sha1, 1024), 512);
    assert_eq!(dh::exponent_bits(HashAlg::Sha256, 2048), 512);
    assert_eq!(dh::exponent_bits(HashAlg::Sha512, 4096), 1024);
    assert_eq!(dh::exponent_bits(HashAlg::Sha512, 8192), 1024);
}

#[test]
fn shared_secret_debug_hides_the_value() {
    let x = run(KexAlgorithm::Curve25519Sha256, 91);
    let dbg = format!("{:?}", x.client_k);
    assert_eq!(dbg, "SharedSecret(Mpint, 32 bytes)");
}

#[test]
fn mlkem768nistp256_k_is_hash_of_kem_secret_and_raw_x_coordinate() {
    // Rebuilt from the parts with the KEM and curve crates: C_INIT is
    // ek || Q_C (uncompressed), S_REPLY ct || Q_S, K_CL the shared x
    // coordinate as 32 raw bytes (OpenSSH's kexmlkem768ecdh.c), K =
    // SHA-256(K_PQ || K_CL) as a string.
    use elliptic_curve::sec1::ToSec1Point;
    use ml_kem::{Decapsulate, DecapsulationKey, Generate, KeyExport, MlKem768};
    use sha2::Digest;
    let alg = KexAlgorithm::MlKem768Nistp256Sha256;
    let mut crng = rng(71);
    let dk = DecapsulationKey::<MlKem768>::generate_from_rng(&mut crng);
    let ec = p256::SecretKey::from_slice(&[0x11; 32]).unwrap();
    let q_c = ec.public_key().to_sec1_point(false);
    let mut init = dk.encapsulation_key().to_bytes().to_vec();
    init.extend_from_slice(q_c.as_bytes());
    assert_eq!(init.len(), 1184 + 65);
    let reply = ServerKex::respond(alg, &init, &mut rng(72)).unwrap();
    let (ct, q_s) = reply.public.split_at(1088);
    assert_eq!(q_s.len(), 65);
    assert_eq!(q_s[0], 0x04);
    let k_pq = dk.decapsulate_slice(ct).unwrap();
    let q_s = p256::PublicKey::from_sec1_bytes(q_s).unwrap();
    let k_cl = p256::ecdh::diffie_hellman(ec.to_nonzero_scalar(), q_s.as_affine());
    let mut hasher = sha2::Sha256::new();
    hasher.update(k_pq);
    hasher.update(k_cl.raw_secret_bytes());
    assert_eq!(reply.secret.as_bytes(), hasher.finalize().as_slice());
    assert_eq!(&reply.secret.encoded()[..4], &[0, 0, 0, 32]);
    // A Q_C off the curve, or compressed, is refused.
    let mut off = init.clone();
    let n = off.len();
    off[n - 1] ^= 0x01;
    assert!(matches!(
        ServerKex::respond(alg, &off, &mut rng(73)),
        Err(KexError::InvalidPublicValue(_))
    ));
    let mut compressed = init[..1184].to_vec();
    compressed.extend_from_slice(ec.public_key().to_sec1_point(true).as_bytes());
    compressed.resize(1184 + 65, 0);
    assert!(ServerKex::respond(alg, &compressed, &mut rng(74)).is_err());
}
