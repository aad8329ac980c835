//! Channel messages (RFC 4254 §5, §6, §7.2; OpenSSH `PROTOCOL` §2) and the
//! [`ConnectionMessage`] enum. Global requests are in [`super::global`],
//! channel requests in [`super::channel_request`].

use crate::codec::{Decode, Reader, put_string, put_u32};
use crate::error::DecodeError;
use crate::messages::channel_request::ChannelRequest;
use crate::messages::global::{GlobalRequest, RequestFailure, RequestSuccess};
use crate::messages::macros::{delegate_encode, impl_message};
use crate::messages::{Message, peek_number, slen};
use crate::msg;

#[cfg(feature = "arbitrary")]
use proptest_derive::Arbitrary;

/// Channel type of RFC 4254 §6.1.
pub const CHANNEL_SESSION: &str = "session";
/// Channel type of RFC 4254 §7.2.
pub const CHANNEL_DIRECT_TCPIP: &str = "direct-tcpip";
/// Channel type of RFC 4254 §7.2.
pub const CHANNEL_FORWARDED_TCPIP: &str = "forwarded-tcpip";
/// Channel type of RFC 4254 §6.3.2.
pub const CHANNEL_X11: &str = "x11";
/// OpenSSH agent forwarding channel.
pub const CHANNEL_AUTH_AGENT: &str = "auth-agent@openssh.com";
/// RFC 9987's agent forwarding channel, opened after `agent-req`.
pub const CHANNEL_AGENT_CONNECT: &str = "agent-connect";
/// OpenSSH `PROTOCOL` §2.4.
pub const CHANNEL_DIRECT_STREAMLOCAL: &str = "direct-streamlocal@openssh.com";
/// OpenSSH `PROTOCOL` §2.4.
pub const CHANNEL_FORWARDED_STREAMLOCAL: &str = "forwarded-streamlocal@openssh.com";

/// Extended data type of RFC 4254 §5.2: standard error.
pub const SSH_EXTENDED_DATA_STDERR: u32 = 1;

/// The type-specific part of `SSH_MSG_CHANNEL_OPEN`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
#[non_exhaustive]
pub enum ChannelType {
    /// `session` (RFC 4254 §6.1): no fields.
    Session,
    /// `direct-tcpip` (RFC 4254 §7.2).
    DirectTcpip {
        /// "host to connect".
        host: String,
        /// "port to connect".
        port: u32,
        /// "originator IP address".
        originator_address: String,
        /// "originator port".
        originator_port: u32,
    },
    /// `forwarded-tcpip` (RFC 4254 §7.2).
    ForwardedTcpip {
        /// "address that was connected".
        address: String,
        /// "port that was connected".
        port: u32,
        /// "originator IP address".
        originator_address: String,
        /// "originator port".
        originator_port: u32,
    },
    /// `x11` (RFC 4254 §6.3.2).
    X11 {
        /// "originator address (e.g., "192.168.7.38")".
        originator_address: String,
        /// "originator port".
        originator_port: u32,
    },
    /// `auth-agent@openssh.com`: no fields.
    AuthAgent,
    /// `agent-connect` (RFC 9987): no fields.
    AgentConnect,
    /// `direct-streamlocal@openssh.com`: "string socket path, string
    /// reserved, uint32 reserved"; the reserved fields are sent empty and
    /// ignored when read.
    DirectStreamlocal {
        /// The socket path on the server.
        socket_path: String,
    },
    /// `forwarded-streamlocal@openssh.com`: "string socket path, string
    /// reserved for future use"; the reserved field is sent empty and
    /// ignored when read.
    ForwardedStreamlocal {
        /// The socket path that was connected.
        socket_path: String,
    },
    /// Any other type: its name and raw fields.
    Unknown {
        /// The channel type name.
        #[cfg_attr(
            feature = "arbitrary",
            proptest(strategy = "crate::messages::arb::unknown_name()")
        )]
        name: String,
        /// The type-specific data, unparsed.
        rest: Vec<u8>,
    },
}

