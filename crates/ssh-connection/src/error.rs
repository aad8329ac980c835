//! Errors, kept apart by whose fault they are (design.md): the peer broke
//! the protocol ([`ProtocolError`], the connection fails and stays failed),
//! or the application called something not allowed now ([`ApiError`], the
//! connection is unaffected).

use core::fmt;

use ssh_wire::DecodeError;
use ssh_wire::messages::DisconnectReason;

use crate::id::LocalId;
use crate::window::WindowError;

/// What [`crate::Connection::handle_payload`] can return.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The peer violated the protocol. The connection has failed and stays
    /// failed; the session sends a DISCONNECT with
    /// [`Error::disconnect_reason`].
    Protocol(ProtocolError),
    /// The payload has a message number this layer does not know (80-127
    /// unassigned, or outside the layer). The connection is unaffected; the
    /// session answers with `SSH_MSG_UNIMPLEMENTED`.
    Unimplemented {
        /// The message number.
        number: u8,
    },
}

impl Error {
    /// The RFC 4253 §11.1 reason code to disconnect with, when the error is
    /// fatal.
    pub const fn disconnect_reason(&self) -> Option<DisconnectReason> {
        match self {
            Self::Protocol(e) => Some(e.disconnect_reason()),
            Self::Unimplemented { .. } => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Protocol(e) => write!(f, "peer violated the connection protocol: {e}"),
            Self::Unimplemented { number } => {
                write!(f, "message number {number} is not implemented")
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Self::Protocol(e)
    }
}

/// A violation of RFC 4254 by the peer. Every one is answered with
/// `SSH_DISCONNECT_PROTOCOL_ERROR`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The payload is not a valid encoding of its message.
    Decode(DecodeError),
    /// A message names a local channel number that is not allocated.
    UnknownChannel(LocalId),
    /// A message about a channel that is not open yet (still opening, or
    /// the peer never got our number).
    NotOpen {
        /// The channel.
        channel: LocalId,
        /// The message.
        message: &'static str,
    },
    /// A message about a channel after the peer's CLOSE.
    AfterClose {
        /// The channel.
        channel: LocalId,
        /// The message.
        message: &'static str,
    },
    /// Data or extended data after the peer's EOF (RFC 4254 §5.3: "No
    /// explicit response is sent to this message. However, the application
    /// may send EOF to whatever is at the other end of the channel").
    DataAfterEof(LocalId),
    /// A second EOF on one channel.
    DuplicateEof(LocalId),
    /// OPEN_CONFIRMATION or OPEN_FAILURE for a channel we are not opening.
    UnexpectedOpenReply(LocalId),
    /// A SUCCESS/FAILURE reply with no request waiting for one; `None` for a
    /// global reply.
    UnexpectedReply(Option<LocalId>),
    /// A flow-control violation: window overrun or overflow.
    Window {
        /// The channel.
        channel: LocalId,
        /// What happened.
        error: WindowError,
    },
    /// A CHANNEL_OPEN or OPEN_CONFIRMATION announcing a maximum packet size
    /// of 0.
    ZeroMaxPacket,
    /// A data message larger than the maximum packet size we announced.
    PacketTooLarge {
        /// The channel.
        channel: LocalId,
        /// The data length.
        len: usize,
        /// Our maximum packet size.
        max: u32,
    },
    /// The peer has more requests waiting for an answer than we allow.
    TooManyPendingRequests,
    /// A success reply whose data does not fit the request it answers.
    BadReplyData(DecodeError),
}

impl ProtocolError {
    /// The reason code for the DISCONNECT.
    pub const fn disconnect_reason(&self) -> DisconnectReason {
        DisconnectReason::PROTOCOL_ERROR
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Decode(e) | Self::BadReplyData(e) => write!(f, "{e}"),
            Self::UnknownChannel(c) => write!(f, "no channel {c}"),
            Self::NotOpen { channel, message } => {
                write!(f, "{message} for channel {channel}, which is not open")
            }
            Self::AfterClose { channel, message } => {
                write!(f, "{message} for channel {channel} after its CLOSE")
            }
            Self::DataAfterEof(c) => write!(f, "data on channel {c} after its EOF"),
            Self::DuplicateEof(c) => write!(f, "second EOF on channel {c}"),
            Self::UnexpectedOpenReply(c) => {
                write!(f, "open reply for channel {c}, which we are not opening")
            }
            Self::UnexpectedReply(Some(c)) => {
                write!(f, "reply on channel {c} with no request pending")
            }
            Self::UnexpectedReply(None) => write!(f, "global reply with no request pending"),
            Self::Window { channel, error } => write!(f, "channel {channel}: {error}"),
            Self::ZeroMaxPacket => write!(f, "maximum packet size 0"),
            Self::PacketTooLarge { channel, len, max } => {
                write!(
                    f,
                    "channel {channel}: {len} bytes of data, above maximum packet {max}"
                )
            }
            Self::TooManyPendingRequests => write!(f, "too many unanswered requests"),
        }
    }
}

impl std::error::Error for ProtocolError {}

/// The application called something that is not allowed now. The
/// connection is unaffected (except [`ApiError::ConnectionFailed`], which
/// says it already failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiError {
    /// The connection failed earlier; nothing more can be done with it.
    ConnectionFailed,
    /// The handle belongs to a channel that was released (or was never
    /// opened): its generation does not match.
    StaleHandle,
    /// The channel is not in a state that allows this call.
    InvalidState {
        /// The call.
        call: &'static str,
        /// The channel state.
        state: crate::ChannelState,
    },
    /// EOF was already sent: no more data on this channel.
    EofSent,
    /// The channel limit of [`crate::Config::max_channels`] is reached.
    TooManyChannels,
    /// Too many requests wait for a reply.
    TooManyPendingRequests,
    /// No request with this id waits for an answer.
    NoSuchRequest,
    /// The answer does not fit the request: a bound port for anything but
    /// `tcpip-forward` with port 0 (and its absence there), signatures for
    /// anything but `hostkeys-prove-00@openssh.com` (and their absence
    /// there).
    WrongReply,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ConnectionFailed => write!(f, "the connection has failed"),
            Self::StaleHandle => write!(f, "stale channel handle"),
            Self::InvalidState { call, state } => {
                write!(f, "{call} is not allowed in channel state {state:?}")
            }
            Self::EofSent => write!(f, "EOF was already sent"),
            Self::TooManyChannels => write!(f, "too many channels"),
            Self::TooManyPendingRequests => write!(f, "too many requests waiting for a reply"),
            Self::NoSuchRequest => write!(f, "no such request waits for an answer"),
            Self::WrongReply => write!(f, "the reply does not fit the request"),
        }
    }
}

impl std::error::Error for ApiError {}
