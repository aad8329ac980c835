//! Key-exchange messages, numbers 30-49, whose meaning depends on the
//! negotiated method: fixed-group Diffie-Hellman (RFC 4253 §8), ECDH
//! (RFC 5656 §4, reused by curve25519 (RFC 8731) and the hybrid
//! post-quantum methods), and group exchange (RFC 4419 §3).

use crate::codec::{Decode, Encode, Reader, put_string, put_u32};
use crate::error::DecodeError;
use crate::messages::macros::impl_message;
use crate::messages::{Message, slen};
use crate::mpint::Mpint;
use crate::msg;

#[cfg(feature = "arbitrary")]
use proptest_derive::Arbitrary;

/// Which family of key-exchange messages numbers 30-49 belong to; it comes
/// from the negotiated `kex_algorithms` entry, never from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub enum KexContext {
    /// `diffie-hellman-group*-sha*`: KEXDH_INIT (30), KEXDH_REPLY (31).
    Dh,
    /// `ecdh-sha2-*`, `curve25519-sha256`, `sntrup761x25519-sha512`,
    /// `mlkem768x25519-sha256`: KEX_ECDH_INIT (30), KEX_ECDH_REPLY (31).
    Ecdh,
    /// `diffie-hellman-group-exchange-*`: 30-34.
    DhGex,
}

/// `SSH_MSG_KEXDH_INIT` (RFC 4253 §8): the client's `e`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct KexdhInit {
    /// `e = g^x mod p`.
    pub e: Mpint,
}

/// `SSH_MSG_KEXDH_REPLY` (RFC 4253 §8).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct KexdhReply {
    /// `K_S`, the server's public host key blob.
    pub host_key: Vec<u8>,
    /// `f = g^y mod p`.
    pub f: Mpint,
    /// The signature of the exchange hash `H`.
    pub signature: Vec<u8>,
}

/// `SSH_MSG_KEX_ECDH_INIT` (RFC 5656 §4): the client's ephemeral public
/// key `Q_C` (for curve25519 and the hybrid methods, their client value).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct KexEcdhInit {
    /// `Q_C` as an octet string.
    pub q_c: Vec<u8>,
}

/// `SSH_MSG_KEX_ECDH_REPLY` (RFC 5656 §4).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct KexEcdhReply {
    /// `K_S`, the server's public host key blob.
    pub host_key: Vec<u8>,
    /// `Q_S` as an octet string.
    pub q_s: Vec<u8>,
    /// The signature of the exchange hash.
    pub signature: Vec<u8>,
}

/// `SSH_MSG_KEX_DH_GEX_REQUEST_OLD` (RFC 4419 §5): only the preferred size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct KexGexRequestOld {
    /// Preferred size in bits of the group.
    pub n: u32,
}

/// `SSH_MSG_KEX_DH_GEX_REQUEST` (RFC 4419 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct KexGexRequest {
    /// Minimal size in bits of an acceptable group.
    pub min: u32,
    /// Preferred size in bits.
    pub n: u32,
    /// Maximal size in bits.
    pub max: u32,
}

/// `SSH_MSG_KEX_DH_GEX_GROUP` (RFC 4419 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct KexGexGroup {
    /// The safe prime.
    pub p: Mpint,
    /// The generator.
    pub g: Mpint,
}

/// `SSH_MSG_KEX_DH_GEX_INIT` (RFC 4419 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct KexGexInit {
    /// `e = g^x mod p`.
    pub e: Mpint,
}

/// `SSH_MSG_KEX_DH_GEX_REPLY` (RFC 4419 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct KexGexReply {
    /// `K_S`, the server's public host key blob.
    pub host_key: Vec<u8>,
    /// `f = g^y mod p`.
    pub f: Mpint,
    /// The signature of the exchange hash.
    pub signature: Vec<u8>,
}

macro_rules! e_body {
    ($ty:ident) => {
        impl $ty {
            fn body_len(&self) -> usize {
                self.e.encoded_len()
            }
            fn encode_body(&self, out: &mut Vec<u8>) {
                self.e.encode(out);
            }
            fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok(Self {
                    e: Mpint::decode(r)?,
                })
            }
        }
    };
}
e_body!(KexdhInit);
e_body!(KexGexInit);

