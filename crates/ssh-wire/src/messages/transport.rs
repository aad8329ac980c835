//! Transport-layer messages (RFC 4253 §7, §10, §11; RFC 8308; OpenSSH
//! `PROTOCOL` §1.8) and the [`TransportMessage`] enum.

use crate::codec::{Decode, Encode, Reader, put_bool, put_string, put_u32};
use crate::error::DecodeError;
use crate::messages::kex::{KexContext, KexMessage};
use crate::messages::macros::{impl_message, unit_message};
use crate::messages::{peek_number, read_count, slen};
use crate::msg;
use crate::namelist::NameList;

#[cfg(feature = "arbitrary")]
use proptest_derive::Arbitrary;

/// A disconnect reason code (RFC 4253 §11.1). An open newtype: any value a
/// peer sends is representable; the named ones are constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct DisconnectReason(pub u32);

impl DisconnectReason {
    /// `SSH_DISCONNECT_HOST_NOT_ALLOWED_TO_CONNECT`.
    pub const HOST_NOT_ALLOWED_TO_CONNECT: Self = Self(1);
    /// `SSH_DISCONNECT_PROTOCOL_ERROR`.
    pub const PROTOCOL_ERROR: Self = Self(2);
    /// `SSH_DISCONNECT_KEY_EXCHANGE_FAILED`.
    pub const KEY_EXCHANGE_FAILED: Self = Self(3);
    /// `SSH_DISCONNECT_RESERVED`.
    pub const RESERVED: Self = Self(4);
    /// `SSH_DISCONNECT_MAC_ERROR`.
    pub const MAC_ERROR: Self = Self(5);
    /// `SSH_DISCONNECT_COMPRESSION_ERROR`.
    pub const COMPRESSION_ERROR: Self = Self(6);
    /// `SSH_DISCONNECT_SERVICE_NOT_AVAILABLE`.
    pub const SERVICE_NOT_AVAILABLE: Self = Self(7);
    /// `SSH_DISCONNECT_PROTOCOL_VERSION_NOT_SUPPORTED`.
    pub const PROTOCOL_VERSION_NOT_SUPPORTED: Self = Self(8);
    /// `SSH_DISCONNECT_HOST_KEY_NOT_VERIFIABLE`.
    pub const HOST_KEY_NOT_VERIFIABLE: Self = Self(9);
    /// `SSH_DISCONNECT_CONNECTION_LOST`.
    pub const CONNECTION_LOST: Self = Self(10);
    /// `SSH_DISCONNECT_BY_APPLICATION`.
    pub const BY_APPLICATION: Self = Self(11);
    /// `SSH_DISCONNECT_TOO_MANY_CONNECTIONS`.
    pub const TOO_MANY_CONNECTIONS: Self = Self(12);
    /// `SSH_DISCONNECT_AUTH_CANCELLED_BY_USER`.
    pub const AUTH_CANCELLED_BY_USER: Self = Self(13);
    /// `SSH_DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE`.
    pub const NO_MORE_AUTH_METHODS_AVAILABLE: Self = Self(14);
    /// `SSH_DISCONNECT_ILLEGAL_USER_NAME`.
    pub const ILLEGAL_USER_NAME: Self = Self(15);

    /// The RFC's symbolic name, for logs; `None` for other values.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "SSH_DISCONNECT_HOST_NOT_ALLOWED_TO_CONNECT",
            2 => "SSH_DISCONNECT_PROTOCOL_ERROR",
            3 => "SSH_DISCONNECT_KEY_EXCHANGE_FAILED",
            4 => "SSH_DISCONNECT_RESERVED",
            5 => "SSH_DISCONNECT_MAC_ERROR",
            6 => "SSH_DISCONNECT_COMPRESSION_ERROR",
            7 => "SSH_DISCONNECT_SERVICE_NOT_AVAILABLE",
            8 => "SSH_DISCONNECT_PROTOCOL_VERSION_NOT_SUPPORTED",
            9 => "SSH_DISCONNECT_HOST_KEY_NOT_VERIFIABLE",
            10 => "SSH_DISCONNECT_CONNECTION_LOST",
            11 => "SSH_DISCONNECT_BY_APPLICATION",
            12 => "SSH_DISCONNECT_TOO_MANY_CONNECTIONS",
            13 => "SSH_DISCONNECT_AUTH_CANCELLED_BY_USER",
            14 => "SSH_DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE",
            15 => "SSH_DISCONNECT_ILLEGAL_USER_NAME",
            _ => return None,
        })
    }
}

