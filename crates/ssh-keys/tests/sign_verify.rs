//! Keys we generate: signatures verify, tampered ones do not, algorithm
//! names are enforced, malformed blobs are rejected without panics.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::OnceLock;

use rand::SeedableRng;
use rand::rngs::StdRng;
use ssh_keys::{
    EcdsaCurve, Error, KeyType, PrivateKey, PublicKey, SignatureAlgorithm, Signer, VerifyPolicy,
    encode_signature_blob, parse_signature_blob, verify, verify_with_policy,
};
use ssh_wire::codec::put_string;
use ssh_wire::mpint::put_positive_mpint;

fn rng() -> StdRng {
    StdRng::seed_from_u64(0x5eed)
}

/// One 2048-bit RSA key for all tests (generation is the slow part).
fn rsa_key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| PrivateKey::generate_rsa(2048, &mut rng()).unwrap())
}

fn keys() -> Vec<PrivateKey> {
    let mut rng = rng();
    let mut out: Vec<PrivateKey> = [
        KeyType::Ed25519,
        KeyType::Ecdsa(EcdsaCurve::NistP256),
        KeyType::Ecdsa(EcdsaCurve::NistP384),
        KeyType::Ecdsa(EcdsaCurve::NistP521),
    ]
    .into_iter()
    .map(|t| PrivateKey::generate(t, &mut rng).unwrap())
    .collect();
    out.push(PrivateKey::generate_rsa(2048, &mut StdRng::seed_from_u64(7)).unwrap());
    out
}

#[test]
fn every_algorithm_signs_and_verifies() {
    let mut rng = rng();
    let data = b"exchange hash or auth data";
    for key in keys() {
        for &alg in key.key_type().signature_algorithms() {
            let sig = key.sign(alg, data, &mut rng).unwrap();
            let (name, _) = parse_signature_blob(&sig).unwrap();
            assert_eq!(name, alg.name());
            let policy = VerifyPolicy::LEGACY;
            verify_with_policy(key.public(), alg, data, &sig, &policy)
                .unwrap_or_else(|e| panic!("{}: {e}", alg.name()));

            // Through the Signer trait object as well.
            let signer: &dyn Signer = &key;
            assert!(signer.algorithms().contains(&alg));
            let sig2 = signer.sign(alg, data, &mut rng).unwrap();
            verify_with_policy(signer.public_key(), alg, data, &sig2, &policy).unwrap();

            // Other data fails.
            assert_eq!(
                verify_with_policy(key.public(), alg, b"other data", &sig, &policy),
                Err(Error::BadSignature),
                "{}",
                alg.name()
            );
            // Every single flipped bit of the inner signature fails (a
            // sample of positions, to keep the test fast).
            let inner_start = sig.len() - parse_signature_blob(&sig).unwrap().1.len();
            for pos in (inner_start..sig.len()).step_by(7) {
                let mut bad = sig.clone();
                bad[pos] ^= 0x10;
                assert!(
                    verify_with_policy(key.public(), alg, data, &bad, &policy).is_err(),
                    "{} byte {pos}",
                    alg.name()
                );
            }
        }
    }
}

#[test]
fn ed25519_rfc8032_test_1() {
    // RFC 8032 §7.1, TEST 1: empty message.
    let seed: [u8; 32] =
        hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
            .unwrap()
            .try_into()
            .unwrap();
    let key = PrivateKey::from_ed25519_seed(&seed);
    let mut blob = Vec::new();
    put_string(&mut blob, b"ssh-ed25519");
    put_string(
        &mut blob,
        &hex::decode("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a").unwrap(),
    );
    assert_eq!(key.public().to_blob(), blob);
    let sig = key
        .sign(SignatureAlgorithm::Ed25519, b"", &mut rng())
        .unwrap();
    let expected = hex::decode(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    )
    .unwrap();
    assert_eq!(
        sig,
        encode_signature_blob(SignatureAlgorithm::Ed25519, &expected)
    );
    verify(key.public(), SignatureAlgorithm::Ed25519, b"", &sig).unwrap();
}

