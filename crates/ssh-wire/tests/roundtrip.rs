//! Property tests: every message encodes to exactly `encoded_len` bytes,
//! decodes back to itself (alone and through its layer enum), and an extra
//! trailing byte is never taken as the same message.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use proptest::prelude::*;
use ssh_wire::messages::*;
use ssh_wire::{Decode, DecodeError, Encode};

/// Encodes, checks the length, decodes, compares; then appends a byte and
/// checks that the result is an error (`strict`) or at least not the same
/// message (for types ending in raw "rest" bytes that absorb it).
fn check<T>(msg: &T, strict: bool) -> Result<(), TestCaseError>
where
    T: Encode + for<'a> Decode<'a> + PartialEq + core::fmt::Debug,
{
    let bytes = msg.to_bytes();
    prop_assert_eq!(bytes.len(), msg.encoded_len());
    let back = T::decode_exact(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&back, msg);
    let mut extra = bytes;
    extra.push(0);
    match T::decode_exact(&extra) {
        Err(_) => {}
        Ok(v) => {
            prop_assert!(!strict, "trailing byte accepted");
            prop_assert_ne!(&v, msg);
        }
    }
    Ok(())
}

macro_rules! roundtrip {
    ($($name:ident: $ty:ty, $strict:expr;)*) => {
        proptest! {
            $(
                #[test]
                fn $name(msg in any::<$ty>()) {
                    check(&msg, $strict)?;
                }
            )*
        }
    };
}

roundtrip! {
    disconnect: Disconnect, true;
    ignore: Ignore, true;
    unimplemented: Unimplemented, true;
    debug: DebugMessage, true;
    service_request: ServiceRequest, true;
    service_accept: ServiceAccept, true;
    ext_info: ExtInfo, true;
    new_compress: NewCompress, true;
    kexinit: KexInit, true;
    newkeys: NewKeys, true;
    ping: Ping, true;
    pong: Pong, true;
    kexdh_init: KexdhInit, true;
    kexdh_reply: KexdhReply, true;
    kex_ecdh_init: KexEcdhInit, true;
    kex_ecdh_reply: KexEcdhReply, true;
    gex_request_old: KexGexRequestOld, true;
    gex_request: KexGexRequest, true;
    gex_group: KexGexGroup, true;
    gex_init: KexGexInit, true;
    gex_reply: KexGexReply, true;
    userauth_request: UserauthRequest, false;
    userauth_failure: UserauthFailure, true;
    userauth_success: UserauthSuccess, true;
    userauth_banner: UserauthBanner, true;
    userauth_pk_ok: UserauthPkOk, true;
    userauth_passwd_changereq: UserauthPasswdChangereq, true;
    userauth_info_request: UserauthInfoRequest, true;
    userauth_info_response: UserauthInfoResponse, true;
    global_request: GlobalRequest, false;
    request_success: RequestSuccess, false;
    request_failure: RequestFailure, true;
    channel_open: ChannelOpen, false;
    channel_open_confirmation: ChannelOpenConfirmation, false;
    channel_open_failure: ChannelOpenFailure, true;
    channel_window_adjust: ChannelWindowAdjust, true;
    channel_eof: ChannelEof, true;
    channel_close: ChannelClose, true;
    channel_request: ChannelRequest, false;
    channel_success: ChannelSuccess, true;
    channel_failure: ChannelFailure, true;
    session_bind: SessionBind, true;
}

/// Requests whose typed variants have no raw tail reject a trailing byte.
fn typed_request_is_strict(kind: &ChannelRequestKind) -> bool {
    !matches!(kind, ChannelRequestKind::Unknown { .. })
}

