//! OpenSSH certificates (`*-cert-v01@openssh.com`, OpenSSH
//! `PROTOCOL.certkeys`): parsing, the CA signature, and the checks a
//! verifier makes (type, principal, validity window, critical options).
//!
//! Time is a parameter (seconds since the Unix epoch): nothing here reads
//! a clock.

use base64ct::{Base64, Encoding};
use ssh_keys::{KeyType, PublicKey, SignatureAlgorithm, VerifyPolicy};
use ssh_wire::Reader;
use ssh_wire::codec::put_string;

/// The most principals accepted (OpenSSH: 256).
const MAX_PRINCIPALS: usize = 256;
/// The most options or extensions accepted.
const MAX_OPTIONS: usize = 64;

/// Critical options this implementation understands (PROTOCOL.certkeys
/// §"Critical options"); a certificate with any other is refused.
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

/// Why a certificate was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertError {
    /// The blob is not a valid certificate encoding.
    Malformed(String),
    /// The certificate key type is not one this crate knows.
    UnsupportedType(String),
    /// The CA signature does not verify.
    BadSignature(ssh_keys::Error),
    /// The CA is not trusted.
    UntrustedCa,
    /// A host certificate used as a user one or the other way round.
    WrongType,
    /// The principal is not listed (an empty list matches nobody here).
    PrincipalNotListed,
    /// Not yet valid.
    NotYetValid,
    /// Expired.
    Expired,
    /// A critical option this implementation does not understand.
    UnknownCriticalOption(String),
}

impl core::fmt::Display for CertError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Malformed(why) => write!(f, "malformed certificate: {why}"),
            Self::UnsupportedType(t) => write!(f, "unsupported certificate type {t:?}"),
            Self::BadSignature(e) => write!(f, "certificate signature invalid: {e}"),
            Self::UntrustedCa => f.write_str("certificate signed by an untrusted CA"),
            Self::WrongType => f.write_str("wrong certificate type (user/host)"),
            Self::PrincipalNotListed => f.write_str("principal not listed in certificate"),
            Self::NotYetValid => f.write_str("certificate not yet valid"),
            Self::Expired => f.write_str("certificate expired"),
            Self::UnknownCriticalOption(o) => write!(f, "unknown critical option {o:?}"),
        }
    }
}

impl std::error::Error for CertError {}

fn malformed(e: impl core::fmt::Display) -> CertError {
    CertError::Malformed(e.to_string())
}

/// A parsed certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    blob: Vec<u8>,
    signed_len: usize,
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
    /// Critical options, name and (unwrapped) data.
    pub critical_options: Vec<(String, Vec<u8>)>,
    /// Extensions, name and data.
    pub extensions: Vec<(String, Vec<u8>)>,
    /// The CA key.
    pub signature_key: PublicKey,
    /// The CA signature blob.
    pub signature: Vec<u8>,
}

/// The certificate algorithm name used in `publickey` requests for
/// signature algorithm `alg` (`rsa-sha2-512-cert-v01@openssh.com`, ...).
pub fn cert_algorithm_name(alg: SignatureAlgorithm) -> String {
    format!("{}-cert-v01@openssh.com", alg.name())
}

/// The signature algorithm behind a certificate algorithm name, if it is
/// one (`rsa-sha2-256-cert-v01@openssh.com` gives `rsa-sha2-256`).
pub fn cert_signature_algorithm(name: &str) -> Option<SignatureAlgorithm> {
    SignatureAlgorithm::from_name(name.strip_suffix("-cert-v01@openssh.com")?).ok()
}

fn cert_key_type(name: &str) -> Option<KeyType> {
    let base = name.strip_suffix("-cert-v01@openssh.com")?;
    KeyType::from_name(base).ok()
}

/// Reads a packed list of `string name, string data` with names in
/// strictly increasing order.
fn options(data: &[u8], unwrap: bool) -> Result<Vec<(String, Vec<u8>)>, CertError> {
    let mut r = Reader::new(data);
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    while !r.is_empty() {
        if out.len() >= MAX_OPTIONS {
            return Err(malformed("too many options"));
        }
        let name = r.utf8("option name").map_err(malformed)?.to_owned();
        let raw = r.string("option data").map_err(malformed)?;
        // Critical option data is itself a string (empty for flags).
        let value = if unwrap && !raw.is_empty() {
            let mut inner = Reader::new(raw);
            let v = inner.string("option value").map_err(malformed)?;
            inner.finish("option value").map_err(malformed)?;
            v.to_vec()
        } else {
            raw.to_vec()
        };
        if out.last().is_some_and(|(prev, _)| *prev >= name) {
            return Err(malformed("options not in order or repeated"));
        }
        out.push((name, value));
    }
    Ok(out)
}

