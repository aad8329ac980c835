//! The server's signature over the exchange hash (RFC 4253 §8: "signature
//! of H"), made with an `ssh-keys` [`Signer`] and checked by the client.

use rand_core::CryptoRng;
use ssh_keys::{PublicKey, SignatureAlgorithm, Signer, VerifyPolicy};

use super::KexError;

/// Client side: parses the server's host key blob `K_S` and checks its
/// signature over `H` for the negotiated host-key algorithm. Returns the
/// host key, which the application must still accept (known_hosts).
pub fn verify_exchange_hash(
    host_key_alg: SignatureAlgorithm,
    host_key_blob: &[u8],
    exchange_hash: &[u8],
    signature_blob: &[u8],
    policy: &VerifyPolicy,
) -> Result<PublicKey, KexError> {
    let key = PublicKey::from_blob(host_key_blob)?;
    ssh_keys::verify_with_policy(&key, host_key_alg, exchange_hash, signature_blob, policy)?;
    Ok(key)
}

/// Server side: signs `H` with the host key for the negotiated algorithm.
pub fn sign_exchange_hash(
    signer: &dyn Signer,
    host_key_alg: SignatureAlgorithm,
    exchange_hash: &[u8],
    rng: &mut dyn CryptoRng,
) -> Result<Vec<u8>, KexError> {
    if !signer.algorithms().contains(&host_key_alg) {
        return Err(KexError::Misuse(
            "the host key cannot sign with this algorithm",
        ));
    }
    Ok(signer.sign(host_key_alg, exchange_hash, rng)?)
}
