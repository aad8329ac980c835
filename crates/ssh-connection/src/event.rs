//! What the connection tells the application.

use ssh_wire::messages::{ChannelRequestKind, ChannelType, GlobalRequestKind, OpenFailureReason};

use crate::id::{ChannelHandle, RequestId};

/// The outcome of a global request: what the peer replied, or what the
/// application answers to the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GlobalReply {
    /// `SSH_MSG_REQUEST_FAILURE`.
    Failure,
    /// `SSH_MSG_REQUEST_SUCCESS` with no data.
    Success,
    /// `SSH_MSG_REQUEST_SUCCESS` for `tcpip-forward` with port 0: "the port
    /// that was bound on the server" (RFC 4254 §7.1).
    BoundPort(u32),
    /// `SSH_MSG_REQUEST_SUCCESS` for `hostkeys-prove-00@openssh.com`: one
    /// signature per key, in request order.
    HostKeySignatures(Vec<Vec<u8>>),
}

/// Something the application must know or answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The peer asks to open a channel; answer with
    /// [`crate::Connection::accept`] or [`crate::Connection::reject`]. Known
    /// types only: unknown types are refused automatically.
    OpenRequest {
        /// The new channel.
        handle: ChannelHandle,
        /// Its type and fields (forward target, originator, ...).
        channel_type: ChannelType,
    },
    /// The peer confirmed a channel we opened.
    OpenConfirmed {
        /// The channel.
        handle: ChannelHandle,
    },
    /// The peer refused a channel we opened. The handle is stale from now
    /// on; nothing to release.
    OpenFailed {
        /// The (now stale) channel.
        handle: ChannelHandle,
        /// RFC 4254 §5.1 reason code.
        reason: OpenFailureReason,
        /// The peer's description.
        description: String,
    },
    /// Channel data arrived in an empty data buffer. Sent once until that
    /// buffer was read empty again, whatever the extended-data buffer
    /// holds.
    Readable {
        /// The channel.
        handle: ChannelHandle,
    },
    /// Extended data (stderr) arrived in an empty extended-data buffer.
    /// Sent once until that buffer was read empty again.
    ReadableExtended {
        /// The channel.
        handle: ChannelHandle,
    },
    /// A channel whose last send was cut short can send again.
    Writable {
        /// The channel.
        handle: ChannelHandle,
    },
    /// The peer sent EOF: no more data will arrive after what is buffered.
    Eof {
        /// The channel.
        handle: ChannelHandle,
    },
    /// CLOSE went both ways. Buffered data can still be read; then call
    /// [`crate::Connection::release`].
    Closed {
        /// The channel.
        handle: ChannelHandle,
    },
    /// The peer sent a channel request. With `id`, the peer wants a reply:
    /// answer with [`crate::Connection::answer_channel_request`] (replies
    /// go out in request order). Unknown requests are not reported; those
    /// that want a reply are refused automatically. `exit-status` and
    /// `exit-signal` are recorded by the connection
    /// ([`crate::Connection::exit_status`]) and reported here with `id`
    /// `None`: a reply, if one was wanted against RFC 4254 §6.10, was
    /// already sent (FAILURE).
    ChannelRequest {
        /// The channel.
        handle: ChannelHandle,
        /// Set when a reply is wanted.
        id: Option<RequestId>,
        /// The request.
        request: ChannelRequestKind,
    },
    /// The reply to one of our channel requests.
    ChannelReply {
        /// The channel.
        handle: ChannelHandle,
        /// The request.
        id: RequestId,
        /// SUCCESS or FAILURE.
        success: bool,
    },
    /// The peer sent a global request. With `id`, answer with
    /// [`crate::Connection::answer_global_request`].
    GlobalRequest {
        /// Set when a reply is wanted.
        id: Option<RequestId>,
        /// The request.
        request: GlobalRequestKind,
    },
    /// The reply to one of our global requests.
    GlobalReply {
        /// The request.
        id: RequestId,
        /// The reply, typed by the request it answers.
        reply: GlobalReply,
    },
}
