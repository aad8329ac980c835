//! The exchange hash a server asks another process to sign, when its host
//! key is held there (privilege separation: the monitor keeps the host
//! keys, the unprivileged worker runs the key exchange).
//!
//! The request carries the hash's *inputs*, not the hash: the holder of
//! the key computes `H` itself ([`ExchangeHashRequest::sign`]), so whoever
//! asks can only ever obtain a signature over a genuine exchange hash (a
//! digest of `string V_C || string V_S || ...` in the method's layout),
//! never over bytes of its choosing. OpenSSH's monitor signs the hash the
//! unprivileged child hands it, checking only its length.

use core::fmt;

use rand_core::CryptoRng;
use ssh_keys::Signer;

use super::{
    DhGroup, ExchangeHashInput, GexRequest, KexAlgorithm, KexError, SharedSecret, exchange_hash,
    sign_exchange_hash,
};
use crate::host_key::HostKeyAlgorithm;

/// Everything `H` is computed from, for one server-side key exchange.
pub struct ExchangeHashRequest {
    pub(crate) kex: KexAlgorithm,
    pub(crate) host_key_alg: HostKeyAlgorithm,
    pub(crate) client_version: Vec<u8>,
    pub(crate) server_version: Vec<u8>,
    pub(crate) client_kexinit: Vec<u8>,
    pub(crate) server_kexinit: Vec<u8>,
    pub(crate) host_key: Vec<u8>,
    pub(crate) gex: Option<(GexRequest, DhGroup)>,
    pub(crate) client_public: Vec<u8>,
    pub(crate) server_public: Vec<u8>,
    pub(crate) secret: SharedSecret,
    pub(crate) first: bool,
}

impl fmt::Debug for ExchangeHashRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangeHashRequest")
            .field("kex", &self.kex)
            .field("host_key_alg", &self.host_key_alg)
            .field("first", &self.first)
            .finish_non_exhaustive()
    }
}

impl ExchangeHashRequest {
    /// The key exchange method.
    pub fn kex(&self) -> KexAlgorithm {
        self.kex
    }

    /// The negotiated host key algorithm the signature must be made with.
    pub fn host_key_algorithm(&self) -> HostKeyAlgorithm {
        self.host_key_alg
    }

    /// `K_S`: the host key blob (or certificate blob) the exchange names.
    pub fn host_key(&self) -> &[u8] {
        &self.host_key
    }

    /// True for the connection's first key exchange: its `H` becomes the
    /// session identifier.
    pub fn first(&self) -> bool {
        self.first
    }

    /// `H`, computed from the inputs.
    pub fn exchange_hash(&self) -> Vec<u8> {
        let input = ExchangeHashInput {
            client_version: &self.client_version,
            server_version: &self.server_version,
            client_kexinit: &self.client_kexinit,
            server_kexinit: &self.server_kexinit,
            host_key: &self.host_key,
            gex: self.gex.as_ref().map(|(r, g)| (r, g)),
            client_public: &self.client_public,
            server_public: &self.server_public,
        };
        exchange_hash(self.kex, &input, &self.secret)
    }

    /// The key holder's side: computes `H` and signs it with `signer`,
    /// after checking that the exchange names this very key (`K_S` is its
    /// blob, or its certificate's for a certificate algorithm) and that it
    /// can make the negotiated algorithm.
    pub fn sign(&self, signer: &dyn Signer, rng: &mut dyn CryptoRng) -> Result<Vec<u8>, KexError> {
        let blob = match (self.host_key_alg.is_certificate(), signer.certificate()) {
            (true, Some(cert)) => cert.blob().to_vec(),
            (true, None) => {
                return Err(KexError::Misuse(
                    "a certificate algorithm for a key without a certificate",
                ));
            }
            (false, _) => signer.public_key().to_blob(),
        };
        if blob != self.host_key {
            return Err(KexError::Misuse(
                "the exchange names another host key than this one",
            ));
        }
        let h = self.exchange_hash();
        sign_exchange_hash(signer, self.host_key_alg.signature(), &h, rng)
    }
}
