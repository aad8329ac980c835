//! RSA keys (RFC 4253 §6.6) and PKCS#1 v1.5 signatures with SHA-1,
//! SHA-256 and SHA-512 (RFC 8332).

use rand_core::CryptoRng;
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, PrivateKey as RsaPrivateKey, PublicKey as RsaPublicKey};
use sha1::Sha1;
use sha2::{Sha256, Sha512};

use crate::{Error, SignatureAlgorithm};

/// The smallest RSA modulus parsed at all, in bits.
pub const RSA_MIN_BITS: u32 = 1024;
/// The largest RSA modulus parsed, in bits (OpenSSH's limit).
pub const RSA_MAX_BITS: u32 = 16384;
/// The smallest modulus generated, and the default minimum accepted for
/// signatures by [`crate::VerifyPolicy::default`].
pub const RSA_MIN_BITS_NEW: u32 = 2048;
/// The size of newly generated RSA keys unless asked otherwise.
pub const RSA_DEFAULT_BITS: u32 = 3072;

/// The bit length of a big-endian magnitude (leading zeros ignored).
pub(crate) fn bit_len(be: &[u8]) -> u32 {
    let Some(start) = be.iter().position(|&b| b != 0) else {
        return 0;
    };
    let rest = be.get(start..).unwrap_or_default();
    let top = rest.first().copied().unwrap_or(0);
    let whole = u32::try_from(rest.len().saturating_sub(1)).unwrap_or(u32::MAX / 16);
    whole
        .saturating_mul(8)
        .saturating_add(8 - top.leading_zeros())
}

fn strip(be: &[u8]) -> &[u8] {
    let start = be.iter().position(|&b| b != 0).unwrap_or(be.len());
    be.get(start..).unwrap_or_default()
}

/// A validated RSA public key, with its public values as in the blob.
#[derive(Clone, Debug)]
pub(crate) struct RsaPublic {
    key: RsaPublicKey,
    e: Vec<u8>,
    n: Vec<u8>,
    bits: u32,
}

impl PartialEq for RsaPublic {
    fn eq(&self, other: &Self) -> bool {
        self.e == other.e && self.n == other.n
    }
}

impl RsaPublic {
    /// Validates `e` and `n` (big-endian magnitudes): the modulus must be odd
    /// and within [`RSA_MIN_BITS`]..=[`RSA_MAX_BITS`], the exponent odd and
    /// small enough (the `rsa` crate's bounds).
    pub(crate) fn new(e: &[u8], n: &[u8]) -> Result<Self, Error> {
        let (e, n) = (strip(e), strip(n));
        let bits = bit_len(n);
        if !(RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) {
            return Err(Error::RsaKeySize {
                bits,
                min: RSA_MIN_BITS,
                max: RSA_MAX_BITS,
            });
        }
        if e.len() > 8 {
            return Err(Error::InvalidKey("RSA public exponent too large"));
        }
        let key = RsaPublicKey::new_with_size_limits(
            BoxedUint::from_be_slice_vartime(n),
            BoxedUint::from_be_slice_vartime(e),
            RSA_MIN_BITS as usize..=RSA_MAX_BITS as usize,
        )
        .map_err(|_| Error::InvalidKey("invalid RSA modulus or exponent"))?;
        Ok(Self {
            key,
            e: e.to_vec(),
            n: n.to_vec(),
            bits,
        })
    }

    pub(crate) fn from_key(key: &RsaPublicKey) -> Result<Self, Error> {
        Self::new(&key.e().to_be_bytes(), &key.n().to_be_bytes())
    }

    pub(crate) fn e(&self) -> &[u8] {
        &self.e
    }

    pub(crate) fn n(&self) -> &[u8] {
        &self.n
    }

    pub(crate) fn bits(&self) -> u32 {
        self.bits
    }

