//! The certificate blob (PROTOCOL.certkeys): parsing every field, and
//! encoding them back. Parsing then encoding gives the same bytes: every
//! field has exactly one encoding (keys are validated and canonical,
//! option lists strictly ordered, a critical option's value is either
//! absent or a non-empty string).

use base64ct::{Base64, Encoding};
use ssh_wire::Reader;
use ssh_wire::codec::{put_string, put_u32, put_u64};

use super::error::malformed;
use super::{
    CERT_SUFFIX, CertError, CertType, Certificate, MAX_OPTIONS, MAX_PRINCIPALS, cert_key_type,
};
use crate::{KeyType, PublicKey};

/// Reads a packed list of `string name, string data` with names in
/// strictly increasing order. `wrapped`: critical options, whose data is
/// itself a string (and empty for flags).
fn read_options(data: &[u8], wrapped: bool) -> Result<Vec<(String, Vec<u8>)>, CertError> {
    let mut r = Reader::new(data);
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    while !r.is_empty() {
        if out.len() >= MAX_OPTIONS {
            return Err(malformed("too many options"));
        }
        let name = r.utf8("option name").map_err(malformed)?.to_owned();
        let raw = r.string("option data").map_err(malformed)?;
        let value = if wrapped && !raw.is_empty() {
            let mut inner = Reader::new(raw);
            let v = inner.string("option value").map_err(malformed)?;
            inner.finish("option value").map_err(malformed)?;
            if v.is_empty() {
                // A flag is empty data, not an empty string: one form only.
                return Err(malformed("critical option with an empty value"));
            }
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

fn write_options(out: &mut Vec<u8>, options: &[(String, Vec<u8>)], wrapped: bool) {
    let mut packed = Vec::new();
    for (name, value) in options {
        put_string(&mut packed, name.as_bytes());
        if wrapped && !value.is_empty() {
            let mut inner = Vec::with_capacity(4 + value.len());
            put_string(&mut inner, value);
            put_string(&mut packed, &inner);
        } else {
            put_string(&mut packed, value);
        }
    }
    put_string(out, &packed);
}

/// The fields of a key blob after its type name (what a certificate
/// carries in place of the key).
fn key_fields(key: &PublicKey) -> Vec<u8> {
    let blob = key.to_blob();
    let mut r = Reader::new(&blob);
    // The blob is ours and well-formed; an error leaves the whole blob,
    // which no parser would accept.
    match r.string("key type") {
        Ok(_) => r.take_rest().to_vec(),
        Err(_) => blob.clone(),
    }
}

/// Everything up to and including the signature key: what the CA signs.
/// The caller appends `string signature`.
pub(super) struct Fields<'a> {
    pub nonce: &'a [u8],
    pub key: &'a PublicKey,
    pub serial: u64,
    pub cert_type: CertType,
    pub key_id: &'a str,
    pub principals: &'a [String],
    pub valid_after: u64,
    pub valid_before: u64,
    pub critical_options: &'a [(String, Vec<u8>)],
    pub extensions: &'a [(String, Vec<u8>)],
    pub reserved: &'a [u8],
    pub signature_key: &'a PublicKey,
}

impl Fields<'_> {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let name = format!("{}{CERT_SUFFIX}", self.key.key_type().name());
        put_string(&mut out, name.as_bytes());
        put_string(&mut out, self.nonce);
        out.extend_from_slice(&key_fields(self.key));
        put_u64(&mut out, self.serial);
        put_u32(&mut out, self.cert_type.code());
        put_string(&mut out, self.key_id.as_bytes());
        let mut principals = Vec::new();
        for p in self.principals {
            put_string(&mut principals, p.as_bytes());
        }
        put_string(&mut out, &principals);
        put_u64(&mut out, self.valid_after);
        put_u64(&mut out, self.valid_before);
        write_options(&mut out, self.critical_options, true);
        write_options(&mut out, self.extensions, false);
        put_string(&mut out, self.reserved);
        put_string(&mut out, &self.signature_key.to_blob());
        out
    }
}