impl ChannelType {
    /// The channel type name as on the wire.
    pub fn name(&self) -> &str {
        match self {
            Self::Session => CHANNEL_SESSION,
            Self::DirectTcpip { .. } => CHANNEL_DIRECT_TCPIP,
            Self::ForwardedTcpip { .. } => CHANNEL_FORWARDED_TCPIP,
            Self::X11 { .. } => CHANNEL_X11,
            Self::AuthAgent => CHANNEL_AUTH_AGENT,
            Self::AgentConnect => CHANNEL_AGENT_CONNECT,
            Self::DirectStreamlocal { .. } => CHANNEL_DIRECT_STREAMLOCAL,
            Self::ForwardedStreamlocal { .. } => CHANNEL_FORWARDED_STREAMLOCAL,
            Self::Unknown { name, .. } => name,
        }
    }

    fn fields_len(&self) -> usize {
        match self {
            Self::Session | Self::AuthAgent | Self::AgentConnect => 0,
            Self::DirectTcpip {
                host: a,
                originator_address: o,
                ..
            }
            | Self::ForwardedTcpip {
                address: a,
                originator_address: o,
                ..
            } => slen(a.as_bytes()) + 4 + slen(o.as_bytes()) + 4,
            Self::X11 {
                originator_address, ..
            } => slen(originator_address.as_bytes()) + 4,
            Self::DirectStreamlocal { socket_path } => slen(socket_path.as_bytes()) + 4 + 4,
            Self::ForwardedStreamlocal { socket_path } => slen(socket_path.as_bytes()) + 4,
            Self::Unknown { rest, .. } => rest.len(),
        }
    }

    fn encode_fields(&self, out: &mut Vec<u8>) {
        match self {
            Self::Session | Self::AuthAgent | Self::AgentConnect => {}
            Self::DirectTcpip {
                host: a,
                port,
                originator_address: o,
                originator_port,
            }
            | Self::ForwardedTcpip {
                address: a,
                port,
                originator_address: o,
                originator_port,
            } => {
                put_string(out, a.as_bytes());
                put_u32(out, *port);
                put_string(out, o.as_bytes());
                put_u32(out, *originator_port);
            }
            Self::X11 {
                originator_address,
                originator_port,
            } => {
                put_string(out, originator_address.as_bytes());
                put_u32(out, *originator_port);
            }
            Self::DirectStreamlocal { socket_path } => {
                put_string(out, socket_path.as_bytes());
                put_string(out, b"");
                put_u32(out, 0);
            }
            Self::ForwardedStreamlocal { socket_path } => {
                put_string(out, socket_path.as_bytes());
                put_string(out, b"");
            }
            Self::Unknown { rest, .. } => out.extend_from_slice(rest),
        }
    }

    fn decode_fields(name: &str, r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match name {
            CHANNEL_SESSION => Self::Session,
            CHANNEL_DIRECT_TCPIP => Self::DirectTcpip {
                host: r.utf8("host to connect")?.to_owned(),
                port: r.u32("port to connect")?,
                originator_address: r.utf8("originator address")?.to_owned(),
                originator_port: r.u32("originator port")?,
            },
            CHANNEL_FORWARDED_TCPIP => Self::ForwardedTcpip {
                address: r.utf8("address that was connected")?.to_owned(),
                port: r.u32("port that was connected")?,
                originator_address: r.utf8("originator address")?.to_owned(),
                originator_port: r.u32("originator port")?,
            },
            CHANNEL_X11 => Self::X11 {
                originator_address: r.utf8("originator address")?.to_owned(),
                originator_port: r.u32("originator port")?,
            },
            CHANNEL_AUTH_AGENT => Self::AuthAgent,
            CHANNEL_AGENT_CONNECT => Self::AgentConnect,
            CHANNEL_DIRECT_STREAMLOCAL => {
                let socket_path = r.utf8("socket path")?.to_owned();
                r.string("reserved")?;
                r.u32("reserved")?;
                Self::DirectStreamlocal { socket_path }
            }
            CHANNEL_FORWARDED_STREAMLOCAL => {
                let socket_path = r.utf8("socket path")?.to_owned();
                r.string("reserved")?;
                Self::ForwardedStreamlocal { socket_path }
            }
            other => Self::Unknown {
                name: other.to_owned(),
                rest: r.take_rest().to_vec(),
            },
        })
    }
}

