//! The OpenSSH private key format `openssh-key-v1` (OpenSSH `PROTOCOL.key`):
//!
//! ```text
//! "openssh-key-v1\0"
//! string ciphername, string kdfname, string kdfoptions
//! uint32 number of keys N (OpenSSH: 1)
//! string publickey1..N
//! string encrypted(uint32 checkint, uint32 checkint, key1..N with comment, padding 1,2,3...)
//! [AEAD tag, for aes*-gcm@openssh.com]
//! ```

use aes::{Aes128, Aes192, Aes256};
use aes_gcm::aead::consts::U12;
use aes_gcm::{AeadInOut, Aes128Gcm, Aes256Gcm, KeyInit, Nonce, Tag};
use ctr::Ctr128BE;
use ctr::cipher::{KeyIvInit, StreamCipher};
use rand_core::CryptoRng;
use ssh_keys::{KeyType, PublicKey};
use ssh_wire::Reader;
use ssh_wire::codec::{put_string, put_u32};
use ssh_wire::mpint::put_positive_mpint;
use zeroize::Zeroizing;

use super::pem::{Block, armour};
use super::{KeyFileError, KeyPair, Material, left_pad};

const MAGIC: &[u8] = b"openssh-key-v1\0";
const LABEL: &str = "OPENSSH PRIVATE KEY";

/// `ssh-keygen`'s default bcrypt work factor.
pub const DEFAULT_BCRYPT_ROUNDS: u32 = 16;
/// The most bcrypt rounds accepted when reading, so that a hostile file
/// cannot make the reader spin for hours.
#[cfg(not(fuzzing))]
const MAX_BCRYPT_ROUNDS: u32 = 1 << 16;
/// Under the fuzzer, few enough rounds that a decryption takes
/// milliseconds (more is refused as in normal builds above their bound).
#[cfg(fuzzing)]
const MAX_BCRYPT_ROUNDS: u32 = 2;

/// How to protect a key written by [`KeyPair::to_openssh`].
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum Encryption<'a> {
    /// Unencrypted (cipher and KDF `none`).
    None,
    /// `aes256-ctr` with a key from `bcrypt` over `passphrase` (what
    /// `ssh-keygen -N` writes by default).
    Aes256Ctr {
        /// The passphrase; must not be empty.
        passphrase: &'a [u8],
        /// bcrypt rounds ([`DEFAULT_BCRYPT_ROUNDS`] as `ssh-keygen`).
        rounds: u32,
    },
    /// `aes256-gcm@openssh.com` with a key from `bcrypt`.
    Aes256Gcm {
        /// The passphrase; must not be empty.
        passphrase: &'a [u8],
        /// bcrypt rounds.
        rounds: u32,
    },
}

impl core::fmt::Debug for Encryption<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Aes256Ctr { rounds, .. } => write!(f, "Aes256Ctr {{ rounds: {rounds} }}"),
            Self::Aes256Gcm { rounds, .. } => write!(f, "Aes256Gcm {{ rounds: {rounds} }}"),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Cipher {
    None,
    Ctr { key_len: usize },
    Gcm { key_len: usize },
}

impl Cipher {
    fn from_name(name: &str) -> Result<Self, KeyFileError> {
        Ok(match name {
            "none" => Self::None,
            "aes128-ctr" => Self::Ctr { key_len: 16 },
            "aes192-ctr" => Self::Ctr { key_len: 24 },
            "aes256-ctr" => Self::Ctr { key_len: 32 },
            "aes128-gcm@openssh.com" => Self::Gcm { key_len: 16 },
            "aes256-gcm@openssh.com" => Self::Gcm { key_len: 32 },
            _ => return Err(KeyFileError::UnsupportedCipher(name.to_owned())),
        })
    }

    fn block_size(self) -> usize {
        match self {
            Self::None => 8,
            _ => 16,
        }
    }

    fn iv_len(self) -> usize {
        match self {
            Self::None => 0,
            Self::Ctr { .. } => 16,
            Self::Gcm { .. } => 12,
        }
    }

    fn key_len(self) -> usize {
        match self {
            Self::None => 0,
            Self::Ctr { key_len } | Self::Gcm { key_len } => key_len,
        }
    }

    fn tag_len(self) -> usize {
        match self {
            Self::Gcm { .. } => 16,
            _ => 0,
        }
    }

