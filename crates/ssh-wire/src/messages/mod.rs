//! The typed SSH message catalogue: one struct per message, one enum per
//! layer.
//!
//! Every message struct implements [`Message`] (its number), [`Encode`](crate::Encode)
//! (the whole payload, message number first) and [`Decode`](crate::Decode) (which checks
//! the number). The layer enums read the number and dispatch:
//!
//! - [`TransportMessage`] (1-49 and OpenSSH's ping/pong, 192/193): numbers
//!   30-49 are read with an explicit [`KexContext`]; unknown numbers become
//!   [`TransportMessage::Unknown`] so the transport can answer them with
//!   `SSH_MSG_UNIMPLEMENTED`.
//! - [`UserauthMessage`] (50-79): numbers 60-79 are read with an explicit
//!   [`AuthContext`].
//! - [`ConnectionMessage`] (80-127): channel data borrows the payload.
//!
//! Name-keyed parts (authentication methods, global requests, channel
//! types, channel requests) each keep an `Unknown` variant holding the name
//! and the raw bytes after it, so they round-trip An `Unknown` built with
//! a name this crate knows encodes fine but decodes as the typed variant.
//!
//! Everything is owned except [`ChannelData`] and [`ChannelExtendedData`],
//! the hot path, which borrow their data from the payload.

mod macros;

pub mod agent;
pub mod channel_request;
pub mod connection;
pub mod global;
pub mod kex;
pub mod transport;
pub mod userauth;

#[cfg(feature = "arbitrary")]
pub mod arb;

pub use agent::SessionBind;
pub use channel_request::{ChannelRequest, ChannelRequestKind, PtyRequest, TerminalModes};
pub use connection::{
    ChannelClose, ChannelData, ChannelEof, ChannelExtendedData, ChannelFailure, ChannelOpen,
    ChannelOpenConfirmation, ChannelOpenFailure, ChannelSuccess, ChannelType, ChannelWindowAdjust,
    ConnectionMessage, OpenFailureReason,
};
pub use global::{GlobalRequest, GlobalRequestKind, RequestFailure, RequestSuccess};
pub use kex::{
    KexContext, KexEcdhInit, KexEcdhReply, KexGexGroup, KexGexInit, KexGexReply, KexGexRequest,
    KexGexRequestOld, KexMessage, KexdhInit, KexdhReply,
};
pub use transport::{
    DebugMessage, Disconnect, DisconnectReason, ExtInfo, Extension, Ignore, KexInit, NewCompress,
    NewKeys, Ping, Pong, ServiceAccept, ServiceRequest, TransportMessage, Unimplemented,
    UnknownMessage,
};
pub use userauth::{
    AuthContext, AuthMethod, InfoPrompt, UserauthBanner, UserauthFailure, UserauthInfoRequest,
    UserauthInfoResponse, UserauthMessage, UserauthPasswdChangereq, UserauthPkOk, UserauthRequest,
    UserauthSuccess,
};

use crate::codec::Reader;
use crate::error::DecodeError;

/// A message with a fixed number.
pub trait Message {
    /// The message number, the first byte of the payload.
    const NUMBER: u8;
    /// The name the RFCs give it, for errors and logs.
    const NAME: &'static str;
}

/// Reads the message number and checks it is `expected`.
pub(crate) fn expect_number(
    r: &mut Reader<'_>,
    expected: u8,
    name: &'static str,
) -> Result<(), DecodeError> {
    let got = r.u8("message number")?;
    if got == expected {
        Ok(())
    } else {
        Err(DecodeError::UnexpectedMessage {
            got,
            expected: name,
        })
    }
}

/// The first byte of a payload, without consuming it.
pub(crate) fn peek_number(payload: &[u8]) -> Result<u8, DecodeError> {
    payload.first().copied().ok_or(DecodeError::UnexpectedEnd {
        what: "message number",
    })
}

/// Reads a uint32 count of items that each take at least `min_item_len`
/// bytes, and checks it against `max` and against the bytes left, so that
/// `Vec::with_capacity(count)` is safe.
pub(crate) fn read_count(
    r: &mut Reader<'_>,
    max: usize,
    min_item_len: usize,
    what: &'static str,
) -> Result<usize, DecodeError> {
    let n = r.u32(what)?;
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    if n > max {
        return Err(DecodeError::TooLong { what, len: n, max });
    }
    if n.saturating_mul(min_item_len) > r.remaining() {
        return Err(DecodeError::UnexpectedEnd { what });
    }
    Ok(n)
}

/// A `Vec<u8>` field as a `string`: its encoded length.
pub(crate) const fn slen(bytes: &[u8]) -> usize {
    4 + bytes.len()
}
