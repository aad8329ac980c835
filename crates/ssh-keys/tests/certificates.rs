//! Certificates made with `CertificateBuilder`: parse and encode round
//! trips, the CA signature, and each refusal of the checks.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::{Arc, OnceLock};

use rand::SeedableRng;
use rand::rngs::StdRng;
use ssh_keys::cert::{cert_algorithm_name, cert_key_type, cert_signature_algorithm};
use ssh_keys::{
    CertError, CertType, Certificate, CertificateBuilder, CertifiedKey, EcdsaCurve, KeyType,
    PrivateKey, SignatureAlgorithm, Signer, VerifyPolicy,
};

fn rng() -> StdRng {
    StdRng::seed_from_u64(0xce47)
}

fn rsa_key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| PrivateKey::generate_rsa(2048, &mut rng()).unwrap())
}

fn ed(seed: u8) -> PrivateKey {
    PrivateKey::from_ed25519_seed(&[seed; 32])
}

const NOW: u64 = 1_800_000_000;

fn host_cert(ca: &PrivateKey, key: &PrivateKey) -> Certificate {
    CertificateBuilder::new(key.public().clone(), CertType::Host)
        .serial(7)
        .key_id("host-id")
        .principal("host.example")
        .principal("*.example.org")
        .valid(NOW - 100, NOW + 100)
        .sign(ca, None, &mut rng())
        .unwrap()
}

#[test]
fn built_certificates_parse_back_and_encode_identically() {
    let ca = ed(1);
    let keys = [
        ed(2),
        PrivateKey::generate(KeyType::Ecdsa(EcdsaCurve::NistP256), &mut rng()).unwrap(),
        PrivateKey::generate(KeyType::Ecdsa(EcdsaCurve::NistP384), &mut rng()).unwrap(),
        PrivateKey::generate(KeyType::Ecdsa(EcdsaCurve::NistP521), &mut rng()).unwrap(),
    ];
    for key in &keys {
        let cert = CertificateBuilder::new(key.public().clone(), CertType::User)
            .serial(42)
            .key_id("alice@example")
            .principal("alice")
            .principal("bob")
            .valid(1, 2)
            .critical_option("source-address", b"10.0.0.0/8")
            .critical_option("force-command", b"/bin/true")
            .critical_option("verify-required", b"")
            .extension("permit-pty", b"")
            .sign(&ca, None, &mut rng())
            .unwrap();
        assert_eq!(cert.key, *key.public());
        assert_eq!(
            cert.type_name(),
            format!("{}-cert-v01@openssh.com", key.key_type().name())
        );
        assert_eq!(cert.serial, 42);
        assert_eq!(cert.key_id, "alice@example");
        assert_eq!(cert.principals, ["alice", "bob"]);
        assert_eq!((cert.valid_after, cert.valid_before), (1, 2));
        // Sorted by name when signed.
        let names: Vec<&str> = cert
            .critical_options
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(
            names,
            ["force-command", "source-address", "verify-required"]
        );
        assert_eq!(
            cert.critical_option("force-command"),
            Some(&b"/bin/true"[..])
        );
        assert_eq!(cert.critical_option("verify-required"), Some(&b""[..]));
        assert_eq!(cert.encode(), cert.blob());
        assert_eq!(Certificate::from_blob(cert.blob()).unwrap(), cert);
        let line = cert.to_openssh("comment");
        assert_eq!(Certificate::from_openssh(&line).unwrap(), cert);
        cert.verify_signature(&VerifyPolicy::default()).unwrap();
    }
}

