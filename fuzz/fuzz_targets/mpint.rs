//! `mpint` decoding: only canonical encodings are accepted, so what
//! decodes re-encodes to exactly the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssh_wire::{Decode, Encode, Mpint};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Mpint::decode_exact(data) {
        let bytes = m.to_bytes();
        assert_eq!(bytes.len(), m.encoded_len());
        assert_eq!(bytes, data);
        assert_eq!(
            Mpint::decode_exact(&bytes).expect("re-encoding must decode"),
            m
        );
        if let Some(magnitude) = m.positive_be() {
            assert_eq!(Mpint::from_positive_be(magnitude), m);
        }
    }
});