macro_rules! dh_reply_body {
    ($ty:ident) => {
        impl $ty {
            fn body_len(&self) -> usize {
                slen(&self.host_key) + self.f.encoded_len() + slen(&self.signature)
            }
            fn encode_body(&self, out: &mut Vec<u8>) {
                put_string(out, &self.host_key);
                self.f.encode(out);
                put_string(out, &self.signature);
            }
            fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok(Self {
                    host_key: r.string("K_S")?.to_vec(),
                    f: Mpint::decode(r)?,
                    signature: r.string("signature of H")?.to_vec(),
                })
            }
        }
    };
}
dh_reply_body!(KexdhReply);
dh_reply_body!(KexGexReply);

impl KexEcdhInit {
    fn body_len(&self) -> usize {
        slen(&self.q_c)
    }
    fn encode_body(&self, out: &mut Vec<u8>) {
        put_string(out, &self.q_c);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            q_c: r.string("Q_C")?.to_vec(),
        })
    }
}

impl KexEcdhReply {
    fn body_len(&self) -> usize {
        slen(&self.host_key) + slen(&self.q_s) + slen(&self.signature)
    }
    fn encode_body(&self, out: &mut Vec<u8>) {
        put_string(out, &self.host_key);
        put_string(out, &self.q_s);
        put_string(out, &self.signature);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            host_key: r.string("K_S")?.to_vec(),
            q_s: r.string("Q_S")?.to_vec(),
            signature: r.string("signature of H")?.to_vec(),
        })
    }
}

impl KexGexRequestOld {
    const fn body_len(&self) -> usize {
        4
    }
    fn encode_body(&self, out: &mut Vec<u8>) {
        put_u32(out, self.n);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self { n: r.u32("n")? })
    }
}

impl KexGexRequest {
    const fn body_len(&self) -> usize {
        12
    }
    fn encode_body(&self, out: &mut Vec<u8>) {
        put_u32(out, self.min);
        put_u32(out, self.n);
        put_u32(out, self.max);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            min: r.u32("min")?,
            n: r.u32("n")?,
            max: r.u32("max")?,
        })
    }
}

impl KexGexGroup {
    fn body_len(&self) -> usize {
        self.p.encoded_len() + self.g.encoded_len()
    }
    fn encode_body(&self, out: &mut Vec<u8>) {
        self.p.encode(out);
        self.g.encode(out);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            p: Mpint::decode(r)?,
            g: Mpint::decode(r)?,
        })
    }
}

impl_message!(KexdhInit, msg::SSH_MSG_KEXDH_INIT, "SSH_MSG_KEXDH_INIT");
impl_message!(KexdhReply, msg::SSH_MSG_KEXDH_REPLY, "SSH_MSG_KEXDH_REPLY");
impl_message!(
    KexEcdhInit,
    msg::SSH_MSG_KEX_ECDH_INIT,
    "SSH_MSG_KEX_ECDH_INIT"
);
impl_message!(
    KexEcdhReply,
    msg::SSH_MSG_KEX_ECDH_REPLY,
    "SSH_MSG_KEX_ECDH_REPLY"
);
impl_message!(
    KexGexRequestOld,
    msg::SSH_MSG_KEX_DH_GEX_REQUEST_OLD,
    "SSH_MSG_KEX_DH_GEX_REQUEST_OLD"
);
impl_message!(
    KexGexRequest,
    msg::SSH_MSG_KEX_DH_GEX_REQUEST,
    "SSH_MSG_KEX_DH_GEX_REQUEST"
);
impl_message!(
    KexGexGroup,
    msg::SSH_MSG_KEX_DH_GEX_GROUP,
    "SSH_MSG_KEX_DH_GEX_GROUP"
);
impl_message!(
    KexGexInit,
    msg::SSH_MSG_KEX_DH_GEX_INIT,
    "SSH_MSG_KEX_DH_GEX_INIT"
);
impl_message!(
    KexGexReply,
    msg::SSH_MSG_KEX_DH_GEX_REPLY,
    "SSH_MSG_KEX_DH_GEX_REPLY"
);

/// A key-exchange message of any method.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
#[non_exhaustive]
pub enum KexMessage {
    /// [`KexContext::Dh`], 30.
    DhInit(KexdhInit),
    /// [`KexContext::Dh`], 31.
    DhReply(KexdhReply),
    /// [`KexContext::Ecdh`], 30.
    EcdhInit(KexEcdhInit),
    /// [`KexContext::Ecdh`], 31.
    EcdhReply(KexEcdhReply),
    /// [`KexContext::DhGex`], 30.
    GexRequestOld(KexGexRequestOld),
    /// [`KexContext::DhGex`], 31.
    GexGroup(KexGexGroup),
    /// [`KexContext::DhGex`], 32.
    GexInit(KexGexInit),
    /// [`KexContext::DhGex`], 33.
    GexReply(KexGexReply),
    /// [`KexContext::DhGex`], 34.
    GexRequest(KexGexRequest),
}

