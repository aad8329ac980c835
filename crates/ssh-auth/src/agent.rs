//! The client side of the SSH agent protocol (draft-miller-ssh-agent,
//! OpenSSH `PROTOCOL.agent`), as a codec over bytes: the async layer
//! carries [`AgentClient::poll_transmit`] to the agent's Unix socket and
//! feeds what comes back to [`AgentClient::handle_input`].
//!
//! Every frame is `uint32 length, byte type, contents`; lengths are
//! bounded before anything is buffered beyond them.

use std::collections::VecDeque;

use ssh_keys::{PublicKey, SignatureAlgorithm};
use ssh_wire::Reader;
use ssh_wire::codec::{put_string, put_u32};
use ssh_wire::messages::SessionBind;

/// The largest frame accepted from the agent (OpenSSH `AGENT_MAX_LEN`).
pub const MAX_AGENT_FRAME: usize = 256 * 1024;
/// The most identities accepted in one answer.
pub const MAX_IDENTITIES: usize = 1024;
/// The most requests outstanding at once.
pub const MAX_PENDING: usize = 16;

const SSH_AGENT_FAILURE: u8 = 5;
const SSH_AGENT_SUCCESS: u8 = 6;
const SSH_AGENTC_REQUEST_IDENTITIES: u8 = 11;
const SSH_AGENT_IDENTITIES_ANSWER: u8 = 12;
const SSH_AGENTC_SIGN_REQUEST: u8 = 13;
const SSH_AGENT_SIGN_RESPONSE: u8 = 14;
const SSH_AGENT_EXTENSION_FAILURE: u8 = 28;
/// Sign flag: RSA with SHA-256 (`rsa-sha2-256`).
pub const SSH_AGENT_RSA_SHA2_256: u32 = 2;
/// Sign flag: RSA with SHA-512 (`rsa-sha2-512`).
pub const SSH_AGENT_RSA_SHA2_512: u32 = 4;

/// One key the agent holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The key blob as the agent sent it.
    pub blob: Vec<u8>,
    /// The comment.
    pub comment: String,
    /// The parsed key, if its type is one this crate knows
    /// (certificates and security keys are `None`).
    pub key: Option<PublicKey>,
}

/// An answer from the agent, in request order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AgentResponse {
    /// The answer to [`AgentClient::request_identities`].
    Identities(Vec<Identity>),
    /// The answer to [`AgentClient::sign`]: a signature blob whose
    /// algorithm name was checked against the request.
    Signature(Vec<u8>),
    /// SSH_AGENT_SUCCESS (to an extension request).
    Success,
    /// SSH_AGENT_FAILURE (or EXTENSION_FAILURE): the agent refused.
    Failure,
}

/// The agent broke the protocol, or the caller misused the client.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AgentError {
    /// A malformed or unexpected frame from the agent.
    Protocol(String),
    /// A frame longer than [`MAX_AGENT_FRAME`].
    FrameTooLarge(usize),
    /// Too many requests outstanding.
    TooManyPending,
}

impl core::fmt::Display for AgentError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Protocol(why) => write!(f, "agent protocol error: {why}"),
            Self::FrameTooLarge(n) => write!(f, "agent frame of {n} bytes is too large"),
            Self::TooManyPending => f.write_str("too many agent requests outstanding"),
        }
    }
}

impl std::error::Error for AgentError {}

#[derive(Debug)]
enum Pending {
    Identities,
    Sign(SignatureAlgorithm),
    Extension,
}

/// The agent client codec and state machine.
#[derive(Debug, Default)]
pub struct AgentClient {
    inbuf: Vec<u8>,
    out: Vec<u8>,
    pending: VecDeque<Pending>,
    responses: VecDeque<AgentResponse>,
    error: Option<AgentError>,
}

fn protocol(why: impl Into<String>) -> AgentError {
    AgentError::Protocol(why.into())
}