/// `SSH_MSG_DISCONNECT` (RFC 4253 §11.1).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct Disconnect {
    /// Why.
    pub reason: DisconnectReason,
    /// Human-readable text (UTF-8).
    pub description: String,
    /// RFC 3066 language tag, usually empty.
    pub language: String,
}

impl Disconnect {
    fn body_len(&self) -> usize {
        4 + slen(self.description.as_bytes()) + slen(self.language.as_bytes())
    }
    fn encode_body(&self, out: &mut Vec<u8>) {
        put_u32(out, self.reason.0);
        put_string(out, self.description.as_bytes());
        put_string(out, self.language.as_bytes());
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            reason: DisconnectReason(r.u32("disconnect reason code")?),
            description: r.utf8("disconnect description")?.to_owned(),
            language: r.utf8("language tag")?.to_owned(),
        })
    }
}
impl_message!(Disconnect, msg::SSH_MSG_DISCONNECT, "SSH_MSG_DISCONNECT");

/// `SSH_MSG_IGNORE` (RFC 4253 §11.2): "All implementations MUST understand
/// (and ignore) this message at any time".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct Ignore {
    /// Arbitrary data.
    pub data: Vec<u8>,
}

impl Ignore {
    fn body_len(&self) -> usize {
        slen(&self.data)
    }
    fn encode_body(&self, out: &mut Vec<u8>) {
        put_string(out, &self.data);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            data: r.string("ignore data")?.to_vec(),
        })
    }
}
impl_message!(Ignore, msg::SSH_MSG_IGNORE, "SSH_MSG_IGNORE");

/// `SSH_MSG_UNIMPLEMENTED` (RFC 4253 §11.4): "An implementation MUST
/// respond to all unrecognized messages with an SSH_MSG_UNIMPLEMENTED
/// message".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct Unimplemented {
    /// The packet sequence number of the rejected message.
    pub sequence: u32,
}

impl Unimplemented {
    const fn body_len(&self) -> usize {
        4
    }
    fn encode_body(&self, out: &mut Vec<u8>) {
        put_u32(out, self.sequence);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            sequence: r.u32("packet sequence number")?,
        })
    }
}
impl_message!(
    Unimplemented,
    msg::SSH_MSG_UNIMPLEMENTED,
    "SSH_MSG_UNIMPLEMENTED"
);

/// `SSH_MSG_DEBUG` (RFC 4253 §11.3).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct DebugMessage {
    /// "If 'always_display' is TRUE, the message SHOULD be displayed."
    pub always_display: bool,
    /// The text (UTF-8).
    pub message: String,
    /// RFC 3066 language tag.
    pub language: String,
}

impl DebugMessage {
    fn body_len(&self) -> usize {
        1 + slen(self.message.as_bytes()) + slen(self.language.as_bytes())
    }
    fn encode_body(&self, out: &mut Vec<u8>) {
        put_bool(out, self.always_display);
        put_string(out, self.message.as_bytes());
        put_string(out, self.language.as_bytes());
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            always_display: r.bool("always_display")?,
            message: r.utf8("debug message")?.to_owned(),
            language: r.utf8("language tag")?.to_owned(),
        })
    }
}
impl_message!(DebugMessage, msg::SSH_MSG_DEBUG, "SSH_MSG_DEBUG");

/// `SSH_MSG_SERVICE_REQUEST` (RFC 4253 §10).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct ServiceRequest {
    /// `ssh-userauth` or `ssh-connection`.
    #[cfg_attr(
        feature = "arbitrary",
        proptest(strategy = "crate::messages::arb::name()")
    )]
    pub service: String,
}

/// `SSH_MSG_SERVICE_ACCEPT` (RFC 4253 §10).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct ServiceAccept {
    /// The service that was requested.
    #[cfg_attr(
        feature = "arbitrary",
        proptest(strategy = "crate::messages::arb::name()")
    )]
    pub service: String,
}

