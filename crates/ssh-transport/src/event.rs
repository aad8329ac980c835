//! What the transport tells its caller.

use ssh_keys::{Certificate, PublicKey, SignatureAlgorithm};
use ssh_wire::messages::transport::ExtInfo;

use crate::negotiate::Negotiated;

/// An event from [`crate::Transport::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A line the server sent before its version line (RFC 4253 §4.2);
    /// OpenSSH shows none, some servers send a notice.
    PreBannerLine(String),
    /// The peer's version line arrived.
    PeerVersion(String),
    /// Client only: the server proved it holds this host key (its signature
    /// over the exchange hash verified). Input processing pauses until the
    /// caller answers with [`crate::Transport::accept_host_key`] or
    /// [`crate::Transport::reject_host_key`]; the transport knows no
    /// known_hosts.
    HostKey {
        /// The key (for a certificate, the certified key).
        key: PublicKey,
        /// The signature algorithm it signed with (for a certificate
        /// algorithm, the plain one: `rsa-sha2-256` for
        /// `rsa-sha2-256-cert-v01@openssh.com`).
        algorithm: SignatureAlgorithm,
        /// The certificate the server presented, when a
        /// `*-cert-v01@openssh.com` algorithm was negotiated: signed by the
        /// CA it names, not yet judged (trusted CA, principals, validity
        /// are the caller's to check).
        certificate: Option<Box<Certificate>>,
    },
    /// Server only, for a host key that signs remotely
    /// ([`ssh_keys::Signer::signs_remotely`]): the exchange hash must be
    /// signed by the key's holder. Input processing pauses until the caller
    /// answers with [`crate::Transport::answer_exchange_hash_signature`];
    /// what to sign is [`crate::Transport::exchange_hash_request`].
    SignExchangeHash,
    /// A key exchange finished in both directions.
    KexDone {
        /// What was negotiated.
        negotiated: Negotiated,
        /// True for the first exchange of the connection.
        first: bool,
    },
    /// Server only: the client asked for a service (`ssh-userauth`). Answer
    /// with [`crate::Transport::accept_service`] or disconnect.
    ServiceRequest(String),
    /// Client only: the server accepted the service we asked for.
    ServiceAccepted(String),
    /// The peer sent SSH_MSG_EXT_INFO (RFC 8308).
    ExtInfo(ExtInfo),
    /// SSH_MSG_DEBUG from the peer.
    Debug {
        /// "If 'always_display' is TRUE, the message SHOULD be displayed."
        always_display: bool,
        /// The text.
        message: String,
    },
    /// The peer did not understand our packet with this sequence number.
    Unimplemented(u32),
    /// An answer to our ping (`ping@openssh.com`).
    Pong(Vec<u8>),
    /// Payloads can be sent again: the queue held during a key exchange
    /// drained.
    Writable,
}
