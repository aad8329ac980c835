//! SSH user authentication, sans-IO: the RFC 4252 / RFC 4256 client and
//! server state machines, and the key material and trust stores they use.
//!
//! - [`client::ClientAuth`] and [`server::ServerAuth`]: the state
//!   machines. Payloads in, payloads and events out; the application
//!   answers events (sign this, check that password). The session id is a
//!   value given at construction; time is a parameter.
//! - [`keyfile`]: OpenSSH (`openssh-key-v1`, encrypted or not), PEM
//!   PKCS#1 / SEC1 / PKCS#8 private keys; public key files; key
//!   generation.
//! - [`known_hosts`]: host key lookups (plain, hashed, patterns, markers).
//! - [`authorized_keys`]: user keys with their options as data.
//!
//! Architecture invariant: no I/O. Files are parsed from text the caller
//! read and written as text the caller stores; no clock (time is a
//! parameter) and no OS randomness (an RNG is passed in). This crate
//! depends on `ssh-wire` and `ssh-keys`, never on the transport or the
//! connection layer.

pub mod agent;
pub mod authorized_keys;
pub mod cert;
pub mod client;
mod error;
pub mod keyfile;
pub mod known_hosts;
mod pattern;
pub mod server;

pub use error::AuthError;
