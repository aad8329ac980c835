//! OpenSSH certificates made by the real `ssh-keygen -s`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;

use ssh_auth::cert::{CertError, CertType, Certificate};
use ssh_keys::{PublicKey, VerifyPolicy};

fn fixture(path: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(path),
    )
    .unwrap()
}

fn key(path: &str) -> PublicKey {
    PublicKey::from_openssh(&fixture(path)).unwrap().0
}

// 2020-01-01 and 2040-01-01, give or take the zone ssh-keygen ran in.
const Y2020: u64 = 1_577_836_800;
const Y2040: u64 = 2_208_988_800;
const NOW: u64 = 1_800_000_000;
const DAY: u64 = 86_400;

#[test]
fn user_certificate_from_ssh_keygen() {
    let cert = Certificate::from_openssh(&fixture("certs/user_ecdsa256-cert.pub")).unwrap();
    let ca = key("certs/ca_ed25519.pub");
    let trusted = [ca.clone()];
    assert_eq!(cert.type_name(), "ecdsa-sha2-nistp256-cert-v01@openssh.com");
    assert_eq!(cert.key, key("test-keys-DO-NOT-USE/ecdsa256.pub"));
    assert_eq!(cert.signature_key, ca);
    assert_eq!(cert.cert_type, CertType::User);
    assert_eq!(cert.serial, 42);
    assert_eq!(cert.key_id, "alice-cert");
    assert_eq!(cert.principals, vec!["alice", "bob"]);
    assert!(cert.valid_after.abs_diff(Y2020) <= DAY);
    assert!(cert.valid_before.abs_diff(Y2040) <= DAY);
    assert_eq!(
        cert.critical_option("force-command"),
        Some(&b"/bin/true"[..])
    );
    assert_eq!(
        cert.critical_option("source-address"),
        Some(&b"10.0.0.0/8"[..])
    );
    let ext: Vec<&str> = cert.extensions.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        ext,
        vec![
            "permit-X11-forwarding",
            "permit-agent-forwarding",
            "permit-port-forwarding",
            "permit-pty",
            "permit-user-rc"
        ]
    );
    let policy = VerifyPolicy::default();
    cert.validate(CertType::User, "alice", NOW, &trusted, &policy)
        .unwrap();
    cert.validate(CertType::User, "bob", NOW, &trusted, &policy)
        .unwrap();
    assert_eq!(
        cert.validate(CertType::User, "mallory", NOW, &trusted, &policy),
        Err(CertError::PrincipalNotListed)
    );
    assert_eq!(
        cert.validate(CertType::Host, "alice", NOW, &trusted, &policy),
        Err(CertError::WrongType(CertType::Host))
    );
    assert_eq!(
        cert.validate(CertType::User, "alice", Y2020 - 2 * DAY, &trusted, &policy),
        Err(CertError::NotYetValid)
    );
    assert_eq!(
        cert.validate(CertType::User, "alice", Y2040 + 2 * DAY, &trusted, &policy),
        Err(CertError::Expired)
    );
    assert_eq!(
        cert.validate(
            CertType::User,
            "alice",
            NOW,
            std::slice::from_ref(&cert.key),
            &policy
        ),
        Err(CertError::UntrustedCa)
    );
}

#[test]
fn rsa_ca_and_host_certificates() {
    let policy = VerifyPolicy::default();
    let cert = Certificate::from_openssh(&fixture("certs/user_ed25519-cert.pub")).unwrap();
    let rsa_ca = key("test-keys-DO-NOT-USE/rsa2048.pub");
    assert_eq!(cert.signature_key, rsa_ca);
    cert.validate(CertType::User, "alice", NOW, &[rsa_ca], &policy)
        .unwrap();

    let host = Certificate::from_openssh(&fixture("certs/host_rsa2048-cert.pub")).unwrap();
    assert_eq!(host.key, key("test-keys-DO-NOT-USE/rsa2048.pub"));
    let ca = key("certs/ca_ed25519.pub");
    let trusted = [ca.clone()];
    host.validate(CertType::Host, "host.example", NOW, &trusted, &policy)
        .unwrap();
    host.validate(CertType::Host, "10.0.0.1", NOW, &trusted, &policy)
        .unwrap();
    assert!(host.critical_options.is_empty());
}

#[test]
fn tampered_certificates_are_rejected() {
    let cert = Certificate::from_openssh(&fixture("certs/user_ecdsa256-cert.pub")).unwrap();
    let ca = key("certs/ca_ed25519.pub");
    let trusted = [ca.clone()];
    let blob = cert.blob().to_vec();
    let policy = VerifyPolicy::default();
    let mut verified = 0;
    // Flip one bit in every byte: no panic; nothing both parses and
    // verifies except the original.
    for i in 0..blob.len() {
        let mut b = blob.clone();
        b[i] ^= 0x01;
        if let Ok(c) = Certificate::from_blob(&b)
            && c.validate(CertType::User, "alice", NOW, &trusted, &policy)
                .is_ok()
        {
            verified += 1;
        }
    }
    assert_eq!(verified, 0);
    for n in 0..blob.len() {
        assert!(Certificate::from_blob(&blob[..n]).is_err());
    }
    let mut longer = blob.clone();
    longer.push(0);
    assert!(Certificate::from_blob(&longer).is_err());
}

