//! The agent-protocol extension `session-bind@openssh.com` (OpenSSH
//! `PROTOCOL.agent` §1): the client tells its agent which host and session
//! a forwarded or local connection belongs to.
//!
//! This is not an SSH transport message; [`SessionBind`] encodes only the
//! extension contents, which follow the extension name in an
//! `SSH_AGENTC_EXTENSION` message.

use crate::codec::{Decode, Encode, Reader, put_bool, put_string};
use crate::error::DecodeError;
use crate::messages::slen;

#[cfg(feature = "arbitrary")]
use proptest_derive::Arbitrary;

/// `SSH_AGENTC_EXTENSION`, the agent message that carries extensions.
pub const SSH_AGENTC_EXTENSION: u8 = 27;
/// The extension name.
pub const SESSION_BIND: &str = "session-bind@openssh.com";

/// The contents of `session-bind@openssh.com`: "string hostkey, string
/// session identifier, string signature, bool is_forwarding".
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct SessionBind {
    /// The server's host key blob.
    pub host_key: Vec<u8>,
    /// The session identifier (the first exchange hash).
    pub session_id: Vec<u8>,
    /// The server's signature of the session identifier.
    pub signature: Vec<u8>,
    /// True when the agent is being forwarded over this session.
    pub is_forwarding: bool,
}

impl SessionBind {
    /// The whole agent request: `SSH_AGENTC_EXTENSION`, the extension name,
    /// then the contents (without the agent's uint32 frame length).
    pub fn to_agent_request(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + slen(SESSION_BIND.as_bytes()) + self.encoded_len());
        out.push(SSH_AGENTC_EXTENSION);
        put_string(&mut out, SESSION_BIND.as_bytes());
        self.encode(&mut out);
        out
    }
}

impl Encode for SessionBind {
    fn encoded_len(&self) -> usize {
        slen(&self.host_key) + slen(&self.session_id) + slen(&self.signature) + 1
    }
    fn encode(&self, out: &mut Vec<u8>) {
        put_string(out, &self.host_key);
        put_string(out, &self.session_id);
        put_string(out, &self.signature);
        put_bool(out, self.is_forwarding);
    }
}

impl Decode<'_> for SessionBind {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            host_key: r.string("host key")?.to_vec(),
            session_id: r.string("session identifier")?.to_vec(),
            signature: r.string("signature")?.to_vec(),
            is_forwarding: r.bool("is_forwarding")?,
        })
    }
}