#[test]
fn ssh_rsa_is_verify_only_by_policy() {
    let key = rsa_key();
    let mut rng = rng();
    let sig = key
        .sign(SignatureAlgorithm::RsaSha1, b"data", &mut rng)
        .unwrap();
    assert_eq!(
        verify(key.public(), SignatureAlgorithm::RsaSha1, b"data", &sig),
        Err(Error::AlgorithmDisabled("ssh-rsa"))
    );
    let legacy = VerifyPolicy {
        allow_ssh_rsa: true,
        ..VerifyPolicy::default()
    };
    verify_with_policy(
        key.public(),
        SignatureAlgorithm::RsaSha1,
        b"data",
        &sig,
        &legacy,
    )
    .unwrap();
    // RSA signatures are exactly as long as the modulus.
    let (_, inner) = parse_signature_blob(&sig).unwrap();
    assert_eq!(inner.len(), 256);
}

#[test]
fn algorithm_names_are_enforced() {
    let key = rsa_key();
    let mut rng = rng();
    let sig256 = key
        .sign(SignatureAlgorithm::RsaSha256, b"data", &mut rng)
        .unwrap();
    // Negotiated rsa-sha2-512 but the blob says rsa-sha2-256.
    let err = verify(
        key.public(),
        SignatureAlgorithm::RsaSha512,
        b"data",
        &sig256,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::AlgorithmMismatch {
                expected: "rsa-sha2-512",
                ..
            }
        ),
        "{err}"
    );
    // A correct inner signature relabelled with another name fails too.
    let (_, inner) = parse_signature_blob(&sig256).unwrap();
    let relabelled = encode_signature_blob(SignatureAlgorithm::RsaSha512, inner);
    assert_eq!(
        verify(
            key.public(),
            SignatureAlgorithm::RsaSha512,
            b"data",
            &relabelled
        ),
        Err(Error::BadSignature)
    );

    // The algorithm must fit the key type.
    let ed = PrivateKey::generate(KeyType::Ed25519, &mut rng).unwrap();
    let ed_sig = ed
        .sign(SignatureAlgorithm::Ed25519, b"data", &mut rng)
        .unwrap();
    assert!(matches!(
        verify(
            ed.public(),
            SignatureAlgorithm::Ecdsa(EcdsaCurve::NistP256),
            b"data",
            &ed_sig
        ),
        Err(Error::AlgorithmMismatch { .. })
    ));
    assert!(matches!(
        ed.sign(SignatureAlgorithm::RsaSha256, b"data", &mut rng),
        Err(Error::AlgorithmMismatch { .. })
    ));
    let p384 = PrivateKey::generate(KeyType::Ecdsa(EcdsaCurve::NistP384), &mut rng).unwrap();
    assert!(matches!(
        p384.sign(
            SignatureAlgorithm::Ecdsa(EcdsaCurve::NistP256),
            b"d",
            &mut rng
        ),
        Err(Error::AlgorithmMismatch { .. })
    ));
}

#[test]
fn rsa_signature_shorter_than_modulus_is_padded_longer_rejected() {
    let key = rsa_key();
    let mut rng = rng();
    // Find a signature with a leading zero byte (about 1 in 256).
    let mut found = false;
    for i in 0u32..2000 {
        let data = i.to_be_bytes();
        let sig = key
            .sign(SignatureAlgorithm::RsaSha256, &data, &mut rng)
            .unwrap();
        let (_, inner) = parse_signature_blob(&sig).unwrap();
        if inner[0] == 0 {
            let short = encode_signature_blob(SignatureAlgorithm::RsaSha256, &inner[1..]);
            verify(key.public(), SignatureAlgorithm::RsaSha256, &data, &short).unwrap();
            found = true;
            break;
        }
    }
    assert!(found);
    let sig = key
        .sign(SignatureAlgorithm::RsaSha256, b"d", &mut rng)
        .unwrap();
    let (_, inner) = parse_signature_blob(&sig).unwrap();
    let mut long = vec![0u8];
    long.extend_from_slice(inner);
    let long = encode_signature_blob(SignatureAlgorithm::RsaSha256, &long);
    assert!(matches!(
        verify(key.public(), SignatureAlgorithm::RsaSha256, b"d", &long),
        Err(Error::InvalidSignature(_))
    ));
}

