//! Session errors: the layer that failed, or an ordering violation seen by
//! the session itself.

use core::fmt;

use ssh_auth::AuthError;
use ssh_wire::messages::DisconnectReason;

/// Why a session stopped, or why a call was refused. A session that
/// returned a fatal error ([`Error::is_fatal`]) stays failed: every later
/// call returns the same error.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed (it sent its own DISCONNECT where one is owed),
    /// or refused a call.
    Transport(ssh_transport::Error),
    /// User authentication failed or refused a call.
    Auth(AuthError),
    /// The peer violated the connection protocol.
    Connection(ssh_connection::Error),
    /// The peer sent a message the session's state does not allow (an
    /// authentication message before the `ssh-userauth` service was
    /// accepted, a connection message before authentication succeeded, a
    /// service other than `ssh-userauth`). A DISCONNECT with `reason` was
    /// sent.
    Protocol {
        /// The RFC 4253 §11.1 reason code sent to the peer.
        reason: DisconnectReason,
        /// What happened.
        message: String,
    },
    /// Client: at a re-key the server proved possession of a host key other
    /// than the one the application accepted at the first key exchange.
    /// The session refuses it by itself (the application is asked once
    /// per connection) and sends DISCONNECT with
    /// `SSH_DISCONNECT_HOST_KEY_NOT_VERIFIABLE` (RFC 4253 §11.1); OpenSSH
    /// also ends the connection when the key of a re-key does not verify.
    HostKeyChanged {
        /// SHA256 fingerprint of the key accepted at the first exchange.
        expected: String,
        /// SHA256 fingerprint of the key presented at the re-key.
        got: String,
    },
    /// Keepalive ([`crate::KeepaliveConfig`]): `missed` probes in a row
    /// went unanswered and one more interval passed in silence. No
    /// DISCONNECT is sent: the peer is presumed gone (OpenSSH's ssh and
    /// sshd just close the connection, `cleanup_exit(255)`).
    KeepaliveTimeout {
        /// The unanswered probes.
        missed: u32,
    },
    /// The application called something that is not allowed now. The
    /// session is unaffected.
    Misuse(&'static str),
}

impl Error {
    pub(crate) fn protocol(message: impl Into<String>) -> Self {
        Self::Protocol {
            reason: DisconnectReason::PROTOCOL_ERROR,
            message: message.into(),
        }
    }

    /// The reason code of the DISCONNECT this error sends, if any.
    pub fn disconnect_reason(&self) -> Option<DisconnectReason> {
        match self {
            Self::Transport(e) => e.disconnect_reason(),
            Self::Auth(e) => e.disconnect_reason(),
            Self::Connection(e) => e.disconnect_reason(),
            Self::Protocol { reason, .. } => Some(*reason),
            Self::HostKeyChanged { .. } => Some(DisconnectReason::HOST_KEY_NOT_VERIFIABLE),
            Self::KeepaliveTimeout { .. } | Self::Misuse(_) => None,
        }
    }

    /// True for errors that end the session.
    pub fn is_fatal(&self) -> bool {
        match self {
            Self::Transport(e) => e.is_fatal(),
            Self::Auth(e) => !matches!(e, AuthError::Misuse(_)),
            Self::Connection(e) => !matches!(e, ssh_connection::Error::Unimplemented { .. }),
            Self::Protocol { .. } | Self::HostKeyChanged { .. } | Self::KeepaliveTimeout { .. } => {
                true
            }
            Self::Misuse(_) => false,
        }
    }

    /// True when the peer broke the protocol (in any layer).
    pub fn is_protocol_violation(&self) -> bool {
        match self {
            Self::Transport(e) => matches!(e, ssh_transport::Error::Protocol { .. }),
            Self::Auth(e) => matches!(e, AuthError::Protocol { .. } | AuthError::Decode(_)),
            Self::Connection(e) => matches!(e, ssh_connection::Error::Protocol(_)),
            Self::Protocol { .. } => true,
            Self::HostKeyChanged { .. } | Self::KeepaliveTimeout { .. } | Self::Misuse(_) => false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Transport(e) => write!(f, "transport: {e}"),
            Self::Auth(e) => write!(f, "authentication: {e}"),
            Self::Connection(e) => write!(f, "connection: {e}"),
            Self::Protocol { reason, message } => {
                write!(f, "protocol error (reason {}): {message}", reason.0)
            }
            Self::HostKeyChanged { expected, got } => write!(
                f,
                "the server's host key changed at a re-key: accepted {expected}, presented {got}"
            ),
            Self::KeepaliveTimeout { missed } => {
                write!(f, "Timeout: no answer to {missed} keepalive probes")
            }
            Self::Misuse(what) => write!(f, "API misuse: {what}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Transport(e) => Some(e),
            Self::Auth(e) => Some(e),
            Self::Connection(e) => Some(e),
            Self::Protocol { .. }
            | Self::HostKeyChanged { .. }
            | Self::KeepaliveTimeout { .. }
            | Self::Misuse(_) => None,
        }
    }
}

impl From<ssh_transport::Error> for Error {
    fn from(e: ssh_transport::Error) -> Self {
        Self::Transport(e)
    }
}

impl From<AuthError> for Error {
    fn from(e: AuthError) -> Self {
        Self::Auth(e)
    }
}

impl From<ssh_connection::Error> for Error {
    fn from(e: ssh_connection::Error) -> Self {
        Self::Connection(e)
    }
}