    /// Encrypts (`encrypt`) or decrypts `buf` in place with `key || iv`;
    /// for GCM, `tag` receives (encrypt) or supplies (decrypt) the tag.
    fn apply(
        self,
        key_iv: &[u8],
        buf: &mut [u8],
        tag: &mut [u8],
        encrypt: bool,
    ) -> Result<(), KeyFileError> {
        let bad = |_| KeyFileError::InvalidParameter("cipher key or IV length");
        let (key, iv) = key_iv
            .split_at_checked(self.key_len())
            .ok_or(KeyFileError::InvalidParameter("cipher key length"))?;
        match self {
            Self::None => Ok(()),
            Self::Ctr { key_len } => {
                match key_len {
                    16 => Ctr128BE::<Aes128>::new_from_slices(key, iv)
                        .map_err(bad)?
                        .apply_keystream(buf),
                    24 => Ctr128BE::<Aes192>::new_from_slices(key, iv)
                        .map_err(bad)?
                        .apply_keystream(buf),
                    _ => Ctr128BE::<Aes256>::new_from_slices(key, iv)
                        .map_err(bad)?
                        .apply_keystream(buf),
                }
                Ok(())
            }
            Self::Gcm { key_len } => {
                let nonce = Nonce::<U12>::try_from(iv)
                    .map_err(|_| KeyFileError::InvalidParameter("GCM IV length"))?;
                if encrypt {
                    let t = match key_len {
                        16 => Aes128Gcm::new_from_slice(key)
                            .map_err(bad)?
                            .encrypt_inout_detached(&nonce, b"", buf.into()),
                        _ => Aes256Gcm::new_from_slice(key)
                            .map_err(bad)?
                            .encrypt_inout_detached(&nonce, b"", buf.into()),
                    }
                    .map_err(|_| KeyFileError::InvalidParameter("key too large for GCM"))?;
                    if tag.len() != t.len() {
                        return Err(KeyFileError::InvalidParameter("GCM tag length"));
                    }
                    tag.copy_from_slice(&t);
                    Ok(())
                } else {
                    let t = Tag::try_from(&*tag).map_err(|_| KeyFileError::Corrupt("GCM tag"))?;
                    match key_len {
                        16 => Aes128Gcm::new_from_slice(key)
                            .map_err(bad)?
                            .decrypt_inout_detached(&nonce, b"", buf.into(), &t),
                        _ => Aes256Gcm::new_from_slice(key)
                            .map_err(bad)?
                            .decrypt_inout_detached(&nonce, b"", buf.into(), &t),
                    }
                    .map_err(|_| KeyFileError::WrongPassphrase)
                }
            }
        }
    }
}

/// bcrypt-pbkdf over the passphrase, giving `key || iv`.
fn derive(
    cipher: Cipher,
    passphrase: &[u8],
    salt: &[u8],
    rounds: u32,
) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
    let mut out = Zeroizing::new(vec![0u8; cipher.key_len() + cipher.iv_len()]);
    bcrypt_pbkdf::bcrypt_pbkdf(passphrase, salt, rounds, &mut out).map_err(|_| {
        if passphrase.is_empty() {
            KeyFileError::WrongPassphrase
        } else {
            KeyFileError::Corrupt("bad bcrypt parameters")
        }
    })?;
    Ok(out)
}

/// The fields before the private section.
struct Header<'a> {
    cipher: Cipher,
    kdf: Option<(&'a [u8], u32)>,
    public: &'a [u8],
    private: &'a [u8],
    tag: &'a [u8],
}

fn header(data: &[u8]) -> Result<Header<'_>, KeyFileError> {
    let (magic, rest) = data
        .split_at_checked(MAGIC.len())
        .ok_or(KeyFileError::NotAKeyFile("too short for openssh-key-v1"))?;
    if magic != MAGIC {
        return Err(KeyFileError::NotAKeyFile("no openssh-key-v1 magic"));
    }
    let mut r = Reader::new(rest);
    let cipher = Cipher::from_name(r.utf8("ciphername")?)?;
    let kdf_name = r.utf8("kdfname")?;
    let kdf_options = r.string("kdfoptions")?;
    let kdf = match (kdf_name, cipher) {
        ("none", Cipher::None) => {
            if !kdf_options.is_empty() {
                return Err(KeyFileError::Corrupt("KDF options without a KDF"));
            }
            None
        }
        ("none", _) | ("bcrypt", Cipher::None) => {
            return Err(KeyFileError::Corrupt("cipher and KDF disagree"));
        }
        ("bcrypt", _) => {
            let mut o = Reader::new(kdf_options);
            let salt = o.string("bcrypt salt")?;
            let rounds = o.u32("bcrypt rounds")?;
            o.finish("bcrypt options")?;
            if rounds == 0 || salt.is_empty() {
                return Err(KeyFileError::Corrupt("bad bcrypt parameters"));
            }
            if rounds > MAX_BCRYPT_ROUNDS {
                return Err(KeyFileError::UnsupportedFormat("too many bcrypt rounds"));
            }
            Some((salt, rounds))
        }
        (other, _) => return Err(KeyFileError::UnsupportedKdf(other.to_owned())),
    };
    if r.u32("number of keys")? != 1 {
        return Err(KeyFileError::UnsupportedFormat(
            "openssh-key-v1 with other than one key",
        ));
    }
    let public = r.string("public key")?;
    let private = r.string("private section")?;
    let tag = r.bytes(cipher.tag_len(), "authentication tag")?;
    r.finish("openssh-key-v1")?;
    Ok(Header {
        cipher,
        kdf,
        public,
        private,
        tag,
    })
}