#[test]
fn ecdsa_signature_encoding_is_checked() {
    let mut rng = rng();
    let key = PrivateKey::generate(KeyType::Ecdsa(EcdsaCurve::NistP256), &mut rng).unwrap();
    let alg = SignatureAlgorithm::Ecdsa(EcdsaCurve::NistP256);
    let bad_inner = |r: &[u8], s: &[u8]| {
        let mut inner = Vec::new();
        put_positive_mpint(&mut inner, r);
        put_positive_mpint(&mut inner, s);
        encode_signature_blob(alg, &inner)
    };
    for blob in [
        bad_inner(&[], &[1]),            // r = 0
        bad_inner(&[1], &[]),            // s = 0
        bad_inner(&[1; 33], &[1]),       // r longer than the field
        bad_inner(&[0xff; 32], &[1]),    // r >= n
        encode_signature_blob(alg, &[]), // nothing
    ] {
        assert!(verify(key.public(), alg, b"d", &blob).is_err());
    }
    // Trailing bytes after s.
    let sig = key.sign(alg, b"d", &mut rng).unwrap();
    let (_, inner) = parse_signature_blob(&sig).unwrap();
    let mut longer = inner.to_vec();
    longer.push(0);
    assert!(matches!(
        verify(
            key.public(),
            alg,
            b"d",
            &encode_signature_blob(alg, &longer)
        ),
        Err(Error::Decode(_))
    ));
    // Trailing bytes after the blob.
    let mut trailing = sig.clone();
    trailing.push(0);
    assert!(matches!(
        verify(key.public(), alg, b"d", &trailing),
        Err(Error::Decode(_))
    ));
}

fn ecdsa_blob(name: &str, id: &str, point: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    put_string(&mut b, name.as_bytes());
    put_string(&mut b, id.as_bytes());
    put_string(&mut b, point);
    b
}

#[test]
fn malformed_key_blobs_are_rejected() {
    let mut rng = rng();
    let p256 = PrivateKey::generate(KeyType::Ecdsa(EcdsaCurve::NistP256), &mut rng).unwrap();
    let good = p256.public().to_blob();
    assert!(PublicKey::from_blob(&good).is_ok());
    // The point, from the blob: 4 + 19 + 4 + 8 + 4 bytes of header.
    let point = &good[good.len() - 65..];
    assert_eq!(point[0], 4);

    // An off-curve point: change y.
    let mut off = point.to_vec();
    off[64] ^= 1;
    assert_eq!(
        PublicKey::from_blob(&ecdsa_blob("ecdsa-sha2-nistp256", "nistp256", &off)),
        Err(Error::InvalidKey("EC point is not on the curve"))
    );
    // Compressed form, wrong length, wrong curve identifier.
    let mut compressed = vec![2 + (point[64] & 1)];
    compressed.extend_from_slice(&point[1..33]);
    assert!(
        PublicKey::from_blob(&ecdsa_blob("ecdsa-sha2-nistp256", "nistp256", &compressed)).is_err()
    );
    assert!(
        PublicKey::from_blob(&ecdsa_blob("ecdsa-sha2-nistp256", "nistp256", &point[..64])).is_err()
    );
    assert!(PublicKey::from_blob(&ecdsa_blob("ecdsa-sha2-nistp256", "nistp384", point)).is_err());
    assert!(PublicKey::from_blob(&ecdsa_blob("ecdsa-sha2-nistp384", "nistp384", point)).is_err());
    // The point at infinity.
    assert!(PublicKey::from_blob(&ecdsa_blob("ecdsa-sha2-nistp256", "nistp256", &[0])).is_err());

    // Ed25519: 31 and 33 bytes.
    for len in [31, 33] {
        let mut b = Vec::new();
        put_string(&mut b, b"ssh-ed25519");
        put_string(&mut b, &vec![1; len]);
        assert!(matches!(
            PublicKey::from_blob(&b),
            Err(Error::InvalidKey(_))
        ));
    }

    // Trailing bytes, truncation, unknown types.
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(matches!(
        PublicKey::from_blob(&trailing),
        Err(Error::Decode(_))
    ));
    for cut in 0..good.len() {
        assert!(PublicKey::from_blob(&good[..cut]).is_err());
    }
    let mut dss = Vec::new();
    put_string(&mut dss, b"ssh-dss");
    assert!(matches!(
        PublicKey::from_blob(&dss),
        Err(Error::UnknownAlgorithm(_))
    ));
}

