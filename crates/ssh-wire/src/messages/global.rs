//! Global requests (RFC 4254 §4, §7.1; OpenSSH `PROTOCOL` §2.2, §2.4,
//! §2.5) and their replies.

use crate::codec::{Decode, Reader, put_bool, put_string, put_u32};
use crate::error::DecodeError;
use crate::messages::macros::{impl_message, unit_message};
use crate::messages::slen;
use crate::msg;

#[cfg(feature = "arbitrary")]
use proptest_derive::Arbitrary;

/// The most host keys accepted in one `hostkeys-00@openssh.com` or
/// `hostkeys-prove-00@openssh.com` request or reply.
pub const MAX_HOSTKEYS: usize = 256;

/// Global request name of RFC 4254 §7.1.
pub const REQ_TCPIP_FORWARD: &str = "tcpip-forward";
/// Global request name of RFC 4254 §7.1.
pub const REQ_CANCEL_TCPIP_FORWARD: &str = "cancel-tcpip-forward";
/// OpenSSH `PROTOCOL` §2.4.
pub const REQ_STREAMLOCAL_FORWARD: &str = "streamlocal-forward@openssh.com";
/// OpenSSH `PROTOCOL` §2.4.
pub const REQ_CANCEL_STREAMLOCAL_FORWARD: &str = "cancel-streamlocal-forward@openssh.com";
/// OpenSSH's keep-alive probe; any reply, even a failure, proves liveness.
pub const REQ_KEEPALIVE: &str = "keepalive@openssh.com";
/// OpenSSH `PROTOCOL` §2.2.
pub const REQ_NO_MORE_SESSIONS: &str = "no-more-sessions@openssh.com";
/// OpenSSH `PROTOCOL` §2.5: the server's host keys, after authentication.
pub const REQ_HOSTKEYS: &str = "hostkeys-00@openssh.com";
/// OpenSSH `PROTOCOL` §2.5: the client asks for proof of possession.
pub const REQ_HOSTKEYS_PROVE: &str = "hostkeys-prove-00@openssh.com";

fn read_blobs(r: &mut Reader<'_>, what: &'static str) -> Result<Vec<Vec<u8>>, DecodeError> {
    let mut out = Vec::new();
    while !r.is_empty() {
        if out.len() == MAX_HOSTKEYS {
            return Err(DecodeError::TooLong {
                what,
                len: MAX_HOSTKEYS + 1,
                max: MAX_HOSTKEYS,
            });
        }
        out.push(r.string(what)?.to_vec());
    }
    Ok(out)
}

fn blobs_len(blobs: &[Vec<u8>]) -> usize {
    blobs.iter().map(|b| slen(b)).sum()
}

fn put_blobs(out: &mut Vec<u8>, blobs: &[Vec<u8>]) {
    for b in blobs {
        put_string(out, b);
    }
}

/// The request-specific part of `SSH_MSG_GLOBAL_REQUEST`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
#[non_exhaustive]
pub enum GlobalRequestKind {
    /// `tcpip-forward` (RFC 4254 §7.1); port 0 asks the server to choose.
    TcpipForward {
        /// "address to bind (e.g., "0.0.0.0")".
        address: String,
        /// "port number to bind".
        port: u32,
    },
    /// `cancel-tcpip-forward` (RFC 4254 §7.1).
    CancelTcpipForward {
        /// "address to bind".
        address: String,
        /// "port number to bind".
        port: u32,
    },
    /// `streamlocal-forward@openssh.com`.
    StreamlocalForward {
        /// "socket path".
        socket_path: String,
    },
    /// `cancel-streamlocal-forward@openssh.com`.
    CancelStreamlocalForward {
        /// "socket path".
        socket_path: String,
    },
    /// `keepalive@openssh.com`: no fields.
    Keepalive,
    /// `no-more-sessions@openssh.com`: no fields.
    NoMoreSessions,
    /// `hostkeys-00@openssh.com`: "string[] hostkeys", to the end.
    HostKeys {
        /// Public host key blobs.
        #[cfg_attr(
            feature = "arbitrary",
            proptest(strategy = "crate::messages::arb::blobs()")
        )]
        keys: Vec<Vec<u8>>,
    },
    /// `hostkeys-prove-00@openssh.com`: the keys to prove, to the end.
    HostKeysProve {
        /// Public host key blobs.
        #[cfg_attr(
            feature = "arbitrary",
            proptest(strategy = "crate::messages::arb::blobs()")
        )]
        keys: Vec<Vec<u8>>,
    },
    /// Any other request: its name and raw fields.
    Unknown {
        /// The request name.
        #[cfg_attr(
            feature = "arbitrary",
            proptest(strategy = "crate::messages::arb::unknown_name()")
        )]
        name: String,
        /// The request-specific data, unparsed.
        rest: Vec<u8>,
    },
}

impl GlobalRequestKind {
    /// The request name as on the wire.
    pub fn name(&self) -> &str {
        match self {
            Self::TcpipForward { .. } => REQ_TCPIP_FORWARD,
            Self::CancelTcpipForward { .. } => REQ_CANCEL_TCPIP_FORWARD,
            Self::StreamlocalForward { .. } => REQ_STREAMLOCAL_FORWARD,
            Self::CancelStreamlocalForward { .. } => REQ_CANCEL_STREAMLOCAL_FORWARD,
            Self::Keepalive => REQ_KEEPALIVE,
            Self::NoMoreSessions => REQ_NO_MORE_SESSIONS,
            Self::HostKeys { .. } => REQ_HOSTKEYS,
            Self::HostKeysProve { .. } => REQ_HOSTKEYS_PROVE,
            Self::Unknown { name, .. } => name,
        }
    }

