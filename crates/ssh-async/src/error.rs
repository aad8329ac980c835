//! The errors of this crate.

use core::fmt;
use std::io;

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
    /// The peer closed the stream.
    Disconnected,
    /// The peer refused to open a channel.
    ChannelOpenFailed {
        /// RFC 4254 §5.1 reason code.
        reason: OpenFailureReason,
        /// The peer's description.
        description: String,
    },
    /// The peer refused a channel request (`exec`, `pty-req`, ...).
    RequestRefused(&'static str),
    /// The connection failed earlier (protocol violation, I/O error):
    /// what happened.
    Failed(String),
    /// No runtime to run the connection on: the options name none, and
    /// no runtime feature gives a default here (with only `tokio`, call
    /// from inside a Tokio runtime).
    NoRuntime,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "I/O error: {e}"),
            Self::Session(e) => write!(f, "session error: {e}"),
            Self::Channel(e) => write!(f, "channel error: {e}"),
            Self::HostKeyRejected => f.write_str("host key rejected"),
            Self::Disconnected => f.write_str("the peer closed the connection"),
            Self::ChannelOpenFailed {
                reason,
                description,
            } => write!(
                f,
                "channel open refused (reason {}): {description:?}",
                reason.0
            ),
            Self::RequestRefused(what) => write!(f, "the peer refused the {what} request"),
            Self::Failed(m) => write!(f, "the connection failed: {m}"),
            Self::NoRuntime => f.write_str("no async runtime to run the connection on"),
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
