//! Key exchange methods (RFC 4253 §8, RFC 4419, RFC 5656 §4, RFC 8268,
//! RFC 8731, OpenSSH's hybrid post-quantum methods), the exchange hash and
//! key derivation (RFC 4253 §7.2).
//!
//! The transport state machine drives a key exchange with these pieces:
//!
//! 1. After KEXINIT negotiation, the client calls [`ClientKex::start`]
//!    (for group exchange: [`GexRequest`], then [`ClientKex::start_gex`]
//!    with the server's group) and sends the returned public value in
//!    KEXDH_INIT / KEX_ECDH_INIT / KEX_HYBRID_INIT / KEX_DH_GEX_INIT.
//! 2. The server answers with [`ServerKex::respond`] (group exchange:
//!    [`choose_group`], then [`ServerKex::respond_gex`]), computes the
//!    exchange hash with [`exchange_hash`], signs it with
//!    [`sign_exchange_hash`] and sends its public value, host key and
//!    signature.
//! 3. The client calls [`ClientKex::finish`] with the server's public value,
//!    computes the same exchange hash and checks the signature with
//!    [`verify_exchange_hash`].
//! 4. Both derive keys with [`derive_key`].
//!
//! **Public values.** Every method's public value travels in one
//! length-prefixed field (`mpint e`/`f` for finite-field DH, `string` for
//! the others), and goes into the exchange hash in exactly the same form.
//! This module therefore represents a public value as the *bytes inside
//! that field*: for DH methods, the canonical mpint body (with a leading
//! zero byte when the top bit is set; checked on input); for the others,
//! the octet string (`Q_C`, `C_INIT`, ...). The wire and hash encoding of
//! all of them is `uint32 length || bytes`.
//!
//! Every peer value is validated before use: DH `1 < f < p-1`, X25519
//! all-zero results rejected, NIST points on the curve, fixed-size fields
//! of exactly the right length.

mod curve25519;
mod dh;
mod ecdh;
mod gex;
mod groups;
mod hash;
mod hostkey;
mod hybrid;
#[cfg(test)]
mod kat;
#[cfg(test)]
mod proptests;
mod secret;
mod sign_request;
#[cfg(test)]
mod tests;

use rand_core::CryptoRng;
use ssh_keys::EcdsaCurve;

pub use dh::DhGroup;
pub use gex::{GexRequest, Moduli, ModuliGroup, choose_group};
pub use hash::{ExchangeHashInput, HashAlg, derive_key, exchange_hash};
pub use hostkey::{sign_exchange_hash, verify_exchange_hash};
pub use secret::{SecretEncoding, SharedSecret};
pub use sign_request::ExchangeHashRequest;

mod error;
pub use error::KexError;

/// A key exchange method, by its name on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KexAlgorithm {
    /// `mlkem768x25519-sha256`: ML-KEM-768 and X25519, SHA-256.
    MlKem768X25519Sha256,
    /// `mlkem768nistp256-sha256`: ML-KEM-768 and ECDH over P-256, SHA-256
    /// (OpenSSH 10.5; available, not offered by default, as in OpenSSH).
    MlKem768Nistp256Sha256,
    /// `sntrup761x25519-sha512`: Streamlined NTRU Prime and X25519, SHA-512.
    Sntrup761X25519Sha512,
    /// `sntrup761x25519-sha512@openssh.com`: the same under its older name.
    Sntrup761X25519Sha512OpenSsh,
    /// `curve25519-sha256` (RFC 8731).
    Curve25519Sha256,
    /// `curve25519-sha256@libssh.org`: the same under its older name.
    Curve25519Sha256Libssh,
    /// `ecdh-sha2-nistp256` (RFC 5656).
    EcdhNistp256,
    /// `ecdh-sha2-nistp384` (RFC 5656), hashed with SHA-384.
    EcdhNistp384,
    /// `ecdh-sha2-nistp521` (RFC 5656), hashed with SHA-512.
    EcdhNistp521,
    /// `diffie-hellman-group-exchange-sha256` (RFC 4419).
    DhGexSha256,
    /// `diffie-hellman-group16-sha512` (RFC 8268): 4096-bit MODP.
    DhGroup16Sha512,
    /// `diffie-hellman-group18-sha512` (RFC 8268): 8192-bit MODP.
    DhGroup18Sha512,
    /// `diffie-hellman-group14-sha256` (RFC 8268): 2048-bit MODP.
    DhGroup14Sha256,
    /// `diffie-hellman-group14-sha1` (RFC 4253). Off by default.
    DhGroup14Sha1,
    /// `diffie-hellman-group-exchange-sha1` (RFC 4419). Off by default.
    DhGexSha1,
    /// `diffie-hellman-group1-sha1` (RFC 4253): 1024-bit MODP. Off by
    /// default.
    DhGroup1Sha1,
}

