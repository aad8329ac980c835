//! Host certificates in the key exchange: offered by a server that has
//! one, `K_S` the certificate, the signature by the certified key, the
//! certificate handed to the client's caller; refusals in the transport
//! (a broken CA signature, a certificate of the wrong type).

use ssh_keys::{CertType, Certificate, CertificateBuilder, CertifiedKey, Signer};

use super::*;

/// The CA of these tests.
fn ca() -> PrivateKey {
    PrivateKey::from_ed25519_seed(&[0xca; 32])
}

fn certify<K: Signer + Send + 'static>(key: K) -> HostKey {
    let cert = CertificateBuilder::new(key.public_key().clone(), CertType::Host)
        .key_id("test host")
        .principal("host.example")
        .sign(&ca(), None, &mut StdRng::seed_from_u64(9))
        .unwrap();
    Box::new(CertifiedKey::new(key, cert).unwrap())
}

/// Every key type, each with a host certificate.
pub(super) fn certified_host_keys() -> Vec<HostKey> {
    vec![
        certify(PrivateKey::from_ed25519_seed(&[7; 32])),
        certify(
            PrivateKey::generate(
                KeyType::Ecdsa(EcdsaCurve::NistP256),
                &mut StdRng::seed_from_u64(3),
            )
            .unwrap(),
        ),
        certify(
            PrivateKey::generate(
                KeyType::Ecdsa(EcdsaCurve::NistP384),
                &mut StdRng::seed_from_u64(3),
            )
            .unwrap(),
        ),
        certify(
            PrivateKey::generate(
                KeyType::Ecdsa(EcdsaCurve::NistP521),
                &mut StdRng::seed_from_u64(3),
            )
            .unwrap(),
        ),
        certify(SharedKey(rsa_key())),
    ]
}

fn presented(p: &Pair) -> (ssh_keys::PublicKey, Option<Certificate>) {
    p.c_events
        .iter()
        .find_map(|e| match e {
            Event::HostKey {
                key, certificate, ..
            } => Some((key.clone(), certificate.as_deref().cloned())),
            _ => None,
        })
        .expect("a HostKey event")
}

fn server_offer(p: &mut Pair) -> Vec<String> {
    // The server's KEXINIT is its first payload after the version line.
    p.collect();
    let ours = p.s.kex.as_ref().map(|r| r.ours.clone()).unwrap();
    use ssh_wire::Decode;
    let init = ssh_wire::messages::transport::KexInit::decode_exact(&ours).unwrap();
    init.server_host_key_algorithms
        .iter()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_server_with_a_certificate_offers_it_first_and_presents_it() {
    let keys = vec![certify(PrivateKey::from_ed25519_seed(&[7; 32]))];
    let mut p = Pair::new(Config::default(), Config::server_default(), keys);
    assert_eq!(
        server_offer(&mut p),
        ["ssh-ed25519-cert-v01@openssh.com", "ssh-ed25519"]
    );
    p.handshake();
    assert_eq!(
        p.c.negotiated().unwrap().host_key,
        "ssh-ed25519-cert-v01@openssh.com"
    );
    let (key, cert) = presented(&p);
    let cert = cert.expect("the certificate");
    assert_eq!(key, *PrivateKey::from_ed25519_seed(&[7; 32]).public());
    assert_eq!(cert.key, key);
    assert_eq!(cert.signature_key, *ca().public());
    assert_eq!(cert.principals, ["host.example"]);
}

#[test]
fn a_server_without_a_certificate_offers_none() {
    let mut p = Pair::default_pair();
    let offer = server_offer(&mut p);
    assert!(offer.iter().all(|n| !n.contains("-cert-")), "{offer:?}");
    p.handshake();
    assert_eq!(presented(&p).1, None);
}

#[test]
fn a_client_preferring_plain_keys_gets_the_plain_key() {
    let keys = vec![certify(PrivateKey::from_ed25519_seed(&[7; 32]))];
    let mut c = Config::default();
    c.algorithms.host_key = list("ssh-ed25519,ssh-ed25519-cert-v01@openssh.com");
    let mut p = Pair::new(c, Config::server_default(), keys);
    p.handshake();
    assert_eq!(p.c.negotiated().unwrap().host_key, "ssh-ed25519");
    assert_eq!(presented(&p).1, None);
}

#[test]
fn rsa_certificates_sign_with_rsa_sha2() {
    for alg in [
        "rsa-sha2-512-cert-v01@openssh.com",
        "rsa-sha2-256-cert-v01@openssh.com",
    ] {
        let mut c = Config::default();
        c.algorithms.host_key = list(alg);
        let mut p = Pair::new(
            c,
            Config::server_default(),
            vec![certify(SharedKey(rsa_key()))],
        );
        p.handshake();
        let (algorithm, cert) = p
            .c_events
            .iter()
            .find_map(|e| match e {
                Event::HostKey {
                    algorithm,
                    certificate,
                    ..
                } => Some((*algorithm, certificate.clone())),
                _ => None,
            })
            .unwrap();
        assert_eq!(
            algorithm,
            crate::HostKeyAlgorithm::from_name(alg).unwrap().signature()
        );
        assert_eq!(cert.unwrap().type_name(), "ssh-rsa-cert-v01@openssh.com");
    }
}

/// A signer presenting a fixed certificate blob, whatever it is.
struct Presenting {
    key: PrivateKey,
    cert: Certificate,
}

impl Signer for Presenting {
    fn public_key(&self) -> &ssh_keys::PublicKey {
        self.key.public()
    }
    fn sign(
        &self,
        alg: ssh_keys::SignatureAlgorithm,
        data: &[u8],
        rng: &mut dyn CryptoRng,
    ) -> Result<Vec<u8>, ssh_keys::Error> {
        self.key.sign(alg, data, rng)
    }
    fn certificate(&self) -> Option<&Certificate> {
        Some(&self.cert)
    }
}

#[test]
fn a_certificate_for_another_key_is_not_offered() {
    let other = certify(PrivateKey::from_ed25519_seed(&[8; 32]));
    let cert = other.certificate().unwrap().clone();
    let keys: Vec<HostKey> = vec![Box::new(Presenting {
        key: PrivateKey::from_ed25519_seed(&[7; 32]),
        cert,
    })];
    let mut p = Pair::new(Config::default(), Config::server_default(), keys);
    assert_eq!(server_offer(&mut p), ["ssh-ed25519"]);
}

#[test]
fn a_certificate_with_a_broken_ca_signature_ends_the_key_exchange() {
    let key = PrivateKey::from_ed25519_seed(&[7; 32]);
    let good = certify(PrivateKey::from_ed25519_seed(&[7; 32]));
    let mut blob = good.certificate().unwrap().blob().to_vec();
    let last = blob.len() - 1;
    blob[last] ^= 1;
    let cert = Certificate::from_blob(&blob).unwrap();
    let keys: Vec<HostKey> = vec![Box::new(Presenting { key, cert })];
    let mut p = Pair::new(Config::default(), Config::server_default(), keys);
    let (role, err) = p.drive().unwrap_err();
    assert_eq!(role, Role::Client);
    assert!(err.to_string().contains("host certificate"), "{err}");
    assert!(
        !p.c_events
            .iter()
            .any(|e| matches!(e, Event::HostKey { .. }))
    );
}
