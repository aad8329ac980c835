//! The SFTP client as a sans-IO state machine.
//!
//! Method classes, as the other protocol crates: [`Client::handle_input`]
//! takes bytes from the channel; the mutators ([`Client::request`] and its
//! shorthands, [`Client::download`], [`Client::upload`],
//! [`Client::upload_write`], [`Client::upload_finish`]) queue requests;
//! [`Client::poll_transmit`] gives the bytes to send and
//! [`Client::poll_event`] what happened. After each `handle_input` or
//! mutator, drain `poll_transmit`, then `poll_event`.
//!
//! Every request gets a fresh id; any number may be in flight, and replies
//! are matched by id in whatever order they come ("The server MAY process
//! requests in any order", draft-02 §6.1). A reply to an id not in flight,
//! or of a type the request cannot have, is a [`ProtocolError`], and the
//! client stays failed.

mod outgoing;
mod transfer;

use std::collections::{HashMap, VecDeque};
use std::fmt;

use ssh_wire::DecodeError;

use self::outgoing::Outgoing;
use self::transfer::{Download, Upload};
use crate::attrs::Attrs;
use crate::extensions::{ExtendedRequest, ExtensionPair, Limits, StatVfs, UsersGroups, names};
use crate::framing::PacketReader;
use crate::message::{Handle, NameEntry, Packet, Request, Response};
use crate::numbers::{MAX_DATA_LEN, OpenFlags, SFTP_VERSION, StatusCode};

/// OpenSSH's `sftp` defaults: `-B 32768`, `-R 64`.
pub const DEFAULT_CHUNK_SIZE: u32 = 32 * 1024;
/// Requests in flight per transfer at the start by default.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;
/// The most bytes of READs or WRITEs a transfer's pipeline grows to.
pub const DEFAULT_MAX_BYTES_IN_FLIGHT: u64 = 16 * 1024 * 1024;

/// How the client transfers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientConfig {
    /// Bytes per READ or WRITE of a transfer; lowered to the server's
    /// `limits@openssh.com` values when it offers them.
    pub chunk_size: u32,
    /// READs or WRITEs in flight per transfer at its start.
    pub max_in_flight: usize,
    /// What a transfer's pipeline may grow to, in bytes: while every READ
    /// or WRITE the transfer may have is in flight when a reply comes (the
    /// pipeline, not the server or the application, sets the pace), each
    /// reply lets one more go, which doubles the requests in flight per
    /// round trip (TCP's slow start), up to this many bytes' worth. At or
    /// below `max_in_flight` chunks: a fixed pipeline, as `sftp -R`.
    pub max_bytes_in_flight: u64,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            chunk_size: DEFAULT_CHUNK_SIZE,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            max_bytes_in_flight: DEFAULT_MAX_BYTES_IN_FLIGHT,
        }
    }
}

/// The id of a request, echoed by its reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u32);

/// A transfer started with [`Client::download`] or [`Client::upload`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransferId(u64);

/// A STATUS other than success, or any STATUS as a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The code.
    pub code: StatusCode,
    /// The server's message.
    pub message: String,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// An EXTENDED_REPLY read by the request it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtendedReply {
    /// To `statvfs@openssh.com` or `fstatvfs@openssh.com`.
    StatVfs(StatVfs),
    /// To `limits@openssh.com`.
    Limits(Limits),
    /// To `users-groups-by-id@openssh.com`.
    UsersGroups(UsersGroups),
    /// To an extension this crate does not know.
    Other(Vec<u8>),
}

/// The reply to a request made with [`Client::request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// STATUS (success included).
    Status(Status),
    /// HANDLE, to OPEN or OPENDIR.
    Handle(Handle),
    /// DATA, to READ.
    Data(Vec<u8>),
    /// NAME, to READDIR, REALPATH, READLINK, `expand-path`,
    /// `home-directory`.
    Name(Vec<NameEntry>),
    /// ATTRS, to STAT, LSTAT, FSTAT.
    Attrs(Attrs),
    /// EXTENDED_REPLY.
    Extended(ExtendedReply),
}

