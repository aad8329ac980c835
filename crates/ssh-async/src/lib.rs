//! Drives the sans-IO sessions of `ssh-session` over async byte streams.
//!
//! What exists:
//! - one driver per connection, generic over any
//!   `futures::io::AsyncRead + AsyncWrite + Unpin` stream (a TCP socket,
//!   an in-memory pipe): socket bytes go to `handle_input`,
//!   `poll_transmit` output is written coalesced, `poll_timeout` becomes a
//!   timer that calls `handle_timeout` with the current time. This is the
//!   only crate of the workspace that reads the clock or touches I/O;
//! - [`Client`]: [`Client::connect`] runs the handshake, checks the host
//!   key with the application's callback and authenticates with
//!   `publickey` (in-memory [`ssh_keys::PrivateKey`]s) and/or `password`;
//!   [`Client::exec`] / [`Client::exec_with_stdin`] run one command on a
//!   `session` channel and collect stdout, stderr and the exit status;
//! - [`Server`]: [`Server::accept`] runs the handshake and `password`
//!   authentication with the application's check; [`Server::serve`]
//!   answers `exec` requests on `session` channels by calling a handler
//!   closure with the command and the whole stdin (collected until EOF,
//!   at most [`MAX_STDIN`] bytes), then sends stdout, stderr (extended
//!   data 1), `exit-status`, EOF and CLOSE;
//! - [`runtime`]: the few things taken from async-std (clock, timers,
//!   tasks). async-std is discontinued upstream (RUSTSEC-2025-0052):
//!   switching runtimes touches only that module.
//!
//! What does not exist yet: channels as `AsyncRead`/`AsyncWrite` objects,
//! several commands at once on one client, shells, PTYs, processes,
//! subsystems, port forwarding, agent forwarding, keepalives, OpenSSH
//! interop tests, the `rssh`/`rsshd` binaries. On a fatal session error
//! the session's DISCONNECT is written only as far as the stream takes it
//! without waiting (best effort), then the error is returned.
//!
//! ```no_run
//! use ssh_async::{Client, ClientOptions};
//!
//! async fn run() -> Result<(), ssh_async::Error> {
//!     let tcp = async_std::net::TcpStream::connect("127.0.0.1:2222").await?;
//!     let options = ClientOptions {
//!         user: "alice".into(),
//!         host_key_check: Box::new(|_key| true), // check known_hosts here!
//!         password: Some("secret".into()),
//!         keys: Vec::new(),
//!     };
//!     let mut client = Client::connect(tcp, options).await?;
//!     let out = client.exec("uname -a").await?;
//!     println!("{}", String::from_utf8_lossy(&out.stdout));
//!     Ok(())
//! }
//! ```

mod client;
mod driver;
mod error;
pub mod os;
pub mod runtime;
mod server;

pub use client::{Client, ClientOptions, ExecOutput, HostKeyCheck};
pub use error::Error;
pub use server::{ExecHandler, MAX_STDIN, PasswordCheck, Server, ServerOptions};

pub use ssh_keys;
pub use ssh_session;
pub use ssh_transport::HostKey;
