//! The hybrid post-quantum methods: a KEM and a classical exchange
//! (X25519 or ECDH over P-256) together.
//!
//! - `mlkem768x25519-sha256` (draft-ietf-sshm-mlkem-hybrid-kex):
//!   `C_INIT = ek (1184) || X25519 public (32)`,
//!   `S_REPLY = ciphertext (1088) || X25519 public (32)`,
//!   `K = SHA-256(K_PQ || K_CL)`.
//! - `mlkem768nistp256-sha256` (the same draft; OpenSSH 10.5):
//!   `C_INIT = ek (1184) || Q_C`, `S_REPLY = ciphertext (1088) || Q_S`,
//!   the points uncompressed SEC1 (65 bytes), `K_CL` the shared point's
//!   x-coordinate as 32 raw bytes, `K = SHA-256(K_PQ || K_CL)`.
//! - `sntrup761x25519-sha512` and its `@openssh.com` alias (OpenSSH):
//!   `C_INIT = public key (1158) || X25519 public (32)`,
//!   `S_REPLY = ciphertext (1039) || X25519 public (32)`,
//!   `K = SHA-512(K_PQ || K_CL)`.
//!
//! In all, `K` enters the exchange hash and key derivation as a `string`;
//! the X25519 part rejects an all-zero result, the P-256 part a point off
//! the curve.
//!
//! Under `cfg(fuzzing)` the KEMs are stand-ins (see `crate::fuzzing`),
//! and the real ones are compiled but unused.
#![cfg_attr(fuzzing, allow(unused_imports, dead_code))]

use ml_kem::{
    Decapsulate, DecapsulationKey, Encapsulate, EncapsulationKey, Generate, KeyExport, MlKem768,
    TryKeyInit,
};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use ssh_keys::EcdsaCurve;

use super::curve25519::{X25519_LEN, X25519KeyPair};
use super::ecdh::EcdhSecret;
use super::{HashAlg, KexAlgorithm, KexError, SecretEncoding, ServerReply, SharedSecret};

/// An uncompressed P-256 point.
const P256_POINT_LEN: usize = 65;

/// ML-KEM-768 encapsulation key length.
pub(crate) const MLKEM768_EK_LEN: usize = 1184;
/// ML-KEM-768 ciphertext length.
pub(crate) const MLKEM768_CT_LEN: usize = 1088;
/// sntrup761 public key length.
pub(crate) const SNTRUP761_PK_LEN: usize = sntrup761::PUBLIC_KEY_SIZE;
/// sntrup761 ciphertext length.
pub(crate) const SNTRUP761_CT_LEN: usize = sntrup761::CIPHERTEXT_SIZE;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kem {
    MlKem768,
    Sntrup761,
}

/// The classical half.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Classical {
    X25519,
    P256,
}

impl Classical {
    fn public_len(self) -> usize {
        match self {
            Self::X25519 => X25519_LEN,
            Self::P256 => P256_POINT_LEN,
        }
    }
}

impl Kem {
    fn of(alg: KexAlgorithm) -> Result<(Self, Classical), KexError> {
        match alg {
            KexAlgorithm::MlKem768X25519Sha256 => Ok((Self::MlKem768, Classical::X25519)),
            KexAlgorithm::MlKem768Nistp256Sha256 => Ok((Self::MlKem768, Classical::P256)),
            KexAlgorithm::Sntrup761X25519Sha512 | KexAlgorithm::Sntrup761X25519Sha512OpenSsh => {
                Ok((Self::Sntrup761, Classical::X25519))
            }
            _ => Err(KexError::Misuse("not a hybrid method")),
        }
    }

    fn public_len(self) -> usize {
        match self {
            Self::MlKem768 => MLKEM768_EK_LEN,
            Self::Sntrup761 => SNTRUP761_PK_LEN,
        }
    }

    fn ciphertext_len(self) -> usize {
        match self {
            Self::MlKem768 => MLKEM768_CT_LEN,
            Self::Sntrup761 => SNTRUP761_CT_LEN,
        }
    }
}

/// The classical half's ephemeral secret.
enum ClassicalSecret {
    X25519(X25519KeyPair),
    P256(EcdhSecret),
}