#[test]
fn rsa_blob_bounds() {
    let rsa_blob = |e: &[u8], n: &[u8]| {
        let mut b = Vec::new();
        put_string(&mut b, b"ssh-rsa");
        put_positive_mpint(&mut b, e);
        put_positive_mpint(&mut b, n);
        b
    };
    let real = rsa_key().public().to_blob();
    assert!(PublicKey::from_blob(&real).is_ok());
    // 1023 bits: too small.
    let mut n = vec![0xffu8; 128];
    n[0] = 0x7f;
    assert!(matches!(
        PublicKey::from_blob(&rsa_blob(&[1, 0, 1], &n)),
        Err(Error::RsaKeySize { bits: 1023, .. })
    ));
    // 16385 bits: too large (the mpint itself is still within ssh-wire's
    // limit).
    let mut n = vec![0xffu8; 2049];
    n[0] = 1;
    assert!(matches!(
        PublicKey::from_blob(&rsa_blob(&[1, 0, 1], &n)),
        Err(Error::RsaKeySize { bits: 16385, .. })
    ));
    // Even modulus.
    let mut n = vec![0xffu8; 256];
    n[255] = 0xfe;
    assert!(matches!(
        PublicKey::from_blob(&rsa_blob(&[1, 0, 1], &n)),
        Err(Error::InvalidKey(_))
    ));
    // Negative n.
    let mut b = Vec::new();
    put_string(&mut b, b"ssh-rsa");
    put_positive_mpint(&mut b, &[3]);
    put_string(&mut b, &[0x80; 256]);
    assert!(PublicKey::from_blob(&b).is_err());
}

#[test]
fn generation_bounds_and_debug_hides_secrets() {
    let mut rng = rng();
    assert!(matches!(
        PrivateKey::generate_rsa(1024, &mut rng),
        Err(Error::RsaKeySize { bits: 1024, .. })
    ));
    let key = PrivateKey::from_ed25519_seed(&[7; 32]);
    let dbg = format!("{key:?}");
    assert!(dbg.starts_with("PrivateKey(ssh-ed25519 SHA256:"), "{dbg}");
    assert!(!dbg.contains("0707"), "{dbg}");
}

#[test]
fn ecdsa_from_scalar_matches_generation() {
    // d = 1 gives the generator point of P-256 (SEC 2).
    let mut d = [0u8; 32];
    d[31] = 1;
    let key = PrivateKey::from_ecdsa_scalar(EcdsaCurve::NistP256, &d).unwrap();
    let blob = key.public().to_blob();
    let g = hex::decode(concat!(
        "04",
        "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296",
        "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"
    ))
    .unwrap();
    assert_eq!(&blob[blob.len() - 65..], g.as_slice());
    assert!(PrivateKey::from_ecdsa_scalar(EcdsaCurve::NistP256, &[0; 32]).is_err());
    assert!(PrivateKey::from_ecdsa_scalar(EcdsaCurve::NistP256, &[1; 31]).is_err());
}
