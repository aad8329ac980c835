//! The operating system: users, PTYs, processes, signals, terminals.
//!
//! What the `rsshd` server and the `rssh` client need from the machine,
//! and the only place of the workspace that touches processes, terminals
//! and the user database. Unix (Linux) only.
//!
//! - [`user`]: the password database and group lists.
//! - [`password`]: checking a password with PAM, on a blocking thread.
//! - [`pty`]: pseudo-terminals for sessions, their master side as async
//!   streams, RFC 4254 §8 terminal modes applied.
//! - [`process`]: spawning a session's program in a new session, on a PTY
//!   or on pipes, as another user; its exit status as RFC 4254 §6.10 has it.
//! - [`signal`]: RFC 4254 signal names and async streams of SIGWINCH and
//!   SIGTERM/SIGINT.
//! - [`terminal`]: the client's own terminal: size, modes, raw mode,
//!   prompts with and without echo.
//!
//! Unsafe code is limited to [`process`]'s `pre_exec` hook (code run in the
//! child between fork and exec); everything else goes through `nix` and
//! `rustix`.

#[cfg(unix)]
mod modes;
#[cfg(unix)]
pub mod password;
#[cfg(unix)]
pub mod process;
#[cfg(unix)]
pub mod pty;
#[cfg(unix)]
pub mod signal;
#[cfg(unix)]
pub mod sockets;
#[cfg(unix)]
pub mod terminal;
#[cfg(unix)]
pub mod user;