impl ClassicalSecret {
    /// A fresh secret; its public value is appended to `out`.
    fn generate<R: CryptoRng + ?Sized>(kind: Classical, rng: &mut R, out: &mut Vec<u8>) -> Self {
        match kind {
            Classical::X25519 => {
                let pair = X25519KeyPair::generate(rng);
                out.extend_from_slice(pair.public());
                Self::X25519(pair)
            }
            Classical::P256 => {
                let (secret, q) = EcdhSecret::generate(EcdsaCurve::NistP256, rng);
                out.extend_from_slice(&q);
                Self::P256(secret)
            }
        }
    }

    /// `K_CL` with the peer's public value: the raw X25519 result, or the
    /// shared point's x-coordinate (field-sized, not an mpint).
    fn agree(&self, peer: &[u8]) -> Result<Zeroizing<Vec<u8>>, KexError> {
        match self {
            Self::X25519(pair) => Ok(Zeroizing::new(pair.agree_raw(peer)?.to_vec())),
            Self::P256(secret) => secret.agree_raw(peer),
        }
    }
}

/// `K = HASH(K_PQ || K_CL)`, as a string secret.
fn combine(hash: HashAlg, k_pq: &[u8], k_cl: &[u8]) -> SharedSecret {
    let k = Zeroizing::new(hash.digest(&[k_pq, k_cl]));
    SharedSecret::new(SecretEncoding::String, &k)
}

/// Splits `value` into the KEM part of `kem_len` bytes and the classical
/// part, which must be exactly `classical_len` bytes.
fn split(value: &[u8], kem_len: usize, classical_len: usize) -> Result<(&[u8], &[u8]), KexError> {
    if value.len() != kem_len + classical_len {
        return Err(KexError::InvalidPublicValue(
            "hybrid value has the wrong length",
        ));
    }
    Ok(value.split_at(kem_len))
}

enum KemSecret {
    MlKem768(Box<DecapsulationKey<MlKem768>>),
    Sntrup761(Box<sntrup761::DecapsulationKey>),
    /// Fuzzing: the KEM's stand-in (see `crate::fuzzing`).
    #[cfg(fuzzing)]
    StandIn(Kem),
}

impl KemSecret {
    /// A fresh decapsulation key; its encapsulation key is appended to
    /// `out`.
    #[cfg(not(fuzzing))]
    fn generate<R: CryptoRng + ?Sized>(kem: Kem, rng: &mut R, out: &mut Vec<u8>) -> Self {
        match kem {
            Kem::MlKem768 => {
                let dk = DecapsulationKey::<MlKem768>::generate_from_rng(rng);
                out.extend_from_slice(&dk.encapsulation_key().to_bytes());
                Self::MlKem768(Box::new(dk))
            }
            Kem::Sntrup761 => {
                let (ek, dk) = sntrup761::generate_key(&mut *rng);
                out.extend_from_slice(ek.as_ref());
                Self::Sntrup761(Box::new(dk))
            }
        }
    }

    /// Fuzzing: an encapsulation key of zeros of the KEM's length.
    #[cfg(fuzzing)]
    fn generate<R: CryptoRng + ?Sized>(kem: Kem, _rng: &mut R, out: &mut Vec<u8>) -> Self {
        out.resize(out.len() + kem.public_len(), 0);
        Self::StandIn(kem)
    }
}

/// The client's ephemeral secrets: the KEM decapsulation key and the
/// classical secret (zeroized on drop).
pub(crate) struct HybridClient {
    hash: HashAlg,
    kem: KemSecret,
    classical: ClassicalSecret,
    classical_len: usize,
}

impl HybridClient {
    pub(crate) fn start<R: CryptoRng + ?Sized>(
        alg: KexAlgorithm,
        rng: &mut R,
    ) -> Result<(Self, Vec<u8>), KexError> {
        let (kem, classical) = Kem::of(alg)?;
        let mut c_init = Vec::with_capacity(kem.public_len() + classical.public_len());
        let secret = KemSecret::generate(kem, rng, &mut c_init);
        let classical_secret = ClassicalSecret::generate(classical, rng, &mut c_init);
        Ok((
            Self {
                hash: alg.hash(),
                kem: secret,
                classical: classical_secret,
                classical_len: classical.public_len(),
            },
            c_init,
        ))
    }

