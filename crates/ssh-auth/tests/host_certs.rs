//! Host certificates against known_hosts, one test per refusal, with
//! certificates made in-process by `CertificateBuilder`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use rand::SeedableRng;
use rand::rngs::StdRng;
use ssh_auth::cert::{CertError, CertType, Certificate, CertificateBuilder};
use ssh_auth::known_hosts::{KnownHosts, check_host_certificate_fields};
use ssh_keys::{PrivateKey, SignatureAlgorithm};

const NOW: u64 = 1_800_000_000;
const PORT: u16 = 2222;

/// OpenSSH's default `CASignatureAlgorithms` that we implement.
const CA_ALGS: [SignatureAlgorithm; 6] = [
    SignatureAlgorithm::Ed25519,
    SignatureAlgorithm::Ecdsa(ssh_keys::EcdsaCurve::NistP256),
    SignatureAlgorithm::Ecdsa(ssh_keys::EcdsaCurve::NistP384),
    SignatureAlgorithm::Ecdsa(ssh_keys::EcdsaCurve::NistP521),
    SignatureAlgorithm::RsaSha512,
    SignatureAlgorithm::RsaSha256,
];

fn key(seed: u8) -> PrivateKey {
    PrivateKey::from_ed25519_seed(&[seed; 32])
}

fn ca() -> PrivateKey {
    key(1)
}

fn host_key() -> PrivateKey {
    key(2)
}

fn builder() -> CertificateBuilder {
    CertificateBuilder::new(host_key().public().clone(), CertType::Host)
        .key_id("host")
        .principal("host.example")
        .principal("*.wild.example")
        .valid(NOW - 60, NOW + 60)
}

fn sign(b: CertificateBuilder) -> Certificate {
    b.sign(&ca(), None, &mut StdRng::seed_from_u64(5)).unwrap()
}

fn ca_line(hosts: &str) -> String {
    format!(
        "@cert-authority {hosts} {}\n",
        ca().public().to_openssh("ca")
    )
}

fn check(kh: &str, host: &str, cert: &Certificate) -> Result<usize, CertError> {
    KnownHosts::parse(kh).check_host_certificate(host, PORT, cert, NOW, &CA_ALGS)
}

#[test]
fn a_valid_certificate_from_a_trusted_ca_is_accepted() {
    let cert = sign(builder());
    let kh = format!("# comment\n{}", ca_line("*.example"));
    assert_eq!(check(&kh, "host.example", &cert), Ok(2));
    // Principals of host certificates are patterns.
    assert_eq!(check(&kh, "a.wild.example", &cert), Ok(2));
    // Names are compared in lower case, as ssh lowers the host name.
    assert_eq!(check(&kh, "HOST.example", &cert), Ok(2));
}

#[test]
fn ca_lines_match_with_the_port_or_without_it() {
    let cert = sign(builder());
    // `[host]:port`, or (ssh's second look "without port identifier")
    // the bare name.
    assert_eq!(
        check(&ca_line("[host.example]:2222"), "host.example", &cert),
        Ok(1)
    );
    assert_eq!(
        check(&ca_line("host.example"), "host.example", &cert),
        Ok(1)
    );
    assert_eq!(
        check(&ca_line("[host.example]:2200"), "host.example", &cert),
        Err(CertError::UntrustedCa)
    );
    // Hashed names work too.
    let mut rng = StdRng::seed_from_u64(9);
    let hashed =
        ssh_auth::known_hosts::append_line("host.example", PORT, ca().public(), true, &mut rng);
    assert_eq!(
        check(&format!("@cert-authority {hashed}"), "host.example", &cert),
        Ok(1)
    );
}

#[test]
fn refused_when_the_ca_is_not_trusted_for_the_host() {
    let cert = sign(builder());
    assert_eq!(
        check("", "host.example", &cert),
        Err(CertError::UntrustedCa)
    );
    assert_eq!(
        check(&ca_line("*.other"), "host.example", &cert),
        Err(CertError::UntrustedCa)
    );
    // A negated pattern excludes the host.
    assert_eq!(
        check(&ca_line("*.example,!host.example"), "host.example", &cert),
        Err(CertError::UntrustedCa)
    );
    // The CA as a plain host key line is not a CA.
    let plain = format!("* {}\n", ca().public().to_openssh(""));
    assert_eq!(
        check(&plain, "host.example", &cert),
        Err(CertError::UntrustedCa)
    );
    // Another CA signed it.
    let other = builder()
        .sign(&key(9), None, &mut StdRng::seed_from_u64(5))
        .unwrap();
    assert_eq!(
        check(&ca_line("*"), "host.example", &other),
        Err(CertError::UntrustedCa)
    );
}

