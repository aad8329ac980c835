//! Deterministic stand-ins for the whole-session fuzz targets (`fuzz/`),
//! compiled only under `cfg(fuzzing)`, which cargo-fuzz sets: after
//! NEWKEYS packets are neither encrypted nor authenticated (cipher and
//! MAC `none`, whatever was negotiated), and a client does not check the
//! server's signature over the exchange hash. A fuzzer knows no keys;
//! with these it gets through the key exchange to authentication and
//! channels. The key exchange itself, the host key parsing and the
//! packet layout stay the real ones. Normal builds never compile this.

use ssh_keys::{Certificate, PublicKey};

use crate::cipher::{CipherAlg, MacAlg};
use crate::error::Error;
use crate::host_key::HostKeyAlgorithm;

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