/// `SSH_MSG_CHANNEL_OPEN` (RFC 4254 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct ChannelOpen {
    /// The opener's channel number.
    pub sender: u32,
    /// "initial window size".
    pub initial_window: u32,
    /// "maximum packet size".
    pub max_packet: u32,
    /// The channel type and its fields.
    pub channel_type: ChannelType,
}

impl ChannelOpen {
    fn body_len(&self) -> usize {
        slen(self.channel_type.name().as_bytes()) + 12 + self.channel_type.fields_len()
    }
    fn encode_body(&self, out: &mut Vec<u8>) {
        put_string(out, self.channel_type.name().as_bytes());
        put_u32(out, self.sender);
        put_u32(out, self.initial_window);
        put_u32(out, self.max_packet);
        self.channel_type.encode_fields(out);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let name = r.ascii("channel type")?;
        let sender = r.u32("sender channel")?;
        let initial_window = r.u32("initial window size")?;
        let max_packet = r.u32("maximum packet size")?;
        let channel_type = ChannelType::decode_fields(name, r)?;
        Ok(Self {
            sender,
            initial_window,
            max_packet,
            channel_type,
        })
    }
}
impl_message!(
    ChannelOpen,
    msg::SSH_MSG_CHANNEL_OPEN,
    "SSH_MSG_CHANNEL_OPEN"
);

/// `SSH_MSG_CHANNEL_OPEN_CONFIRMATION` (RFC 4254 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct ChannelOpenConfirmation {
    /// The opener's channel number.
    pub recipient: u32,
    /// The confirmer's channel number.
    pub sender: u32,
    /// "initial window size".
    pub initial_window: u32,
    /// "maximum packet size".
    pub max_packet: u32,
    /// "channel type specific data", unparsed (no type in use defines any).
    pub extra: Vec<u8>,
}

impl ChannelOpenConfirmation {
    fn body_len(&self) -> usize {
        16 + self.extra.len()
    }
    fn encode_body(&self, out: &mut Vec<u8>) {
        put_u32(out, self.recipient);
        put_u32(out, self.sender);
        put_u32(out, self.initial_window);
        put_u32(out, self.max_packet);
        out.extend_from_slice(&self.extra);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            recipient: r.u32("recipient channel")?,
            sender: r.u32("sender channel")?,
            initial_window: r.u32("initial window size")?,
            max_packet: r.u32("maximum packet size")?,
            extra: r.take_rest().to_vec(),
        })
    }
}
impl_message!(
    ChannelOpenConfirmation,
    msg::SSH_MSG_CHANNEL_OPEN_CONFIRMATION,
    "SSH_MSG_CHANNEL_OPEN_CONFIRMATION"
);

/// A channel open failure reason code (RFC 4254 §5.1), an open newtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct OpenFailureReason(pub u32);

impl OpenFailureReason {
    /// `SSH_OPEN_ADMINISTRATIVELY_PROHIBITED`.
    pub const ADMINISTRATIVELY_PROHIBITED: Self = Self(1);
    /// `SSH_OPEN_CONNECT_FAILED`.
    pub const CONNECT_FAILED: Self = Self(2);
    /// `SSH_OPEN_UNKNOWN_CHANNEL_TYPE`.
    pub const UNKNOWN_CHANNEL_TYPE: Self = Self(3);
    /// `SSH_OPEN_RESOURCE_SHORTAGE`.
    pub const RESOURCE_SHORTAGE: Self = Self(4);

    /// The RFC's symbolic name, for logs; `None` for other values.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "SSH_OPEN_ADMINISTRATIVELY_PROHIBITED",
            2 => "SSH_OPEN_CONNECT_FAILED",
            3 => "SSH_OPEN_UNKNOWN_CHANNEL_TYPE",
            4 => "SSH_OPEN_RESOURCE_SHORTAGE",
            _ => return None,
        })
    }
}

