//! Client-side forwarding: local (`-L`) and dynamic (`-D`, SOCKS)
//! listeners opening `direct-tcpip`/`direct-streamlocal@openssh.com`
//! channels, remote forwards (`-R`) answering `forwarded-tcpip`
//! channels, the agent (`-A`) and X11 (`-X`) relays, and the splice
//! of a channel with a socket.

mod splice;

pub use splice::splice;
pub mod socks;
