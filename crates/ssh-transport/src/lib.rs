//! The SSH transport layer (RFC 4253), sans-IO.
//!
//! Architecture invariant: this crate does no I/O, reads no clock and uses
//! no runtime. Time comes in as a parameter and randomness from an injected
//! RNG; it depends on `ssh-wire` and on no other crate of the project.
pub mod cipher;
pub mod compress;
pub mod kex;
