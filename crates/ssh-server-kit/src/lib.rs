//! The server's side of an `sshd` on the host: what `sshd` does with
//! processes, terminals, users and sockets once a user is authenticated.
//!
//! - [`session`] serves `session` channels with real processes (shell,
//!   exec, subsystem, PTY, environment, signals, exit status) as the
//!   user, with X11 and agent forwarding for the session;
//! - [`forward`] serves the `direct-tcpip` and
//!   `direct-streamlocal@openssh.com` channels and the `tcpip-forward`
//!   and `streamlocal-forward@openssh.com` listeners under a
//!   [`forward::ForwardPolicy`] (sshd's settings and the key's options),
//!   every socket made as the user;
//! - [`penalties`] keeps sshd's per-source penalties (`PerSourcePenalties`).
//!
//! The SSH protocol is `ssh-async`'s; the operating system (users,
//! PTYs, spawning with privilege drop, the as-user sockets helper) is
//! `ssh-os`'s. This crate has no unsafe code.

pub mod forward;
pub mod penalties;
pub mod session;
pub mod sftp;

pub use session::{SessionPolicy, serve_session};