/// How a method computes its shared secret; decides the message numbers
/// (30/31 for all but group exchange, 30-34 for it) and what the exchange
/// hash includes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KexFamily {
    /// A hybrid of a post-quantum KEM and X25519 or ECDH.
    Hybrid,
    /// X25519 (RFC 8731).
    Curve25519,
    /// ECDH over a NIST curve (RFC 5656).
    Ecdh(EcdsaCurve),
    /// Finite-field DH with a fixed group.
    Dh,
    /// Finite-field DH with a group chosen by the server (RFC 4419).
    GroupExchange,
}

impl KexAlgorithm {
    /// Every method implemented, in OpenSSH's order of preference.
    pub const ALL: [Self; 16] = [
        Self::MlKem768X25519Sha256,
        Self::MlKem768Nistp256Sha256,
        Self::Sntrup761X25519Sha512,
        Self::Sntrup761X25519Sha512OpenSsh,
        Self::Curve25519Sha256,
        Self::Curve25519Sha256Libssh,
        Self::EcdhNistp256,
        Self::EcdhNistp384,
        Self::EcdhNistp521,
        Self::DhGexSha256,
        Self::DhGroup16Sha512,
        Self::DhGroup18Sha512,
        Self::DhGroup14Sha256,
        Self::DhGroup14Sha1,
        Self::DhGexSha1,
        Self::DhGroup1Sha1,
    ];

    /// The methods offered by default, in order of preference: everything
    /// but the SHA-1 ones (OpenSSH's default list).
    pub const DEFAULT: [Self; 12] = [
        Self::MlKem768X25519Sha256,
        Self::Sntrup761X25519Sha512,
        Self::Sntrup761X25519Sha512OpenSsh,
        Self::Curve25519Sha256,
        Self::Curve25519Sha256Libssh,
        Self::EcdhNistp256,
        Self::EcdhNistp384,
        Self::EcdhNistp521,
        Self::DhGexSha256,
        Self::DhGroup16Sha512,
        Self::DhGroup18Sha512,
        Self::DhGroup14Sha256,
    ];

    /// The wire name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::MlKem768X25519Sha256 => "mlkem768x25519-sha256",
            Self::MlKem768Nistp256Sha256 => "mlkem768nistp256-sha256",
            Self::Sntrup761X25519Sha512 => "sntrup761x25519-sha512",
            Self::Sntrup761X25519Sha512OpenSsh => "sntrup761x25519-sha512@openssh.com",
            Self::Curve25519Sha256 => "curve25519-sha256",
            Self::Curve25519Sha256Libssh => "curve25519-sha256@libssh.org",
            Self::EcdhNistp256 => "ecdh-sha2-nistp256",
            Self::EcdhNistp384 => "ecdh-sha2-nistp384",
            Self::EcdhNistp521 => "ecdh-sha2-nistp521",
            Self::DhGexSha256 => "diffie-hellman-group-exchange-sha256",
            Self::DhGroup16Sha512 => "diffie-hellman-group16-sha512",
            Self::DhGroup18Sha512 => "diffie-hellman-group18-sha512",
            Self::DhGroup14Sha256 => "diffie-hellman-group14-sha256",
            Self::DhGroup14Sha1 => "diffie-hellman-group14-sha1",
            Self::DhGexSha1 => "diffie-hellman-group-exchange-sha1",
            Self::DhGroup1Sha1 => "diffie-hellman-group1-sha1",
        }
    }

    /// The method with wire name `name`, if implemented.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The hash of the exchange hash and of key derivation.
    pub const fn hash(self) -> HashAlg {
        match self {
            Self::MlKem768X25519Sha256
            | Self::MlKem768Nistp256Sha256
            | Self::Curve25519Sha256
            | Self::Curve25519Sha256Libssh
            | Self::EcdhNistp256
            | Self::DhGexSha256
            | Self::DhGroup14Sha256 => HashAlg::Sha256,
            Self::EcdhNistp384 => HashAlg::Sha384,
            Self::Sntrup761X25519Sha512
            | Self::Sntrup761X25519Sha512OpenSsh
            | Self::EcdhNistp521
            | Self::DhGroup16Sha512
            | Self::DhGroup18Sha512 => HashAlg::Sha512,
            Self::DhGroup14Sha1 | Self::DhGexSha1 | Self::DhGroup1Sha1 => HashAlg::Sha1,
        }
    }

    /// The family of the method.
    pub const fn family(self) -> KexFamily {
        match self {
            Self::MlKem768X25519Sha256
            | Self::MlKem768Nistp256Sha256
            | Self::Sntrup761X25519Sha512
            | Self::Sntrup761X25519Sha512OpenSsh => KexFamily::Hybrid,
            Self::Curve25519Sha256 | Self::Curve25519Sha256Libssh => KexFamily::Curve25519,
            Self::EcdhNistp256 => KexFamily::Ecdh(EcdsaCurve::NistP256),
            Self::EcdhNistp384 => KexFamily::Ecdh(EcdsaCurve::NistP384),
            Self::EcdhNistp521 => KexFamily::Ecdh(EcdsaCurve::NistP521),
            Self::DhGroup16Sha512
            | Self::DhGroup18Sha512
            | Self::DhGroup14Sha256
            | Self::DhGroup14Sha1
            | Self::DhGroup1Sha1 => KexFamily::Dh,
            Self::DhGexSha256 | Self::DhGexSha1 => KexFamily::GroupExchange,
        }
    }

    /// How the shared secret `K` is encoded in the exchange hash and key
    /// derivation: a `string` for the hybrid methods, an `mpint` otherwise.
    pub const fn secret_encoding(self) -> SecretEncoding {
        match self.family() {
            KexFamily::Hybrid => SecretEncoding::String,
            _ => SecretEncoding::Mpint,
        }
    }

    /// True for the group exchange methods, which have an extra round trip
    /// (KEX_DH_GEX_REQUEST and KEX_DH_GEX_GROUP) before the exchange.
    pub const fn is_group_exchange(self) -> bool {
        matches!(self.family(), KexFamily::GroupExchange)
    }

    /// The fixed group of a `diffie-hellman-groupN-*` method.
    pub fn fixed_group(self) -> Option<DhGroup> {
        match self {
            Self::DhGroup1Sha1 => Some(DhGroup::group1()),
            Self::DhGroup14Sha1 | Self::DhGroup14Sha256 => Some(DhGroup::group14()),
            Self::DhGroup16Sha512 => Some(DhGroup::group16()),
            Self::DhGroup18Sha512 => Some(DhGroup::group18()),
            _ => None,
        }
    }
}

