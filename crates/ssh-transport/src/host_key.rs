//! Host key algorithms of KEXINIT: the plain signature algorithms and
//! OpenSSH's certificate ones (`*-cert-v01@openssh.com`,
//! `PROTOCOL.certkeys`).
//!
//! With a certificate algorithm the server's `K_S` is the certificate
//! blob, and the signature over the exchange hash is made by the certified
//! key with the plain algorithm: `rsa-sha2-256-cert-v01@openssh.com` signs
//! with `rsa-sha2-256`, though the certificate's key type is
//! `ssh-rsa-cert-v01@openssh.com`. Whether the certificate is trusted
//! (its CA, principals, validity) is the application's decision, like a
//! plain key's: the transport only checks that the blob is a certificate
//! signed by the CA key it names and that the certified key signed `H`.

use ssh_keys::{Certificate, EcdsaCurve, PublicKey, SignatureAlgorithm, VerifyPolicy};

use crate::error::Error;
use crate::kex::verify_exchange_hash;
use crate::transport::HostKey;

/// A host key algorithm: a signature algorithm, over a plain key or a
/// certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HostKeyAlgorithm {
    signature: SignatureAlgorithm,
    certificate: bool,
}

impl HostKeyAlgorithm {
    /// Every host key algorithm, in OpenSSH's default order of preference:
    /// certificates first, `ssh-rsa` (SHA-1) of each kind last.
    pub const ALL: [Self; 14] = [
        Self::certificate(SignatureAlgorithm::Ed25519),
        Self::certificate(SignatureAlgorithm::Ecdsa(EcdsaCurve::NistP256)),
        Self::certificate(SignatureAlgorithm::Ecdsa(EcdsaCurve::NistP384)),
        Self::certificate(SignatureAlgorithm::Ecdsa(EcdsaCurve::NistP521)),
        Self::certificate(SignatureAlgorithm::RsaSha512),
        Self::certificate(SignatureAlgorithm::RsaSha256),
        Self::plain(SignatureAlgorithm::Ed25519),
        Self::plain(SignatureAlgorithm::Ecdsa(EcdsaCurve::NistP256)),
        Self::plain(SignatureAlgorithm::Ecdsa(EcdsaCurve::NistP384)),
        Self::plain(SignatureAlgorithm::Ecdsa(EcdsaCurve::NistP521)),
        Self::plain(SignatureAlgorithm::RsaSha512),
        Self::plain(SignatureAlgorithm::RsaSha256),
        Self::certificate(SignatureAlgorithm::RsaSha1),
        Self::plain(SignatureAlgorithm::RsaSha1),
    ];

    /// A plain key signing with `signature`.
    pub const fn plain(signature: SignatureAlgorithm) -> Self {
        Self {
            signature,
            certificate: false,
        }
    }

    /// A certificate whose key signs with `signature`.
    pub const fn certificate(signature: SignatureAlgorithm) -> Self {
        Self {
            signature,
            certificate: true,
        }
    }

    /// The signature algorithm over the exchange hash.
    pub const fn signature(self) -> SignatureAlgorithm {
        self.signature
    }

    /// True for the `*-cert-v01@openssh.com` algorithms.
    pub const fn is_certificate(self) -> bool {
        self.certificate
    }

    /// True for the algorithms built on SHA-1 (`ssh-rsa`,
    /// `ssh-rsa-cert-v01@openssh.com`).
    pub const fn uses_sha1(self) -> bool {
        self.signature.uses_sha1()
    }

