//! Private keys in memory, and the [`Signer`] trait that an agent or a
//! hardware token can implement too.

use core::fmt;

use ed25519_dalek::Signer as _;
use rand_core::CryptoRng;
use rsa::PrivateKey as RsaPrivateKey;

use crate::ecdsa::EcdsaPrivate;
use crate::public::Inner;
use crate::rsa::{RSA_DEFAULT_BITS, RsaPublic};
use crate::signature::encode_signature_blob;
use crate::{Certificate, EcdsaCurve, Error, KeyType, PublicKey, SignatureAlgorithm};

/// Something that signs with one key: an in-memory [`PrivateKey`], an
/// agent, a hardware token.
pub trait Signer {
    /// The public half of the key.
    fn public_key(&self) -> &PublicKey;

    /// The signature algorithms this signer can produce, preferred first.
    fn algorithms(&self) -> &[SignatureAlgorithm] {
        self.public_key().key_type().signature_algorithms()
    }

    /// Signs `data` with `alg`, returning a complete signature blob
    /// (`string alg || string signature`). `rng` is used where the
    /// algorithm wants randomness (RSA blinding, hedged ECDSA nonces); an
    /// external signer may ignore it.
    fn sign(
        &self,
        alg: SignatureAlgorithm,
        data: &[u8],
        rng: &mut dyn CryptoRng,
    ) -> Result<Vec<u8>, Error>;

    /// The certificate this signer presents for its key, if any (a host
    /// key with `HostCertificate`, a user key with its `-cert.pub`). The
    /// signatures are still made with the key.
    fn certificate(&self) -> Option<&Certificate> {
        None
    }

    /// True for a key whose private half is held elsewhere, by a process
    /// that is asked for signatures as an answerable event rather than
    /// through [`Signer::sign`] (a host key in a privilege-separation
    /// monitor: see [`RemoteKey`]).
    fn signs_remotely(&self) -> bool {
        false
    }
}

/// The public half of a key whose private half is held by another
/// process: a privilege-separated server's worker has its host keys only
/// as these. [`Signer::sign`] refuses; a transport asks its caller for
/// the signature instead (ssh-transport's `Event::SignExchangeHash`).
#[derive(Debug, Clone)]
pub struct RemoteKey {
    public: PublicKey,
    certificate: Option<Certificate>,
}

impl RemoteKey {
    /// The key `public`, presenting `certificate` when given.
    pub fn new(public: PublicKey, certificate: Option<Certificate>) -> Self {
        Self {
            public,
            certificate,
        }
    }
}

impl Signer for RemoteKey {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn sign(
        &self,
        _alg: SignatureAlgorithm,
        _data: &[u8],
        _rng: &mut dyn CryptoRng,
    ) -> Result<Vec<u8>, Error> {
        Err(Error::Signing("the private key is held by another process"))
    }

    fn certificate(&self) -> Option<&Certificate> {
        self.certificate.as_ref()
    }

    fn signs_remotely(&self) -> bool {
        true
    }
}

enum Secret {
    Ed25519(ed25519_dalek::SigningKey),
    Ecdsa(EcdsaPrivate),
    Rsa(Box<RsaPrivateKey>),
}

/// A private key held in memory. The secret parts are zeroized on drop
/// (by `ed25519-dalek`, the curve crates and `rsa`), and `Debug` shows only
/// the public fingerprint.
pub struct PrivateKey {
    secret: Secret,
    public: PublicKey,
}

impl PrivateKey {
    /// Generates a key of type `key_type` (RSA: [`crate::RSA_DEFAULT_BITS`]
    /// bits; slow in unoptimised builds).
    pub fn generate<R: CryptoRng + ?Sized>(key_type: KeyType, rng: &mut R) -> Result<Self, Error> {
        match key_type {
            KeyType::Ed25519 => Ok(Self::from_ed25519(ed25519_dalek::SigningKey::generate(rng))),
            KeyType::Ecdsa(curve) => Self::from_ecdsa(EcdsaPrivate::generate(curve, rng)),
            KeyType::Rsa => Self::generate_rsa(RSA_DEFAULT_BITS, rng),
        }
    }