enum ClientState {
    Dh(dh::DhKeyPair),
    Curve25519(curve25519::X25519KeyPair),
    Ecdh(ecdh::EcdhSecret),
    Hybrid(hybrid::HybridClient),
}

/// The client side of one key exchange, between sending its public value
/// and receiving the server's. Holds the ephemeral secrets (zeroized on
/// drop).
pub struct ClientKex {
    alg: KexAlgorithm,
    public: Vec<u8>,
    state: ClientState,
}

impl core::fmt::Debug for ClientKex {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ClientKex")
            .field("alg", &self.alg.name())
            .finish_non_exhaustive()
    }
}

impl ClientKex {
    /// Starts a key exchange with a method that is not group exchange:
    /// makes the ephemeral key pair and returns the state and the public
    /// value to send (`e`, `Q_C` or `C_INIT`).
    pub fn start<R: CryptoRng + ?Sized>(
        alg: KexAlgorithm,
        rng: &mut R,
    ) -> Result<(Self, Vec<u8>), KexError> {
        let (state, public) = match alg.family() {
            KexFamily::Hybrid => {
                let (state, public) = hybrid::HybridClient::start(alg, rng)?;
                (ClientState::Hybrid(state), public)
            }
            KexFamily::Curve25519 => {
                let pair = curve25519::X25519KeyPair::generate(rng);
                let public = pair.public().to_vec();
                (ClientState::Curve25519(pair), public)
            }
            KexFamily::Ecdh(curve) => {
                let (secret, public) = ecdh::EcdhSecret::generate(curve, rng);
                (ClientState::Ecdh(secret), public)
            }
            KexFamily::Dh => {
                let group = alg
                    .fixed_group()
                    .ok_or(KexError::Misuse("no fixed group for this method"))?;
                let pair = dh::DhKeyPair::generate(group, alg.hash(), rng)?;
                let public = pair.public().to_vec();
                (ClientState::Dh(pair), public)
            }
            KexFamily::GroupExchange => {
                return Err(KexError::Misuse(
                    "group exchange starts with start_gex once the group is known",
                ));
            }
        };
        Ok((
            Self {
                alg,
                public: public.clone(),
                state,
            },
            public,
        ))
    }