    /// The wire name.
    pub const fn name(self) -> &'static str {
        if !self.certificate {
            return self.signature.name();
        }
        match self.signature {
            SignatureAlgorithm::Ed25519 => "ssh-ed25519-cert-v01@openssh.com",
            SignatureAlgorithm::Ecdsa(EcdsaCurve::NistP256) => {
                "ecdsa-sha2-nistp256-cert-v01@openssh.com"
            }
            SignatureAlgorithm::Ecdsa(EcdsaCurve::NistP384) => {
                "ecdsa-sha2-nistp384-cert-v01@openssh.com"
            }
            SignatureAlgorithm::Ecdsa(EcdsaCurve::NistP521) => {
                "ecdsa-sha2-nistp521-cert-v01@openssh.com"
            }
            SignatureAlgorithm::RsaSha512 => "rsa-sha2-512-cert-v01@openssh.com",
            SignatureAlgorithm::RsaSha256 => "rsa-sha2-256-cert-v01@openssh.com",
            _ => "ssh-rsa-cert-v01@openssh.com",
        }
    }

    /// The algorithm with wire name `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Can `key` serve this algorithm: it signs with it and, for a
    /// certificate algorithm, presents a certificate of its own key?
    pub fn served_by(self, key: &HostKey) -> bool {
        key.algorithms().contains(&self.signature)
            && (!self.certificate
                || key
                    .certificate()
                    .is_some_and(|c| c.key == *key.public_key()))
    }
}

/// Server side: the first of `keys` serving `alg`, and its `K_S` (the
/// certificate blob for a certificate algorithm, else the key blob).
pub(crate) fn server_host_key(
    keys: &[HostKey],
    alg: HostKeyAlgorithm,
) -> Option<(&HostKey, Vec<u8>)> {
    let key = keys.iter().find(|k| alg.served_by(k))?;
    let blob = match (alg.is_certificate(), key.certificate()) {
        (true, Some(cert)) => cert.blob().to_vec(),
        _ => key.public_key().to_blob(),
    };
    Some((key, blob))
}

/// Client side: `K_S` parsed for `alg` (a certificate signed by the CA it
/// names, of the algorithm's key type, for a certificate algorithm) and
/// the signature over `H` checked with the (certified) key under
/// `policy`. Returns the key and the certificate, if any.
pub(crate) fn verify_server_host_key(
    alg: HostKeyAlgorithm,
    k_s: &[u8],
    exchange_hash: &[u8],
    signature: &[u8],
    policy: &VerifyPolicy,
) -> Result<(PublicKey, Option<Certificate>), Error> {
    if !alg.is_certificate() {
        let key = verify_exchange_hash(alg.signature(), k_s, exchange_hash, signature, policy)
            .map_err(|e| Error::kex(format!("host key signature over the exchange hash: {e}")))?;
        return Ok((key, None));
    }
    let cert =
        Certificate::from_blob(k_s).map_err(|e| Error::kex(format!("host certificate: {e}")))?;
    if cert.key.key_type() != alg.signature().key_type() {
        return Err(Error::kex(format!(
            "host certificate of type {} for host key algorithm {}",
            cert.type_name(),
            alg.name()
        )));
    }
    // As OpenSSH when it decodes a certificate: the CA's signature must
    // hold, with whichever algorithm it names; `CASignatureAlgorithms` is
    // the application's check, with the CA's trust.
    cert.verify_signature(&VerifyPolicy::LEGACY)
        .map_err(|e| Error::kex(format!("host certificate: {e}")))?;
    ssh_keys::verify_with_policy(&cert.key, alg.signature(), exchange_hash, signature, policy)
        .map_err(|e| Error::kex(format!("host key signature over the exchange hash: {e}")))?;
    Ok((cert.key.clone(), Some(cert)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_rsa_certificates_sign_with_rsa_sha2() {
        for a in HostKeyAlgorithm::ALL {
            assert_eq!(HostKeyAlgorithm::from_name(a.name()), Some(a));
            assert_eq!(
                a.is_certificate(),
                a.name().ends_with("-cert-v01@openssh.com")
            );
        }
        let a = HostKeyAlgorithm::from_name("rsa-sha2-256-cert-v01@openssh.com").unwrap();
        assert_eq!(a.signature(), SignatureAlgorithm::RsaSha256);
        assert!(a.is_certificate() && !a.uses_sha1());
        assert!(
            HostKeyAlgorithm::from_name("ssh-rsa-cert-v01@openssh.com")
                .unwrap()
                .uses_sha1()
        );
        assert_eq!(
            HostKeyAlgorithm::from_name("ssh-dss-cert-v01@openssh.com"),
            None
        );
        assert_eq!(
            HostKeyAlgorithm::from_name("sk-ssh-ed25519@openssh.com"),
            None
        );
    }
}
