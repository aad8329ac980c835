//! The method-specific middle of a key exchange: which messages go and
//! come for each family, on each side (RFC 4253 §8, RFC 4419 §3,
//! RFC 5656 §4, RFC 8731, the hybrid post-quantum methods).

use std::sync::Arc;

use ssh_wire::Mpint;
use ssh_wire::messages::kex::{
    KexContext, KexEcdhInit, KexEcdhReply, KexGexGroup, KexGexInit, KexGexReply, KexGexRequest,
    KexdhInit, KexdhReply,
};

use crate::kex::{ClientKex, DhGroup, GexRequest, KexAlgorithm, KexFamily, Moduli};

/// Group exchange settings (RFC 4419).
#[derive(Debug, Clone)]
pub struct GexConfig {
    /// Client: the smallest group accepted, in bits (OpenSSH: 2048).
    pub min: u32,
    /// Client: the preferred size (OpenSSH picks by cipher strength; 3072
    /// covers 128-bit ciphers).
    pub n: u32,
    /// Client: the largest size asked for (OpenSSH: 8192).
    pub max: u32,
    /// Server: the groups to choose from, as read from an OpenSSH `moduli`
    /// file by the caller; `None` uses the built-in RFC 3526 groups.
    pub moduli: Option<Arc<Moduli>>,
}

impl Default for GexConfig {
    fn default() -> Self {
        Self {
            min: 2048,
            n: 3072,
            max: 8192,
            moduli: None,
        }
    }
}

/// The context in which numbers 30-49 decode for method `name`.
pub(super) fn context(name: &str) -> KexContext {
    match KexAlgorithm::from_name(name).map(KexAlgorithm::family) {
        Some(KexFamily::Dh) => KexContext::Dh,
        Some(KexFamily::GroupExchange) => KexContext::DhGex,
        _ => KexContext::Ecdh,
    }
}

/// Where one side is in the method's exchange.
pub(super) enum MethodState {
    /// Client: sent the init, waits for the reply.
    ClientAwaitReply(ClientKex, Option<(GexRequest, DhGroup)>),
    /// Client: sent a group exchange request, waits for the group.
    ClientAwaitGroup(GexRequest),
    /// Server: waits for the client's init.
    ServerAwaitInit,
    /// Server: waits for the client's group exchange request.
    ServerAwaitGexRequest,
    /// Server: sent the group, waits for the client's init.
    ServerAwaitGexInit(GexRequest, DhGroup),
    /// Server: the exchange hash waits for the signature of a host key
    /// held by another process.
    ServerAwaitSignature(Box<super::remote_sign::PendingSignature>),
    /// The exchange hash is known.
    Done,
}

/// Encodes the client's init message for a non-group-exchange method.
pub(super) fn client_init_payload(alg: KexAlgorithm, public: &[u8]) -> Vec<u8> {
    use ssh_wire::Encode;
    match alg.family() {
        KexFamily::Dh => KexdhInit {
            e: Mpint::from_positive_be(public),
        }
        .to_bytes(),
        KexFamily::GroupExchange => KexGexInit {
            e: Mpint::from_positive_be(public),
        }
        .to_bytes(),
        _ => KexEcdhInit {
            q_c: public.to_vec(),
        }
        .to_bytes(),
    }
}

/// The group exchange request a client sends.
pub(super) fn gex_request(cfg: &GexConfig) -> (GexRequest, Vec<u8>) {
    use ssh_wire::Encode;
    let req = GexRequest {
        min: cfg.min,
        n: cfg.n,
        max: cfg.max,
    };
    let payload = KexGexRequest {
        min: cfg.min,
        n: cfg.n,
        max: cfg.max,
    }
    .to_bytes();
    (req, payload)
}

/// The group a server sends.
pub(super) fn gex_group_payload(group: &DhGroup) -> Vec<u8> {
    use ssh_wire::Encode;
    KexGexGroup {
        p: Mpint::from_positive_be(group.p()),
        g: Mpint::from_positive_be(group.g()),
    }
    .to_bytes()
}

/// The server's reply for `alg`.
pub(super) fn server_reply_payload(
    alg: KexAlgorithm,
    host_key: Vec<u8>,
    public: &[u8],
    signature: Vec<u8>,
) -> Vec<u8> {
    use ssh_wire::Encode;
    match alg.family() {
        KexFamily::Dh => KexdhReply {
            host_key,
            f: Mpint::from_positive_be(public),
            signature,
        }
        .to_bytes(),
        KexFamily::GroupExchange => KexGexReply {
            host_key,
            f: Mpint::from_positive_be(public),
            signature,
        }
        .to_bytes(),
        _ => KexEcdhReply {
            host_key,
            q_s: public.to_vec(),
            signature,
        }
        .to_bytes(),
    }
}
