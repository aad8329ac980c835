//! One SSH connection as a sans-IO composition of the transport
//! (`ssh-transport`), user authentication (`ssh-auth`) and the connection
//! protocol (`ssh-connection`).
//!
//! [`ClientSession`] and [`ServerSession`] each own one transport, one
//! authentication state machine and, after authentication succeeded, one
//! connection. They speak the layers' vocabulary:
//! `handle_input(now, bytes) -> consumed`, `poll_transmit(&mut Vec<u8>)`,
//! `poll_event()`, `poll_timeout()`, `handle_timeout(now)`. Time is a
//! parameter and randomness an injected RNG; nothing here reads a clock or
//! touches a socket.
//!
//! What the session does:
//! - routes each upper-layer payload by number: 50-79 to authentication,
//!   80-127 to the connection;
//! - enforces the order of the layers (design.md, security invariants):
//!   an authentication message before the `ssh-userauth` service was
//!   accepted, or a connection message before authentication succeeded,
//!   ends the session with a protocol error and a DISCONNECT; a
//!   client-sent USERAUTH_SUCCESS is refused by `ssh-auth`'s server, and
//!   requests after success are ignored there (RFC 4252 §5.1);
//! - client: after the first key exchange asks for `ssh-userauth`, starts
//!   [`ssh_auth::client::ClientAuth`] when it is accepted (with the
//!   server's `server-sig-algs` from EXT_INFO), and on success calls the
//!   transport's `set_authenticated` and starts the connection;
//! - server: accepts `ssh-userauth` (and nothing else), runs
//!   [`ssh_auth::server::ServerAuth`], and right after USERAUTH_SUCCESS went
//!   into the transport calls `set_authenticated` and starts the
//!   connection;
//! - moves the output of authentication and the connection into the
//!   transport in order; when the transport says `WouldBlock` (a key
//!   exchange holds too much) the refused payload waits in the session and
//!   the rest stays in the connection's own bounded queue until the
//!   transport's `Writable`;
//! - client: asks the application about the server's host key once, at
//!   the first key exchange; at each re-key it accepts the same key by
//!   itself and ends the session on another one
//!   ([`Error::HostKeyChanged`], DISCONNECT with HOST_KEY_NOT_VERIFIABLE);
//! - keepalive (`set_keepalive`, [`KeepaliveConfig`]): OpenSSH's
//!   Server/ClientAliveInterval and CountMax, after authentication, on the
//!   time passed in; replies to our probes are consumed here;
//! - merges deadlines (transport re-key timer; server: held-back auth
//!   FAILURE and the login deadline);
//! - one typed, `#[non_exhaustive]` [`Error`] wrapping the layers' errors;
//!   a failed session stays failed.
//!
//! Events: [`ClientSessionEvent`] / [`ServerSessionEvent`] merge the
//! transport's informational events, the host key question (client), the
//! authentication events (answered with the sessions' methods of the same
//! names), `Authenticated`, and the connection's events (channels are
//! driven through `connection_mut()`; its output reaches the transport at
//! the next `poll_transmit` or `flush`).
//!
//! An unknown connection message number (80-127 unassigned) is answered
//! with SSH_MSG_UNIMPLEMENTED (RFC 4253 §11.4) and the session goes on.
//!
//! Known limits:
//! - no idle timeout of its own;
//! - `transport_mut()` exposes the transport for tests and for what the
//!   session does not wrap (pings, counters); payloads sent through it
//!   bypass the session's ordering.
//!
//! Tested by an in-memory client/server pair (`tests/`): password and
//! ed25519 publickey authentication, an `exec` session channel, 100
//! channels at once with one never read, forced, volume- and
//! time-triggered re-keys with data in flight, delayed compression, and
//! the ordering violations above.
//!
//! Architecture invariant: no I/O, no clock, no runtime; depends on the
//! three protocol crates, `ssh-wire` and `ssh-keys` only.

mod client;
mod error;
mod handover;
mod layers;
mod server;
mod tuner;

pub use client::{ClientSession, ClientSessionEvent};
pub use error::Error;
pub use layers::{KeepaliveConfig, SERVICE_USERAUTH};
pub use server::{ServerSession, ServerSessionEvent};

pub use ssh_auth;
pub use ssh_connection;
pub use ssh_transport;
