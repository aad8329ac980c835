//! The errors of this crate.

use core::fmt;
use std::io;
use std::sync::Arc;

use ssh_wire::messages::DisconnectReason;

use ssh_wire::messages::OpenFailureReason;

/// Why a connection or a call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The stream failed.
    Io(io::Error),
    /// The session failed (protocol violation, failed authentication,
    /// ...) or refused a call.
    Session(ssh_session::Error),
    /// The channel API refused a call (a bug here, or a channel the peer
    /// closed early).
    Channel(ssh_session::ssh_connection::ApiError),
    /// The host key callback said no.
    HostKeyRejected,
    /// The server's application refused the connection during the
    /// handshake ([`crate::ServerHandler::refused`]: sshd's
    /// `RefuseConnection`); the client was sent DISCONNECT
    /// `HOST_NOT_ALLOWED_TO_CONNECT` with this text.
    Refused(String),
    /// The connection ended (or never got past the handshake); why, as
    /// every waiter on it sees it.
    Connection(ConnectionError),
    /// The channel is no longer known (closed and released).
    ChannelGone,
    /// The peer refused to open a channel.
    ChannelOpenFailed {
        /// RFC 4254 §5.1 reason code.
        reason: OpenFailureReason,
        /// The peer's description.
        description: String,
    },
    /// The peer refused a channel request (`exec`, `pty-req`, ...).
    RequestRefused(&'static str),
    /// No runtime to run the connection on: the options name none, and
    /// no runtime feature gives a default here (with only `tokio`, call
    /// from inside a Tokio runtime).
    NoRuntime,
    /// A host key held by another process could not sign the exchange
    /// hash (no [`crate::ExchangeHashSigner`], or it refused); the client
    /// was sent DISCONNECT `KEY_EXCHANGE_FAILED`.
    HostKeySignature(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "I/O error: {e}"),
            Self::Session(e) => write!(f, "session error: {e}"),
            Self::Channel(e) => write!(f, "channel error: {e}"),
            Self::HostKeyRejected => f.write_str("host key rejected"),
            Self::Refused(why) => write!(f, "connection refused: {why}"),
            Self::Connection(e) => e.fmt(f),
            Self::ChannelGone => f.write_str("the channel is closed"),
            Self::ChannelOpenFailed {
                reason,
                description,
            } => write!(
                f,
                "channel open refused (reason {}): {description:?}",
                reason.0
            ),
            Self::RequestRefused(what) => write!(f, "the peer refused the {what} request"),
            Self::NoRuntime => f.write_str("no async runtime to run the connection on"),
            Self::HostKeySignature(why) => write!(f, "host key signature: {why}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Session(e) => Some(e),
            Self::Channel(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<ssh_session::Error> for Error {
    fn from(e: ssh_session::Error) -> Self {
        Self::Session(e)
    }
}

impl From<ssh_session::ssh_connection::ApiError> for Error {
    fn from(e: ssh_session::ssh_connection::ApiError) -> Self {
        Self::Channel(e)
    }
}

/// Why a connection ended: kept once, and cloned to every handle that
/// waits on it (as quinn's `ConnectionError`). Tells apart the peer that
/// violated the protocol or is incompatible (in [`ssh_session::Error`]),
/// the peer that disconnected, our own end, and the stream's failure.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The peer sent DISCONNECT.
    PeerDisconnected {
        /// RFC 4253 §11.1 reason code.
        reason: DisconnectReason,
        /// The peer's description.
        description: String,
    },
    /// The peer closed the stream without a DISCONNECT.
    StreamClosed,
    /// We ended it (`disconnect`, or the session was closed here).
    LocallyClosed,
    /// The session failed: the peer violated the protocol, is
    /// incompatible, stopped answering keepalives, changed its host key
    /// at a re-key, ...
    Session(ssh_session::Error),
    /// The stream failed.
    Io(Arc<io::Error>),
}

impl ConnectionError {
    /// A normal end: a DISCONNECT by the peer with reason BY_APPLICATION,
    /// or our own.
    pub fn is_normal_close(&self) -> bool {
        match self {
            Self::PeerDisconnected { reason, .. } => *reason == DisconnectReason::BY_APPLICATION,
            Self::LocallyClosed => true,
            Self::StreamClosed | Self::Session(_) | Self::Io(_) => false,
        }
    }
}

impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PeerDisconnected {
                reason,
                description,
            } => write!(
                f,
                "the peer disconnected (reason {}): {description:?}",
                reason.0
            ),
            Self::StreamClosed => f.write_str("the peer closed the connection"),
            Self::LocallyClosed => f.write_str("the connection was closed here"),
            Self::Session(e) => write!(f, "session error: {e}"),
            Self::Io(e) => write!(f, "I/O error: {e}"),
        }
    }
}