macro_rules! service_body {
    ($ty:ident) => {
        impl $ty {
            fn body_len(&self) -> usize {
                slen(self.service.as_bytes())
            }
            fn encode_body(&self, out: &mut Vec<u8>) {
                put_string(out, self.service.as_bytes());
            }
            fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok(Self {
                    service: r.ascii("service name")?.to_owned(),
                })
            }
        }
    };
}
service_body!(ServiceRequest);
service_body!(ServiceAccept);
impl_message!(
    ServiceRequest,
    msg::SSH_MSG_SERVICE_REQUEST,
    "SSH_MSG_SERVICE_REQUEST"
);
impl_message!(
    ServiceAccept,
    msg::SSH_MSG_SERVICE_ACCEPT,
    "SSH_MSG_SERVICE_ACCEPT"
);

/// `SSH_MSG_KEXINIT` (RFC 4253 §7.1).
///
/// The exchange hash covers the KEXINIT payloads exactly as sent; keep the
/// received bytes for it rather than re-encoding this struct (a peer may
/// send a boolean other than 1).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct KexInit {
    /// 16 random bytes.
    pub cookie: [u8; 16],
    /// `kex_algorithms`.
    pub kex_algorithms: NameList,
    /// `server_host_key_algorithms`.
    pub server_host_key_algorithms: NameList,
    /// `encryption_algorithms_client_to_server`.
    pub encryption_client_to_server: NameList,
    /// `encryption_algorithms_server_to_client`.
    pub encryption_server_to_client: NameList,
    /// `mac_algorithms_client_to_server`.
    pub mac_client_to_server: NameList,
    /// `mac_algorithms_server_to_client`.
    pub mac_server_to_client: NameList,
    /// `compression_algorithms_client_to_server`.
    pub compression_client_to_server: NameList,
    /// `compression_algorithms_server_to_client`.
    pub compression_server_to_client: NameList,
    /// `languages_client_to_server`.
    pub languages_client_to_server: NameList,
    /// `languages_server_to_client`.
    pub languages_server_to_client: NameList,
    /// "Indicates whether a guessed key exchange packet follows."
    pub first_kex_packet_follows: bool,
    /// "0 (reserved for future extension)"; kept as received.
    pub reserved: u32,
}

impl KexInit {
    fn lists(&self) -> [&NameList; 10] {
        [
            &self.kex_algorithms,
            &self.server_host_key_algorithms,
            &self.encryption_client_to_server,
            &self.encryption_server_to_client,
            &self.mac_client_to_server,
            &self.mac_server_to_client,
            &self.compression_client_to_server,
            &self.compression_server_to_client,
            &self.languages_client_to_server,
            &self.languages_server_to_client,
        ]
    }
    fn body_len(&self) -> usize {
        16 + self.lists().iter().map(|l| l.encoded_len()).sum::<usize>() + 1 + 4
    }
    fn encode_body(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.cookie);
        for list in self.lists() {
            list.encode(out);
        }
        put_bool(out, self.first_kex_packet_follows);
        put_u32(out, self.reserved);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        // A peer's lists are read as OpenSSH reads them, an empty name
        // ending the list (libssh 0.10.6 ends its cipher lists with a
        // comma): see `NameList::parse_lenient`. The exchange hash uses the
        // received payload, never this struct re-encoded.
        Ok(Self {
            cookie: r.array("kexinit cookie")?,
            kex_algorithms: NameList::decode_lenient(r)?,
            server_host_key_algorithms: NameList::decode_lenient(r)?,
            encryption_client_to_server: NameList::decode_lenient(r)?,
            encryption_server_to_client: NameList::decode_lenient(r)?,
            mac_client_to_server: NameList::decode_lenient(r)?,
            mac_server_to_client: NameList::decode_lenient(r)?,
            compression_client_to_server: NameList::decode_lenient(r)?,
            compression_server_to_client: NameList::decode_lenient(r)?,
            languages_client_to_server: NameList::decode_lenient(r)?,
            languages_server_to_client: NameList::decode_lenient(r)?,
            first_kex_packet_follows: r.bool("first_kex_packet_follows")?,
            reserved: r.u32("kexinit reserved")?,
        })
    }
}
impl_message!(KexInit, msg::SSH_MSG_KEXINIT, "SSH_MSG_KEXINIT");

unit_message!(
    /// `SSH_MSG_NEWKEYS` (RFC 4253 §7.3).
    NewKeys,
    msg::SSH_MSG_NEWKEYS,
    "SSH_MSG_NEWKEYS"
);

