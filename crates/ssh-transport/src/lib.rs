//! The SSH transport layer (RFC 4253), sans-IO.
//!
//! Architecture invariant: this crate does no I/O, reads no clock and uses
//! no runtime. Time comes in as a parameter and randomness from an injected
//! RNG; of the project it depends on `ssh-wire` and `ssh-keys` only (never
//! on `ssh-auth` or `ssh-connection`).

pub mod cipher;
pub mod compress;
pub mod config;
pub mod error;
pub mod event;
#[cfg(fuzzing)]
mod fuzzing;
pub mod host_key;
pub mod kex;
pub mod negotiate;
pub mod rekey;
pub mod transport;

pub use config::{Algorithms, RekeyLimit};
pub use error::Error;
pub use event::Event;
pub use host_key::HostKeyAlgorithm;
pub use transport::{Config, GexConfig, HostKey, Role, Transport, TransportState};
