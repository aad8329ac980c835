//! The server's host key in the transport and session targets: the
//! Ed25519 public key of a fixed seed (made once per process), whose
//! "signature" is a well-formed blob of zeros. Under `cfg(fuzzing)` the
//! client side checks no signature over the exchange hash (ssh-transport's
//! `fuzzing` module), and a real Ed25519 signature per execution costs
//! more than everything else a short input reaches.

use std::sync::OnceLock;

use rand_core::CryptoRng;
use ssh_keys::{PrivateKey, PublicKey, SignatureAlgorithm, Signer};
use ssh_wire::codec::put_string;

struct StubHostKey(&'static PublicKey);

impl Signer for StubHostKey {
    fn public_key(&self) -> &PublicKey {
        self.0
    }

    fn sign(
        &self,
        alg: SignatureAlgorithm,
        _data: &[u8],
        _rng: &mut dyn CryptoRng,
    ) -> Result<Vec<u8>, ssh_keys::Error> {
        let mut blob = Vec::with_capacity(83);
        put_string(&mut blob, alg.name().as_bytes());
        put_string(&mut blob, &[0; 64]);
        Ok(blob)
    }
}

/// A host key for a server transport or session.
pub fn host_key() -> ssh_transport::HostKey {
    static PUBLIC: OnceLock<PublicKey> = OnceLock::new();
    let public = PUBLIC.get_or_init(|| PrivateKey::from_ed25519_seed(&[7; 32]).public_key().clone());
    Box::new(StubHostKey(public))
}