    fn fields_len(&self) -> usize {
        match self {
            Self::TcpipForward { address, .. } | Self::CancelTcpipForward { address, .. } => {
                slen(address.as_bytes()) + 4
            }
            Self::StreamlocalForward { socket_path }
            | Self::CancelStreamlocalForward { socket_path } => slen(socket_path.as_bytes()),
            Self::Keepalive | Self::NoMoreSessions => 0,
            Self::HostKeys { keys } | Self::HostKeysProve { keys } => blobs_len(keys),
            Self::Unknown { rest, .. } => rest.len(),
        }
    }

    fn encode_fields(&self, out: &mut Vec<u8>) {
        match self {
            Self::TcpipForward { address, port } | Self::CancelTcpipForward { address, port } => {
                put_string(out, address.as_bytes());
                put_u32(out, *port);
            }
            Self::StreamlocalForward { socket_path }
            | Self::CancelStreamlocalForward { socket_path } => {
                put_string(out, socket_path.as_bytes());
            }
            Self::Keepalive | Self::NoMoreSessions => {}
            Self::HostKeys { keys } | Self::HostKeysProve { keys } => put_blobs(out, keys),
            Self::Unknown { rest, .. } => out.extend_from_slice(rest),
        }
    }

    fn decode_fields(name: &str, r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match name {
            REQ_TCPIP_FORWARD => Self::TcpipForward {
                address: r.utf8("address to bind")?.to_owned(),
                port: r.u32("port to bind")?,
            },
            REQ_CANCEL_TCPIP_FORWARD => Self::CancelTcpipForward {
                address: r.utf8("address to bind")?.to_owned(),
                port: r.u32("port to bind")?,
            },
            REQ_STREAMLOCAL_FORWARD => Self::StreamlocalForward {
                socket_path: r.utf8("socket path")?.to_owned(),
            },
            REQ_CANCEL_STREAMLOCAL_FORWARD => Self::CancelStreamlocalForward {
                socket_path: r.utf8("socket path")?.to_owned(),
            },
            REQ_KEEPALIVE => Self::Keepalive,
            REQ_NO_MORE_SESSIONS => Self::NoMoreSessions,
            REQ_HOSTKEYS => Self::HostKeys {
                keys: read_blobs(r, "host key")?,
            },
            REQ_HOSTKEYS_PROVE => Self::HostKeysProve {
                keys: read_blobs(r, "host key")?,
            },
            other => Self::Unknown {
                name: other.to_owned(),
                rest: r.take_rest().to_vec(),
            },
        })
    }
}

/// `SSH_MSG_GLOBAL_REQUEST` (RFC 4254 §4).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct GlobalRequest {
    /// Whether the peer must answer with REQUEST_SUCCESS or FAILURE.
    pub want_reply: bool,
    /// The request and its fields.
    pub request: GlobalRequestKind,
}

impl GlobalRequest {
    fn body_len(&self) -> usize {
        slen(self.request.name().as_bytes()) + 1 + self.request.fields_len()
    }
    fn encode_body(&self, out: &mut Vec<u8>) {
        put_string(out, self.request.name().as_bytes());
        put_bool(out, self.want_reply);
        self.request.encode_fields(out);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let name = r.ascii("request name")?;
        let want_reply = r.bool("want reply")?;
        let request = GlobalRequestKind::decode_fields(name, r)?;
        Ok(Self {
            want_reply,
            request,
        })
    }
}
impl_message!(
    GlobalRequest,
    msg::SSH_MSG_GLOBAL_REQUEST,
    "SSH_MSG_GLOBAL_REQUEST"
);

/// `SSH_MSG_REQUEST_SUCCESS` (RFC 4254 §4): "port that was bound on the
/// server" for `tcpip-forward` with port 0, the signatures for
/// `hostkeys-prove-00@openssh.com`, usually nothing. What the data means
/// depends on the request it answers, so it is kept raw, with typed
/// helpers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct RequestSuccess {
    /// "response specific data".
    pub data: Vec<u8>,
}

impl RequestSuccess {
    /// A reply to `tcpip-forward` with the port the server bound.
    pub fn with_port(port: u32) -> Self {
        Self {
            data: port.to_be_bytes().to_vec(),
        }
    }

    /// The bound port, when this answers `tcpip-forward` with port 0.
    pub fn bound_port(&self) -> Result<u32, DecodeError> {
        u32::decode_exact(&self.data)
    }

    /// A reply to `hostkeys-prove-00@openssh.com`: one signature per key,
    /// in the order of the request.
    pub fn with_signatures(signatures: &[Vec<u8>]) -> Self {
        let mut data = Vec::with_capacity(blobs_len(signatures));
        put_blobs(&mut data, signatures);
        Self { data }
    }

    /// The signatures, when this answers `hostkeys-prove-00@openssh.com`.
    pub fn hostkey_signatures(&self) -> Result<Vec<Vec<u8>>, DecodeError> {
        read_blobs(&mut Reader::new(&self.data), "host key signature")
    }

    fn body_len(&self) -> usize {
        self.data.len()
    }
    fn encode_body(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.data);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            data: r.take_rest().to_vec(),
        })
    }
}
impl_message!(
    RequestSuccess,
    msg::SSH_MSG_REQUEST_SUCCESS,
    "SSH_MSG_REQUEST_SUCCESS"
);

unit_message!(
    /// `SSH_MSG_REQUEST_FAILURE` (RFC 4254 §4).
    RequestFailure,
    msg::SSH_MSG_REQUEST_FAILURE,
    "SSH_MSG_REQUEST_FAILURE"
);