/// What the application learns from [`Client::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The server answered INIT (and `limits@openssh.com`, when offered):
    /// requests may be made.
    Ready {
        /// The server's extensions.
        extensions: Vec<ExtensionPair>,
        /// Its limits, when it offered them.
        limits: Option<Limits>,
    },
    /// The reply to a request.
    Reply {
        /// The request's id.
        id: RequestId,
        /// The reply.
        reply: Reply,
    },
    /// Downloaded bytes, in file order.
    Data {
        /// The transfer.
        transfer: TransferId,
        /// Where they are in the file.
        offset: u64,
        /// The bytes.
        data: Vec<u8>,
    },
    /// An upload that refused bytes has room again.
    Writable {
        /// The transfer.
        transfer: TransferId,
    },
    /// A transfer ended: the bytes moved, or the server's error.
    TransferDone {
        /// The transfer.
        transfer: TransferId,
        /// How many bytes were read (to end of file or the length asked)
        /// or written.
        result: Result<u64, Status>,
    },
}

/// The server broke the protocol; the client has failed and stays failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A packet did not decode.
    Decode(DecodeError),
    /// The server's version is not 3 ("the server responds with ... the
    /// lowest of its own and the client's version number").
    Version {
        /// The version it sent.
        version: u32,
    },
    /// A packet the server never sends now (a request, a second VERSION,
    /// a reply before VERSION).
    UnexpectedPacket {
        /// Its type.
        packet_type: u8,
    },
    /// A reply whose id is not in flight.
    UnknownRequestId {
        /// The id.
        id: u32,
    },
    /// A reply of a type the request cannot have (DATA to a STAT, say).
    UnexpectedReply {
        /// The request id.
        id: u32,
        /// What the request allows besides STATUS.
        expected: &'static str,
        /// The packet type that came.
        got: u8,
    },
    /// More DATA than the READ asked for.
    TooMuchData {
        /// The request id.
        id: u32,
        /// Bytes asked.
        asked: u32,
        /// Bytes sent.
        got: usize,
    },
    /// An EXTENDED_REPLY that does not decode as its request's reply.
    BadExtendedReply {
        /// The request id.
        id: u32,
        /// Why.
        error: DecodeError,
    },
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Decode(e) => write!(f, "bad SFTP packet from the server: {e}"),
            Self::Version { version } => write!(f, "server speaks SFTP version {version}, not 3"),
            Self::UnexpectedPacket { packet_type } => {
                write!(f, "unexpected packet type {packet_type} from the server")
            }
            Self::UnknownRequestId { id } => {
                write!(f, "reply to request {id}, which is not in flight")
            }
            Self::UnexpectedReply { id, expected, got } => {
                write!(
                    f,
                    "reply type {got} to request {id}, which expects STATUS or {expected}"
                )
            }
            Self::TooMuchData { id, asked, got } => {
                write!(
                    f,
                    "{got} bytes of DATA to request {id}, which asked for {asked}"
                )
            }
            Self::BadExtendedReply { id, error } => {
                write!(f, "bad extended reply to request {id}: {error}")
            }
        }
    }
}

impl std::error::Error for ProtocolError {}

/// The application called something not allowed now; the client is
/// unaffected (unless [`ApiError::Failed`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiError {
    /// Before [`Event::Ready`].
    NotReady,
    /// The client failed earlier.
    Failed(ProtocolError),
    /// The request does not fit a packet.
    TooLarge,
    /// No such transfer (or it is over).
    UnknownTransfer,
    /// The transfer is of the other direction.
    WrongDirection,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotReady => f.write_str("the SFTP session is not initialised yet"),
            Self::Failed(e) => write!(f, "the SFTP session failed: {e}"),
            Self::TooLarge => f.write_str("the request is larger than an SFTP packet"),
            Self::UnknownTransfer => f.write_str("no such transfer"),
            Self::WrongDirection => f.write_str("the transfer goes the other way"),
        }
    }
}

