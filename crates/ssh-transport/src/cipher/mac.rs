//! HMAC over `uint32 sequence_number || data` (RFC 4253 §6.4, RFC 6668).

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha512};

use super::{CryptoError, MacAlg};

/// The largest MAC any supported algorithm produces (HMAC-SHA-512).
pub(crate) const MAX_MAC_LEN: usize = 64;

/// A keyed HMAC; the keyed inner/outer states are cloned per packet, so the
/// key is hashed once per NEWKEYS, not once per packet.
#[derive(Clone)]
pub(crate) enum MacKey {
    Sha1(Hmac<Sha1>),
    Sha256(Hmac<Sha256>),
    Sha512(Hmac<Sha512>),
}

impl MacKey {
    /// Keys `alg`; `None` for [`MacAlg::None`]. The key must be exactly
    /// [`MacAlg::key_len`] bytes, as RFC 4253 §7.2 derives it.
    pub(crate) fn new(alg: MacAlg, key: &[u8]) -> Result<Option<Self>, CryptoError> {
        let err = CryptoError::MacKeyLength {
            expected: alg.key_len(),
            got: key.len(),
        };
        if key.len() != alg.key_len() {
            return Err(err);
        }
        Self::keyed(alg, key).map_err(|()| err)
    }

    /// Keys `alg` with a key of any length (HMAC accepts any).
    fn keyed(alg: MacAlg, key: &[u8]) -> Result<Option<Self>, ()> {
        Ok(match alg {
            MacAlg::None => None,
            MacAlg::HmacSha1 | MacAlg::HmacSha1Etm => {
                Some(MacKey::Sha1(Hmac::new_from_slice(key).map_err(|_| ())?))
            }
            MacAlg::HmacSha256 | MacAlg::HmacSha256Etm => {
                Some(MacKey::Sha256(Hmac::new_from_slice(key).map_err(|_| ())?))
            }
            MacAlg::HmacSha512 | MacAlg::HmacSha512Etm => {
                Some(MacKey::Sha512(Hmac::new_from_slice(key).map_err(|_| ())?))
            }
        })
    }

    /// Bytes of MAC this key produces.
    pub(crate) fn len(&self) -> usize {
        match self {
            MacKey::Sha1(_) => 20,
            MacKey::Sha256(_) => 32,
            MacKey::Sha512(_) => 64,
        }
    }

    /// Writes `HMAC(key, seq || data)` into `out[..self.len()]` and returns
    /// that length.
    pub(crate) fn sign(&self, seq: u32, data: &[u8], out: &mut [u8; MAX_MAC_LEN]) -> usize {
        fn run<M: Mac + Clone>(m: &M, seq: u32, data: &[u8], out: &mut [u8]) -> usize {
            let mut m = m.clone();
            m.update(&seq.to_be_bytes());
            m.update(data);
            let tag = m.finalize().into_bytes();
            let n = tag.len();
            if let Some(dst) = out.get_mut(..n) {
                dst.copy_from_slice(&tag);
            }
            n
        }
        match self {
            MacKey::Sha1(m) => run(m, seq, data, out),
            MacKey::Sha256(m) => run(m, seq, data, out),
            MacKey::Sha512(m) => run(m, seq, data, out),
        }
    }