impl KexMessage {
    /// Reads a whole payload in context `ctx`; a number the method does not
    /// define is an error.
    pub fn decode(payload: &[u8], ctx: KexContext) -> Result<Self, DecodeError> {
        let mut r = Reader::new(payload);
        let m = Self::decode_with(&mut r, ctx)?.ok_or(DecodeError::UnexpectedMessage {
            got: payload.first().copied().unwrap_or(0),
            expected: "a message of the negotiated key exchange",
        })?;
        r.finish("key-exchange message")?;
        Ok(m)
    }

    /// Reads one message from `r` if its number is defined in `ctx`;
    /// `Ok(None)` (nothing consumed) if it is not.
    pub fn decode_with(r: &mut Reader<'_>, ctx: KexContext) -> Result<Option<Self>, DecodeError> {
        let number = super::peek_number(r.rest())?;
        Ok(Some(match (ctx, number) {
            (KexContext::Dh, msg::SSH_MSG_KEXDH_INIT) => Self::DhInit(KexdhInit::decode(r)?),
            (KexContext::Dh, msg::SSH_MSG_KEXDH_REPLY) => Self::DhReply(KexdhReply::decode(r)?),
            (KexContext::Ecdh, msg::SSH_MSG_KEX_ECDH_INIT) => {
                Self::EcdhInit(KexEcdhInit::decode(r)?)
            }
            (KexContext::Ecdh, msg::SSH_MSG_KEX_ECDH_REPLY) => {
                Self::EcdhReply(KexEcdhReply::decode(r)?)
            }
            (KexContext::DhGex, msg::SSH_MSG_KEX_DH_GEX_REQUEST_OLD) => {
                Self::GexRequestOld(KexGexRequestOld::decode(r)?)
            }
            (KexContext::DhGex, msg::SSH_MSG_KEX_DH_GEX_GROUP) => {
                Self::GexGroup(KexGexGroup::decode(r)?)
            }
            (KexContext::DhGex, msg::SSH_MSG_KEX_DH_GEX_INIT) => {
                Self::GexInit(KexGexInit::decode(r)?)
            }
            (KexContext::DhGex, msg::SSH_MSG_KEX_DH_GEX_REPLY) => {
                Self::GexReply(KexGexReply::decode(r)?)
            }
            (KexContext::DhGex, msg::SSH_MSG_KEX_DH_GEX_REQUEST) => {
                Self::GexRequest(KexGexRequest::decode(r)?)
            }
            _ => return Ok(None),
        }))
    }

    /// The context this message belongs to.
    pub const fn context(&self) -> KexContext {
        match self {
            Self::DhInit(_) | Self::DhReply(_) => KexContext::Dh,
            Self::EcdhInit(_) | Self::EcdhReply(_) => KexContext::Ecdh,
            Self::GexRequestOld(_)
            | Self::GexGroup(_)
            | Self::GexInit(_)
            | Self::GexReply(_)
            | Self::GexRequest(_) => KexContext::DhGex,
        }
    }

    /// The message number.
    pub const fn number(&self) -> u8 {
        match self {
            Self::DhInit(_) => KexdhInit::NUMBER,
            Self::DhReply(_) => KexdhReply::NUMBER,
            Self::EcdhInit(_) => KexEcdhInit::NUMBER,
            Self::EcdhReply(_) => KexEcdhReply::NUMBER,
            Self::GexRequestOld(_) => KexGexRequestOld::NUMBER,
            Self::GexGroup(_) => KexGexGroup::NUMBER,
            Self::GexInit(_) => KexGexInit::NUMBER,
            Self::GexReply(_) => KexGexReply::NUMBER,
            Self::GexRequest(_) => KexGexRequest::NUMBER,
        }
    }
}

crate::messages::macros::delegate_encode!(
    KexMessage,
    DhInit,
    DhReply,
    EcdhInit,
    EcdhReply,
    GexRequestOld,
    GexGroup,
    GexInit,
    GexReply,
    GexRequest,
);