impl std::error::Error for ApiError {}

/// What the reply to a request may be besides STATUS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Status,
    Handle,
    Data,
    Name,
    Attrs,
    StatVfs,
    Limits,
    UsersGroups,
    Extended,
}

impl Expect {
    fn of(request: &Request) -> Self {
        use ExtendedRequest as E;
        match request {
            Request::Open { .. } | Request::Opendir { .. } => Self::Handle,
            Request::Read { .. } => Self::Data,
            Request::Readdir { .. } | Request::Realpath { .. } | Request::Readlink { .. } => {
                Self::Name
            }
            Request::Stat { .. } | Request::Lstat { .. } | Request::Fstat { .. } => Self::Attrs,
            Request::Extended(e) => match e {
                E::Statvfs { .. } | E::Fstatvfs { .. } => Self::StatVfs,
                E::Limits => Self::Limits,
                E::UsersGroupsById { .. } => Self::UsersGroups,
                E::ExpandPath { .. } | E::HomeDirectory { .. } => Self::Name,
                E::Unknown { .. } => Self::Extended,
                _ => Self::Status,
            },
            _ => Self::Status,
        }
    }

    const fn name(self) -> &'static str {
        match self {
            Self::Status => "nothing else",
            Self::Handle => "HANDLE",
            Self::Data => "DATA",
            Self::Name => "NAME",
            Self::Attrs => "ATTRS",
            Self::StatVfs | Self::Limits | Self::UsersGroups | Self::Extended => "EXTENDED_REPLY",
        }
    }
}

/// Who waits for a reply.
#[derive(Debug, Clone, Copy)]
enum Pending {
    /// The application, through [`Event::Reply`].
    User(Expect),
    /// The client itself, for the limits before `Ready`.
    Limits,
    /// A download's READ.
    Read {
        transfer: TransferId,
        offset: u64,
        len: u32,
    },
    /// An upload's WRITE.
    Write { transfer: TransferId, len: u32 },
}

#[derive(Debug)]
enum Transfer {
    Download(Download),
    Upload(Upload),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitVersion,
    AwaitLimits,
    Ready,
}

/// The SFTP client of one channel.
#[derive(Debug)]
pub struct Client {
    config: ClientConfig,
    state: State,
    failed: Option<ProtocolError>,
    input: PacketReader,
    out: Outgoing,
    events: VecDeque<Event>,
    extensions: Vec<ExtensionPair>,
    limits: Option<Limits>,
    transfers: HashMap<TransferId, Transfer>,
    next_transfer: u64,
}

impl Client {
    /// A client; its INIT is already queued for [`Client::poll_transmit`].
    pub fn new(config: ClientConfig) -> Self {
        let mut out = Outgoing::default();
        // INIT is nine bytes: it always encodes.
        let _ = Packet::Init {
            version: SFTP_VERSION,
            extensions: Vec::new(),
        }
        .encode(&mut out.bytes);
        Self {
            config,
            state: State::AwaitVersion,
            failed: None,
            input: PacketReader::default(),
            out,
            events: VecDeque::new(),
            extensions: Vec::new(),
            limits: None,
            transfers: HashMap::new(),
            next_transfer: 0,
        }
    }

    /// True once [`Event::Ready`] was queued.
    pub fn is_ready(&self) -> bool {
        self.state == State::Ready
    }

    /// True when the server announced the extension (by wire name).
    pub fn has_extension(&self, name: &str) -> bool {
        self.extensions.iter().any(|e| e.name == name.as_bytes())
    }

    /// The server's limits, when it offered `limits@openssh.com`.
    pub const fn limits(&self) -> Option<Limits> {
        self.limits
    }

    /// Requests in flight (the transfers' included).
    pub fn in_flight(&self) -> usize {
        self.out.pending.len()
    }

