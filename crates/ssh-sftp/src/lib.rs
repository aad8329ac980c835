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
pub use server::{Server, ServerError, ServerOptions};
pub mod client;
pub mod memfs;

pub use client::{Client, ClientConfig, Event, Reply, RequestId, TransferId};
