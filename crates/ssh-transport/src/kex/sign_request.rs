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
use ssh_wire::codec::{Reader, put_bool, put_string, put_u32};
use zeroize::Zeroizing;

use super::{
    DhGroup, ExchangeHashInput, GexRequest, KexAlgorithm, KexError, SecretEncoding, SharedSecret,
    exchange_hash, sign_exchange_hash,
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

    /// The request in a byte form for another process (the worker to its
    /// monitor): names, the hash inputs as strings, and `K`. The buffer is
    /// zeroized on drop, since it holds the shared secret.
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(
            64 + self.client_version.len()
                + self.server_version.len()
                + self.client_kexinit.len()
                + self.server_kexinit.len()
                + self.host_key.len()
                + self.gex.as_ref().map_or(0, |(_, g)| g.p().len() + 32)
                + self.client_public.len()
                + self.server_public.len()
                + self.secret.as_bytes().len(),
        ));
        put_string(&mut out, self.kex.name().as_bytes());
        put_string(&mut out, self.host_key_alg.name().as_bytes());
        put_bool(&mut out, self.first);
        for part in [
            &self.client_version,
            &self.server_version,
            &self.client_kexinit,
            &self.server_kexinit,
            &self.host_key,
            &self.client_public,
            &self.server_public,
        ] {
            put_string(&mut out, part);
        }
        match &self.gex {
            None => put_bool(&mut out, false),
            Some((request, group)) => {
                put_bool(&mut out, true);
                put_u32(&mut out, request.min);
                put_u32(&mut out, request.n);
                put_u32(&mut out, request.max);
                put_string(&mut out, group.p());
                put_string(&mut out, group.g());
            }
        }
        put_bool(&mut out, self.secret.encoding() == SecretEncoding::String);
        put_string(&mut out, self.secret.as_bytes());
        out
    }

    /// Reads [`ExchangeHashRequest::encode`]'s form: every name must be
    /// one this crate knows, a group exchange's group must be a valid
    /// group, and the secret's encoding must be the method's.
    pub fn decode(bytes: &[u8]) -> Result<Self, KexError> {
        let bad = |_| KexError::Misuse("malformed exchange hash request");
        let mut r = Reader::new(bytes);
        let kex = r.ascii("kex").map_err(bad)?;
        let kex = KexAlgorithm::from_name(kex)
            .ok_or(KexError::Misuse("exchange hash request: unknown kex"))?;
        let host_key_alg = r.ascii("host key algorithm").map_err(bad)?;
        let host_key_alg = HostKeyAlgorithm::from_name(host_key_alg).ok_or(KexError::Misuse(
            "exchange hash request: unknown host key algorithm",
        ))?;
        let first = r.bool("first").map_err(bad)?;
        let mut parts = Vec::with_capacity(7);
        for what in [
            "V_C",
            "V_S",
            "I_C",
            "I_S",
            "K_S",
            "client public",
            "server public",
        ] {
            parts.push(r.string(what).map_err(bad)?.to_vec());
        }
        let gex = if r.bool("gex").map_err(bad)? {
            let request = GexRequest {
                min: r.u32("min").map_err(bad)?,
                n: r.u32("n").map_err(bad)?,
                max: r.u32("max").map_err(bad)?,
            };
            let p = r.string("p").map_err(bad)?;
            let g = r.string("g").map_err(bad)?;
            Some((request, DhGroup::new(p, g)?))
        } else {
            None
        };
        if gex.is_some() != kex.is_group_exchange() {
            return Err(KexError::Misuse(
                "exchange hash request: group exchange parameters do not fit the method",
            ));
        }
        let string = r.bool("secret encoding").map_err(bad)?;
        let encoding = if string {
            SecretEncoding::String
        } else {
            SecretEncoding::Mpint
        };
        if encoding != kex.secret_encoding() {
            return Err(KexError::Misuse(
                "exchange hash request: the secret's encoding is not the method's",
            ));
        }
        let secret = SharedSecret::new(encoding, r.string("K").map_err(bad)?);
        r.finish("exchange hash request").map_err(bad)?;
        let mut parts = parts.into_iter();
        let mut next = || parts.next().unwrap_or_default();
        Ok(Self {
            kex,
            host_key_alg,
            client_version: next(),
            server_version: next(),
            client_kexinit: next(),
            server_kexinit: next(),
            host_key: next(),
            gex,
            client_public: next(),
            server_public: next(),
            secret,
            first,
        })
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