impl Certificate {
    /// Parses a certificate blob: every field, the certified key and the
    /// CA key validated (the CA may not itself be a certificate), at most
    /// [`MAX_PRINCIPALS`] principals and [`MAX_OPTIONS`] options of each
    /// kind, no trailing bytes. The CA signature is not checked here.
    pub fn from_blob(blob: &[u8]) -> Result<Self, CertError> {
        let mut r = Reader::new(blob);
        let name = r.utf8("certificate type").map_err(malformed)?;
        let key_type =
            cert_key_type(name).ok_or_else(|| CertError::UnsupportedType(name.to_owned()))?;
        let nonce = r.string("nonce").map_err(malformed)?.to_vec();
        // The key's own fields, then parsed as a plain key blob.
        let mut key_blob = Vec::new();
        put_string(&mut key_blob, key_type.name().as_bytes());
        let fields = match key_type {
            KeyType::Ed25519 => 1,
            // ECDSA: curve identifier and point; RSA: e and n, in the
            // order of the plain key blob.
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
        let critical_options =
            read_options(r.string("critical options").map_err(malformed)?, true)?;
        let extensions = read_options(r.string("extensions").map_err(malformed)?, false)?;
        let reserved = r.string("reserved").map_err(malformed)?.to_vec();
        let ca_blob = r.string("signature key").map_err(malformed)?;
        let signature_key = PublicKey::from_blob(ca_blob).map_err(malformed)?;
        let signed_len = blob.len() - r.remaining();
        let signature = r.string("signature").map_err(malformed)?.to_vec();
        r.finish("certificate").map_err(malformed)?;
        Ok(Self {
            blob: blob.to_vec(),
            signed_len,
            reserved,
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
    /// comment`, a `-cert.pub` file); the name must be the blob's.
    pub fn from_openssh(line: &str) -> Result<Self, CertError> {
        let mut parts = line.split_ascii_whitespace();
        let name = parts.next().ok_or_else(|| malformed("empty line"))?;
        let b64 = parts.next().ok_or_else(|| malformed("no base64 blob"))?;
        let blob = Base64::decode_vec(b64).map_err(|_| malformed("invalid base64"))?;
        let cert = Self::from_blob(&blob)?;
        if cert.type_name() != name {
            return Err(malformed("type does not match the blob"));
        }
        Ok(cert)
    }

    /// The one-line form, `type base64(blob)` and, if `comment` is not
    /// empty, a space and the comment.
    pub fn to_openssh(&self, comment: &str) -> String {
        let mut line = format!("{} {}", self.type_name(), Base64::encode_string(&self.blob));
        if !comment.is_empty() {
            line.push(' ');
            line.push_str(comment);
        }
        line
    }

    /// The blob encoded again from the fields (equal to [`Certificate::blob`]
    /// for every certificate; what the fuzz target checks).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.fields().encode();
        put_string(&mut out, &self.signature);
        out
    }

    pub(super) fn fields(&self) -> Fields<'_> {
        Fields {
            nonce: &self.nonce,
            key: &self.key,
            serial: self.serial,
            cert_type: self.cert_type,
            key_id: &self.key_id,
            principals: &self.principals,
            valid_after: self.valid_after,
            valid_before: self.valid_before,
            critical_options: &self.critical_options,
            extensions: &self.extensions,
            reserved: &self.reserved,
            signature_key: &self.signature_key,
        }
    }

    /// The signed part of the blob.
    pub(super) fn signed_bytes(&self) -> Result<&[u8], CertError> {
        self.blob
            .get(..self.signed_len)
            .ok_or_else(|| malformed("signed length"))
    }

    /// Assembles a certificate from its signed part and signature.
    pub(super) fn assemble(signed: Vec<u8>, signature: &[u8]) -> Result<Self, CertError> {
        let mut blob = signed;
        put_string(&mut blob, signature);
        Self::from_blob(&blob)
    }
}