#[test]
fn rsa_certificates_and_rsa_cas() {
    let rsa = rsa_key();
    let ca = ed(3);
    let cert = host_cert(&ca, rsa);
    // One key type whatever the RSA signature algorithm.
    assert_eq!(cert.type_name(), "ssh-rsa-cert-v01@openssh.com");
    assert_eq!(cert.encode(), cert.blob());
    // An RSA CA signing with rsa-sha2-256.
    let by_rsa = CertificateBuilder::new(ca.public().clone(), CertType::User)
        .principal("alice")
        .sign(rsa, Some(SignatureAlgorithm::RsaSha256), &mut rng())
        .unwrap();
    assert_eq!(
        by_rsa.signature_algorithm().unwrap(),
        SignatureAlgorithm::RsaSha256
    );
    by_rsa.verify_signature(&VerifyPolicy::default()).unwrap();
    // ssh-rsa (SHA-1) signatures only under a policy allowing them.
    let sha1 = CertificateBuilder::new(ca.public().clone(), CertType::User)
        .principal("alice")
        .sign(rsa, Some(SignatureAlgorithm::RsaSha1), &mut rng())
        .unwrap();
    assert!(matches!(
        sha1.verify_signature(&VerifyPolicy::default()),
        Err(CertError::BadSignature(_))
    ));
    sha1.verify_signature(&VerifyPolicy::LEGACY).unwrap();
}

#[test]
fn names_of_certificate_algorithms() {
    assert_eq!(
        cert_algorithm_name(SignatureAlgorithm::RsaSha512),
        "rsa-sha2-512-cert-v01@openssh.com"
    );
    assert_eq!(
        cert_signature_algorithm("rsa-sha2-256-cert-v01@openssh.com"),
        Some(SignatureAlgorithm::RsaSha256)
    );
    assert_eq!(
        cert_signature_algorithm("ssh-ed25519-cert-v01@openssh.com"),
        Some(SignatureAlgorithm::Ed25519)
    );
    assert_eq!(cert_signature_algorithm("ssh-ed25519"), None);
    assert_eq!(
        cert_key_type("ssh-rsa-cert-v01@openssh.com"),
        Some(KeyType::Rsa)
    );
    // An algorithm name is not a key type name.
    assert_eq!(cert_key_type("rsa-sha2-256-cert-v01@openssh.com"), None);
}

#[test]
fn every_check_refuses_with_its_reason() {
    let ca = ed(4);
    let key = ed(5);
    let cert = host_cert(&ca, &key);
    let exact = |name: &'static str| move |p: &str| p == name;
    cert.check_authority(CertType::Host, "host.example", NOW)
        .unwrap();
    assert_eq!(
        cert.check_authority(CertType::User, "host.example", NOW),
        Err(CertError::WrongType(CertType::User))
    );
    assert_eq!(
        cert.check_authority(CertType::Host, "other.example", NOW),
        Err(CertError::PrincipalNotListed)
    );
    // The window: valid_after inclusive, valid_before exclusive.
    cert.check_validity(NOW - 100).unwrap();
    cert.check_validity(NOW + 99).unwrap();
    assert_eq!(cert.check_validity(NOW - 101), Err(CertError::NotYetValid));
    assert_eq!(cert.check_validity(NOW + 100), Err(CertError::Expired));
    // OpenSSH's order: type, then validity, then principals.
    assert_eq!(
        cert.check_authority(CertType::User, "nobody", NOW + 500),
        Err(CertError::WrongType(CertType::User))
    );
    assert_eq!(
        cert.check_authority(CertType::Host, "nobody", NOW + 500),
        Err(CertError::Expired)
    );
    cert.check_principal(exact("host.example")).unwrap();
    // No principals: matches nothing (OpenSSH 10.3).
    let empty = CertificateBuilder::new(key.public().clone(), CertType::Host)
        .sign(&ca, None, &mut rng())
        .unwrap();
    assert_eq!(
        empty.check_principal(|_| true),
        Err(CertError::NoPrincipals)
    );
    assert_eq!(
        empty.check_authority(CertType::Host, "", NOW),
        Err(CertError::NoPrincipals)
    );

    let policy = VerifyPolicy::default();
    let trusted = [ca.public().clone()];
    cert.validate(CertType::Host, "host.example", NOW, &trusted, &policy)
        .unwrap();
    assert_eq!(
        cert.validate(
            CertType::Host,
            "host.example",
            NOW,
            &[key.public().clone()],
            &policy
        ),
        Err(CertError::UntrustedCa)
    );
    let odd = CertificateBuilder::new(key.public().clone(), CertType::User)
        .principal("alice")
        .critical_option("no-such-option", b"x")
        .sign(&ca, None, &mut rng())
        .unwrap();
    assert_eq!(
        odd.validate(CertType::User, "alice", NOW, &trusted, &policy),
        Err(CertError::UnknownCriticalOption("no-such-option".into()))
    );
    // The messages are OpenSSH's reasons.
    assert_eq!(
        CertError::Expired.to_string(),
        "Certificate invalid: expired"
    );
    assert_eq!(
        CertError::PrincipalNotListed.to_string(),
        "Certificate invalid: name is not a listed principal"
    );
    assert_eq!(
        CertError::WrongType(CertType::Host).to_string(),
        "Certificate invalid: not a host certificate"
    );
}

