//! The client's side of an `ssh` on the local machine: what `ssh` does
//! with the host's sockets and programs beside a session.
//!
//! - [`Listeners`], [`serve_local`] and [`serve_dynamic`]: local (`-L`)
//!   and dynamic (`-D`, SOCKS) listeners opening `direct-tcpip` and
//!   `direct-streamlocal@openssh.com` channels;
//! - [`socks`]: the SOCKS4/4a/5 parser, without I/O;
//! - [`Dispatcher`]: the server's channel opens for remote forwards
//!   (`-R`, `forwarded-tcpip`), the agent (`-A`) and X11 (`-X`);
//! - [`x11`]: the X11 relay (fake cookie checked, a real one from `xauth`
//!   put in its place: the display's own for `-Y`, an untrusted one made
//!   by `xauth generate` for `-X`).
//!
//! The SSH protocol is `ssh-async`'s; sockets come from its default
//! runtime (async-std).

mod dispatch;
mod local;
pub mod sftp;
pub mod socks;
pub mod x11;
mod xauth;

pub use dispatch::Dispatcher;
pub use local::{Listeners, serve_dynamic, serve_local};
