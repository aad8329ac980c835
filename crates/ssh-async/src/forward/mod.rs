//! Client-side forwarding: local (`-L`) and dynamic (`-D`, SOCKS)
//! listeners opening `direct-tcpip`/`direct-streamlocal@openssh.com`
//! channels, remote forwards (`-R`) answering `forwarded-tcpip`
//! channels, the agent (`-A`) and X11 (`-X`) relays, and the splice
//! of a channel with a socket.

mod dispatch;
mod local;
pub mod socks;
mod splice;
pub mod x11;

pub use dispatch::Dispatcher;
pub use local::{Listeners, serve_dynamic, serve_local};
pub use splice::splice;