unit_message!(
    /// `SSH_MSG_NEWCOMPRESS` (RFC 8308 §3.2, for `delay-compression`).
    NewCompress,
    msg::SSH_MSG_NEWCOMPRESS,
    "SSH_MSG_NEWCOMPRESS"
);

/// The most extensions accepted in one `SSH_MSG_EXT_INFO`, checked before
/// anything is allocated. RFC 8308 defines four; OpenSSH sends about five.
pub const MAX_EXTENSIONS: usize = 64;

/// RFC 8308 §3.1: the signature algorithms the server accepts.
pub const EXT_SERVER_SIG_ALGS: &str = "server-sig-algs";
/// RFC 8308 §3.2: compression negotiated after authentication.
pub const EXT_DELAY_COMPRESSION: &str = "delay-compression";
/// RFC 8308 §3.3.
pub const EXT_NO_FLOW_CONTROL: &str = "no-flow-control";
/// RFC 8308 §3.4.
pub const EXT_ELEVATION: &str = "elevation";
/// OpenSSH `PROTOCOL` §1.8: transport-level ping, value `"0"`.
pub const EXT_PING: &str = "ping@openssh.com";
/// OpenSSH `PROTOCOL` §3.1: the server accepts the
/// `publickey-hostbound-v00@openssh.com` method, value `"0"`.
pub const EXT_PUBLICKEY_HOSTBOUND: &str = "publickey-hostbound@openssh.com";
/// RFC 9987 agent forwarding under its IANA names (`agent-req`,
/// `agent-connect`) is understood; value `"0"` (OpenSSH 10.6).
pub const EXT_AGENT_FORWARD: &str = "agent-forward";
/// OpenSSH `PROTOCOL` §1.10: the client accepts a second EXT_INFO during
/// user authentication.
pub const EXT_INFO_IN_AUTH: &str = "ext-info-in-auth@openssh.com";

/// One extension of `SSH_MSG_EXT_INFO`: a name and an opaque value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct Extension {
    /// The extension name (US-ASCII).
    #[cfg_attr(
        feature = "arbitrary",
        proptest(strategy = "crate::messages::arb::name()")
    )]
    pub name: String,
    /// "string extension-value (binary)".
    #[cfg_attr(
        feature = "arbitrary",
        proptest(strategy = "crate::messages::arb::bytes()")
    )]
    pub value: Vec<u8>,
}

/// `SSH_MSG_EXT_INFO` (RFC 8308 §2.3): name/value pairs in the order sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct ExtInfo {
    /// The extensions.
    #[cfg_attr(
        feature = "arbitrary",
        proptest(
            strategy = "proptest::collection::vec(proptest::arbitrary::any::<Extension>(), 0..6)"
        )
    )]
    pub extensions: Vec<Extension>,
}

impl ExtInfo {
    /// An empty message.
    pub const fn new() -> Self {
        Self {
            extensions: Vec::new(),
        }
    }

    /// Appends an extension.
    pub fn push(&mut self, name: &str, value: impl Into<Vec<u8>>) -> &mut Self {
        self.extensions.push(Extension {
            name: name.to_owned(),
            value: value.into(),
        });
        self
    }

