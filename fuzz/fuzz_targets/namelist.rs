//! `name-list` decoding: what decodes re-encodes to the same bytes (the
//! text form has a single spelling).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssh_wire::{Decode, Encode, NameList};

fuzz_target!(|data: &[u8]| {
    if let Ok(list) = NameList::decode_exact(data) {
        let bytes = list.to_bytes();
        assert_eq!(bytes.len(), list.encoded_len());
        assert_eq!(bytes, data);
        assert_eq!(
            NameList::decode_exact(&bytes).expect("re-encoding must decode"),
            list
        );
        assert_eq!(
            NameList::parse(&list.to_string()).expect("text must parse"),
            list
        );
    }
});
