//! Drives the sans-IO sessions of `ssh-session` over async byte streams.
//!
//! - One driver task per connection, generic over any
//!   `futures::io::AsyncRead + AsyncWrite` stream (a TCP socket, an
//!   in-memory pipe): socket bytes go to the session, its output is
//!   written coalesced, its deadline becomes a timer. This is the only
//!   crate of the workspace that reads the clock or touches I/O.
//! - [`Client::connect`] runs the handshake and authentication, asking a
//!   [`ClientHandler`] about the host key, passwords, prompts and
//!   signatures; [`Server::accept`] does the same with a [`ServerHandler`]
//!   (the application's authentication policy).
//! - After authentication both sides hand out [`Channel`]s: futures-io
//!   `AsyncRead`/`AsyncWrite` streams of channel data, with
//!   [`Channel::stderr`] for extended data, requests (`exec`, `pty-req`,
//!   `window-change`, `signal`, ...) as methods, and the exit status.
//!   Flow control is per channel: a channel nobody reads stops its sender
//!   without stopping the others.
//! - [`agent`]: a client of an SSH agent; [`splice()`]: a channel copied
//!   both ways with a local stream.
//!
//! The host's side of `ssh` and `sshd` (processes, PTYs, PAM, forwarding
//! listeners) is in the crates `ssh-os`, `ssh-server-kit` and
//! `ssh-client-kit`; this crate has no unsafe code and links no system
//! library.
//! - [`runtime`]: the runtime is injected, not global: a small
//!   [`runtime::Runtime`] trait (clock, timers, spawning the driver),
//!   with async-std (feature `async-std`, the default), smol (`smol`)
//!   and Tokio (`tokio`). A Tokio program uses `default-features =
//!   false, features = ["tokio"]` and has no async-std in its tree.
//!
//! A client in a few lines:
//!
//! ```no_run
//! use ssh_async::{Client, ClientOptions, SimpleHandler};
//!
//! async fn run() -> Result<(), ssh_async::Error> {
//!     let tcp = async_std::net::TcpStream::connect("127.0.0.1:2222").await?;
//!     let mut handler = SimpleHandler {
//!         host_key_check: Box::new(|_key| true), // check known_hosts here!
//!         keys: Vec::new(),
//!         password: Some("secret".into()),
//!     };
//!     let options = ClientOptions::new("alice", handler.methods());
//!     let client = Client::connect(tcp, options, &mut handler).await?;
//!     let out = client.exec("uname -a").await?;
//!     println!("{}", String::from_utf8_lossy(&out.stdout));
//!     client.disconnect().await
//! }
//! ```
//!
//! A server with its own policy, answering `exec` with the command's
//! length:
//!
//! ```no_run
//! use futures::io::AsyncWriteExt;
//! use ssh_async::{Server, ServerHandler, ServerOptions};
//! use ssh_wire::messages::ChannelRequestKind;
//!
//! struct Policy;
//! impl ServerHandler for Policy {
//!     async fn password(&mut self, user: &str, password: &str) -> bool {
//!         user == "alice" && password == "secret"
//!     }
//! }
//!
//! async fn serve(tcp: async_std::net::TcpStream, keys: Vec<ssh_async::HostKey>)
//!     -> Result<(), ssh_async::Error> {
//!     let conn = Server::accept(tcp, ServerOptions::new(keys), &mut Policy).await?;
//!     while let Some(incoming) = conn.next_channel().await {
//!         let ch = incoming.accept()?;
//!         while let Some(req) = ch.next_request().await {
//!             if let ChannelRequestKind::Exec { command } = &req.kind {
//!                 ch.reply(&req, true)?;
//!                 let mut w = ch.writer();
//!                 w.write_all(format!("{}\n", command.len()).as_bytes()).await?;
//!                 ch.exit_status(0).await?;
//!                 w.close().await?;
//!                 ch.close()?;
//!             } else {
//!                 ch.reply(&req, false)?;
//!             }
//!         }
//!     }
//!     conn.closed().await
//! }
//! ```

#[cfg(unix)]
pub mod agent;
mod aligned;
mod channel;
mod client;
mod driver;
mod error;
mod global;
mod handover;
pub mod runtime;
mod server;
mod splice;
mod state;

pub use aligned::AlignedBuf;
pub use channel::{Channel, ChannelReader, ChannelWriter, IncomingRequest, STDERR};
pub use client::{Client, ClientHandler, ClientOptions, ExecOutput, HostKeyCheck, SimpleHandler};
pub use driver::idle_releases;
pub use error::ConnectionError;
pub use error::Error;
pub use global::IncomingGlobalRequest;
pub use handover::{ExchangeHashSigner, HandOver};
pub use server::{IncomingChannel, Server, ServerConnection, ServerHandler, ServerOptions};
pub use splice::splice;
pub use ssh_connection::ExitStatus;

pub use ssh_auth;
pub use ssh_connection;
pub use ssh_connection::GlobalReply;
pub use ssh_keys;
pub use ssh_session;
pub use ssh_transport;
pub use ssh_transport::HostKey;
pub use ssh_wire;