    /// Verifies a PKCS#1 v1.5 signature. A signature shorter than the
    /// modulus is left-padded with zeros first, as OpenSSH does; a longer
    /// one is rejected.
    pub(crate) fn verify(
        &self,
        alg: SignatureAlgorithm,
        data: &[u8],
        sig: &[u8],
    ) -> Result<(), Error> {
        let len = self.key.size();
        if sig.len() > len || sig.is_empty() {
            return Err(Error::InvalidSignature(
                "RSA signature longer than the modulus",
            ));
        }
        let mut padded = vec![0u8; len - sig.len()];
        padded.extend_from_slice(sig);
        let result = match alg {
            SignatureAlgorithm::RsaSha256 => self.key.pkcs1v15_verify::<Sha256>(data, &padded),
            SignatureAlgorithm::RsaSha512 => self.key.pkcs1v15_verify::<Sha512>(data, &padded),
            SignatureAlgorithm::RsaSha1 => self.key.pkcs1v15_verify::<Sha1>(data, &padded),
            _ => return Err(Error::InvalidSignature("not an RSA algorithm")),
        };
        result.map_err(|_| Error::BadSignature)
    }
}

/// Generates an RSA key with a modulus of `bits` bits and `e = 65537`.
pub(crate) fn generate<R: CryptoRng + ?Sized>(
    bits: u32,
    rng: &mut R,
) -> Result<RsaPrivateKey, Error> {
    if !(RSA_MIN_BITS_NEW..=RSA_MAX_BITS).contains(&bits) {
        return Err(Error::RsaKeySize {
            bits,
            min: RSA_MIN_BITS_NEW,
            max: RSA_MAX_BITS,
        });
    }
    RsaPrivateKey::new(rng, bits as usize).map_err(|_| Error::Signing("RSA key generation failed"))
}

/// Builds a private key from its components (big-endian magnitudes), as
/// stored in OpenSSH key files; the key is checked for consistency.
pub(crate) fn from_components(
    n: &[u8],
    e: &[u8],
    d: &[u8],
    p: &[u8],
    q: &[u8],
) -> Result<RsaPrivateKey, Error> {
    let bits = bit_len(n);
    if !(RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) {
        return Err(Error::RsaKeySize {
            bits,
            min: RSA_MIN_BITS,
            max: RSA_MAX_BITS,
        });
    }
    let prec = bits.div_ceil(64) * 64;
    let big = |v: &[u8]| {
        BoxedUint::from_be_slice(strip(v), prec)
            .map_err(|_| Error::InvalidKey("RSA component larger than the modulus"))
    };
    RsaPrivateKey::from_components(big(n)?, big(e)?, big(d)?, vec![big(p)?, big(q)?])
        .map_err(|_| Error::InvalidKey("inconsistent RSA private key"))
}

/// Signs `data` with PKCS#1 v1.5 and the hash of `alg`, blinded with `rng`.
/// The result has exactly the modulus length (RFC 8332 §3).
pub(crate) fn sign<R: CryptoRng + ?Sized>(
    key: &RsaPrivateKey,
    alg: SignatureAlgorithm,
    data: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, Error> {
    let result = match alg {
        SignatureAlgorithm::RsaSha256 => key.pkcs1v15_sign_with_rng::<Sha256, _>(rng, data),
        SignatureAlgorithm::RsaSha512 => key.pkcs1v15_sign_with_rng::<Sha512, _>(rng, data),
        SignatureAlgorithm::RsaSha1 => key.pkcs1v15_sign_with_rng::<Sha1, _>(rng, data),
        _ => return Err(Error::Signing("not an RSA algorithm")),
    };
    result.map_err(|_| Error::Signing("RSA signing failed"))
}

#[cfg(test)]
mod tests {
    use super::bit_len;

    #[test]
    fn bit_length() {
        assert_eq!(bit_len(&[]), 0);
        assert_eq!(bit_len(&[0, 0]), 0);
        assert_eq!(bit_len(&[1]), 1);
        assert_eq!(bit_len(&[0, 0x80]), 8);
        assert_eq!(bit_len(&[0x01, 0x00]), 9);
        assert_eq!(bit_len(&[0xff; 128]), 1024);
    }
}
