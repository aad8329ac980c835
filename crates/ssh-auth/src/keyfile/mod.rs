//! Key files: OpenSSH private keys (`openssh-key-v1`, PROTOCOL.key),
//! PEM PKCS#1 / SEC1 / PKCS#8 private keys, public key files (one-line
//! OpenSSH form and RFC 4716), and key generation that writes files the
//! real `ssh-keygen` reads.
//!
//! Nothing here touches the file system: the caller reads the file and
//! hands over its text, and writes the text this module returns.

mod der;
mod error;
mod openssh;
mod pem;
mod public;

use rand_core::CryptoRng;
use ssh_keys::{EcdsaCurve, KeyType, PrivateKey, PublicKey};
use ssh_wire::Reader;
use zeroize::Zeroizing;

pub use error::KeyFileError;
pub use openssh::{DEFAULT_BCRYPT_ROUNDS, Encryption, openssh_public_key};
pub use public::{parse_public_key_file, to_rfc4716};

/// The secret components of a key, kept so that the key can be written
/// back to a file (the in-memory [`PrivateKey`] does not expose them).
/// Zeroized on drop.
enum Material {
    Ed25519 {
        seed: Zeroizing<[u8; 32]>,
        public: [u8; 32],
    },
    Ecdsa {
        curve: EcdsaCurve,
        /// The private scalar, big-endian, exactly the curve's field length.
        d: Zeroizing<Vec<u8>>,
        /// The public point, uncompressed SEC1.
        q: Vec<u8>,
    },
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
        d: Zeroizing<Vec<u8>>,
        iqmp: Zeroizing<Vec<u8>>,
        p: Zeroizing<Vec<u8>>,
        q: Zeroizing<Vec<u8>>,
    },
}

/// A private key read from (or to be written to) a file: the usable
/// [`PrivateKey`], its comment, and the components needed to write it.
pub struct KeyPair {
    key: PrivateKey,
    material: Material,
    comment: String,
}

impl core::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyPair")
            .field("key", &self.key)
            .field("comment", &self.comment)
            .finish_non_exhaustive()
    }
}

/// Strips leading zero bytes of a big-endian magnitude.
fn strip_zeros(be: &[u8]) -> &[u8] {
    let start = be.iter().position(|&b| b != 0).unwrap_or(be.len());
    be.get(start..).unwrap_or_default()
}

/// Left-pads a big-endian magnitude to exactly `len` bytes.
fn left_pad(be: &[u8], len: usize) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
    let be = strip_zeros(be);
    if be.len() > len {
        return Err(KeyFileError::Corrupt("ECDSA private scalar too long"));
    }
    let mut out = Zeroizing::new(vec![0u8; len - be.len()]);
    out.extend_from_slice(be);
    Ok(out)
}

/// The 32-byte Ed25519 public key of `seed`.
fn ed25519_public(seed: &[u8; 32]) -> [u8; 32] {
    let blob = PrivateKey::from_ed25519_seed(seed).public().to_blob();
    blob.get(blob.len().saturating_sub(32)..)
        .and_then(|t| <[u8; 32]>::try_from(t).ok())
        .unwrap_or([0; 32])
}

/// The public point `Q` inside an ECDSA public key blob.
fn ecdsa_point(public: &PublicKey) -> Result<Vec<u8>, KeyFileError> {
    let blob = public.to_blob();
    let mut r = Reader::new(&blob);
    r.string("key type")?;
    r.string("curve")?;
    Ok(r.string("Q")?.to_vec())
}

/// Encrypted PKCS#8 (RFC 5958 §3, PBES2 of RFC 8018: PBKDF2 or scrypt
/// with AES-CBC), decrypted by the RustCrypto `pkcs8` crate.
fn pkcs8_encrypted(data: &[u8], passphrase: Option<&[u8]>) -> Result<Material, KeyFileError> {
    use pkcs8::{EncryptedPrivateKeyInfoRef, Error, pkcs5};
    let info = EncryptedPrivateKeyInfoRef::try_from(data)
        .map_err(|_| KeyFileError::Corrupt("malformed encrypted PKCS#8"))?;
    let passphrase = passphrase.ok_or(KeyFileError::PassphraseRequired)?;
    let doc = info.decrypt(passphrase).map_err(|e| match e {
        // Bad CBC padding, or plaintext that is not DER: the usual
        // results of a wrong passphrase.
        Error::EncryptedPrivateKey(pkcs5::Error::DecryptFailed) | Error::Asn1(_) => {
            KeyFileError::WrongPassphrase
        }
        _ => KeyFileError::UnsupportedCipher("PKCS#8 encryption scheme".into()),
    })?;
    der::pkcs8(doc.as_bytes()).map_err(|e| match e {
        KeyFileError::Corrupt(_) => KeyFileError::WrongPassphrase,
        other => other,
    })
}

impl KeyPair {
    fn from_material(material: Material, comment: String) -> Result<Self, KeyFileError> {
        let key = match &material {
            Material::Ed25519 { seed, public } => {
                let key = PrivateKey::from_ed25519_seed(seed);
                if ed25519_public(seed) != *public {
                    return Err(KeyFileError::Corrupt(
                        "Ed25519 public key does not match the private key",
                    ));
                }
                key
            }
            Material::Ecdsa { curve, d, q } => {
                let key = PrivateKey::from_ecdsa_scalar(*curve, d)?;
                if ecdsa_point(key.public())? != *q {
                    return Err(KeyFileError::Corrupt(
                        "ECDSA public point does not match the private key",
                    ));
                }
                key
            }
            Material::Rsa { n, e, d, p, q, .. } => PrivateKey::from_rsa_components(n, e, d, p, q)?,
        };
        Ok(Self {
            key,
            material,
            comment,
        })
    }