impl AgentClient {
    /// A client with nothing sent yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn frame(&mut self, pending: Pending, body: &[u8]) -> Result<(), AgentError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if self.pending.len() >= MAX_PENDING {
            return Err(AgentError::TooManyPending);
        }
        put_u32(
            &mut self.out,
            u32::try_from(body.len()).map_err(|_| AgentError::FrameTooLarge(body.len()))?,
        );
        self.out.extend_from_slice(body);
        self.pending.push_back(pending);
        Ok(())
    }

    /// Queues SSH_AGENTC_REQUEST_IDENTITIES.
    pub fn request_identities(&mut self) -> Result<(), AgentError> {
        self.frame(Pending::Identities, &[SSH_AGENTC_REQUEST_IDENTITIES])
    }

    /// Queues SSH_AGENTC_SIGN_REQUEST for `key_blob` over `data` with
    /// `algorithm` (the RSA flags select SHA-256 or SHA-512).
    pub fn sign(
        &mut self,
        key_blob: &[u8],
        algorithm: SignatureAlgorithm,
        data: &[u8],
    ) -> Result<(), AgentError> {
        if data.len() > MAX_AGENT_FRAME / 2 {
            return Err(AgentError::FrameTooLarge(data.len()));
        }
        let flags = match algorithm {
            SignatureAlgorithm::RsaSha256 => SSH_AGENT_RSA_SHA2_256,
            SignatureAlgorithm::RsaSha512 => SSH_AGENT_RSA_SHA2_512,
            _ => 0,
        };
        let mut body = vec![SSH_AGENTC_SIGN_REQUEST];
        put_string(&mut body, key_blob);
        put_string(&mut body, data);
        put_u32(&mut body, flags);
        self.frame(Pending::Sign(algorithm), &body)
    }

    /// Queues the `session-bind@openssh.com` extension (OpenSSH
    /// `PROTOCOL.agent` §1).
    pub fn session_bind(&mut self, bind: &SessionBind) -> Result<(), AgentError> {
        self.frame(Pending::Extension, &bind.to_agent_request())
    }

    /// The bytes to write to the agent socket (empty if none).
    pub fn poll_transmit(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.out)
    }

    /// The next complete answer, if any.
    pub fn poll_response(&mut self) -> Option<AgentResponse> {
        self.responses.pop_front()
    }

    /// True while answers are outstanding.
    pub fn is_waiting(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Feeds bytes read from the agent socket.
    pub fn handle_input(&mut self, bytes: &[u8]) -> Result<(), AgentError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        self.inbuf.extend_from_slice(bytes);
        loop {
            let Some(len) = self.inbuf.get(..4) else {
                return Ok(());
            };
            let len = len
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            if len > MAX_AGENT_FRAME {
                return self.fail(AgentError::FrameTooLarge(len));
            }
            if len == 0 {
                return self.fail(protocol("empty frame"));
            }
            let Some(frame) = self.inbuf.get(4..4 + len) else {
                return Ok(());
            };
            let frame = frame.to_vec();
            self.inbuf.drain(..4 + len);
            if let Err(e) = self.handle_frame(&frame) {
                return self.fail(e);
            }
        }
    }

    fn fail(&mut self, e: AgentError) -> Result<(), AgentError> {
        self.error = Some(e.clone());
        self.inbuf.clear();
        Err(e)
    }

    fn handle_frame(&mut self, frame: &[u8]) -> Result<(), AgentError> {
        let pending = self
            .pending
            .pop_front()
            .ok_or_else(|| protocol("answer without a request"))?;
        let mut r = Reader::new(frame);
        let kind = r
            .u8("agent message type")
            .map_err(|e| protocol(e.to_string()))?;
        let bad = |e: ssh_wire::DecodeError| protocol(e.to_string());
        let response = match (kind, &pending) {
            (SSH_AGENT_FAILURE, _) | (SSH_AGENT_EXTENSION_FAILURE, Pending::Extension) => {
                AgentResponse::Failure
            }
            (SSH_AGENT_SUCCESS, Pending::Extension) => AgentResponse::Success,
            (SSH_AGENT_IDENTITIES_ANSWER, Pending::Identities) => {
                let n = r.u32("nkeys").map_err(bad)?;
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                // Each identity is at least two uint32 lengths.
                if n > MAX_IDENTITIES || n > r.remaining() / 8 {
                    return Err(protocol("identity count too large"));
                }
                let mut ids = Vec::with_capacity(n);
                for _ in 0..n {
                    let blob = r.string("key blob").map_err(bad)?.to_vec();
                    let comment =
                        String::from_utf8_lossy(r.string("comment").map_err(bad)?).into_owned();
                    let key = PublicKey::from_blob(&blob).ok();
                    ids.push(Identity { blob, comment, key });
                }
                AgentResponse::Identities(ids)
            }
            (SSH_AGENT_SIGN_RESPONSE, Pending::Sign(alg)) => {
                let sig = r.string("signature").map_err(bad)?.to_vec();
                let (name, _) = ssh_keys::parse_signature_blob(&sig)
                    .map_err(|e| protocol(format!("signature blob: {e}")))?;
                if name != alg.name() {
                    return Err(protocol(format!(
                        "agent signed with {name}, {} was asked for",
                        alg.name()
                    )));
                }
                AgentResponse::Signature(sig)
            }
            (other, _) => return Err(protocol(format!("unexpected agent message {other}"))),
        };
        r.finish("agent message").map_err(bad)?;
        self.responses.push_back(response);
        Ok(())
    }
}
