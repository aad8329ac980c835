//! Public keys as SSH blobs (RFC 4253 §6.6, RFC 5656 §3.1, RFC 8709 §4),
//! their SHA-256 fingerprints and the OpenSSH one-line text form.

use core::fmt;

use base64ct::{Base64, Base64Unpadded, Encoding};
use sha2::{Digest, Sha256};
use ssh_wire::codec::put_string;
use ssh_wire::mpint::put_positive_mpint;
use ssh_wire::{Mpint, Reader};

use crate::ecdsa::EcdsaPublic;
use crate::rsa::RsaPublic;
use crate::{Error, KeyType, SignatureAlgorithm, VerifyPolicy};

/// The longest public key line accepted by [`PublicKey::from_openssh`], in
/// bytes: a 16384-bit RSA key is about 2.8 KB of base64.
pub const MAX_OPENSSH_LINE: usize = 8192;

#[derive(Clone, Debug)]
pub(crate) enum Inner {
    Ed25519(ed25519_dalek::VerifyingKey),
    Ecdsa(EcdsaPublic),
    Rsa(RsaPublic),
}

/// A validated public key of one of the types of [`KeyType`].
///
/// Constructed only from a valid blob or from a private key, so every
/// `PublicKey` is usable for verification. Two keys are equal when their
/// blobs are.
#[derive(Clone)]
pub struct PublicKey {
    pub(crate) inner: Inner,
}

impl PublicKey {
    pub(crate) fn from_inner(inner: Inner) -> Self {
        Self { inner }
    }

    /// Parses and validates a public key blob: the exact fields of its
    /// type, an Ed25519 key of 32 bytes, an ECDSA point of the right length
    /// on the named curve, an RSA modulus of
    /// [`crate::RSA_MIN_BITS`]..=[`crate::RSA_MAX_BITS`] bits. Trailing
    /// bytes are an error.
    pub fn from_blob(blob: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(blob);
        let name = r.ascii("public key type")?;
        let inner = match KeyType::from_name(name)? {
            KeyType::Ed25519 => {
                // RFC 8709 §4: string "ssh-ed25519", string key (32 octets).
                let key: [u8; 32] = r
                    .string("ed25519 public key")?
                    .try_into()
                    .map_err(|_| Error::InvalidKey("Ed25519 key must be 32 bytes"))?;
                Inner::Ed25519(
                    ed25519_dalek::VerifyingKey::from_bytes(&key)
                        .map_err(|_| Error::InvalidKey("Ed25519 key is not a curve point"))?,
                )
            }
            KeyType::Ecdsa(curve) => {
                // RFC 5656 §3.1: string name, string identifier, string Q.
                let id = r.string("ecdsa curve identifier")?;
                if id != curve.identifier().as_bytes() {
                    return Err(Error::InvalidKey(
                        "ECDSA curve identifier does not match the key type",
                    ));
                }
                Inner::Ecdsa(EcdsaPublic::from_point(curve, r.string("ecdsa point")?)?)
            }
            KeyType::Rsa => {
                // RFC 4253 §6.6: string "ssh-rsa", mpint e, mpint n.
                let e = r.read::<Mpint>()?;
                let n = r.read::<Mpint>()?;
                let (Some(e), Some(n)) = (e.positive_be(), n.positive_be()) else {
                    return Err(Error::InvalidKey("negative RSA parameter"));
                };
                Inner::Rsa(RsaPublic::new(e, n)?)
            }
        };
        r.finish("public key blob")?;
        Ok(Self { inner })
    }

    /// The key type.
    pub fn key_type(&self) -> KeyType {
        match &self.inner {
            Inner::Ed25519(_) => KeyType::Ed25519,
            Inner::Ecdsa(k) => KeyType::Ecdsa(k.curve()),
            Inner::Rsa(_) => KeyType::Rsa,
        }
    }

    /// For RSA keys, the size of the modulus in bits.
    pub fn rsa_bits(&self) -> Option<u32> {
        match &self.inner {
            Inner::Rsa(k) => Some(k.bits()),
            _ => None,
        }
    }

    /// Appends the blob (without an outer length).
    pub fn write_blob(&self, out: &mut Vec<u8>) {
        put_string(out, self.key_type().name().as_bytes());
        match &self.inner {
            Inner::Ed25519(k) => put_string(out, k.as_bytes()),
            Inner::Ecdsa(k) => {
                put_string(out, k.curve().identifier().as_bytes());
                put_string(out, &k.point());
            }
            Inner::Rsa(k) => {
                put_positive_mpint(out, k.e());
                put_positive_mpint(out, k.n());
            }
        }
    }

    /// The blob, as sent in KEXDH_REPLY (`K_S`) and USERAUTH_REQUEST.
    pub fn to_blob(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_blob(&mut out);
        out
    }

    /// The fingerprint as OpenSSH prints it: `SHA256:` and the unpadded
    /// base64 of the SHA-256 of the blob.
    pub fn fingerprint_sha256(&self) -> String {
        let digest = Sha256::digest(self.to_blob());
        format!("SHA256:{}", Base64Unpadded::encode_string(&digest))
    }

    /// The OpenSSH one-line form, `type base64(blob)` and, if `comment` is
    /// not empty, a space and the comment (`ssh-ed25519 AAAA... me@host`).
    pub fn to_openssh(&self, comment: &str) -> String {
        let mut line = format!(
            "{} {}",
            self.key_type().name(),
            Base64::encode_string(&self.to_blob())
        );
        if !comment.is_empty() {
            line.push(' ');
            line.push_str(comment);
        }
        line
    }

    /// Parses the OpenSSH one-line form (a `.pub` file's line, or an
    /// authorized_keys line without options): the key type, the base64
    /// blob, and an optional comment, which is returned with surrounding
    /// whitespace trimmed. The type name before the blob must match the
    /// blob.
    pub fn from_openssh(line: &str) -> Result<(Self, &str), Error> {
        if line.len() > MAX_OPENSSH_LINE {
            return Err(Error::InvalidText("line too long"));
        }
        let line = line.trim();
        let (name, rest) = line
            .split_once(|c: char| c.is_ascii_whitespace())
            .ok_or(Error::InvalidText("expected a key type and a base64 blob"))?;
        let rest = rest.trim_start();
        let (b64, comment) = match rest.split_once(|c: char| c.is_ascii_whitespace()) {
            Some((b64, comment)) => (b64, comment.trim()),
            None => (rest, ""),
        };
        let blob = Base64::decode_vec(b64).map_err(|_| Error::InvalidText("invalid base64"))?;
        let key = Self::from_blob(&blob)?;
        if key.key_type().name() != name {
            return Err(Error::InvalidText("key type does not match the blob"));
        }
        Ok((key, comment))
    }

    /// Verifies `signature_blob` (`string algorithm || string signature`)
    /// over `data` with the default [`VerifyPolicy`]. See [`crate::verify`].
    pub fn verify(
        &self,
        alg: SignatureAlgorithm,
        data: &[u8],
        signature_blob: &[u8],
    ) -> Result<(), Error> {
        crate::signature::verify_with_policy(
            self,
            alg,
            data,
            signature_blob,
            &VerifyPolicy::default(),
        )
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.to_blob() == other.to_blob()
    }
}

impl Eq for PublicKey {}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PublicKey({} {})",
            self.key_type().name(),
            self.fingerprint_sha256()
        )
    }
}

impl fmt::Display for PublicKey {
    /// The OpenSSH one-line form without a comment.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_openssh(""))
    }
}