    /// Generates a new key of `key_type` (RSA: `rsa_bits`, default 3072)
    /// with `comment`.
    pub fn generate<R: CryptoRng + ?Sized>(
        key_type: KeyType,
        rsa_bits: Option<u32>,
        comment: &str,
        rng: &mut R,
    ) -> Result<Self, KeyFileError> {
        let material = match key_type {
            KeyType::Ed25519 => {
                let mut seed = Zeroizing::new([0u8; 32]);
                rng.fill_bytes(&mut seed[..]);
                let public = ed25519_public(&seed);
                Material::Ed25519 { seed, public }
            }
            KeyType::Ecdsa(curve) => {
                let len = curve.field_len();
                let mut found = None;
                // Rejection sampling: at most a few tries for any curve.
                for _ in 0..128 {
                    let mut d = Zeroizing::new(vec![0u8; len]);
                    rng.fill_bytes(&mut d);
                    if curve == EcdsaCurve::NistP521
                        && let Some(top) = d.first_mut()
                    {
                        *top &= 0x01;
                    }
                    if let Ok(key) = PrivateKey::from_ecdsa_scalar(curve, &d) {
                        found = Some((d, ecdsa_point(key.public())?));
                        break;
                    }
                }
                let (d, q) = found.ok_or(KeyFileError::InvalidParameter(
                    "the RNG produced no valid ECDSA scalar",
                ))?;
                Material::Ecdsa { curve, d, q }
            }
            KeyType::Rsa => {
                use rsa::traits::{PrivateKeyParts, PublicKeyParts};
                let bits = rsa_bits.unwrap_or(ssh_keys::RSA_DEFAULT_BITS);
                if !(ssh_keys::RSA_MIN_BITS_NEW..=ssh_keys::RSA_MAX_BITS).contains(&bits) {
                    return Err(KeyFileError::InvalidParameter(
                        "RSA key size outside 2048..=16384 bits",
                    ));
                }
                let k = rsa::PrivateKey::new(rng, bits as usize)
                    .map_err(|_| KeyFileError::InvalidParameter("RSA key generation failed"))?;
                let be = |v: &rsa::BoxedUint| Zeroizing::new(v.to_be_bytes().to_vec());
                let (Some(p), Some(q), Some(iqmp)) =
                    (k.primes().first(), k.primes().get(1), k.crt_coefficient())
                else {
                    return Err(KeyFileError::InvalidParameter(
                        "RSA key generation gave no CRT values",
                    ));
                };
                Material::Rsa {
                    n: strip_zeros(&k.n().to_be_bytes()).to_vec(),
                    e: strip_zeros(&k.e().to_be_bytes()).to_vec(),
                    d: be(k.d()),
                    iqmp: be(&iqmp),
                    p: be(p.as_ref()),
                    q: be(q.as_ref()),
                }
            }
            other => return Err(KeyFileError::UnsupportedKeyType(other.name().to_owned())),
        };
        Self::from_material(material, comment.to_owned())
    }

    /// Reads a private key file of any supported format: `openssh-key-v1`
    /// (`-----BEGIN OPENSSH PRIVATE KEY-----`), PKCS#1
    /// (`RSA PRIVATE KEY`), SEC1 (`EC PRIVATE KEY`), PKCS#8 (`PRIVATE KEY`)
    /// or encrypted PKCS#8 (`ENCRYPTED PRIVATE KEY`). `passphrase` is
    /// needed for encrypted files only.
    pub fn from_file_text(text: &str, passphrase: Option<&[u8]>) -> Result<Self, KeyFileError> {
        let block = pem::Block::parse(text)?;
        match block.label {
            "OPENSSH PRIVATE KEY" => openssh::decode(&block.data, passphrase),
            "RSA PRIVATE KEY" | "EC PRIVATE KEY" | "PRIVATE KEY" => {
                if block.encrypted_legacy {
                    return Err(KeyFileError::UnsupportedFormat(
                        "legacy encrypted PEM (Proc-Type: 4,ENCRYPTED)",
                    ));
                }
                let material = match block.label {
                    "RSA PRIVATE KEY" => der::pkcs1(&block.data)?,
                    "EC PRIVATE KEY" => der::sec1(&block.data, None)?,
                    _ => der::pkcs8(&block.data)?,
                };
                Self::from_material(material, String::new())
            }
            "ENCRYPTED PRIVATE KEY" => {
                let material = pkcs8_encrypted(&block.data, passphrase)?;
                Self::from_material(material, String::new())
            }
            _ => Err(KeyFileError::NotAKeyFile("unknown PEM label")),
        }
    }

    /// Writes the key as an `openssh-key-v1` file, unencrypted or
    /// encrypted as `encryption` says. `rng` makes the check integers and
    /// the salt.
    pub fn to_openssh<R: CryptoRng + ?Sized>(
        &self,
        encryption: &Encryption<'_>,
        rng: &mut R,
    ) -> Result<String, KeyFileError> {
        openssh::encode(self, encryption, rng)
    }

    /// The private key, ready to sign.
    pub fn private_key(&self) -> &PrivateKey {
        &self.key
    }

    /// Consumes the pair, keeping the private key.
    pub fn into_private_key(self) -> PrivateKey {
        self.key
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        self.key.public()
    }

    /// The comment stored with the key (empty for PEM files).
    pub fn comment(&self) -> &str {
        &self.comment
    }

    /// Replaces the comment.
    pub fn set_comment(&mut self, comment: &str) {
        comment.clone_into(&mut self.comment);
    }

    /// The `.pub` file line: `type base64 comment`.
    pub fn public_key_line(&self) -> String {
        self.public_key().to_openssh(&self.comment)
    }
}