proptest! {
    #[test]
    fn userauth_request_typed_methods_are_strict(msg in any::<UserauthRequest>()) {
        let strict = !matches!(msg.method, AuthMethod::Unknown { .. });
        check(&msg, strict)?;
    }

    #[test]
    fn channel_request_typed_kinds_are_strict(msg in any::<ChannelRequest>()) {
        let strict = typed_request_is_strict(&msg.request);
        check(&msg, strict)?;
    }

    #[test]
    fn channel_open_typed_kinds_are_strict(msg in any::<ChannelOpen>()) {
        let strict = !matches!(msg.channel_type, ChannelType::Unknown { .. });
        check(&msg, strict)?;
    }

    #[test]
    fn global_request_typed_kinds_are_strict(msg in any::<GlobalRequest>()) {
        // The host-key lists run to the end of the message, so a trailing
        // byte is an incomplete string there: still an error.
        let strict = !matches!(msg.request, GlobalRequestKind::Unknown { .. });
        check(&msg, strict)?;
    }

    #[test]
    fn channel_data(recipient in any::<u32>(), data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let msg = ChannelData { recipient, data: &data };
        check_borrowed(&msg.to_bytes(), msg.encoded_len())?;
        let bytes = msg.to_bytes();
        prop_assert_eq!(ChannelData::decode_exact(&bytes).unwrap(), msg);
    }

    #[test]
    fn channel_extended_data(recipient in any::<u32>(), data_type in any::<u32>(), data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let msg = ChannelExtendedData { recipient, data_type, data: &data };
        check_borrowed(&msg.to_bytes(), msg.encoded_len())?;
        let bytes = msg.to_bytes();
        prop_assert_eq!(ChannelExtendedData::decode_exact(&bytes).unwrap(), msg);
    }

    #[test]
    fn transport_enum(msg in any::<TransportMessage>()) {
        let ctx = match &msg {
            TransportMessage::Kex(k) => Some(k.context()),
            _ => None,
        };
        let bytes = msg.to_bytes();
        prop_assert_eq!(bytes.len(), msg.encoded_len());
        prop_assert_eq!(bytes[0], msg.number());
        let back = TransportMessage::decode(&bytes, ctx).unwrap();
        prop_assert_eq!(&back, &msg);
        let mut extra = bytes;
        extra.push(0);
        match TransportMessage::decode(&extra, ctx) {
            Err(e) => prop_assert!(matches!(e, DecodeError::TrailingBytes { .. }), "{e}"),
            Ok(v) => {
                prop_assert!(matches!(msg, TransportMessage::Unknown(_)));
                prop_assert_ne!(v, msg);
            }
        }
    }

    #[test]
    fn kex_enum(msg in any::<KexMessage>()) {
        let bytes = msg.to_bytes();
        prop_assert_eq!(KexMessage::decode(&bytes, msg.context()).unwrap(), msg.clone());
        let mut extra = bytes;
        extra.push(0);
        prop_assert!(KexMessage::decode(&extra, msg.context()).is_err());
    }

    #[test]
    fn userauth_enum(msg in any::<UserauthMessage>(), other in any::<AuthContext>()) {
        let ctx = msg.context().unwrap_or(other);
        let bytes = msg.to_bytes();
        prop_assert_eq!(bytes.len(), msg.encoded_len());
        prop_assert_eq!(bytes[0], msg.number());
        prop_assert_eq!(UserauthMessage::decode(&bytes, ctx).unwrap(), msg.clone());
        let mut extra = bytes;
        extra.push(0);
        match UserauthMessage::decode(&extra, ctx) {
            Err(_) => {}
            Ok(v) => {
                let tail = matches!(&msg, UserauthMessage::Request(r) if matches!(r.method, AuthMethod::Unknown { .. }));
                prop_assert!(tail);
                prop_assert_ne!(v, msg);
            }
        }
    }

    #[test]
    fn connection_enum(bytes in connection_payload()) {
        let msg = ConnectionMessage::decode(&bytes).unwrap();
        prop_assert_eq!(msg.number(), bytes[0]);
        prop_assert_eq!(msg.encoded_len(), bytes.len());
        prop_assert_eq!(msg.to_bytes(), bytes.clone());
        let mut extra = bytes.clone();
        extra.push(0);
        if let Ok(v) = ConnectionMessage::decode(&extra) {
            prop_assert_ne!(v.to_bytes(), bytes);
        }
    }
}

fn check_borrowed(bytes: &[u8], len: usize) -> Result<(), TestCaseError> {
    prop_assert_eq!(bytes.len(), len);
    let mut extra = bytes.to_vec();
    extra.push(0);
    prop_assert!(ConnectionMessage::decode(&extra).is_err());
    Ok(())
}

/// The encoding of any connection message (channel data is borrowed, so the
/// strategy yields bytes rather than messages).
fn connection_payload() -> impl Strategy<Value = Vec<u8>> {
    let data = proptest::collection::vec(any::<u8>(), 0..64);
    prop_oneof![
        any::<GlobalRequest>().prop_map(|m| m.to_bytes()),
        any::<RequestSuccess>().prop_map(|m| m.to_bytes()),
        any::<RequestFailure>().prop_map(|m| m.to_bytes()),
        any::<ChannelOpen>().prop_map(|m| m.to_bytes()),
        any::<ChannelOpenConfirmation>().prop_map(|m| m.to_bytes()),
        any::<ChannelOpenFailure>().prop_map(|m| m.to_bytes()),
        any::<ChannelWindowAdjust>().prop_map(|m| m.to_bytes()),
        (any::<u32>(), data.clone()).prop_map(|(recipient, d)| ChannelData {
            recipient,
            data: &d
        }
        .to_bytes()),
        (any::<u32>(), any::<u32>(), data).prop_map(|(recipient, data_type, d)| {
            ChannelExtendedData {
                recipient,
                data_type,
                data: &d,
            }
            .to_bytes()
        }),
        any::<ChannelEof>().prop_map(|m| m.to_bytes()),
        any::<ChannelClose>().prop_map(|m| m.to_bytes()),
        any::<ChannelRequest>().prop_map(|m| m.to_bytes()),
        any::<ChannelSuccess>().prop_map(|m| m.to_bytes()),
        any::<ChannelFailure>().prop_map(|m| m.to_bytes()),
    ]
}
