//! The SFTP protocol, version 3 as OpenSSH speaks it
//! (draft-ietf-secsh-filexfer-02 and OpenSSH's `PROTOCOL` §4 extensions),
//! without I/O.
//!
//! - [`message`], [`attrs`], [`extensions`]: every packet as a typed value
//!   with a bounded encoding ([`Packet::encode`], [`Packet::decode`]);
//! - [`framing`]: channel bytes in, whole packets out ([`PacketReader`]);
//! - [`client`]: a [`Client`] state machine, requests with fresh ids, many
//!   in flight, replies matched by id, and pipelined whole-file transfers;
//! - [`server`]: a [`Server`] answering requests from a [`Filesystem`],
//!   with OpenSSH's `internal-sftp` options (read-only, request allow and
//!   deny lists, start directory, umask) and a bound on open handles;
//! - [`memfs`]: an in-memory [`Filesystem`] for tests.
//!
//! Both state machines take bytes with `handle_input` and give bytes with
//! `poll_transmit`; the caller moves them over an SSH channel (the
//! `sftp` subsystem). The server calls its file system synchronously.
//!
//! ```
//! use ssh_sftp::memfs::MemFs;
//! use ssh_sftp::{Client, ClientConfig, Event, OpenFlags, Reply, Server, ServerOptions};
//!
//! let mut fs = MemFs::new();
//! fs.put_file(b"/hello.txt", b"hello")?;
//! let mut server = Server::new(fs, ServerOptions::default());
//! let mut client = Client::new(ClientConfig::default());
//! // Moves bytes both ways until both sides are quiet.
//! let mut pump = |client: &mut Client, server: &mut Server<MemFs>| -> Result<(), Box<dyn std::error::Error>> {
//!     loop {
//!         let (mut up, mut down) = (Vec::new(), Vec::new());
//!         client.poll_transmit(&mut up);
//!         // A server with many replies waiting takes less than all; a
//!         // real caller keeps the rest for later.
//!         assert_eq!(server.handle_input(&up)?, up.len());
//!         server.poll_transmit(&mut down);
//!         client.handle_input(&down)?;
//!         if up.is_empty() && down.is_empty() {
//!             return Ok(());
//!         }
//!     }
//! };
//! pump(&mut client, &mut server)?;
//! assert!(matches!(client.poll_event(), Some(Event::Ready { .. })));
//! let id = client.open(b"/hello.txt", OpenFlags::READ, Default::default())?;
//! pump(&mut client, &mut server)?;
//! let Some(Event::Reply { id: got, reply: Reply::Handle(handle) }) = client.poll_event() else { unreachable!() };
//! assert_eq!(got, id);
//! let transfer = client.download(&handle, 0, None)?;
//! pump(&mut client, &mut server)?;
//! assert_eq!(client.poll_event(), Some(Event::Data { transfer, offset: 0, data: b"hello".to_vec() }));
//! assert_eq!(client.poll_event(), Some(Event::TransferDone { transfer, result: Ok(5) }));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Architecture invariant: this crate depends on `ssh-wire` only, and does
//! no I/O: no sockets, files, clocks or threads. A real file system lives in
//! a host crate (`ssh-server-kit`) behind the [`Filesystem`] trait.
#![forbid(unsafe_code)]

pub mod attrs;
pub mod extensions;
pub mod framing;
pub mod message;
pub mod numbers;

pub use attrs::{Attrs, ExtendedAttr};
pub use extensions::{ExtendedRequest, ExtensionPair, Limits, StatVfs, UsersGroups};
pub use framing::PacketReader;
pub use message::{Handle, NameEntry, Packet, Request, Response};
pub use numbers::{MAX_PACKET_LEN, OpenFlags, SFTP_VERSION, StatusCode};
pub mod fs;
pub mod server;

pub use fs::{CopyError, Filesystem, FsError, FsResult};
pub use server::{LogLevel, MAX_LOG_LINES, Server, ServerError, ServerOptions};
pub mod client;
pub mod memfs;

pub use client::{Client, ClientConfig, Event, Reply, RequestId, TransferId};
