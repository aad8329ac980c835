//! Strategies for fields whose values are constrained (names are US-ASCII;
//! an `Unknown` variant's name must not be one of the known names, or it
//! would decode as the typed variant). Only with the `arbitrary` feature.

use proptest::prelude::*;

/// A US-ASCII name, like a service or algorithm name.
pub fn name() -> BoxedStrategy<String> {
    "[a-z0-9@._-]{1,24}".boxed()
}

/// A name that none of this crate's typed variants uses.
pub fn unknown_name() -> BoxedStrategy<String> {
    "x-[a-z0-9@._-]{0,16}".boxed()
}

/// Short binary data.
pub fn bytes() -> BoxedStrategy<Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..48).boxed()
}

/// A short list of binary blobs (host keys, signatures).
pub fn blobs() -> BoxedStrategy<Vec<Vec<u8>>> {
    proptest::collection::vec(bytes(), 0..5).boxed()
}