    /// Generates an RSA key of `bits` bits
    /// ([`crate::RSA_MIN_BITS_NEW`]..=[`crate::RSA_MAX_BITS`]).
    pub fn generate_rsa<R: CryptoRng + ?Sized>(bits: u32, rng: &mut R) -> Result<Self, Error> {
        Self::from_rsa(crate::rsa::generate(bits, rng)?)
    }

    /// The Ed25519 key with the 32-byte seed `seed` (RFC 8032 §5.1.5).
    pub fn from_ed25519_seed(seed: &[u8; 32]) -> Self {
        Self::from_ed25519(ed25519_dalek::SigningKey::from_bytes(seed))
    }

    /// The ECDSA key with private scalar `d` (big-endian, exactly the field
    /// length of `curve`).
    pub fn from_ecdsa_scalar(curve: EcdsaCurve, d: &[u8]) -> Result<Self, Error> {
        Self::from_ecdsa(EcdsaPrivate::from_scalar(curve, d)?)
    }

    /// The RSA key with modulus `n`, exponents `e` and `d` and primes `p`,
    /// `q` (big-endian magnitudes), checked for consistency.
    pub fn from_rsa_components(
        n: &[u8],
        e: &[u8],
        d: &[u8],
        p: &[u8],
        q: &[u8],
    ) -> Result<Self, Error> {
        Self::from_rsa(crate::rsa::from_components(n, e, d, p, q)?)
    }

    fn from_ed25519(key: ed25519_dalek::SigningKey) -> Self {
        let public = PublicKey::from_inner(Inner::Ed25519(key.verifying_key()));
        Self {
            secret: Secret::Ed25519(key),
            public,
        }
    }

    fn from_ecdsa(key: EcdsaPrivate) -> Result<Self, Error> {
        let public = PublicKey::from_inner(Inner::Ecdsa(key.public()));
        Ok(Self {
            secret: Secret::Ecdsa(key),
            public,
        })
    }

    fn from_rsa(key: RsaPrivateKey) -> Result<Self, Error> {
        let public = PublicKey::from_inner(Inner::Rsa(RsaPublic::from_key(key.as_public_key())?));
        Ok(Self {
            secret: Secret::Rsa(Box::new(key)),
            public,
        })
    }

    /// The public key.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// The key type.
    pub fn key_type(&self) -> KeyType {
        self.public.key_type()
    }

    /// Signs `data` with `alg`, which must fit the key type, and returns a
    /// complete signature blob.
    pub fn sign<R: CryptoRng + ?Sized>(
        &self,
        alg: SignatureAlgorithm,
        data: &[u8],
        rng: &mut R,
    ) -> Result<Vec<u8>, Error> {
        if alg.key_type() != self.key_type() {
            return Err(Error::AlgorithmMismatch {
                expected: alg.name(),
                found: self.key_type().name().to_owned(),
            });
        }
        let inner = match &self.secret {
            Secret::Ed25519(k) => k.sign(data).to_bytes().to_vec(),
            Secret::Ecdsa(k) => k.sign(data, rng)?,
            Secret::Rsa(k) => crate::rsa::sign(k, alg, data, rng)?,
        };
        Ok(encode_signature_blob(alg, &inner))
    }
}

/// A key shared between connections (a server's host keys).
impl<T: Signer + ?Sized> Signer for std::sync::Arc<T> {
    fn public_key(&self) -> &PublicKey {
        (**self).public_key()
    }

    fn algorithms(&self) -> &[SignatureAlgorithm] {
        (**self).algorithms()
    }

    fn sign(
        &self,
        alg: SignatureAlgorithm,
        data: &[u8],
        rng: &mut dyn CryptoRng,
    ) -> Result<Vec<u8>, Error> {
        (**self).sign(alg, data, rng)
    }

    fn certificate(&self) -> Option<&Certificate> {
        (**self).certificate()
    }

    fn signs_remotely(&self) -> bool {
        (**self).signs_remotely()
    }
}

impl Signer for PrivateKey {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn sign(
        &self,
        alg: SignatureAlgorithm,
        data: &[u8],
        rng: &mut dyn CryptoRng,
    ) -> Result<Vec<u8>, Error> {
        PrivateKey::sign(self, alg, data, rng)
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PrivateKey({} {})",
            self.key_type().name(),
            self.public.fingerprint_sha256()
        )
    }
}
