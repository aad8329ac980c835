//! OpenSSH configuration files, sans-IO: the client's `ssh_config(5)` and
//! the server's `sshd_config(5)`.
//!
//! | module | what |
//! | --- | --- |
//! | [`client`] | [`client::ClientConfig`] (parsed file), [`client::resolve`] -> [`client::ClientSettings`] (what `ssh -G` prints) |
//! | [`server`] | [`server::ServerConfig`] (parsed file), [`server::ServerConfig::resolve`] -> [`server::ServerSettings`] (what `sshd -T` prints) |
//! | [`algo`] | [`AlgorithmSpec`]: `Ciphers`-style lists with `+`, `-`, `^` and wildcards |
//! | [`forward`] | `LocalForward`/`RemoteForward`/`DynamicForward` and `-L`/`-R`/`-D` specifications |
//!
//! Both dialects share the line syntax: case-insensitive keywords,
//! `Key Value` or `Key=Value`, `"quoted"` arguments, `#` comments, and
//! `Include` (glob patterns allowed). Every line is checked when the file
//! is parsed, also inside blocks that will not match, as OpenSSH does;
//! resolution then takes the first obtained value of each option.
//!
//! Architecture invariant: no I/O. Files are read through the caller's
//! [`Loader`] (the binaries implement it with `std::fs` and a glob); the
//! environment, the clock and the user database are never consulted:
//! whatever they would provide comes in a query value.

pub mod algo;
pub mod client;
mod error;
pub mod forward;
mod include;
mod lex;
pub mod server;
mod tokens;
mod values;

pub use algo::{AlgoKind, AlgorithmSpec};
pub use error::ConfigError;
pub use forward::{Endpoint, Forward, ForwardKind, parse_forward_spec};
pub use values::{LogLevel, RekeyLimit};

use std::path::{Path, PathBuf};

/// Where configuration files come from: the caller implements it (with
/// `std::fs` in the binaries, with a map in tests).
pub trait Loader {
    /// Contents of one file (for Include and the top-level files).
    fn read(&mut self, path: &Path) -> std::io::Result<String>;
    /// Paths matching a glob pattern (Include with wildcards), sorted.
    fn glob(&mut self, pattern: &Path) -> std::io::Result<Vec<PathBuf>>;
}