    /// Takes bytes from the channel. A protocol error is sticky.
    pub fn handle_input(&mut self, data: &[u8]) -> Result<(), ProtocolError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.input.handle_input(data);
        loop {
            let packet = match self.input.poll_packet() {
                Ok(Some(body)) => Packet::decode(body),
                Ok(None) => return Ok(()),
                Err(e) => Err(e),
            };
            let result = packet
                .map_err(ProtocolError::Decode)
                .and_then(|p| self.handle_packet(p));
            if let Err(e) = result {
                self.failed = Some(e.clone());
                return Err(e);
            }
        }
    }

    /// Appends the bytes to send to `out`; false when there were none.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> bool {
        if self.out.bytes.is_empty() {
            return false;
        }
        if out.is_empty() {
            // The usual case: hand the queue over without copying it.
            core::mem::swap(out, &mut self.out.bytes);
        } else {
            out.append(&mut self.out.bytes);
        }
        true
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn check_ready(&self) -> Result<(), ApiError> {
        if let Some(e) = &self.failed {
            return Err(ApiError::Failed(e.clone()));
        }
        if self.state != State::Ready {
            return Err(ApiError::NotReady);
        }
        Ok(())
    }

    /// Sends any request; its reply comes as [`Event::Reply`] with the
    /// returned id.
    pub fn request(&mut self, request: Request) -> Result<RequestId, ApiError> {
        self.check_ready()?;
        let expect = Expect::of(&request);
        self.out
            .send(request, Pending::User(expect))
            .map(RequestId)
            .map_err(|_| ApiError::TooLarge)
    }

    /// SSH_FXP_OPEN.
    pub fn open(
        &mut self,
        path: &[u8],
        flags: OpenFlags,
        attrs: Attrs,
    ) -> Result<RequestId, ApiError> {
        self.request(Request::Open {
            filename: path.to_vec(),
            flags,
            attrs,
        })
    }

    /// SSH_FXP_CLOSE.
    pub fn close(&mut self, handle: &Handle) -> Result<RequestId, ApiError> {
        self.request(Request::Close {
            handle: handle.clone(),
        })
    }

    /// SSH_FXP_STAT.
    pub fn stat(&mut self, path: &[u8]) -> Result<RequestId, ApiError> {
        self.request(Request::Stat {
            path: path.to_vec(),
        })
    }

    /// SSH_FXP_REALPATH.
    pub fn realpath(&mut self, path: &[u8]) -> Result<RequestId, ApiError> {
        self.request(Request::Realpath {
            path: path.to_vec(),
        })
    }

    /// SSH_FXP_OPENDIR.
    pub fn opendir(&mut self, path: &[u8]) -> Result<RequestId, ApiError> {
        self.request(Request::Opendir {
            path: path.to_vec(),
        })
    }

    /// SSH_FXP_READDIR.
    pub fn readdir(&mut self, handle: &Handle) -> Result<RequestId, ApiError> {
        self.request(Request::Readdir {
            handle: handle.clone(),
        })
    }

    /// SSH_FXP_REMOVE.
    pub fn remove(&mut self, path: &[u8]) -> Result<RequestId, ApiError> {
        self.request(Request::Remove {
            filename: path.to_vec(),
        })
    }

    /// The chunk size of reads: ours, bounded by the server's limits (or by
    /// what fits a packet).
    fn read_chunk(&self) -> u32 {
        let limit = self.limits.map_or(0, |l| l.max_read_len);
        bound_chunk(self.config.chunk_size, limit)
    }

    fn write_chunk(&self) -> u32 {
        let limit = self.limits.map_or(0, |l| l.max_write_len);
        bound_chunk(self.config.chunk_size, limit)
    }

    /// Starts reading an open file from `offset`, `len` bytes or to its
    /// end: [`Event::Data`] in file order, then [`Event::TransferDone`].
    pub fn download(
        &mut self,
        handle: &Handle,
        offset: u64,
        len: Option<u64>,
    ) -> Result<TransferId, ApiError> {
        self.check_ready()?;
        let id = self.new_transfer_id();
        let chunk = self.read_chunk();
        let mut d = Download::new(
            handle.clone(),
            offset,
            len,
            chunk,
            self.config.pipeline(chunk),
        );
        if !d.progress(id, &mut self.out, &mut self.events) {
            self.transfers.insert(id, Transfer::Download(d));
        }
        Ok(id)
    }

    /// Starts writing an open file from `offset`; feed it with
    /// [`Client::upload_write`], end it with [`Client::upload_finish`].
    pub fn upload(&mut self, handle: &Handle, offset: u64) -> Result<TransferId, ApiError> {
        self.check_ready()?;
        let id = self.new_transfer_id();
        let chunk = self.write_chunk();
        let u = Upload::new(handle.clone(), offset, chunk, self.config.pipeline(chunk));
        self.transfers.insert(id, Transfer::Upload(u));
        Ok(id)
    }

    /// Bytes [`Client::upload_write`] would take now.
    pub fn upload_capacity(&self, transfer: TransferId) -> Result<usize, ApiError> {
        match self.transfers.get(&transfer) {
            Some(Transfer::Upload(u)) => Ok(u.capacity()),
            Some(Transfer::Download(_)) => Err(ApiError::WrongDirection),
            None => Err(ApiError::UnknownTransfer),
        }
    }

    /// Takes as much of `data` as the window allows and returns how much;
    /// when that is less than all, [`Event::Writable`] follows when there
    /// is room.
    pub fn upload_write(&mut self, transfer: TransferId, data: &[u8]) -> Result<usize, ApiError> {
        if let Some(e) = &self.failed {
            return Err(ApiError::Failed(e.clone()));
        }
        match self.transfers.get_mut(&transfer) {
            Some(Transfer::Upload(u)) => Ok(u.write(transfer, &mut self.out, data)),
            Some(Transfer::Download(_)) => Err(ApiError::WrongDirection),
            None => Err(ApiError::UnknownTransfer),
        }
    }

    /// No more data: [`Event::TransferDone`] follows once every WRITE is
    /// acknowledged.
    pub fn upload_finish(&mut self, transfer: TransferId) -> Result<(), ApiError> {
        if let Some(e) = &self.failed {
            return Err(ApiError::Failed(e.clone()));
        }
        let Some(Transfer::Upload(u)) = self.transfers.get_mut(&transfer) else {
            return Err(ApiError::UnknownTransfer);
        };
        u.finish(transfer, &mut self.out);
        if u.progress(transfer, &mut self.events) {
            self.transfers.remove(&transfer);
        }
        Ok(())
    }

    fn new_transfer_id(&mut self) -> TransferId {
        self.next_transfer += 1;
        TransferId(self.next_transfer)
    }

    fn handle_packet(&mut self, packet: Packet) -> Result<(), ProtocolError> {
        match (self.state, packet) {
            (
                State::AwaitVersion,
                Packet::Version {
                    version,
                    extensions,
                },
            ) => {
                if version != SFTP_VERSION {
                    return Err(ProtocolError::Version { version });
                }
                self.extensions = extensions;
                if self.has_extension(names::LIMITS) {
                    let _ = self
                        .out
                        .send(Request::Extended(ExtendedRequest::Limits), Pending::Limits);
                    self.state = State::AwaitLimits;
                } else {
                    self.become_ready();
                }
                Ok(())
            }
            (State::AwaitLimits | State::Ready, Packet::Response { id, response }) => {
                self.handle_response(id, response)
            }
            (_, p) => Err(ProtocolError::UnexpectedPacket {
                packet_type: p.packet_type(),
            }),
        }
    }

    fn become_ready(&mut self) {
        self.state = State::Ready;
        self.events.push_back(Event::Ready {
            extensions: self.extensions.clone(),
            limits: self.limits,
        });
    }

    fn handle_response(&mut self, id: u32, response: Response) -> Result<(), ProtocolError> {
        let pending = self
            .out
            .pending
            .remove(&id)
            .ok_or(ProtocolError::UnknownRequestId { id })?;
        match pending {
            Pending::User(expect) => {
                let reply = reply_for(id, expect, response)?;
                self.events.push_back(Event::Reply {
                    id: RequestId(id),
                    reply,
                });
            }
            Pending::Limits => {
                // A server that offers limits but fails the request leaves
                // us with our own defaults.
                if let Reply::Extended(ExtendedReply::Limits(l)) =
                    reply_for(id, Expect::Limits, response)?
                {
                    self.limits = Some(l);
                }
                self.become_ready();
            }
            Pending::Read {
                transfer,
                offset,
                len,
            } => {
                let Some(Transfer::Download(d)) = self.transfers.get_mut(&transfer) else {
                    return Ok(());
                };
                match response {
                    Response::Data(data) => {
                        d.on_data(transfer, &mut self.out, offset, len, data, id)?
                    }
                    Response::Status { code, message, .. } => {
                        d.on_status(offset, Status { code, message })
                    }
                    r => {
                        return Err(ProtocolError::UnexpectedReply {
                            id,
                            expected: "DATA",
                            got: r.packet_type(),
                        });
                    }
                }
                if d.progress(transfer, &mut self.out, &mut self.events) {
                    self.transfers.remove(&transfer);
                }
            }
            Pending::Write { transfer, len } => {
                let Some(Transfer::Upload(u)) = self.transfers.get_mut(&transfer) else {
                    return Ok(());
                };
                let Response::Status { code, message, .. } = response else {
                    return Err(ProtocolError::UnexpectedReply {
                        id,
                        expected: "nothing else",
                        got: response.packet_type(),
                    });
                };
                u.on_status(len, Status { code, message });
                if u.progress(transfer, &mut self.events) {
                    self.transfers.remove(&transfer);
                }
            }
        }
        Ok(())
    }
}

