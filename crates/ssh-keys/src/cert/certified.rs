//! A key with its certificate: what a server presents as a host key of a
//! `*-cert-v01@openssh.com` algorithm (and a client as a user key).

use rand_core::CryptoRng;

use super::{CertError, Certificate};
use crate::{Error, PrivateKey, PublicKey, SignatureAlgorithm, Signer};

/// A [`Signer`] and a certificate of its public key. It signs with the key
/// (a certificate changes what is presented, not how one signs) and
/// presents the certificate through [`Signer::certificate`].
#[derive(Debug)]
pub struct CertifiedKey<K: Signer = PrivateKey> {
    key: K,
    certificate: Certificate,
}

impl<K: Signer> CertifiedKey<K> {
    /// Pairs `key` with `certificate`, which must certify its public key.
    pub fn new(key: K, certificate: Certificate) -> Result<Self, CertError> {
        if certificate.key != *key.public_key() {
            return Err(CertError::Malformed(
                "the certificate is for another key".to_owned(),
            ));
        }
        Ok(Self { key, certificate })
    }

    /// The key.
    pub fn key(&self) -> &K {
        &self.key
    }

    /// The certificate.
    pub fn cert(&self) -> &Certificate {
        &self.certificate
    }
}

impl<K: Signer> Signer for CertifiedKey<K> {
    fn public_key(&self) -> &PublicKey {
        self.key.public_key()
    }

    fn algorithms(&self) -> &[SignatureAlgorithm] {
        self.key.algorithms()
    }

    fn sign(
        &self,
        alg: SignatureAlgorithm,
        data: &[u8],
        rng: &mut dyn CryptoRng,
    ) -> Result<Vec<u8>, Error> {
        self.key.sign(alg, data, rng)
    }

    fn certificate(&self) -> Option<&Certificate> {
        Some(&self.certificate)
    }

    fn signs_remotely(&self) -> bool {
        self.key.signs_remotely()
    }
}