    /// `K` from the server's `S_REPLY`.
    pub(crate) fn finish(&self, s_reply: &[u8]) -> Result<SharedSecret, KexError> {
        let (k_pq, classical): (Zeroizing<Vec<u8>>, &[u8]) = match &self.kem {
            #[cfg(fuzzing)]
            KemSecret::StandIn(kem) => {
                let (ct, classical) = split(s_reply, kem.ciphertext_len(), self.classical_len)?;
                (crate::fuzzing::kem_secret(ct), classical)
            }
            KemSecret::MlKem768(dk) => {
                let (ct, classical) = split(s_reply, MLKEM768_CT_LEN, self.classical_len)?;
                let k = dk
                    .decapsulate_slice(ct)
                    .map_err(|_| KexError::InvalidPublicValue("ML-KEM ciphertext length"))?;
                (Zeroizing::new(k.to_vec()), classical)
            }
            KemSecret::Sntrup761(dk) => {
                let (ct, classical) = split(s_reply, SNTRUP761_CT_LEN, self.classical_len)?;
                let ct = sntrup761::Ciphertext::try_from(ct)
                    .map_err(|_| KexError::InvalidPublicValue("sntrup761 ciphertext length"))?;
                (
                    Zeroizing::new(dk.decapsulate(&ct).as_ref().to_vec()),
                    classical,
                )
            }
        };
        let k_cl = self.classical.agree(classical)?;
        Ok(combine(self.hash, &k_pq, &k_cl))
    }
}

/// The server's side: encapsulate to the client's KEM key, answer its
/// classical value, and combine.
pub(crate) fn server_respond<R: CryptoRng + ?Sized>(
    alg: KexAlgorithm,
    c_init: &[u8],
    rng: &mut R,
) -> Result<ServerReply, KexError> {
    let (kem, classical) = Kem::of(alg)?;
    let (pk, peer) = split(c_init, kem.public_len(), classical.public_len())?;
    let mut s_reply = Vec::with_capacity(kem.ciphertext_len() + classical.public_len());
    let k_pq = encapsulate(kem, pk, rng, &mut s_reply)?;
    let secret = ClassicalSecret::generate(classical, rng, &mut s_reply);
    let k_cl = secret.agree(peer)?;
    Ok(ServerReply {
        public: s_reply,
        secret: combine(alg.hash(), &k_pq, &k_cl),
    })
}

/// Encapsulates to `pk`: the ciphertext is appended to `out`, the shared
/// secret returned.
#[cfg(not(fuzzing))]
fn encapsulate<R: CryptoRng + ?Sized>(
    kem: Kem,
    pk: &[u8],
    rng: &mut R,
    out: &mut Vec<u8>,
) -> Result<Zeroizing<Vec<u8>>, KexError> {
    match kem {
        Kem::MlKem768 => {
            // FIPS 203 §7.2 input check (the modulus check) happens here.
            let ek = EncapsulationKey::<MlKem768>::new_from_slice(pk)
                .map_err(|_| KexError::InvalidPublicValue("invalid ML-KEM encapsulation key"))?;
            let (ct, k) = ek.encapsulate_with_rng(rng);
            out.extend_from_slice(&ct);
            Ok(Zeroizing::new(k.to_vec()))
        }
        Kem::Sntrup761 => {
            let ek = sntrup761::EncapsulationKey::try_from(pk)
                .map_err(|_| KexError::InvalidPublicValue("sntrup761 public key length"))?;
            let (ct, k) = ek.encapsulate(&mut *rng);
            out.extend_from_slice(ct.as_ref());
            Ok(Zeroizing::new(k.as_ref().to_vec()))
        }
    }
}

/// Fuzzing: a ciphertext of zeros of the KEM's length; the secret is
/// derived from `pk` (see `crate::fuzzing`).
#[cfg(fuzzing)]
fn encapsulate<R: CryptoRng + ?Sized>(
    kem: Kem,
    pk: &[u8],
    _rng: &mut R,
    out: &mut Vec<u8>,
) -> Result<Zeroizing<Vec<u8>>, KexError> {
    out.resize(out.len() + kem.ciphertext_len(), 0);
    Ok(crate::fuzzing::kem_secret(pk))
}