/// Our chunk size under the server's limit; with no limit, under what fits
/// a packet.
fn bound_chunk(ours: u32, limit: u64) -> u32 {
    let cap = if limit == 0 {
        MAX_DATA_LEN as u64
    } else {
        limit.min(MAX_DATA_LEN as u64)
    };
    u32::try_from(u64::from(ours).min(cap))
        .unwrap_or(ours)
        .max(1)
}

fn reply_for(id: u32, expect: Expect, response: Response) -> Result<Reply, ProtocolError> {
    let bad_ext = |error| ProtocolError::BadExtendedReply { id, error };
    let reply = match (expect, response) {
        (_, Response::Status { code, message, .. }) => Reply::Status(Status { code, message }),
        (Expect::Handle, Response::Handle(h)) => Reply::Handle(h),
        (Expect::Data, Response::Data(d)) => Reply::Data(d),
        (Expect::Name, Response::Name(n)) => Reply::Name(n),
        (Expect::Attrs, Response::Attrs(a)) => Reply::Attrs(a),
        (Expect::StatVfs, Response::ExtendedReply(d)) => Reply::Extended(ExtendedReply::StatVfs(
            StatVfs::decode(&d).map_err(bad_ext)?,
        )),
        (Expect::Limits, Response::ExtendedReply(d)) => {
            Reply::Extended(ExtendedReply::Limits(Limits::decode(&d).map_err(bad_ext)?))
        }
        (Expect::UsersGroups, Response::ExtendedReply(d)) => Reply::Extended(
            ExtendedReply::UsersGroups(UsersGroups::decode(&d).map_err(bad_ext)?),
        ),
        (Expect::Extended, Response::ExtendedReply(d)) => Reply::Extended(ExtendedReply::Other(d)),
        (expect, r) => {
            return Err(ProtocolError::UnexpectedReply {
                id,
                expected: expect.name(),
                got: r.packet_type(),
            });
        }
    };
    Ok(reply)
}