    /// The value of the first extension called `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.extensions
            .iter()
            .find(|e| e.name == name)
            .map(|e| e.value.as_slice())
    }

    /// `server-sig-algs`: "extension-value: name-list
    /// public-key-algorithms-accepted" (RFC 8308 §3.1). The value is the
    /// text of a name-list, without a length of its own. Read as OpenSSH's
    /// client reads it (`match_list` in `key_sig_algorithm`): an empty name
    /// ends the list (`NameList::parse_lenient`).
    pub fn server_sig_algs(&self) -> Option<Result<NameList, DecodeError>> {
        self.get(EXT_SERVER_SIG_ALGS).map(parse_list_text)
    }

    /// `delay-compression`: two name-lists, client to server then server to
    /// client (RFC 8308 §3.2).
    pub fn delay_compression(&self) -> Option<Result<(NameList, NameList), DecodeError>> {
        self.get(EXT_DELAY_COMPRESSION).map(|v| {
            let mut r = Reader::new(v);
            // As the compression lists of KEXINIT, whose meaning they
            // take over (OpenSSH ignores this extension).
            let c2s = NameList::decode_lenient(&mut r)?;
            let s2c = NameList::decode_lenient(&mut r)?;
            r.finish("delay-compression")?;
            Ok((c2s, s2c))
        })
    }

    /// The version string of `ping@openssh.com` (`"0"`), if offered.
    pub fn ping(&self) -> Option<&[u8]> {
        self.get(EXT_PING)
    }

    /// The version string of `agent-forward` (`"0"`), if offered.
    pub fn agent_forward(&self) -> Option<&[u8]> {
        self.get(EXT_AGENT_FORWARD)
    }

    /// The version string of `publickey-hostbound@openssh.com`, if offered.
    pub fn publickey_hostbound(&self) -> Option<&[u8]> {
        self.get(EXT_PUBLICKEY_HOSTBOUND)
    }

    fn body_len(&self) -> usize {
        4 + self
            .extensions
            .iter()
            .map(|e| slen(e.name.as_bytes()) + slen(&e.value))
            .sum::<usize>()
    }
    fn encode_body(&self, out: &mut Vec<u8>) {
        put_u32(
            out,
            u32::try_from(self.extensions.len()).unwrap_or(u32::MAX),
        );
        for e in &self.extensions {
            put_string(out, e.name.as_bytes());
            put_string(out, &e.value);
        }
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        // Each extension is two strings, at least 8 bytes.
        let n = read_count(r, MAX_EXTENSIONS, 8, "nr-extensions")?;
        let mut extensions = Vec::with_capacity(n);
        for _ in 0..n {
            extensions.push(Extension {
                name: r.ascii("extension-name")?.to_owned(),
                value: r.string("extension-value")?.to_vec(),
            });
        }
        Ok(Self { extensions })
    }
}
impl_message!(ExtInfo, msg::SSH_MSG_EXT_INFO, "SSH_MSG_EXT_INFO");

fn parse_list_text(value: &[u8]) -> Result<NameList, DecodeError> {
    let text = core::str::from_utf8(value)
        .map_err(|_| DecodeError::invalid("name-list", "not US-ASCII"))?;
    NameList::parse_lenient(text)
}

/// `SSH2_MSG_PING` (OpenSSH `PROTOCOL` §1.8): "string data". Only sent to
/// a peer that advertised `ping@openssh.com`; "The reply copies the data
/// (which may be the empty string) from the ping".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct Ping {
    /// Echoed back in the pong.
    pub data: Vec<u8>,
}

/// `SSH2_MSG_PONG` (OpenSSH `PROTOCOL` §1.8): the ping's data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct Pong {
    /// The data of the ping this answers.
    pub data: Vec<u8>,
}

macro_rules! data_body {
    ($ty:ident) => {
        impl $ty {
            fn body_len(&self) -> usize {
                slen(&self.data)
            }
            fn encode_body(&self, out: &mut Vec<u8>) {
                put_string(out, &self.data);
            }
            fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok(Self {
                    data: r.string("ping data")?.to_vec(),
                })
            }
        }
    };
}
data_body!(Ping);
data_body!(Pong);
impl_message!(Ping, msg::SSH_MSG_PING, "SSH2_MSG_PING");
impl_message!(Pong, msg::SSH_MSG_PONG, "SSH2_MSG_PONG");

/// Any message the transport layer handles itself.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
#[non_exhaustive]
pub enum TransportMessage {
    /// 1.
    Disconnect(Disconnect),
    /// 2.
    Ignore(Ignore),
    /// 3.
    Unimplemented(Unimplemented),
    /// 4.
    Debug(DebugMessage),
    /// 5.
    ServiceRequest(ServiceRequest),
    /// 6.
    ServiceAccept(ServiceAccept),
    /// 7.
    ExtInfo(ExtInfo),
    /// 8.
    NewCompress(NewCompress),
    /// 20.
    KexInit(KexInit),
    /// 21.
    NewKeys(NewKeys),
    /// 30-49, read with the negotiated method's [`KexContext`].
    Kex(KexMessage),
    /// 192.
    Ping(Ping),
    /// 193.
    Pong(Pong),
    /// A number this crate does not know in this context, including 30-49
    /// outside a key exchange: "An implementation MUST respond to all
    /// unrecognized messages with an SSH_MSG_UNIMPLEMENTED message"
    /// (RFC 4253 §11.4).
    Unknown(UnknownMessage),
}