    /// Starts a group exchange once the server's KEX_DH_GEX_GROUP arrived:
    /// checks that `p` (big-endian magnitude) is a usable modulus whose size
    /// is within `request`, and that `1 < g < p-1`.
    pub fn start_gex<R: CryptoRng + ?Sized>(
        alg: KexAlgorithm,
        request: &GexRequest,
        p: &[u8],
        g: &[u8],
        rng: &mut R,
    ) -> Result<(Self, Vec<u8>), KexError> {
        if !alg.is_group_exchange() {
            return Err(KexError::Misuse("start_gex is for group exchange methods"));
        }
        let group = request.check_group(p, g)?;
        let pair = dh::DhKeyPair::generate(group, alg.hash(), rng)?;
        let public = pair.public().to_vec();
        Ok((
            Self {
                alg,
                public: public.clone(),
                state: ClientState::Dh(pair),
            },
            public,
        ))
    }

    /// The method.
    pub fn algorithm(&self) -> KexAlgorithm {
        self.alg
    }

    /// The public value this side sent.
    pub fn client_public(&self) -> &[u8] {
        &self.public
    }

    /// For group exchange and fixed-group DH: the group in use (for the
    /// exchange hash of group exchange).
    pub fn group(&self) -> Option<&DhGroup> {
        match &self.state {
            ClientState::Dh(pair) => Some(pair.group()),
            _ => None,
        }
    }

    /// Completes the exchange with the server's public value (`f`, `Q_S` or
    /// `S_REPLY`), validated first, and returns the shared secret `K`.
    pub fn finish(self, server_public: &[u8]) -> Result<SharedSecret, KexError> {
        match &self.state {
            ClientState::Dh(pair) => pair.agree(server_public),
            ClientState::Curve25519(pair) => pair.agree(server_public),
            ClientState::Ecdh(secret) => secret.agree(server_public),
            ClientState::Hybrid(client) => client.finish(server_public),
        }
    }
}

/// The server's answer: the public value to send (`f`, `Q_S` or
/// `S_REPLY`) and the shared secret.
#[derive(Debug)]
pub struct ServerReply {
    /// The server's public value.
    pub public: Vec<u8>,
    /// The shared secret `K`.
    pub secret: SharedSecret,
}

/// The server side of a key exchange: one step, since the server learns the
/// client's value first.
#[derive(Debug, Clone, Copy)]
pub struct ServerKex;

impl ServerKex {
    /// Answers a client's public value (`e`, `Q_C` or `C_INIT`), validated
    /// first, for a method that is not group exchange.
    pub fn respond<R: CryptoRng + ?Sized>(
        alg: KexAlgorithm,
        client_public: &[u8],
        rng: &mut R,
    ) -> Result<ServerReply, KexError> {
        match alg.family() {
            KexFamily::Hybrid => hybrid::server_respond(alg, client_public, rng),
            KexFamily::Curve25519 => {
                let pair = curve25519::X25519KeyPair::generate(rng);
                let secret = pair.agree(client_public)?;
                Ok(ServerReply {
                    public: pair.public().to_vec(),
                    secret,
                })
            }
            KexFamily::Ecdh(curve) => {
                let (ours, public) = ecdh::EcdhSecret::generate(curve, rng);
                let secret = ours.agree(client_public)?;
                Ok(ServerReply { public, secret })
            }
            KexFamily::Dh => {
                let group = alg
                    .fixed_group()
                    .ok_or(KexError::Misuse("no fixed group for this method"))?;
                Self::respond_dh(alg, group, client_public, rng)
            }
            KexFamily::GroupExchange => Err(KexError::Misuse(
                "group exchange is answered with respond_gex",
            )),
        }
    }

    /// Answers a group exchange KEX_DH_GEX_INIT in the group this server
    /// chose (with [`choose_group`]) and sent.
    pub fn respond_gex<R: CryptoRng + ?Sized>(
        alg: KexAlgorithm,
        group: &DhGroup,
        client_public: &[u8],
        rng: &mut R,
    ) -> Result<ServerReply, KexError> {
        if !alg.is_group_exchange() {
            return Err(KexError::Misuse(
                "respond_gex is for group exchange methods",
            ));
        }
        Self::respond_dh(alg, group.clone(), client_public, rng)
    }

    fn respond_dh<R: CryptoRng + ?Sized>(
        alg: KexAlgorithm,
        group: DhGroup,
        client_public: &[u8],
        rng: &mut R,
    ) -> Result<ServerReply, KexError> {
        let pair = dh::DhKeyPair::generate(group, alg.hash(), rng)?;
        let secret = pair.agree(client_public)?;
        Ok(ServerReply {
            public: pair.public().to_vec(),
            secret,
        })
    }
}