/// `SSH_MSG_CHANNEL_OPEN_FAILURE` (RFC 4254 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct ChannelOpenFailure {
    /// The opener's channel number.
    pub recipient: u32,
    /// "reason code".
    pub reason: OpenFailureReason,
    /// "description in ISO-10646 UTF-8 encoding".
    pub description: String,
    /// RFC 3066 language tag.
    pub language: String,
}

impl ChannelOpenFailure {
    fn body_len(&self) -> usize {
        8 + slen(self.description.as_bytes()) + slen(self.language.as_bytes())
    }
    fn encode_body(&self, out: &mut Vec<u8>) {
        put_u32(out, self.recipient);
        put_u32(out, self.reason.0);
        put_string(out, self.description.as_bytes());
        put_string(out, self.language.as_bytes());
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            recipient: r.u32("recipient channel")?,
            reason: OpenFailureReason(r.u32("reason code")?),
            description: r.utf8("description")?.to_owned(),
            language: r.utf8("language tag")?.to_owned(),
        })
    }
}
impl_message!(
    ChannelOpenFailure,
    msg::SSH_MSG_CHANNEL_OPEN_FAILURE,
    "SSH_MSG_CHANNEL_OPEN_FAILURE"
);

/// `SSH_MSG_CHANNEL_WINDOW_ADJUST` (RFC 4254 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct ChannelWindowAdjust {
    /// The receiver's channel number.
    pub recipient: u32,
    /// "bytes to add".
    pub bytes_to_add: u32,
}

impl ChannelWindowAdjust {
    const fn body_len(&self) -> usize {
        8
    }
    fn encode_body(&self, out: &mut Vec<u8>) {
        put_u32(out, self.recipient);
        put_u32(out, self.bytes_to_add);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            recipient: r.u32("recipient channel")?,
            bytes_to_add: r.u32("bytes to add")?,
        })
    }
}
impl_message!(
    ChannelWindowAdjust,
    msg::SSH_MSG_CHANNEL_WINDOW_ADJUST,
    "SSH_MSG_CHANNEL_WINDOW_ADJUST"
);

/// `SSH_MSG_CHANNEL_DATA` (RFC 4254 §5.2), borrowing its data from the
/// payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelData<'a> {
    /// The receiver's channel number.
    pub recipient: u32,
    /// "data".
    pub data: &'a [u8],
}

impl<'a> ChannelData<'a> {
    /// The bytes before the data: message number, recipient, data length.
    pub const HEADER_LEN: usize = 9;

    /// Appends the [`Self::HEADER_LEN`] header bytes for `data_len` bytes
    /// of data, so a sender can copy the data straight after it.
    pub fn encode_header(recipient: u32, data_len: u32, out: &mut Vec<u8>) {
        out.push(msg::SSH_MSG_CHANNEL_DATA);
        put_u32(out, recipient);
        put_u32(out, data_len);
    }

    fn body_len(&self) -> usize {
        4 + slen(self.data)
    }
    fn encode_body(&self, out: &mut Vec<u8>) {
        put_u32(out, self.recipient);
        put_string(out, self.data);
    }
    fn decode_body(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            recipient: r.u32("recipient channel")?,
            data: r.string("channel data")?,
        })
    }
}
impl_message!(
    ChannelData<'a>,
    msg::SSH_MSG_CHANNEL_DATA,
    "SSH_MSG_CHANNEL_DATA"
);

/// `SSH_MSG_CHANNEL_EXTENDED_DATA` (RFC 4254 §5.2), borrowing its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelExtendedData<'a> {
    /// The receiver's channel number.
    pub recipient: u32,
    /// "data_type_code"; [`SSH_EXTENDED_DATA_STDERR`] is the only one
    /// defined.
    pub data_type: u32,
    /// "data".
    pub data: &'a [u8],
}

impl<'a> ChannelExtendedData<'a> {
    /// The bytes before the data: number, recipient, type code, length.
    pub const HEADER_LEN: usize = 13;

    /// Appends the [`Self::HEADER_LEN`] header bytes for `data_len` bytes
    /// of data of type `data_type`.
    pub fn encode_header(recipient: u32, data_type: u32, data_len: u32, out: &mut Vec<u8>) {
        out.push(msg::SSH_MSG_CHANNEL_EXTENDED_DATA);
        put_u32(out, recipient);
        put_u32(out, data_type);
        put_u32(out, data_len);
    }