    /// Checks `tag` against `HMAC(key, seq || data)` in constant time.
    pub(crate) fn verify(&self, seq: u32, data: &[u8], tag: &[u8]) -> Result<(), CryptoError> {
        fn run<M: Mac + Clone>(m: &M, seq: u32, data: &[u8], tag: &[u8]) -> bool {
            let mut m = m.clone();
            m.update(&seq.to_be_bytes());
            m.update(data);
            // `verify_slice` compares in constant time and rejects a wrong length.
            m.verify_slice(tag).is_ok()
        }
        let ok = match self {
            MacKey::Sha1(m) => run(m, seq, data, tag),
            MacKey::Sha256(m) => run(m, seq, data, tag),
            MacKey::Sha512(m) => run(m, seq, data, tag),
        };
        if ok {
            Ok(())
        } else {
            Err(CryptoError::MacMismatch)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// Runs a published HMAC vector through `MacKey`, whose input is
    /// `uint32 seq || data`: the message's first 4 bytes become the sequence
    /// number.
    fn check(alg: MacAlg, key: &[u8], msg: &[u8], want_hex: &str) {
        let want = hex::decode(want_hex).unwrap();
        let k = MacKey::keyed(alg, key).unwrap().unwrap();
        let seq = u32::from_be_bytes(msg[..4].try_into().unwrap());
        let mut out = [0u8; MAX_MAC_LEN];
        let n = k.sign(seq, &msg[4..], &mut out);
        assert_eq!(n, alg.mac_len());
        assert_eq!(hex::encode(&out[..n]), want_hex, "{alg:?}");
        k.verify(seq, &msg[4..], &want).unwrap();
        let mut bad = want.clone();
        bad[n - 1] ^= 1;
        assert_eq!(
            k.verify(seq, &msg[4..], &bad),
            Err(CryptoError::MacMismatch)
        );
        assert_eq!(
            k.verify(seq.wrapping_add(1), &msg[4..], &want),
            Err(CryptoError::MacMismatch)
        );
        assert_eq!(
            k.verify(seq, &msg[4..], &want[..n - 1]),
            Err(CryptoError::MacMismatch)
        );
    }

    const TC6_MSG: &[u8] = b"Test Using Larger Than Block-Size Key - Hash Key First";

    #[test]
    fn rfc4231_hmac_sha256() {
        for alg in [MacAlg::HmacSha256, MacAlg::HmacSha256Etm] {
            check(
                alg,
                &[0x0b; 20],
                b"Hi There",
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            );
            check(
                alg,
                b"Jefe",
                b"what do ya want for nothing?",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            );
            check(
                alg,
                &[0xaa; 20],
                &[0xdd; 50],
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
            );
            check(
                alg,
                &[0xaa; 131],
                TC6_MSG,
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            );
        }
    }

    #[test]
    fn rfc4231_hmac_sha512() {
        for alg in [MacAlg::HmacSha512, MacAlg::HmacSha512Etm] {
            check(
                alg,
                &[0x0b; 20],
                b"Hi There",
                "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde\
                 daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
            );
            check(
                alg,
                b"Jefe",
                b"what do ya want for nothing?",
                "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
                 9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
            );
            check(
                alg,
                &[0xaa; 20],
                &[0xdd; 50],
                "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39\
                 bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb",
            );
            check(
                alg,
                &[0xaa; 131],
                TC6_MSG,
                "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352\
                 6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
            );
        }
    }

    #[test]
    fn rfc2202_hmac_sha1() {
        for alg in [MacAlg::HmacSha1, MacAlg::HmacSha1Etm] {
            check(
                alg,
                &[0x0b; 20],
                b"Hi There",
                "b617318655057264e28bc0b6fb378c8ef146be00",
            );
            check(
                alg,
                b"Jefe",
                b"what do ya want for nothing?",
                "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
            );
            check(
                alg,
                &[0xaa; 20],
                &[0xdd; 50],
                "125d7342b9ac11cd91a39af48aa17b4f63f175d3",
            );
            check(
                alg,
                &[0xaa; 80],
                TC6_MSG,
                "aa4ae5e15272d00e95705637ce8a3b55ed402112",
            );
        }
    }

    #[test]
    fn key_length_is_exact() {
        assert!(MacKey::new(MacAlg::HmacSha256, &[0; 32]).unwrap().is_some());
        assert_eq!(
            MacKey::new(MacAlg::HmacSha256, &[0; 31]).err(),
            Some(CryptoError::MacKeyLength {
                expected: 32,
                got: 31
            })
        );
        assert!(MacKey::new(MacAlg::None, &[]).unwrap().is_none());
    }
}