/// The public key of an `openssh-key-v1` file, readable without the
/// passphrase, and whether the private part is encrypted.
pub fn openssh_public_key(text: &str) -> Result<(PublicKey, bool), KeyFileError> {
    let block = Block::parse(text)?;
    if block.label != LABEL {
        return Err(KeyFileError::NotAKeyFile(
            "not an OPENSSH PRIVATE KEY block",
        ));
    }
    let h = header(&block.data)?;
    Ok((PublicKey::from_blob(h.public)?, h.kdf.is_some()))
}

/// An mpint's non-negative magnitude, borrowed (no copy of secrets).
fn mpint<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<&'a [u8], KeyFileError> {
    let v = r.string(what)?;
    if v.first().is_some_and(|&b| b & 0x80 != 0) {
        return Err(KeyFileError::Corrupt("negative mpint"));
    }
    Ok(super::strip_zeros(v))
}

fn read_material(r: &mut Reader<'_>) -> Result<Material, KeyFileError> {
    let name = r.utf8("key type")?;
    let key_type =
        KeyType::from_name(name).map_err(|_| KeyFileError::UnsupportedKeyType(name.to_owned()))?;
    match key_type {
        KeyType::Ed25519 => {
            let public: [u8; 32] = r
                .string("Ed25519 public key")?
                .try_into()
                .map_err(|_| KeyFileError::Corrupt("Ed25519 public key is not 32 bytes"))?;
            let private = r.string("Ed25519 private key")?;
            let (seed, tail) = private
                .split_at_checked(32)
                .filter(|(_, t)| t.len() == 32)
                .ok_or(KeyFileError::Corrupt("Ed25519 private key is not 64 bytes"))?;
            if tail != public {
                return Err(KeyFileError::Corrupt("Ed25519 key halves disagree"));
            }
            let mut s = Zeroizing::new([0u8; 32]);
            s.copy_from_slice(seed);
            Ok(Material::Ed25519 { seed: s, public })
        }
        KeyType::Ecdsa(curve) => {
            if r.utf8("curve")? != curve.identifier() {
                return Err(KeyFileError::Corrupt("ECDSA curve does not match key type"));
            }
            let q = r.string("ECDSA public point")?.to_vec();
            let d = left_pad(mpint(r, "ECDSA private scalar")?, curve.field_len())?;
            Ok(Material::Ecdsa { curve, d, q })
        }
        KeyType::Rsa => {
            let n = mpint(r, "RSA n")?.to_vec();
            let e = mpint(r, "RSA e")?.to_vec();
            let d = Zeroizing::new(mpint(r, "RSA d")?.to_vec());
            let iqmp = Zeroizing::new(mpint(r, "RSA iqmp")?.to_vec());
            let p = Zeroizing::new(mpint(r, "RSA p")?.to_vec());
            let q = Zeroizing::new(mpint(r, "RSA q")?.to_vec());
            Ok(Material::Rsa {
                n,
                e,
                d,
                iqmp,
                p,
                q,
            })
        }
        _ => Err(KeyFileError::UnsupportedKeyType(name.to_owned())),
    }
}

fn write_material(m: &Material, out: &mut Vec<u8>) {
    match m {
        Material::Ed25519 { seed, public } => {
            put_string(out, KeyType::Ed25519.name().as_bytes());
            put_string(out, public);
            let mut both = Zeroizing::new(Vec::with_capacity(64));
            both.extend_from_slice(&seed[..]);
            both.extend_from_slice(public);
            put_string(out, &both);
        }
        Material::Ecdsa { curve, d, q } => {
            put_string(out, KeyType::Ecdsa(*curve).name().as_bytes());
            put_string(out, curve.identifier().as_bytes());
            put_string(out, q);
            put_positive_mpint(out, d);
        }
        Material::Rsa {
            n,
            e,
            d,
            iqmp,
            p,
            q,
        } => {
            put_string(out, KeyType::Rsa.name().as_bytes());
            for v in [&n[..], &e[..], &d[..], &iqmp[..], &p[..], &q[..]] {
                put_positive_mpint(out, v);
            }
        }
    }
}