    fn body_len(&self) -> usize {
        8 + slen(self.data)
    }
    fn encode_body(&self, out: &mut Vec<u8>) {
        put_u32(out, self.recipient);
        put_u32(out, self.data_type);
        put_string(out, self.data);
    }
    fn decode_body(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            recipient: r.u32("recipient channel")?,
            data_type: r.u32("data_type_code")?,
            data: r.string("channel data")?,
        })
    }
}
impl_message!(
    ChannelExtendedData<'a>,
    msg::SSH_MSG_CHANNEL_EXTENDED_DATA,
    "SSH_MSG_CHANNEL_EXTENDED_DATA"
);

/// Messages that are only a recipient channel number.
macro_rules! recipient_message {
    ($(#[$doc:meta])* $ty:ident, $num:expr, $name:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
        pub struct $ty {
            /// The receiver's channel number.
            pub recipient: u32,
        }

        impl $ty {
            const fn body_len(&self) -> usize {
                4
            }
            fn encode_body(&self, out: &mut Vec<u8>) {
                put_u32(out, self.recipient);
            }
            fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok(Self {
                    recipient: r.u32("recipient channel")?,
                })
            }
        }
        impl_message!($ty, $num, $name);
    };
}

recipient_message!(
    /// `SSH_MSG_CHANNEL_EOF` (RFC 4254 §5.3).
    ChannelEof,
    msg::SSH_MSG_CHANNEL_EOF,
    "SSH_MSG_CHANNEL_EOF"
);
recipient_message!(
    /// `SSH_MSG_CHANNEL_CLOSE` (RFC 4254 §5.3).
    ChannelClose,
    msg::SSH_MSG_CHANNEL_CLOSE,
    "SSH_MSG_CHANNEL_CLOSE"
);
recipient_message!(
    /// `SSH_MSG_CHANNEL_SUCCESS` (RFC 4254 §5.4).
    ChannelSuccess,
    msg::SSH_MSG_CHANNEL_SUCCESS,
    "SSH_MSG_CHANNEL_SUCCESS"
);
recipient_message!(
    /// `SSH_MSG_CHANNEL_FAILURE` (RFC 4254 §5.4).
    ChannelFailure,
    msg::SSH_MSG_CHANNEL_FAILURE,
    "SSH_MSG_CHANNEL_FAILURE"
);

