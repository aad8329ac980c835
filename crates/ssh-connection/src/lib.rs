//! The SSH connection protocol (RFC 4254) without I/O: channels,
//! multiplexing, flow control, channel and global requests.
//!
//! A [`Connection`] sees connection-layer payloads only (message numbers
//! 80-127): no packets, keys, sockets or clocks. Feed it incoming payloads
//! with [`Connection::handle_payload`], drive it with the mutators
//! ([`Connection::open_channel`], [`Connection::send_data`],
//! [`Connection::read`], ...), and drain [`Connection::poll_outgoing`] (into
//! the transport) and [`Connection::poll_event`] (into the application).
//!
//! Received data is buffered per channel until the application reads it;
//! the buffer is bounded by the window we announced, and a WINDOW_ADJUST is
//! sent only as the application consumes data, so a stalled reader stops
//! its own channel and nothing else.
//!
//! Per channel the connection keeps what an application would otherwise
//! copy: its state ([`Connection::channel_state`], `is_opening`,
//! `is_open`, `is_closed`, [`Connection::open_failure`]), EOF
//! ([`Connection::eof_received`]) and how its command ended
//! ([`Connection::exit_status`], from `exit-status`/`exit-signal`, RFC
//! 4254 §6.10).
//!
//! Policies (may this port be forwarded, may this channel have a PTY) are
//! the application's: every open and request it could refuse arrives as an
//! [`Event`] it answers.
//!
//! ```
//! use ssh_connection::{Config, Connection, Event, Role};
//! use ssh_wire::messages::ChannelType;
//!
//! let mut client = Connection::new(Role::Client, Config::default());
//! let mut server = Connection::new(Role::Server, Config::default());
//! let mut payload = Vec::new();
//!
//! let ch = client.open_channel(ChannelType::Session)?;
//! while client.poll_outgoing(&mut payload) {
//!     server.handle_payload(&payload)?;
//! }
//! let Some(Event::OpenRequest { handle, .. }) = server.poll_event() else { unreachable!() };
//! server.accept(handle)?;
//! server.send_data(handle, b"hello")?;
//! while server.poll_outgoing(&mut payload) {
//!     client.handle_payload(&payload)?;
//! }
//! assert_eq!(client.poll_event(), Some(Event::OpenConfirmed { handle: ch }));
//! assert_eq!(client.poll_event(), Some(Event::Readable { handle: ch }));
//! let mut buf = [0; 16];
//! let n = client.read(ch, &mut buf)?;
//! assert_eq!(&buf[..n], b"hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Architecture invariant: this crate depends on `ssh-wire` only.

mod channel;
mod config;
mod connection;
mod error;
mod event;
mod id;
pub mod window;

pub use channel::{ChannelState, ExitStatus};
pub use config::{Config, DEFAULT_MAX_PACKET, DEFAULT_MAX_WINDOW, DEFAULT_WINDOW};
pub use connection::{ChannelInfo, Connection, QUEUED_PAYLOAD_COST, Role, SendGrant};
pub use error::{ApiError, Error, ProtocolError};
pub use event::{Event, GlobalReply};
pub use id::{ChannelHandle, LocalId, RemoteId, RequestId};
pub use window::WindowError;