#[test]
fn host_certificates_through_known_hosts() {
    use ssh_auth::known_hosts::KnownHosts;
    use ssh_keys::SignatureAlgorithm;
    let host = Certificate::from_openssh(&fixture("certs/host_rsa2048-cert.pub")).unwrap();
    let ca = fixture("certs/ca_ed25519.pub");
    let algs = [SignatureAlgorithm::Ed25519];
    let kh = KnownHosts::parse(&format!("@cert-authority *.example {ca}"));
    assert_eq!(
        kh.check_host_certificate("host.example", 22, &host, NOW, &algs),
        Ok(1)
    );
    // Not a principal of the certificate, though the pattern matches.
    assert_eq!(
        kh.check_host_certificate("other.example", 22, &host, NOW, &algs),
        Err(CertError::PrincipalNotListed)
    );
    // The CA is not trusted for this name.
    assert_eq!(
        kh.check_host_certificate("10.0.0.1", 22, &host, NOW, &algs),
        Err(CertError::UntrustedCa)
    );
    // A revoked CA, or a revoked host key, is refused.
    let revoked = KnownHosts::parse(&format!("@cert-authority *.example {ca}\n@revoked * {ca}"));
    assert_eq!(
        revoked.check_host_certificate("host.example", 22, &host, NOW, &algs),
        Err(CertError::Revoked)
    );
    let revoked_key = KnownHosts::parse(&format!(
        "@cert-authority *.example {ca}\n@revoked * {}",
        fixture("test-keys-DO-NOT-USE/rsa2048.pub")
    ));
    assert_eq!(
        revoked_key.check_host_certificate("host.example", 22, &host, NOW, &algs),
        Err(CertError::Revoked)
    );
}

#[test]
fn ssh_keygen_certificates_encode_back_to_their_bytes() {
    for name in [
        "certs/host_rsa2048-cert.pub",
        "certs/user_ecdsa256-cert.pub",
        "certs/user_ed25519-cert.pub",
    ] {
        let cert = Certificate::from_openssh(&fixture(name)).unwrap();
        assert_eq!(cert.encode(), cert.blob(), "{name}");
    }
}

#[test]
fn user_certificates_through_authorized_keys() {
    use ssh_auth::authorized_keys::AuthorizedKeys;
    let cert = Certificate::from_openssh(&fixture("certs/user_ecdsa256-cert.pub")).unwrap();
    let ca = fixture("certs/ca_ed25519.pub");
    let policy = VerifyPolicy::default();
    let ak = AuthorizedKeys::parse(&format!("cert-authority,no-pty {ca}"));
    let entry = ak
        .check_certificate("alice", &cert, NOW, &policy, "10.1.2.3")
        .unwrap();
    assert!(!entry.options.pty);
    assert_eq!(
        ak.check_certificate("carol", &cert, NOW, &policy, "10.1.2.3")
            .unwrap_err(),
        CertError::PrincipalNotListed
    );
    // principals="..." maps certificate principals to this account.
    let ak = AuthorizedKeys::parse(&format!("cert-authority,principals=\"bob,ops\" {ca}"));
    ak.check_certificate("carol", &cert, NOW, &policy, "10.1.2.3")
        .unwrap();
    let ak = AuthorizedKeys::parse(&format!("cert-authority,principals=\"ops\" {ca}"));
    assert_eq!(
        ak.check_certificate("alice", &cert, NOW, &policy, "10.1.2.3")
            .unwrap_err(),
        CertError::PrincipalNotListed
    );
    // The CA as a plain key line is not a cert-authority.
    let ak = AuthorizedKeys::parse(&ca);
    assert_eq!(
        ak.check_certificate("alice", &cert, NOW, &policy, "10.1.2.3")
            .unwrap_err(),
        CertError::UntrustedCa
    );
}

/// Certificate classes a server must refuse (or restrict), made with a CA in
/// `authorized_keys` (`cert-authority`): what `check_certificate` refuses
/// never reaches a "yes" to the key.
mod refused {
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use ssh_auth::authorized_keys::AuthorizedKeys;
    use ssh_auth::cert::{CertError, CertType, Certificate, CertificateBuilder, CertificateExt};
    use ssh_keys::{PrivateKey, VerifyPolicy};

    use super::NOW;

    fn ca() -> PrivateKey {
        PrivateKey::from_ed25519_seed(&[0xca; 32])
    }

    fn builder() -> CertificateBuilder {
        CertificateBuilder::new(
            PrivateKey::from_ed25519_seed(&[3; 32]).public().clone(),
            CertType::User,
        )
        .valid(NOW - 60, NOW + 60)
    }