#[test]
fn tampering_is_refused_without_panics() {
    let ca = ed(6);
    let cert = host_cert(&ca, &ed(7));
    let blob = cert.blob().to_vec();
    let policy = VerifyPolicy::default();
    for i in 0..blob.len() {
        let mut b = blob.clone();
        b[i] ^= 0x01;
        if let Ok(c) = Certificate::from_blob(&b) {
            assert_eq!(c.encode(), b, "byte {i}");
            // What still parses is encoded back to the same bytes, and
            // nothing verifies but the original.
            assert!(c.verify_signature(&policy).is_err(), "byte {i}");
        }
    }
    for n in 0..blob.len() {
        assert!(Certificate::from_blob(&blob[..n]).is_err());
    }
    let mut longer = blob;
    longer.push(0);
    assert!(Certificate::from_blob(&longer).is_err());
}

#[test]
fn a_critical_option_has_one_encoding() {
    use ssh_wire::codec::put_string;
    let ca = ed(8);
    let cert = CertificateBuilder::new(ed(9).public().clone(), CertType::User)
        .principal("alice")
        .critical_option("force-command", b"x")
        .sign(&ca, None, &mut rng())
        .unwrap();
    // Replace the wrapped value "x" by a wrapped empty string.
    let mut wrapped_x = Vec::new();
    put_string(&mut wrapped_x, b"x");
    let mut wrapped_empty = Vec::new();
    put_string(&mut wrapped_empty, b"");
    let mut opts_old = Vec::new();
    put_string(&mut opts_old, b"force-command");
    put_string(&mut opts_old, &wrapped_x);
    let mut opts_new = Vec::new();
    put_string(&mut opts_new, b"force-command");
    put_string(&mut opts_new, &wrapped_empty);
    let mut old = Vec::new();
    put_string(&mut old, &opts_old);
    let mut new = Vec::new();
    put_string(&mut new, &opts_new);
    let blob = cert.blob();
    let at = blob
        .windows(old.len())
        .position(|w| w == old.as_slice())
        .unwrap();
    let mut b = blob[..at].to_vec();
    b.extend_from_slice(&new);
    b.extend_from_slice(&blob[at + old.len()..]);
    assert!(matches!(
        Certificate::from_blob(&b),
        Err(CertError::Malformed(_))
    ));
}

#[test]
fn a_certified_key_signs_with_its_key_and_presents_its_certificate() {
    let ca = ed(10);
    let key = ed(11);
    let cert = host_cert(&ca, &key);
    assert!(CertifiedKey::new(ed(12), cert.clone()).is_err());
    let certified = CertifiedKey::new(key, cert.clone()).unwrap();
    assert_eq!(certified.certificate(), Some(&cert));
    assert_eq!(certified.public_key(), &cert.key);
    let sig = certified
        .sign(SignatureAlgorithm::Ed25519, b"data", &mut rng())
        .unwrap();
    ssh_keys::verify(&cert.key, SignatureAlgorithm::Ed25519, b"data", &sig).unwrap();
    // Shared between connections, it still presents it.
    let shared: Arc<dyn Signer + Send + Sync> = Arc::new(certified);
    assert_eq!(shared.certificate(), Some(&cert));
    assert_eq!(ed(13).certificate(), None);
}
