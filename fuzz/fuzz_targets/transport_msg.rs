//! Transport-layer payloads: the first input byte picks the key-exchange
//! context, the rest is the payload. Whatever decodes must re-encode to
//! its announced length and decode again to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssh_wire::Encode;
use ssh_wire::messages::{KexContext, TransportMessage};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    let ctx = match selector % 4 {
        0 => None,
        1 => Some(KexContext::Dh),
        2 => Some(KexContext::Ecdh),
        _ => Some(KexContext::DhGex),
    };
    if let Ok(msg) = TransportMessage::decode(payload, ctx) {
        let bytes = msg.to_bytes();
        assert_eq!(bytes.len(), msg.encoded_len());
        assert_eq!(bytes.first(), Some(&msg.number()));
        let again = TransportMessage::decode(&bytes, ctx).expect("re-encoding must decode");
        assert_eq!(again, msg);
    }
});
