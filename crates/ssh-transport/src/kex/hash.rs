//! The exchange hash `H` (RFC 4253 §8, RFC 4419 §3, RFC 5656 §4, RFC 8731
//! §3.1, the hybrid methods) and key derivation (RFC 4253 §7.2).

use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};
use ssh_wire::codec::{put_string, put_u32};
use ssh_wire::mpint::put_positive_mpint;
use zeroize::Zeroizing;

use super::{DhGroup, GexRequest, KexAlgorithm, SharedSecret};

/// The hash function of a key exchange method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    /// SHA-1 (legacy methods only).
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlg {
    /// The output length in bytes.
    pub const fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// Hashes the concatenation of `parts`.
    pub fn digest(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut d = D::new();
            for p in parts {
                d.update(p);
            }
            d.finalize().to_vec()
        }
        match self {
            Self::Sha1 => run::<Sha1>(parts),
            Self::Sha256 => run::<Sha256>(parts),
            Self::Sha384 => run::<Sha384>(parts),
            Self::Sha512 => run::<Sha512>(parts),
        }
    }
}

/// Everything the exchange hash covers besides `K`.
#[derive(Debug, Clone, Copy)]
pub struct ExchangeHashInput<'a> {
    /// `V_C`: the client's identification string, without CR LF.
    pub client_version: &'a [u8],
    /// `V_S`: the server's identification string, without CR LF.
    pub server_version: &'a [u8],
    /// `I_C`: the payload of the client's KEXINIT (from the message number
    /// 20 on).
    pub client_kexinit: &'a [u8],
    /// `I_S`: the payload of the server's KEXINIT.
    pub server_kexinit: &'a [u8],
    /// `K_S`: the server's host key blob.
    pub host_key: &'a [u8],
    /// For group exchange: the client's request (`min || n || max`) and the
    /// group (`p || g`) the server sent.
    pub gex: Option<(&'a GexRequest, &'a DhGroup)>,
    /// The client's public value (`e`, `Q_C`, `C_INIT`), as defined in the
    /// module documentation.
    pub client_public: &'a [u8],
    /// The server's public value (`f`, `Q_S`, `S_REPLY`).
    pub server_public: &'a [u8],
}

/// Computes `H` with the method's hash:
///
/// ```text
/// string V_C, string V_S, string I_C, string I_S, string K_S,
/// [uint32 min, uint32 n, uint32 max, mpint p, mpint g]   (group exchange)
/// client public, server public, K (mpint or string)
/// ```
pub fn exchange_hash(
    alg: KexAlgorithm,
    input: &ExchangeHashInput<'_>,
    k: &SharedSecret,
) -> Vec<u8> {
    // Sized up front so that the buffer holding K never reallocates and
    // leaves an unzeroized copy behind.
    let gex_len = input
        .gex
        .map_or(0, |(_, group)| 12 + 10 + group.p().len() + group.g().len());
    let mut buf = Zeroizing::new(Vec::with_capacity(
        7 * 4
            + input.client_version.len()
            + input.server_version.len()
            + input.client_kexinit.len()
            + input.server_kexinit.len()
            + input.host_key.len()
            + gex_len
            + input.client_public.len()
            + input.server_public.len()
            + k.as_bytes().len()
            + 1,
    ));
    put_string(&mut buf, input.client_version);
    put_string(&mut buf, input.server_version);
    put_string(&mut buf, input.client_kexinit);
    put_string(&mut buf, input.server_kexinit);
    put_string(&mut buf, input.host_key);
    if let Some((request, group)) = input.gex {
        put_u32(&mut buf, request.min);
        put_u32(&mut buf, request.n);
        put_u32(&mut buf, request.max);
        put_positive_mpint(&mut buf, group.p());
        put_positive_mpint(&mut buf, group.g());
    }
    put_string(&mut buf, input.client_public);
    put_string(&mut buf, input.server_public);
    k.encode(&mut buf);
    alg.hash().digest(&[&buf])
}

/// Derives `len` bytes of key material (RFC 4253 §7.2):
///
/// ```text
/// K1 = HASH(K || H || letter || session_id)
/// K2 = HASH(K || H || K1)
/// K3 = HASH(K || H || K1 || K2) ...
/// key = K1 || K2 || K3 || ... truncated to len
/// ```
///
/// `letter` is `b'A'` (client-to-server IV) to `b'F'` (server-to-client
/// integrity key); `session_id` is the `H` of the first key exchange.
pub fn derive_key(
    hash: HashAlg,
    k: &SharedSecret,
    h: &[u8],
    letter: u8,
    session_id: &[u8],
    len: usize,
) -> Zeroizing<Vec<u8>> {
    let k_enc = k.encoded();
    let mut out = Zeroizing::new(Vec::with_capacity(len + hash.output_len()));
    let first = Zeroizing::new(hash.digest(&[&k_enc, h, &[letter], session_id]));
    out.extend_from_slice(&first);
    while out.len() < len {
        let next = Zeroizing::new(hash.digest(&[&k_enc, h, &out]));
        out.extend_from_slice(&next);
    }
    out.truncate(len);
    out
}