/// Any connection-protocol message. Channel data borrows the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionMessage<'a> {
    /// 80.
    GlobalRequest(GlobalRequest),
    /// 81.
    RequestSuccess(RequestSuccess),
    /// 82.
    RequestFailure(RequestFailure),
    /// 90.
    ChannelOpen(ChannelOpen),
    /// 91.
    OpenConfirmation(ChannelOpenConfirmation),
    /// 92.
    OpenFailure(ChannelOpenFailure),
    /// 93.
    WindowAdjust(ChannelWindowAdjust),
    /// 94.
    Data(ChannelData<'a>),
    /// 95.
    ExtendedData(ChannelExtendedData<'a>),
    /// 96.
    Eof(ChannelEof),
    /// 97.
    Close(ChannelClose),
    /// 98.
    Request(ChannelRequest),
    /// 99.
    Success(ChannelSuccess),
    /// 100.
    Failure(ChannelFailure),
}

impl<'a> ConnectionMessage<'a> {
    /// Reads a whole payload. A number that is not a connection message is
    /// [`DecodeError::UnexpectedMessage`] (the caller answers it with
    /// `SSH_MSG_UNIMPLEMENTED`).
    pub fn decode(payload: &'a [u8]) -> Result<Self, DecodeError> {
        let number = peek_number(payload)?;
        let mut r = Reader::new(payload);
        let m = match number {
            msg::SSH_MSG_GLOBAL_REQUEST => Self::GlobalRequest(GlobalRequest::decode(&mut r)?),
            msg::SSH_MSG_REQUEST_SUCCESS => Self::RequestSuccess(RequestSuccess::decode(&mut r)?),
            msg::SSH_MSG_REQUEST_FAILURE => Self::RequestFailure(RequestFailure::decode(&mut r)?),
            msg::SSH_MSG_CHANNEL_OPEN => Self::ChannelOpen(ChannelOpen::decode(&mut r)?),
            msg::SSH_MSG_CHANNEL_OPEN_CONFIRMATION => {
                Self::OpenConfirmation(ChannelOpenConfirmation::decode(&mut r)?)
            }
            msg::SSH_MSG_CHANNEL_OPEN_FAILURE => {
                Self::OpenFailure(ChannelOpenFailure::decode(&mut r)?)
            }
            msg::SSH_MSG_CHANNEL_WINDOW_ADJUST => {
                Self::WindowAdjust(ChannelWindowAdjust::decode(&mut r)?)
            }
            msg::SSH_MSG_CHANNEL_DATA => Self::Data(ChannelData::decode(&mut r)?),
            msg::SSH_MSG_CHANNEL_EXTENDED_DATA => {
                Self::ExtendedData(ChannelExtendedData::decode(&mut r)?)
            }
            msg::SSH_MSG_CHANNEL_EOF => Self::Eof(ChannelEof::decode(&mut r)?),
            msg::SSH_MSG_CHANNEL_CLOSE => Self::Close(ChannelClose::decode(&mut r)?),
            msg::SSH_MSG_CHANNEL_REQUEST => Self::Request(ChannelRequest::decode(&mut r)?),
            msg::SSH_MSG_CHANNEL_SUCCESS => Self::Success(ChannelSuccess::decode(&mut r)?),
            msg::SSH_MSG_CHANNEL_FAILURE => Self::Failure(ChannelFailure::decode(&mut r)?),
            _ => {
                return Err(DecodeError::UnexpectedMessage {
                    got: number,
                    expected: "a connection-protocol message",
                });
            }
        };
        r.finish(msg::name(number))?;
        Ok(m)
    }

    /// The message number.
    pub const fn number(&self) -> u8 {
        match self {
            Self::GlobalRequest(_) => GlobalRequest::NUMBER,
            Self::RequestSuccess(_) => RequestSuccess::NUMBER,
            Self::RequestFailure(_) => RequestFailure::NUMBER,
            Self::ChannelOpen(_) => ChannelOpen::NUMBER,
            Self::OpenConfirmation(_) => ChannelOpenConfirmation::NUMBER,
            Self::OpenFailure(_) => ChannelOpenFailure::NUMBER,
            Self::WindowAdjust(_) => ChannelWindowAdjust::NUMBER,
            Self::Data(_) => ChannelData::NUMBER,
            Self::ExtendedData(_) => ChannelExtendedData::NUMBER,
            Self::Eof(_) => ChannelEof::NUMBER,
            Self::Close(_) => ChannelClose::NUMBER,
            Self::Request(_) => ChannelRequest::NUMBER,
            Self::Success(_) => ChannelSuccess::NUMBER,
            Self::Failure(_) => ChannelFailure::NUMBER,
        }
    }

    /// The recipient channel of a message about an existing channel.
    pub const fn recipient(&self) -> Option<u32> {
        match self {
            Self::GlobalRequest(_)
            | Self::RequestSuccess(_)
            | Self::RequestFailure(_)
            | Self::ChannelOpen(_) => None,
            Self::OpenConfirmation(m) => Some(m.recipient),
            Self::OpenFailure(m) => Some(m.recipient),
            Self::WindowAdjust(m) => Some(m.recipient),
            Self::Data(m) => Some(m.recipient),
            Self::ExtendedData(m) => Some(m.recipient),
            Self::Eof(m) => Some(m.recipient),
            Self::Close(m) => Some(m.recipient),
            Self::Request(m) => Some(m.recipient),
            Self::Success(m) => Some(m.recipient),
            Self::Failure(m) => Some(m.recipient),
        }
    }
}

delegate_encode!(
    ConnectionMessage<'_>,
    GlobalRequest,
    RequestSuccess,
    RequestFailure,
    ChannelOpen,
    OpenConfirmation,
    OpenFailure,
    WindowAdjust,
    Data,
    ExtendedData,
    Eof,
    Close,
    Request,
    Success,
    Failure,
);
