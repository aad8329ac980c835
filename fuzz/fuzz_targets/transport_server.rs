//! A server `Transport` fed arbitrary client bytes (see common/transport.rs
//! for what is asserted).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common/host_key.rs"]
mod host_key;
#[path = "../common/transport.rs"]
mod transport;

fuzz_target!(|data: &[u8]| transport::run(true, data));
