//! The hybrid post-quantum methods: a KEM and X25519 together.
//!
//! - `mlkem768x25519-sha256` (draft-ietf-sshm-mlkem-hybrid-kex):
//!   `C_INIT = ek (1184) || X25519 public (32)`,
//!   `S_REPLY = ciphertext (1088) || X25519 public (32)`,
//!   `K = SHA-256(K_PQ || K_CL)`.
//! - `sntrup761x25519-sha512` and its `@openssh.com` alias (OpenSSH):
//!   `C_INIT = public key (1158) || X25519 public (32)`,
//!   `S_REPLY = ciphertext (1039) || X25519 public (32)`,
//!   `K = SHA-512(K_PQ || K_CL)`.
//!
//! In both, `K` enters the exchange hash and key derivation as a `string`
//! and the X25519 part rejects an all-zero result.

use ml_kem::{
    Decapsulate, DecapsulationKey, Encapsulate, EncapsulationKey, Generate, KeyExport, MlKem768,
    TryKeyInit,
};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::curve25519::{X25519_LEN, X25519KeyPair};
use super::{HashAlg, KexAlgorithm, KexError, SecretEncoding, ServerReply, SharedSecret};

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

impl Kem {
    fn of(alg: KexAlgorithm) -> Result<Self, KexError> {
        match alg {
            KexAlgorithm::MlKem768X25519Sha256 => Ok(Self::MlKem768),
            KexAlgorithm::Sntrup761X25519Sha512 | KexAlgorithm::Sntrup761X25519Sha512OpenSsh => {
                Ok(Self::Sntrup761)
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

/// `K = HASH(K_PQ || K_CL)`, as a string secret.
fn combine(hash: HashAlg, k_pq: &[u8], k_cl: &[u8]) -> SharedSecret {
    let k = Zeroizing::new(hash.digest(&[k_pq, k_cl]));
    SharedSecret::new(SecretEncoding::String, &k)
}

/// Splits `value` into the KEM part of `kem_len` bytes and the X25519 part,
/// which must be exactly 32 bytes.
fn split(value: &[u8], kem_len: usize) -> Result<(&[u8], &[u8]), KexError> {
    if value.len() != kem_len + X25519_LEN {
        return Err(KexError::InvalidPublicValue(
            "hybrid value has the wrong length",
        ));
    }
    Ok(value.split_at(kem_len))
}

enum KemSecret {
    MlKem768(Box<DecapsulationKey<MlKem768>>),
    Sntrup761(Box<sntrup761::DecapsulationKey>),
}

/// The client's ephemeral secrets: the KEM decapsulation key and the X25519
/// key pair (zeroized on drop).
pub(crate) struct HybridClient {
    hash: HashAlg,
    kem: KemSecret,
    x25519: X25519KeyPair,
}

impl HybridClient {
    pub(crate) fn start<R: CryptoRng + ?Sized>(
        alg: KexAlgorithm,
        rng: &mut R,
    ) -> Result<(Self, Vec<u8>), KexError> {
        let kem = Kem::of(alg)?;
        let mut c_init = Vec::with_capacity(kem.public_len() + X25519_LEN);
        let secret = match kem {
            Kem::MlKem768 => {
                let dk = DecapsulationKey::<MlKem768>::generate_from_rng(rng);
                c_init.extend_from_slice(&dk.encapsulation_key().to_bytes());
                KemSecret::MlKem768(Box::new(dk))
            }
            Kem::Sntrup761 => {
                let (ek, dk) = sntrup761::generate_key(&mut *rng);
                c_init.extend_from_slice(ek.as_ref());
                KemSecret::Sntrup761(Box::new(dk))
            }
        };
        let x25519 = X25519KeyPair::generate(rng);
        c_init.extend_from_slice(x25519.public());
        Ok((
            Self {
                hash: alg.hash(),
                kem: secret,
                x25519,
            },
            c_init,
        ))
    }

    /// `K` from the server's `S_REPLY`.
    pub(crate) fn finish(&self, s_reply: &[u8]) -> Result<SharedSecret, KexError> {
        match &self.kem {
            KemSecret::MlKem768(dk) => {
                let (ct, x) = split(s_reply, MLKEM768_CT_LEN)?;
                let k_pq = Zeroizing::new(
                    dk.decapsulate_slice(ct)
                        .map_err(|_| KexError::InvalidPublicValue("ML-KEM ciphertext length"))?,
                );
                let k_cl = self.x25519.agree_raw(x)?;
                Ok(combine(self.hash, k_pq.as_slice(), k_cl.as_ref()))
            }
            KemSecret::Sntrup761(dk) => {
                let (ct, x) = split(s_reply, SNTRUP761_CT_LEN)?;
                let ct = sntrup761::Ciphertext::try_from(ct)
                    .map_err(|_| KexError::InvalidPublicValue("sntrup761 ciphertext length"))?;
                let k_pq = dk.decapsulate(&ct);
                let k_cl = self.x25519.agree_raw(x)?;
                Ok(combine(self.hash, k_pq.as_ref(), k_cl.as_ref()))
            }
        }
    }
}

/// The server's side: encapsulate to the client's KEM key, answer its
/// X25519 value, and combine.
pub(crate) fn server_respond<R: CryptoRng + ?Sized>(
    alg: KexAlgorithm,
    c_init: &[u8],
    rng: &mut R,
) -> Result<ServerReply, KexError> {
    let kem = Kem::of(alg)?;
    let (pk, x) = split(c_init, kem.public_len())?;
    let mut s_reply = Vec::with_capacity(kem.ciphertext_len() + X25519_LEN);
    let k_pq: Zeroizing<Vec<u8>> = match kem {
        Kem::MlKem768 => {
            // FIPS 203 §7.2 input check (the modulus check) happens here.
            let ek = EncapsulationKey::<MlKem768>::new_from_slice(pk)
                .map_err(|_| KexError::InvalidPublicValue("invalid ML-KEM encapsulation key"))?;
            let (ct, k) = ek.encapsulate_with_rng(rng);
            s_reply.extend_from_slice(&ct);
            Zeroizing::new(k.to_vec())
        }
        Kem::Sntrup761 => {
            let ek = sntrup761::EncapsulationKey::try_from(pk)
                .map_err(|_| KexError::InvalidPublicValue("sntrup761 public key length"))?;
            let (ct, k) = ek.encapsulate(&mut *rng);
            s_reply.extend_from_slice(ct.as_ref());
            Zeroizing::new(k.as_ref().to_vec())
        }
    };
    let x25519 = X25519KeyPair::generate(rng);
    let k_cl = x25519.agree_raw(x)?;
    s_reply.extend_from_slice(x25519.public());
    Ok(ServerReply {
        public: s_reply,
        secret: combine(alg.hash(), &k_pq, k_cl.as_ref()),
    })
}
