//! OpenSSH certificates (`*-cert-v01@openssh.com`, OpenSSH
//! `PROTOCOL.certkeys`): a public key, its principals and validity, signed
//! by a certificate authority. Shared by host certificates (transport:
//! `K_S` of the key exchange) and user certificates (authentication).
//!
//! - [`Certificate`]: parse (`parse.rs`) and encode the blob, check the CA
//!   signature, type, validity window and principals (`check.rs`);
//! - [`CertificateBuilder`]: make and sign one (`builder.rs`), for tests
//!   and tools;
//! - [`CertifiedKey`]: a private key with its certificate, a [`Signer`]
//!   that presents the certificate (`certified.rs`).
//!
//! Time is a parameter (seconds since the Unix epoch): nothing here reads a
//! clock. Which CAs are trusted for what is the caller's business
//! (`known_hosts`, `authorized_keys`, `TrustedUserCAKeys`).
//!
//! [`Signer`]: crate::Signer

mod builder;
mod certified;
mod check;
mod error;
mod parse;

pub use builder::CertificateBuilder;
pub use certified::CertifiedKey;
pub use error::CertError;

use crate::{KeyType, PublicKey, SignatureAlgorithm};

/// The suffix of every certificate algorithm and key type name.
pub const CERT_SUFFIX: &str = "-cert-v01@openssh.com";

/// The most principals accepted (OpenSSH: 256).
pub const MAX_PRINCIPALS: usize = 256;
/// The most critical options or extensions accepted.
pub const MAX_OPTIONS: usize = 64;

/// Critical options this implementation understands (PROTOCOL.certkeys
/// "Critical options"); a user certificate with any other is refused.
pub const KNOWN_CRITICAL_OPTIONS: [&str; 3] =
    ["force-command", "source-address", "verify-required"];

/// User or host certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertType {
    /// `SSH2_CERT_TYPE_USER` (1).
    User,
    /// `SSH2_CERT_TYPE_HOST` (2).
    Host,
}

impl CertType {
    /// The number in the blob.
    pub const fn code(self) -> u32 {
        match self {
            Self::User => 1,
            Self::Host => 2,
        }
    }
}

/// A parsed certificate. Constructed from a blob that parsed (every field
/// valid, the keys valid) or by [`CertificateBuilder`]; the CA signature
/// is checked by [`Certificate::verify_signature`], not by parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    blob: Vec<u8>,
    signed_len: usize,
    reserved: Vec<u8>,
    /// The certified key.
    pub key: PublicKey,
    /// The CA's random nonce.
    pub nonce: Vec<u8>,
    /// Serial number.
    pub serial: u64,
    /// User or host.
    pub cert_type: CertType,
    /// The key id (free text, for logs).
    pub key_id: String,
    /// Principals (user or host names).
    pub principals: Vec<String>,
    /// Valid from (seconds since the epoch, inclusive).
    pub valid_after: u64,
    /// Valid until (seconds since the epoch, exclusive).
    pub valid_before: u64,
    /// Critical options, name and (unwrapped) data: empty for a flag.
    pub critical_options: Vec<(String, Vec<u8>)>,
    /// Extensions, name and data.
    pub extensions: Vec<(String, Vec<u8>)>,
    /// The CA key.
    pub signature_key: PublicKey,
    /// The CA signature blob.
    pub signature: Vec<u8>,
}

/// The certificate algorithm name for signature algorithm `alg`
/// (`rsa-sha2-512-cert-v01@openssh.com`, `ssh-ed25519-cert-v01@openssh.com`).
pub fn cert_algorithm_name(alg: SignatureAlgorithm) -> String {
    format!("{}{CERT_SUFFIX}", alg.name())
}

/// The signature algorithm behind a certificate algorithm name, if it is
/// one (`rsa-sha2-256-cert-v01@openssh.com` gives `rsa-sha2-256`).
pub fn cert_signature_algorithm(name: &str) -> Option<SignatureAlgorithm> {
    SignatureAlgorithm::from_name(name.strip_suffix(CERT_SUFFIX)?).ok()
}

/// The certified key type behind a certificate key type name
/// (`ssh-rsa-cert-v01@openssh.com` gives `ssh-rsa`; note that
/// `rsa-sha2-256-cert-v01@openssh.com` is an algorithm, not a key type).
pub fn cert_key_type(name: &str) -> Option<KeyType> {
    KeyType::from_name(name.strip_suffix(CERT_SUFFIX)?).ok()
}

impl Certificate {
    /// The whole certificate blob (what goes on the wire as the "public
    /// key").
    pub fn blob(&self) -> &[u8] {
        &self.blob
    }

    /// The certificate's key type name (`ssh-ed25519-cert-v01@openssh.com`;
    /// `ssh-rsa-cert-v01@openssh.com` whatever the RSA signature algorithm).
    pub fn type_name(&self) -> String {
        format!("{}{CERT_SUFFIX}", self.key.key_type().name())
    }

    /// The value of critical option `name` (`force-command`,
    /// `source-address`), if present.
    pub fn critical_option(&self, name: &str) -> Option<&[u8]> {
        self.critical_options
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// The signature algorithm the CA signed with, as named in the
    /// signature blob (`ssh-ed25519`, `rsa-sha2-512`).
    pub fn signature_algorithm(&self) -> Result<SignatureAlgorithm, CertError> {
        let (name, _) =
            crate::parse_signature_blob(&self.signature).map_err(CertError::BadSignature)?;
        SignatureAlgorithm::from_name(name).map_err(CertError::BadSignature)
    }
}