#[test]
fn refused_when_the_ca_is_revoked() {
    let cert = sign(builder());
    let kh = format!(
        "{}@revoked * {}\n",
        ca_line("*"),
        ca().public().to_openssh("")
    );
    assert_eq!(check(&kh, "host.example", &cert), Err(CertError::Revoked));
    assert_eq!(
        KnownHosts::parse(&kh).certificate_revoked("host.example", PORT, &cert),
        Some(2)
    );
    // Revoked even without a CA line trusting it.
    let only = format!("@revoked * {}\n", ca().public().to_openssh(""));
    assert_eq!(check(&only, "host.example", &cert), Err(CertError::Revoked));
    // A revocation for other hosts does not apply.
    let elsewhere = format!(
        "{}@revoked other.example {}\n",
        ca_line("*"),
        ca().public().to_openssh("")
    );
    assert_eq!(check(&elsewhere, "host.example", &cert), Ok(1));
}

#[test]
fn refused_when_the_certified_key_is_revoked() {
    let cert = sign(builder());
    let kh = format!(
        "{}@revoked * {}\n",
        ca_line("*"),
        host_key().public().to_openssh("")
    );
    assert_eq!(check(&kh, "host.example", &cert), Err(CertError::Revoked));
}

#[test]
fn refused_when_it_is_a_user_certificate() {
    let cert = sign(
        CertificateBuilder::new(host_key().public().clone(), CertType::User)
            .principal("host.example")
            .valid(NOW - 60, NOW + 60),
    );
    assert_eq!(
        check(&ca_line("*"), "host.example", &cert),
        Err(CertError::WrongType(CertType::Host))
    );
}

#[test]
fn host_certificate_expired() {
    let expired = sign(builder().valid(NOW - 60, NOW));
    assert_eq!(
        check(&ca_line("*"), "host.example", &expired),
        Err(CertError::Expired)
    );
    let early = sign(builder().valid(NOW + 1, NOW + 60));
    assert_eq!(
        check(&ca_line("*"), "host.example", &early),
        Err(CertError::NotYetValid)
    );
    // The time is the caller's.
    check_host_certificate_fields(&early, "host.example", NOW + 1, &CA_ALGS).unwrap();
}

#[test]
fn refused_when_the_name_is_not_a_principal() {
    let cert = sign(builder());
    assert_eq!(
        check(&ca_line("*"), "other.example", &cert),
        Err(CertError::PrincipalNotListed)
    );
    assert_eq!(
        CertError::PrincipalNotListed.to_string(),
        "Certificate invalid: name is not a listed principal"
    );
}

#[test]
fn host_certificate_with_empty_principals() {
    let cert = sign(
        CertificateBuilder::new(host_key().public().clone(), CertType::Host)
            .valid(NOW - 60, NOW + 60),
    );
    assert_eq!(
        check(&ca_line("*"), "host.example", &cert),
        Err(CertError::NoPrincipals)
    );
}

#[test]
fn refused_when_it_has_critical_options() {
    let cert = sign(builder().critical_option("force-command", b"/bin/true"));
    assert_eq!(
        check(&ca_line("*"), "host.example", &cert),
        Err(CertError::UnknownCriticalOption("force-command".into()))
    );
}

#[test]
fn refused_when_the_ca_algorithm_is_not_allowed() {
    let cert = sign(builder());
    let kh = KnownHosts::parse(&ca_line("*"));
    assert_eq!(
        kh.check_host_certificate(
            "host.example",
            PORT,
            &cert,
            NOW,
            &[SignatureAlgorithm::RsaSha512]
        ),
        Err(CertError::DisallowedSignatureAlgorithm(
            "ssh-ed25519".into()
        ))
    );
}

#[test]
fn refused_when_the_signature_is_bad() {
    let cert = sign(builder());
    let mut blob = cert.blob().to_vec();
    let last = blob.len() - 1;
    blob[last] ^= 1;
    let forged = Certificate::from_blob(&blob).unwrap();
    assert!(matches!(
        check(&ca_line("*"), "host.example", &forged),
        Err(CertError::BadSignature(_))
    ));
}