    fn sign(b: CertificateBuilder) -> Certificate {
        b.sign(&ca(), None, &mut StdRng::seed_from_u64(1)).unwrap()
    }

    fn check(cert: &Certificate, user: &str, address: &str) -> Result<(), CertError> {
        let ak = AuthorizedKeys::parse(&format!(
            "cert-authority {}",
            ca().public().to_openssh("ca")
        ));
        ak.check_certificate(user, cert, NOW, &VerifyPolicy::default(), address)
            .map(|_| ())
    }

    /// A certificate with no principals: once "valid for any principal",
    /// since OpenSSH 10.3 valid for none; also not through a
    /// `principals="..."` mapping.
    #[test]
    fn certificate_with_empty_principals() {
        let cert = sign(builder());
        assert!(cert.principals.is_empty());
        assert_eq!(
            check(&cert, "alice", "192.0.2.1"),
            Err(CertError::NoPrincipals)
        );
        let ak = AuthorizedKeys::parse(&format!(
            "cert-authority,principals=\"alice\" {}",
            ca().public().to_openssh("ca")
        ));
        assert!(
            ak.check_certificate("alice", &cert, NOW, &VerifyPolicy::default(), "192.0.2.1")
                .is_err()
        );
    }

    /// Expired by a second, or not yet valid: refused; the time is the
    /// caller's.
    #[test]
    fn certificate_expired() {
        let expired = sign(builder().principal("alice").valid(NOW - 60, NOW));
        assert_eq!(
            check(&expired, "alice", "192.0.2.1"),
            Err(CertError::Expired)
        );
        let early = sign(builder().principal("alice").valid(NOW + 1, NOW + 60));
        assert_eq!(
            check(&early, "alice", "192.0.2.1"),
            Err(CertError::NotYetValid)
        );
        let fine = sign(builder().principal("alice"));
        check(&fine, "alice", "192.0.2.1").unwrap();
    }

    /// A client outside the certificate's `source-address`: refused. An
    /// option that does not parse allows nobody.
    #[test]
    fn certificate_source_address_outside() {
        let cert = sign(
            builder()
                .principal("alice")
                .critical_option("source-address", b"10.0.0.0/8,2001:db8::/32"),
        );
        assert_eq!(
            check(&cert, "alice", "192.0.2.1"),
            Err(CertError::SourceAddressNotAllowed)
        );
        assert_eq!(
            check(&cert, "alice", "2001:db9::1"),
            Err(CertError::SourceAddressNotAllowed)
        );
        check(&cert, "alice", "10.9.8.7").unwrap();
        check(&cert, "alice", "2001:db8::1").unwrap();
        assert!(!cert.source_address_allows("192.0.2.1"));
        let garbled = sign(
            builder()
                .principal("alice")
                .critical_option("source-address", b"10.0.0.0/99"),
        );
        assert_eq!(
            check(&garbled, "alice", "10.0.0.1"),
            Err(CertError::SourceAddressNotAllowed)
        );
        assert_eq!(
            CertError::SourceAddressNotAllowed.to_string(),
            "Certificate invalid: not from a permitted source address"
        );
    }

    /// A certificate's own restrictions: `force-command` becomes the
    /// command, permissions only as its `permit-*` extensions grant (and
    /// the line allows); two different forced commands refuse the key.
    #[test]
    fn certificate_force_command_and_extensions_restrict() {
        use ssh_auth::authorized_keys::KeyOptions;
        let bare = sign(builder().principal("alice"));
        let o = bare.restrict_options(&KeyOptions::default()).unwrap();
        assert!(!o.pty && !o.port_forwarding && !o.agent_forwarding);
        assert!(!o.x11_forwarding && !o.user_rc && o.command.is_none());
        let cert = sign(
            builder()
                .principal("alice")
                .critical_option("force-command", b"/usr/bin/backup")
                .extension("permit-port-forwarding", b"")
                .extension("permit-pty", b""),
        );
        let o = cert.restrict_options(&KeyOptions::default()).unwrap();
        assert_eq!(o.command.as_deref(), Some("/usr/bin/backup"));
        assert!(o.pty && o.port_forwarding && !o.agent_forwarding);
        let line = AuthorizedKeys::parse(&format!(
            "cert-authority,no-pty,command=\"/usr/bin/backup\" {}",
            ca().public().to_openssh("ca")
        ));
        let entry = line.cert_authorities().next().unwrap();
        let o = cert.restrict_options(&entry.options).unwrap();
        assert!(!o.pty && o.port_forwarding);
        let other = AuthorizedKeys::parse(&format!(
            "cert-authority,command=\"/bin/sh\" {}",
            ca().public().to_openssh("ca")
        ));
        let entry = other.cert_authorities().next().unwrap();
        assert_eq!(cert.restrict_options(&entry.options), None);
    }
}
