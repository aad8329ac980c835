//! Connection-protocol payloads (and the agent's session-bind contents);
//! decode, re-encode, decode again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssh_wire::messages::{ConnectionMessage, SessionBind};
use ssh_wire::{Decode, Encode};

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = ConnectionMessage::decode(data) {
        let bytes = msg.to_bytes();
        assert_eq!(bytes.len(), msg.encoded_len());
        assert_eq!(bytes.first(), Some(&msg.number()));
        let again = ConnectionMessage::decode(&bytes).expect("re-encoding must decode");
        assert_eq!(again, msg);
    }
    if let Ok(bind) = SessionBind::decode_exact(data) {
        let again = SessionBind::decode_exact(&bind.to_bytes()).expect("re-encoding must decode");
        assert_eq!(again, bind);
    }
});