/// Reads an `openssh-key-v1` body (already un-armoured).
pub(super) fn decode(data: &[u8], passphrase: Option<&[u8]>) -> Result<KeyPair, KeyFileError> {
    let h = header(data)?;
    let block = h.cipher.block_size();
    if h.private.len() % block != 0 {
        return Err(KeyFileError::Corrupt(
            "private section is not a whole number of cipher blocks",
        ));
    }
    let mut private = Zeroizing::new(h.private.to_vec());
    if let Some((salt, rounds)) = h.kdf {
        let passphrase = passphrase.ok_or(KeyFileError::PassphraseRequired)?;
        let key_iv = derive(h.cipher, passphrase, salt, rounds)?;
        let mut tag = h.tag.to_vec();
        h.cipher.apply(&key_iv, &mut private, &mut tag, false)?;
    }
    let mut r = Reader::new(&private);
    let check1 = r.u32("check integer")?;
    let check2 = r.u32("check integer")?;
    if check1 != check2 {
        return Err(if h.kdf.is_some() {
            KeyFileError::WrongPassphrase
        } else {
            KeyFileError::Corrupt("check integers differ")
        });
    }
    let material = read_material(&mut r)?;
    let comment = String::from_utf8_lossy(r.string("comment")?).into_owned();
    let padding = r.take_rest();
    if padding.len() >= block
        || padding
            .iter()
            .zip(1u8..)
            .any(|(&byte, expected)| byte != expected)
    {
        return Err(KeyFileError::Corrupt("bad padding"));
    }
    let pair = KeyPair::from_material(material, comment)?;
    if pair.public_key().to_blob() != h.public {
        return Err(KeyFileError::Corrupt(
            "public key does not match the private key",
        ));
    }
    Ok(pair)
}

/// Writes `pair` as an armoured `openssh-key-v1` file.
pub(super) fn encode<R: CryptoRng + ?Sized>(
    pair: &KeyPair,
    encryption: &Encryption<'_>,
    rng: &mut R,
) -> Result<String, KeyFileError> {
    let (cipher_name, cipher, kdf) = match *encryption {
        Encryption::None => ("none", Cipher::None, None),
        Encryption::Aes256Ctr { passphrase, rounds } => (
            "aes256-ctr",
            Cipher::Ctr { key_len: 32 },
            Some((passphrase, rounds)),
        ),
        Encryption::Aes256Gcm { passphrase, rounds } => (
            "aes256-gcm@openssh.com",
            Cipher::Gcm { key_len: 32 },
            Some((passphrase, rounds)),
        ),
    };
    let mut out = MAGIC.to_vec();
    put_string(&mut out, cipher_name.as_bytes());
    let mut key_iv = None;
    match kdf {
        None => {
            put_string(&mut out, b"none");
            put_string(&mut out, b"");
        }
        Some((passphrase, rounds)) => {
            if passphrase.is_empty() {
                return Err(KeyFileError::InvalidParameter("empty passphrase"));
            }
            if rounds == 0 || rounds > MAX_BCRYPT_ROUNDS {
                return Err(KeyFileError::InvalidParameter("bcrypt rounds"));
            }
            let mut salt = [0u8; 16];
            rng.fill_bytes(&mut salt);
            put_string(&mut out, b"bcrypt");
            let mut options = Vec::new();
            put_string(&mut options, &salt);
            put_u32(&mut options, rounds);
            put_string(&mut out, &options);
            key_iv = Some(derive(cipher, passphrase, &salt, rounds)?);
        }
    }
    put_u32(&mut out, 1);
    put_string(&mut out, &pair.public_key().to_blob());

    let mut private = Zeroizing::new(Vec::new());
    let check = rng.next_u32();
    put_u32(&mut private, check);
    put_u32(&mut private, check);
    write_material(&pair.material, &mut private);
    put_string(&mut private, pair.comment.as_bytes());
    let mut pad = 1u8;
    while private.len() % cipher.block_size() != 0 {
        private.push(pad);
        pad = pad.wrapping_add(1);
    }
    let mut tag = vec![0u8; cipher.tag_len()];
    if let Some(key_iv) = &key_iv {
        cipher.apply(key_iv, &mut private, &mut tag, true)?;
    }
    put_string(&mut out, &private);
    out.extend_from_slice(&tag);
    Ok(armour(LABEL, &out))
}
