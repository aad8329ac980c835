//! Deterministic stand-ins for the whole-session fuzz targets (`fuzz/`),
//! compiled only under `cfg(fuzzing)`, which cargo-fuzz sets: after
//! NEWKEYS packets are neither encrypted nor authenticated (cipher and
//! MAC `none`, whatever was negotiated), and a client does not check the
//! server's signature over the exchange hash. A fuzzer knows no keys;
//! with these it gets through the key exchange to authentication and
//! channels. X25519 and the post-quantum KEMs (ML-KEM-768, sntrup761)
//! are cheap stand-ins of the same shapes and lengths (real ones per
//! execution cost the transport and session targets most of their
//! speed); the rest of the key exchange (its messages, length checks and
//! hashes), the host key parsing and the packet layout stay the real ones.
//! Normal builds never compile this.

use ssh_keys::{Certificate, PublicKey};

use crate::cipher::{CipherAlg, MacAlg};
use crate::error::Error;
use crate::host_key::HostKeyAlgorithm;

/// X25519 (RFC 7748) replaced by a byte-wise XOR of scalar and point: as
/// cheap as a copy, deterministic, and still all-zero for one peer value
/// (our scalar), so that the small-order refusal stays reachable.
pub(crate) fn x25519(scalar: [u8; 32], point: [u8; 32]) -> [u8; 32] {
    let mut out = [0; 32];
    for ((o, s), p) in out.iter_mut().zip(scalar).zip(point) {
        *o = s ^ p;
    }
    out
}

/// A KEM's shared secret, stood in for: the first 32 bytes of the
/// encapsulation key (server) or ciphertext (client). Nothing checks that
/// the two sides agree; after NEWKEYS nothing is encrypted.
pub(crate) fn kem_secret(value: &[u8]) -> zeroize::Zeroizing<Vec<u8>> {
    zeroize::Zeroizing::new(value.iter().take(32).copied().collect())
}

/// The packet protection used instead of the negotiated one.
pub(crate) fn packet_protection(_cipher: CipherAlg, _mac: MacAlg) -> (CipherAlg, MacAlg) {
    (CipherAlg::None, MacAlg::None)
}

/// The server's host key (or certificate), parsed but with no signature
/// checked: neither the one over the exchange hash nor a CA's.
pub(crate) fn unverified_host_key(
    alg: HostKeyAlgorithm,
    k_s: &[u8],
) -> Result<(PublicKey, Option<Certificate>), Error> {
    if alg.is_certificate() {
        let cert = Certificate::from_blob(k_s)
            .map_err(|e| Error::kex(format!("host certificate: {e}")))?;
        Ok((cert.key.clone(), Some(cert)))
    } else {
        let key = PublicKey::from_blob(k_s).map_err(|e| Error::kex(format!("host key: {e}")))?;
        Ok((key, None))
    }
}
