//! Transport errors, kept apart by whose fault they are (design.md):
//! the peer violated the protocol, the peer is valid but incompatible, the
//! peer disconnected, or the application misused the API.

use core::fmt;

use ssh_wire::messages::transport::DisconnectReason;

use crate::negotiate::NoCommonAlgorithm;

/// Why a transport stopped, or why a call was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The peer broke the protocol. We sent (or will send) a DISCONNECT
    /// with `reason`.
    Protocol {
        /// The RFC 4253 §11.1 reason code sent to the peer.
        reason: DisconnectReason,
        /// What happened.
        message: String,
    },
    /// The peer is valid but shares no algorithm with us for one slot.
    Incompatible(NoCommonAlgorithm),
    /// The peer sent SSH_MSG_DISCONNECT.
    PeerDisconnected {
        /// Its reason code.
        reason: DisconnectReason,
        /// Its description.
        description: String,
    },
    /// The application rejected the server's host key.
    HostKeyRejected,
    /// We disconnected (on request of the application).
    Disconnected,
    /// The application called something that is not allowed now.
    Misuse(&'static str),
    /// The queue of payloads held during a key exchange is full; try again
    /// after a [`crate::Event::Writable`].
    WouldBlock,
}

impl Error {
    /// A protocol violation with reason `SSH_DISCONNECT_PROTOCOL_ERROR`.
    pub fn protocol(message: impl Into<String>) -> Self {
        Self::Protocol {
            reason: DisconnectReason::PROTOCOL_ERROR,
            message: message.into(),
        }
    }

    /// A key exchange failure (`SSH_DISCONNECT_KEY_EXCHANGE_FAILED`).
    pub fn kex(message: impl Into<String>) -> Self {
        Self::Protocol {
            reason: DisconnectReason::KEY_EXCHANGE_FAILED,
            message: message.into(),
        }
    }

    /// The reason code to send in a DISCONNECT for this error, if one
    /// should be sent.
    pub fn disconnect_reason(&self) -> Option<DisconnectReason> {
        match self {
            Self::Protocol { reason, .. } => Some(*reason),
            Self::Incompatible(_) => Some(DisconnectReason::KEY_EXCHANGE_FAILED),
            Self::HostKeyRejected => Some(DisconnectReason::HOST_KEY_NOT_VERIFIABLE),
            Self::Disconnected => Some(DisconnectReason::BY_APPLICATION),
            Self::PeerDisconnected { .. } | Self::Misuse(_) | Self::WouldBlock => None,
        }
    }

    /// True for errors after which the transport is dead.
    pub fn is_fatal(&self) -> bool {
        !matches!(self, Self::Misuse(_) | Self::WouldBlock)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Protocol { reason, message } => {
                write!(f, "protocol error (reason {}): {message}", reason.0)
            }
            Self::Incompatible(e) => write!(f, "{e}"),
            Self::PeerDisconnected {
                reason,
                description,
            } => write!(f, "peer disconnected (reason {}): {description}", reason.0),
            Self::HostKeyRejected => f.write_str("host key rejected"),
            Self::Disconnected => f.write_str("disconnected by the application"),
            Self::Misuse(what) => write!(f, "API misuse: {what}"),
            Self::WouldBlock => f.write_str("send queue full during key exchange"),
        }
    }
}

impl std::error::Error for Error {}

impl From<NoCommonAlgorithm> for Error {
    fn from(e: NoCommonAlgorithm) -> Self {
        Self::Incompatible(e)
    }
}
