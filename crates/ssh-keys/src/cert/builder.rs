//! Making a certificate: the fields, then the CA's signature (what
//! `ssh-keygen -s` does). For tests and tools; a verifier never needs it.

use rand_core::CryptoRng;

use super::parse::Fields;
use super::{CertError, CertType, Certificate};
use crate::{PublicKey, SignatureAlgorithm, Signer};

/// Builds and signs a [`Certificate`].
///
/// ```
/// # use ssh_keys::{CertType, CertificateBuilder, KeyType, PrivateKey};
/// # use rand::SeedableRng;
/// let mut rng = rand::rngs::StdRng::seed_from_u64(7);
/// let ca = PrivateKey::generate(KeyType::Ed25519, &mut rng).unwrap();
/// let host = PrivateKey::generate(KeyType::Ed25519, &mut rng).unwrap();
/// let cert = CertificateBuilder::new(host.public().clone(), CertType::Host)
///     .key_id("host.example")
///     .principal("host.example")
///     .valid(0, u64::MAX)
///     .sign(&ca, None, &mut rng)
///     .unwrap();
/// assert_eq!(cert.signature_key, *ca.public());
/// ```
#[derive(Debug, Clone)]
pub struct CertificateBuilder {
    key: PublicKey,
    cert_type: CertType,
    nonce: Option<Vec<u8>>,
    serial: u64,
    key_id: String,
    principals: Vec<String>,
    valid_after: u64,
    valid_before: u64,
    critical_options: Vec<(String, Vec<u8>)>,
    extensions: Vec<(String, Vec<u8>)>,
}

impl CertificateBuilder {
    /// A certificate of `cert_type` for `key`: no principals, valid
    /// forever, serial 0, a random nonce, no options.
    pub fn new(key: PublicKey, cert_type: CertType) -> Self {
        Self {
            key,
            cert_type,
            nonce: None,
            serial: 0,
            key_id: String::new(),
            principals: Vec::new(),
            valid_after: 0,
            valid_before: u64::MAX,
            critical_options: Vec::new(),
            extensions: Vec::new(),
        }
    }

    /// The serial number.
    pub fn serial(mut self, serial: u64) -> Self {
        self.serial = serial;
        self
    }

    /// The key id.
    pub fn key_id(mut self, id: &str) -> Self {
        self.key_id = id.to_owned();
        self
    }

    /// Adds a principal.
    pub fn principal(mut self, name: &str) -> Self {
        self.principals.push(name.to_owned());
        self
    }

    /// The validity window, `valid_after <= t < valid_before` (seconds
    /// since the epoch).
    pub fn valid(mut self, valid_after: u64, valid_before: u64) -> Self {
        self.valid_after = valid_after;
        self.valid_before = valid_before;
        self
    }

    /// A fixed nonce (otherwise 32 random bytes).
    pub fn nonce(mut self, nonce: &[u8]) -> Self {
        self.nonce = Some(nonce.to_vec());
        self
    }

    /// Adds a critical option (`value` empty for a flag); options are
    /// sorted by name when signing.
    pub fn critical_option(mut self, name: &str, value: &[u8]) -> Self {
        self.critical_options
            .push((name.to_owned(), value.to_vec()));
        self
    }

    /// Adds an extension (`permit-pty`, ...).
    pub fn extension(mut self, name: &str, value: &[u8]) -> Self {
        self.extensions.push((name.to_owned(), value.to_vec()));
        self
    }

    /// Signs with `ca` using `alg` (`None`: the CA's preferred algorithm)
    /// and returns the certificate, parsed back from its blob.
    pub fn sign(
        mut self,
        ca: &dyn Signer,
        alg: Option<SignatureAlgorithm>,
        rng: &mut dyn CryptoRng,
    ) -> Result<Certificate, CertError> {
        let alg =
            match alg {
                Some(a) => a,
                None => *ca.algorithms().first().ok_or(CertError::BadSignature(
                    crate::Error::Signing("the CA has no signature algorithm"),
                ))?,
            };
        self.critical_options.sort_by(|a, b| a.0.cmp(&b.0));
        self.extensions.sort_by(|a, b| a.0.cmp(&b.0));
        let nonce = match self.nonce.take() {
            Some(n) => n,
            None => {
                let mut n = vec![0u8; 32];
                rng.fill_bytes(&mut n);
                n
            }
        };
        let signed = Fields {
            nonce: &nonce,
            key: &self.key,
            serial: self.serial,
            cert_type: self.cert_type,
            key_id: &self.key_id,
            principals: &self.principals,
            valid_after: self.valid_after,
            valid_before: self.valid_before,
            critical_options: &self.critical_options,
            extensions: &self.extensions,
            reserved: &[],
            signature_key: ca.public_key(),
        }
        .encode();
        let signature = ca
            .sign(alg, &signed, rng)
            .map_err(CertError::BadSignature)?;
        Certificate::assemble(signed, &signature)
    }
}