/// A message whose number is not known: the number and the raw bytes after
/// it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct UnknownMessage {
    /// The message number.
    #[cfg_attr(
        feature = "arbitrary",
        proptest(
            strategy = "proptest::prop_oneof![9u8..=19, 22u8..=29, 128u8..=191, 194u8..=255]"
        )
    )]
    pub number: u8,
    /// Everything after the number.
    pub body: Vec<u8>,
}

impl Encode for UnknownMessage {
    fn encoded_len(&self) -> usize {
        1 + self.body.len()
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.number);
        out.extend_from_slice(&self.body);
    }
}

impl TransportMessage {
    /// Reads a whole payload. `kex` is the method of the key exchange in
    /// progress, or `None` outside one (then 30-49 are `Unknown`).
    ///
    /// Numbers of the other layers (50-127) are an error: the caller routes
    /// by [`crate::msg::Layer`] first.
    pub fn decode(payload: &[u8], kex: Option<KexContext>) -> Result<Self, DecodeError> {
        let number = peek_number(payload)?;
        let mut r = Reader::new(payload);
        let msg = match number {
            msg::SSH_MSG_DISCONNECT => Self::Disconnect(Disconnect::decode(&mut r)?),
            msg::SSH_MSG_IGNORE => Self::Ignore(Ignore::decode(&mut r)?),
            msg::SSH_MSG_UNIMPLEMENTED => Self::Unimplemented(Unimplemented::decode(&mut r)?),
            msg::SSH_MSG_DEBUG => Self::Debug(DebugMessage::decode(&mut r)?),
            msg::SSH_MSG_SERVICE_REQUEST => Self::ServiceRequest(ServiceRequest::decode(&mut r)?),
            msg::SSH_MSG_SERVICE_ACCEPT => Self::ServiceAccept(ServiceAccept::decode(&mut r)?),
            msg::SSH_MSG_EXT_INFO => Self::ExtInfo(ExtInfo::decode(&mut r)?),
            msg::SSH_MSG_NEWCOMPRESS => Self::NewCompress(NewCompress::decode(&mut r)?),
            msg::SSH_MSG_KEXINIT => Self::KexInit(KexInit::decode(&mut r)?),
            msg::SSH_MSG_NEWKEYS => Self::NewKeys(NewKeys::decode(&mut r)?),
            msg::SSH_MSG_PING => Self::Ping(Ping::decode(&mut r)?),
            msg::SSH_MSG_PONG => Self::Pong(Pong::decode(&mut r)?),
            30..=49 => match kex.and_then(|ctx| KexMessage::decode_with(&mut r, ctx).transpose()) {
                Some(m) => Self::Kex(m?),
                None => Self::unknown(&mut r)?,
            },
            50..=127 => {
                return Err(DecodeError::UnexpectedMessage {
                    got: number,
                    expected: "a transport-layer message",
                });
            }
            _ => Self::unknown(&mut r)?,
        };
        r.finish(msg::name(number))?;
        Ok(msg)
    }

    fn unknown(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let number = r.u8("message number")?;
        Ok(Self::Unknown(UnknownMessage {
            number,
            body: r.take_rest().to_vec(),
        }))
    }

    /// The message number.
    pub fn number(&self) -> u8 {
        use crate::messages::Message;
        match self {
            Self::Disconnect(_) => Disconnect::NUMBER,
            Self::Ignore(_) => Ignore::NUMBER,
            Self::Unimplemented(_) => Unimplemented::NUMBER,
            Self::Debug(_) => DebugMessage::NUMBER,
            Self::ServiceRequest(_) => ServiceRequest::NUMBER,
            Self::ServiceAccept(_) => ServiceAccept::NUMBER,
            Self::ExtInfo(_) => ExtInfo::NUMBER,
            Self::NewCompress(_) => NewCompress::NUMBER,
            Self::KexInit(_) => KexInit::NUMBER,
            Self::NewKeys(_) => NewKeys::NUMBER,
            Self::Kex(m) => m.number(),
            Self::Ping(_) => Ping::NUMBER,
            Self::Pong(_) => Pong::NUMBER,
            Self::Unknown(m) => m.number,
        }
    }
}

crate::messages::macros::delegate_encode!(
    TransportMessage,
    Disconnect,
    Ignore,
    Unimplemented,
    Debug,
    ServiceRequest,
    ServiceAccept,
    ExtInfo,
    NewCompress,
    KexInit,
    NewKeys,
    Kex,
    Ping,
    Pong,
    Unknown,
);
