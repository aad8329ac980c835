//! Keys and signatures made by OpenSSH's `ssh-keygen` (see
//! `tests/data/README.md`): parsing, fingerprints, text form, and
//! verification of real OpenSSH signatures (PROTOCOL.sshsig).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use base64ct::{Base64, Encoding};
use sha2::{Digest, Sha512};
use ssh_keys::{KeyType, PublicKey, SignatureAlgorithm, VerifyPolicy, verify};
use ssh_wire::Reader;
use ssh_wire::codec::put_string;

fn data(name: &str) -> String {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn fixture_key(name: &str) -> (PublicKey, String) {
    let line = data(name);
    let (key, comment) = PublicKey::from_openssh(&line).unwrap();
    (key, comment.to_owned())
}

#[test]
fn fingerprints_match_ssh_keygen() {
    let list = data("fingerprints.txt");
    let mut seen = 0;
    for line in list.lines() {
        let (file, fp) = line.split_once(' ').unwrap();
        let (key, comment) = fixture_key(file);
        assert_eq!(key.fingerprint_sha256(), fp, "{file}");
        assert!(comment.starts_with("test-only"), "{file}: {comment}");
        seen += 1;
    }
    assert_eq!(seen, 7);
}

#[test]
fn key_types_and_sizes() {
    let cases = [
        ("test-only-ed25519.pub", KeyType::Ed25519, None),
        (
            "test-only-ecdsa256.pub",
            KeyType::from_name("ecdsa-sha2-nistp256").unwrap(),
            None,
        ),
        (
            "test-only-ecdsa384.pub",
            KeyType::from_name("ecdsa-sha2-nistp384").unwrap(),
            None,
        ),
        (
            "test-only-ecdsa521.pub",
            KeyType::from_name("ecdsa-sha2-nistp521").unwrap(),
            None,
        ),
        ("test-only-rsa1024.pub", KeyType::Rsa, Some(1024)),
        ("test-only-rsa2048.pub", KeyType::Rsa, Some(2048)),
        ("test-only-rsa3072.pub", KeyType::Rsa, Some(3072)),
    ];
    for (file, ty, bits) in cases {
        let (key, _) = fixture_key(file);
        assert_eq!(key.key_type(), ty, "{file}");
        assert_eq!(key.rsa_bits(), bits, "{file}");
    }
}

#[test]
fn text_form_and_blob_round_trip() {
    for line in data("fingerprints.txt").lines() {
        let file = line.split_once(' ').unwrap().0;
        let original = data(file);
        let (key, comment) = PublicKey::from_openssh(&original).unwrap();
        // Re-encoding gives back ssh-keygen's line byte for byte.
        assert_eq!(key.to_openssh(comment), original.trim_end(), "{file}");
        let blob = key.to_blob();
        assert_eq!(PublicKey::from_blob(&blob).unwrap(), key);
        // Without a comment.
        let bare = key.to_openssh("");
        let (again, c) = PublicKey::from_openssh(&bare).unwrap();
        assert_eq!((again, c), (key.clone(), ""));
        assert_eq!(key.to_string(), bare);
    }
}

#[test]
fn text_form_rejections() {
    let good = data("test-only-ed25519.pub");
    let b64 = good.split_whitespace().nth(1).unwrap();
    // The type name must match the blob.
    let wrong = format!("ssh-rsa {b64}");
    assert!(PublicKey::from_openssh(&wrong).is_err());
    // Broken base64, missing blob, overlong line.
    assert!(PublicKey::from_openssh(&format!("ssh-ed25519 {}", &b64[1..])).is_err());
    assert!(PublicKey::from_openssh("ssh-ed25519").is_err());
    assert!(PublicKey::from_openssh("").is_err());
    let long = format!("ssh-ed25519 {b64} {}", "x".repeat(9000));
    assert!(PublicKey::from_openssh(&long).is_err());
    // Extra whitespace is tolerated, as by OpenSSH.
    let spaced = format!("  ssh-ed25519   {b64}   a comment  \n");
    let (_, comment) = PublicKey::from_openssh(&spaced).unwrap();
    assert_eq!(comment, "a comment");
}

/// A PROTOCOL.sshsig signature file: the key, and the signature blob over
/// the data the signer actually signed.
fn sshsig(file: &str, message: &[u8]) -> (PublicKey, Vec<u8>, Vec<u8>) {
    let armored = data(file);
    let b64: String = armored
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let raw = Base64::decode_vec(&b64).unwrap();
    let mut r = Reader::new(&raw);
    assert_eq!(r.bytes(6, "magic").unwrap(), b"SSHSIG");
    assert_eq!(r.u32("version").unwrap(), 1);
    let key = PublicKey::from_blob(r.string("publickey").unwrap()).unwrap();
    let namespace = r.string("namespace").unwrap();
    let reserved = r.string("reserved").unwrap();
    let hash_alg = r.string("hash").unwrap();
    assert_eq!(hash_alg, b"sha512");
    let signature = r.string("signature").unwrap().to_vec();
    r.finish("sshsig").unwrap();

    let mut signed = b"SSHSIG".to_vec();
    put_string(&mut signed, namespace);
    put_string(&mut signed, reserved);
    put_string(&mut signed, hash_alg);
    put_string(&mut signed, &Sha512::digest(message));
    (key, signed, signature)
}

#[test]
fn verifies_signatures_made_by_openssh() {
    let message = data("msg.txt");
    let cases = [
        ("ed25519", "ssh-ed25519"),
        ("ecdsa256", "ecdsa-sha2-nistp256"),
        ("ecdsa384", "ecdsa-sha2-nistp384"),
        ("ecdsa521", "ecdsa-sha2-nistp521"),
        ("rsa2048", "rsa-sha2-512"),
    ];
    for (name, alg) in cases {
        let (key, signed, sig) = sshsig(&format!("{name}.sshsig"), message.as_bytes());
        let (pub_key, _) = fixture_key(&format!("test-only-{name}.pub"));
        assert_eq!(key, pub_key, "{name}");
        let alg = SignatureAlgorithm::from_name(alg).unwrap();
        verify(&key, alg, &signed, &sig).unwrap_or_else(|e| panic!("{name}: {e}"));

        // Another message fails.
        let (_, other, _) = sshsig(&format!("{name}.sshsig"), b"another message\n");
        assert_eq!(
            verify(&key, alg, &other, &sig),
            Err(ssh_keys::Error::BadSignature),
            "{name}"
        );
        // A flipped bit in the signature fails.
        let mut bad = sig.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(verify(&key, alg, &signed, &bad).is_err(), "{name}");
    }
}

#[test]
fn small_rsa_keys_parse_but_fail_the_default_policy() {
    let (key, _) = fixture_key("test-only-rsa1024.pub");
    let dummy = ssh_keys::encode_signature_blob(SignatureAlgorithm::RsaSha256, &[1; 128]);
    let err = verify(&key, SignatureAlgorithm::RsaSha256, b"x", &dummy).unwrap_err();
    assert!(
        matches!(err, ssh_keys::Error::RsaKeySize { bits: 1024, .. }),
        "{err}"
    );
    // Under the legacy policy the size passes and the signature is checked.
    let err = ssh_keys::verify_with_policy(
        &key,
        SignatureAlgorithm::RsaSha256,
        b"x",
        &dummy,
        &VerifyPolicy::LEGACY,
    )
    .unwrap_err();
    assert_eq!(err, ssh_keys::Error::BadSignature);
}
