//! User-authentication payloads: the first input byte picks the method
//! context, the rest is the payload; decode, re-encode, decode again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssh_wire::Encode;
use ssh_wire::messages::{AuthContext, UserauthMessage};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    let ctx = match selector % 4 {
        0 => AuthContext::None,
        1 => AuthContext::PublicKey,
        2 => AuthContext::Password,
        _ => AuthContext::KeyboardInteractive,
    };
    if let Ok(msg) = UserauthMessage::decode(payload, ctx) {
        let bytes = msg.to_bytes();
        assert_eq!(bytes.len(), msg.encoded_len());
        let again = UserauthMessage::decode(&bytes, ctx).expect("re-encoding must decode");
        assert_eq!(again, msg);
    }
});
