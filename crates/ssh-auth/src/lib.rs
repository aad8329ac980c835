//! SSH user authentication, sans-IO: the RFC 4252 / RFC 4256 client and
//! server state machines, and the key material and trust stores they use.
//!
//! | module | what | specification |
//! | --- | --- | --- |
//! | [`client`] | [`client::ClientAuth`]: none, publickey (query, then signature), password (and change), keyboard-interactive | RFC 4252 §5-8, RFC 4256, RFC 8308 §3.1 (`server-sig-algs`) |
//! | [`server`] | [`server::ServerAuth`]: the same methods, partial success, attempt limit, failure delay, deadline | RFC 4252, RFC 4256, OpenSSH `AuthenticationMethods`, `PROTOCOL` §3.1 (host-bound) |
//! | [`keyfile`] | private key files (`openssh-key-v1`, PEM PKCS#1/SEC1/PKCS#8, encrypted PKCS#8), public key files, generation | OpenSSH `PROTOCOL.key`, RFC 8017, RFC 5915, RFC 5958, RFC 4716 |
//! | [`known_hosts`] | host key lookups | `sshd(8)` SSH_KNOWN_HOSTS FILE FORMAT |
//! | [`authorized_keys`] | user keys and their options as data | `sshd(8)` AUTHORIZED_KEYS FILE FORMAT |
//! | [`cert`] | OpenSSH certificates | OpenSSH `PROTOCOL.certkeys` |
//! | [`agent`] | agent client codec | draft-miller-ssh-agent, OpenSSH `PROTOCOL.agent` |
//!
//! The state machines follow the project's vocabulary: `handle_*` for
//! input, `poll_*` for output, answers to events as methods. The session
//! id is a value given at construction; time is a parameter.
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
pub mod pattern;
pub mod server;

pub use error::AuthError;
