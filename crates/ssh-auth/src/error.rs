//! Errors of the authentication state machines.

use core::fmt;

use ssh_wire::DecodeError;
use ssh_wire::messages::DisconnectReason;

/// Why authentication stopped. A state machine that returned one of these
/// stays failed: every later call returns the same error.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// The peer violated the protocol (a message it may not send, a
    /// malformed message, a change of user name). The session disconnects
    /// with [`AuthError::disconnect_reason`].
    Protocol {
        /// The RFC 4253 §11.1 reason code to disconnect with.
        reason: DisconnectReason,
        /// What happened, for logs and the DISCONNECT description.
        why: String,
    },
    /// A message could not be decoded.
    Decode(DecodeError),
    /// Server: the client failed `max_tries` times (OpenSSH "Too many
    /// authentication failures"); disconnect with
    /// `NO_MORE_AUTH_METHODS_AVAILABLE`.
    TooManyAttempts,
    /// Server: the authentication deadline passed (LoginGraceTime).
    Timeout,
    /// Server: the user authenticated, but the application's account check
    /// refused the account ([`crate::server::AccountVerdict::Deny`]:
    /// expired, locked, `/etc/nologin`); disconnect with
    /// `NO_MORE_AUTH_METHODS_AVAILABLE`, as for a failed login.
    AccountDenied {
        /// Whose account.
        user: String,
    },
    /// Client: every configured method was tried or refused.
    NoMoreMethods,
    /// The application called a method that does not fit the current
    /// state (answering a question that was not asked, wrong number of
    /// responses, ...). Not the peer's fault.
    Misuse(&'static str),
}

impl AuthError {
    pub(crate) fn protocol(why: impl Into<String>) -> Self {
        Self::Protocol {
            reason: DisconnectReason::PROTOCOL_ERROR,
            why: why.into(),
        }
    }

    /// The reason code to send in SSH_MSG_DISCONNECT, if this error should
    /// end the connection.
    pub fn disconnect_reason(&self) -> Option<DisconnectReason> {
        match self {
            Self::Protocol { reason, .. } => Some(*reason),
            Self::Decode(_) => Some(DisconnectReason::PROTOCOL_ERROR),
            Self::TooManyAttempts
            | Self::NoMoreMethods
            | Self::Timeout
            | Self::AccountDenied { .. } => Some(DisconnectReason::NO_MORE_AUTH_METHODS_AVAILABLE),
            Self::Misuse(_) => None,
        }
    }
}

impl From<DecodeError> for AuthError {
    fn from(e: DecodeError) -> Self {
        Self::Decode(e)
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Protocol { why, .. } => write!(f, "authentication protocol error: {why}"),
            Self::Decode(e) => write!(f, "malformed authentication message: {e}"),
            Self::TooManyAttempts => f.write_str("too many authentication failures"),
            Self::Timeout => f.write_str("authentication timed out"),
            Self::AccountDenied { user } => {
                write!(f, "access denied for user {user} by the account checks")
            }
            Self::NoMoreMethods => f.write_str("no more authentication methods to try"),
            Self::Misuse(why) => write!(f, "authentication API misuse: {why}"),
        }
    }
}

impl std::error::Error for AuthError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Decode(e) => Some(e),
            _ => None,
        }
    }
}