impl Certificate {
    /// Parses a certificate blob.
    pub fn from_blob(blob: &[u8]) -> Result<Self, CertError> {
        let mut r = Reader::new(blob);
        let name = r.utf8("certificate type").map_err(malformed)?;
        let key_type =
            cert_key_type(name).ok_or_else(|| CertError::UnsupportedType(name.to_owned()))?;
        let nonce = r.string("nonce").map_err(malformed)?.to_vec();
        let mut key_blob = Vec::new();
        put_string(&mut key_blob, key_type.name().as_bytes());
        let fields = match key_type {
            KeyType::Ed25519 => 1,
            KeyType::Ecdsa(_) => 2,
            // e, n: the same order as in the plain key blob.
            _ => 2,
        };
        for _ in 0..fields {
            put_string(
                &mut key_blob,
                r.string("public key field").map_err(malformed)?,
            );
        }
        let key = PublicKey::from_blob(&key_blob).map_err(malformed)?;
        let serial = r.u64("serial").map_err(malformed)?;
        let cert_type = match r.u32("type").map_err(malformed)? {
            1 => CertType::User,
            2 => CertType::Host,
            _ => return Err(malformed("unknown certificate type")),
        };
        let key_id = r.utf8("key id").map_err(malformed)?.to_owned();
        let mut p = Reader::new(r.string("valid principals").map_err(malformed)?);
        let mut principals = Vec::new();
        while !p.is_empty() {
            if principals.len() >= MAX_PRINCIPALS {
                return Err(malformed("too many principals"));
            }
            principals.push(p.utf8("principal").map_err(malformed)?.to_owned());
        }
        let valid_after = r.u64("valid after").map_err(malformed)?;
        let valid_before = r.u64("valid before").map_err(malformed)?;
        let critical_options = options(r.string("critical options").map_err(malformed)?, true)?;
        let extensions = options(r.string("extensions").map_err(malformed)?, false)?;
        r.string("reserved").map_err(malformed)?;
        let ca_blob = r.string("signature key").map_err(malformed)?;
        let signature_key = PublicKey::from_blob(ca_blob).map_err(malformed)?;
        let signed_len = blob.len() - r.remaining();
        let signature = r.string("signature").map_err(malformed)?.to_vec();
        r.finish("certificate").map_err(malformed)?;
        Ok(Self {
            blob: blob.to_vec(),
            signed_len,
            key,
            nonce,
            serial,
            cert_type,
            key_id,
            principals,
            valid_after,
            valid_before,
            critical_options,
            extensions,
            signature_key,
            signature,
        })
    }

    /// Parses the one-line form (`ssh-ed25519-cert-v01@openssh.com AAAA...
    /// comment`, a `-cert.pub` file).
    pub fn from_openssh(line: &str) -> Result<Self, CertError> {
        let mut parts = line.split_ascii_whitespace();
        let name = parts.next().ok_or_else(|| malformed("empty line"))?;
        let b64 = parts.next().ok_or_else(|| malformed("no base64 blob"))?;
        let blob = Base64::decode_vec(b64).map_err(|_| malformed("invalid base64"))?;
        let cert = Self::from_blob(&blob)?;
        if blob.get(4..4 + name.len()) != Some(name.as_bytes()) {
            return Err(malformed("type does not match the blob"));
        }
        Ok(cert)
    }

    /// The whole certificate blob (what goes on the wire as the "public
    /// key").
    pub fn blob(&self) -> &[u8] {
        &self.blob
    }

    /// The certificate's wire name (`ssh-ed25519-cert-v01@openssh.com`).
    pub fn type_name(&self) -> String {
        format!("{}-cert-v01@openssh.com", self.key.key_type().name())
    }

    /// Verifies the CA signature (over everything up to and including the
    /// signature key) under `policy`. The CA may not itself be a
    /// certificate, which parsing ensures.
    pub fn verify_signature(&self, policy: &VerifyPolicy) -> Result<(), CertError> {
        let (name, _) =
            ssh_keys::parse_signature_blob(&self.signature).map_err(CertError::BadSignature)?;
        let alg = SignatureAlgorithm::from_name(name).map_err(CertError::BadSignature)?;
        let signed = self
            .blob
            .get(..self.signed_len)
            .ok_or_else(|| malformed("signed length"))?;
        ssh_keys::verify_with_policy(&self.signature_key, alg, signed, &self.signature, policy)
            .map_err(CertError::BadSignature)
    }

    /// The full check a verifier makes: the CA is one of `trusted`, the
    /// signature verifies, the type is `expected`, `principal` is listed,
    /// `now` (seconds since the epoch) is inside the window, and every
    /// critical option is understood.
    pub fn validate(
        &self,
        expected: CertType,
        principal: &str,
        now: u64,
        trusted: &[PublicKey],
        policy: &VerifyPolicy,
    ) -> Result<(), CertError> {
        if !trusted.contains(&self.signature_key) {
            return Err(CertError::UntrustedCa);
        }
        self.verify_signature(policy)?;
        if self.cert_type != expected {
            return Err(CertError::WrongType);
        }
        if !self.principals.iter().any(|p| p == principal) {
            return Err(CertError::PrincipalNotListed);
        }
        if now < self.valid_after {
            return Err(CertError::NotYetValid);
        }
        if now >= self.valid_before {
            return Err(CertError::Expired);
        }
        if let Some((name, _)) = self
            .critical_options
            .iter()
            .find(|(n, _)| !KNOWN_CRITICAL_OPTIONS.contains(&n.as_str()))
        {
            return Err(CertError::UnknownCriticalOption(name.clone()));
        }
        Ok(())
    }

    /// The `source-address` critical option applied to the client's
    /// address: true if the option is absent or lists a matching CIDR
    /// network or address (PROTOCOL.certkeys: "Comma-separated list of
    /// source addresses from which this certificate is accepted").
    pub fn source_address_allows(&self, address: &str) -> bool {
        let Some(list) = self.critical_option("source-address") else {
            return true;
        };
        let Ok(list) = core::str::from_utf8(list) else {
            return false;
        };
        list.split(',')
            .any(|cidr| crate::pattern::cidr_match(address, cidr.trim()) == Some(true))
    }

    /// The value of critical option `name` (`force-command`,
    /// `source-address`), if present.
    pub fn critical_option(&self, name: &str) -> Option<&[u8]> {
        self.critical_options
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}
