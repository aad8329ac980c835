//! The SFTP server as a sans-IO state machine: packets in through
//! [`Server::handle_input`], replies out through [`Server::poll_transmit`],
//! file system calls through a [`Filesystem`].
//!
//! Requests are answered in the order they arrive, each before the next
//! is read ("the server MAY process requests in any order", draft-02 §6.1;
//! OpenSSH also answers in order).

mod log;
mod options;

use std::collections::{HashMap, VecDeque};
use std::fmt;

use ssh_wire::DecodeError;

use crate::attrs::Attrs;
use crate::extensions::{ExtendedRequest, ExtensionPair, Limits, SERVER_EXTENSIONS};
use crate::framing::PacketReader;
use crate::fs::{CopyError, Filesystem, FsError};
use crate::message::{Handle, NameEntry, Packet, Request, Response};
use crate::numbers::{MAX_DATA_LEN, MAX_PACKET_LEN, SFTP_VERSION, StatusCode};

pub use log::{LogLevel, MAX_LOG_LINES};
pub use options::{DEFAULT_MAX_HANDLES, ServerOptions};

/// Bytes of replies the server holds before it stops taking requests:
/// two largest packets.
pub const OUTPUT_LIMIT: usize = 2 * MAX_PACKET_LEN;

/// Entries per NAME reply at most, as OpenSSH's `process_readdir` (100).
const MAX_NAMES_PER_REPLY: usize = 100;

/// Why the server stopped: the client broke the protocol. The server stays
/// failed; the caller closes the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerError {
    /// A packet did not decode (or its length was above the limit).
    Decode(DecodeError),
    /// A packet other than INIT came first.
    NotInitialised {
        /// Its type.
        packet_type: u8,
    },
    /// A packet a client never sends (VERSION, a reply, a second INIT).
    UnexpectedPacket {
        /// Its type.
        packet_type: u8,
    },
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Decode(e) => write!(f, "bad SFTP packet from the client: {e}"),
            Self::NotInitialised { packet_type } => {
                write!(f, "packet type {packet_type} before SSH_FXP_INIT")
            }
            Self::UnexpectedPacket { packet_type } => {
                write!(f, "packet type {packet_type} is not a client request")
            }
        }
    }
}

impl std::error::Error for ServerError {}

impl From<DecodeError> for ServerError {
    fn from(e: DecodeError) -> Self {
        Self::Decode(e)
    }
}

/// An open handle: a file, or a directory with entries read from the file
/// system but not yet sent.
enum Open<F, D> {
    File(F),
    Dir(D, VecDeque<NameEntry>),
}

/// An open handle of a server over `F`.
type OpenOf<F> = Open<<F as Filesystem>::File, <F as Filesystem>::Dir>;

/// The SFTP server of one session.
pub struct Server<F: Filesystem> {
    fs: F,
    options: ServerOptions,
    input: PacketReader,
    output: Vec<u8>,
    initialised: bool,
    failed: Option<ServerError>,
    /// The client's version from INIT.
    client_version: Option<u32>,
    handles: HashMap<u64, OpenOf<F>>,
    /// Handles are this counter's 8 bytes: never reused within a session,
    /// so a stale handle finds nothing.
    next_handle: u64,
    /// `-l`: the request log.
    log: log::RequestLog,
}

impl<F: Filesystem> fmt::Debug for Server<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("options", &self.options)
            .field("open_handles", &self.handles.len())
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl<F: Filesystem> Server<F> {
    /// A server answering from `fs`.
    pub fn new(fs: F, options: ServerOptions) -> Self {
        let log = log::RequestLog::new(options.log_level);
        Self {
            fs,
            options,
            input: PacketReader::default(),
            output: Vec::new(),
            initialised: false,
            failed: None,
            client_version: None,
            handles: HashMap::new(),
            next_handle: 1,
            log,
        }
    }

    /// The file system.
    pub const fn filesystem(&self) -> &F {
        &self.fs
    }

    /// The file system, mutably.
    pub const fn filesystem_mut(&mut self) -> &mut F {
        &mut self.fs
    }

    /// The version the client sent in INIT, once it has.
    pub const fn client_version(&self) -> Option<u32> {
        self.client_version
    }

    /// The next line of the request log (`ServerOptions::log_level`), for
    /// the caller to send to syslog or stderr; at most
    /// [`MAX_LOG_LINES`] wait.
    pub fn poll_log(&mut self) -> Option<String> {
        self.log.pop()
    }

    /// How many handles are open.
    pub fn open_handles(&self) -> usize {
        self.handles.len()
    }

    /// Takes bytes from the channel and answers the whole requests in them,
    /// and returns how many bytes it took. It stops taking once
    /// [`OUTPUT_LIMIT`] bytes of replies wait in [`Server::poll_transmit`]:
    /// the caller keeps the rest and offers it again after sending, so a
    /// client pipelining READs it never reads cannot grow our memory (and,
    /// the channel window being credited only for consumed bytes, it is
    /// held back by SSH flow control). An error is sticky: later calls
    /// return it again.
    pub fn handle_input(&mut self, data: &[u8]) -> Result<usize, ServerError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let mut consumed = 0;
        loop {
            if self.output.len() >= OUTPUT_LIMIT {
                return Ok(consumed);
            }
            let rest = data.get(consumed..).unwrap_or_default();
            let take = self.input.needed().min(rest.len());
            self.input
                .handle_input(rest.get(..take).unwrap_or_default());
            consumed += take;
            let packet = match self.input.poll_packet() {
                Ok(Some(body)) => Packet::decode(body),
                Ok(None) if consumed == data.len() => return Ok(consumed),
                Ok(None) => continue,
                Err(e) => Err(e),
            };
            let result = packet
                .map_err(ServerError::from)
                .and_then(|p| self.handle_packet(p));
            if let Err(e) = result {
                self.failed = Some(e.clone());
                return Err(e);
            }
        }
    }

    /// True when [`Server::handle_input`] would take bytes now (the replies
    /// waiting are below [`OUTPUT_LIMIT`]).
    pub fn wants_input(&self) -> bool {
        self.failed.is_none() && self.output.len() < OUTPUT_LIMIT
    }

    /// Appends the replies ready to send to `out`; false when there were
    /// none.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> bool {
        if self.output.is_empty() {
            return false;
        }
        out.append(&mut self.output);
        true
    }

    /// Closes every open handle (at the end of the session) and gives the
    /// file system back.
    pub fn into_filesystem(mut self) -> F {
        let handles: Vec<_> = self.handles.drain().collect();
        for (_, open) in handles {
            // A close failing at the end of a session has no one to tell.
            let _ = match open {
                Open::File(f) => self.fs.close(f),
                Open::Dir(d, _) => self.fs.closedir(d),
            };
        }
        self.fs
    }

    fn handle_packet(&mut self, packet: Packet) -> Result<(), ServerError> {
        match packet {
            Packet::Init { version, .. } if !self.initialised => {
                // "the server responds with SSH_FXP_VERSION, indicating the
                // lowest of its own and the client's version number"; we
                // speak only 3, as OpenSSH.
                self.initialised = true;
                self.client_version = Some(version);
                let extensions = SERVER_EXTENSIONS
                    .iter()
                    .map(|(n, d)| ExtensionPair {
                        name: n.as_bytes().to_vec(),
                        data: d.as_bytes().to_vec(),
                    })
                    .collect();
                self.send(Packet::Version {
                    version: SFTP_VERSION,
                    extensions,
                });
                Ok(())
            }
            Packet::Init { .. } => Err(ServerError::UnexpectedPacket { packet_type: 1 }),
            p if !self.initialised => Err(ServerError::NotInitialised {
                packet_type: p.packet_type(),
            }),
            Packet::Request { id, request } => {
                let note = if self.log.on() {
                    log::RequestLog::note(&request, |p| self.path(p))
                } else {
                    log::Note::Nothing
                };
                let response = self.answer(request);
                self.log.done(note, &response);
                self.send(Packet::Response { id, response });
                Ok(())
            }
            Packet::Unknown {
                id: Some(id),
                packet_type,
            } if !(101..=105).contains(&packet_type) && packet_type != 201 => {
                self.send(Packet::Response {
                    id,
                    response: Response::status(StatusCode::OP_UNSUPPORTED),
                });
                Ok(())
            }
            p => Err(ServerError::UnexpectedPacket {
                packet_type: p.packet_type(),
            }),
        }
    }

    fn send(&mut self, packet: Packet) {
        if packet.encode(&mut self.output).is_err() {
            // Only a file system returning a reply larger than the packet
            // limit gets here (a huge link target, say): answer FAILURE.
            if let Packet::Response { id, .. } = packet {
                let _ = Packet::Response {
                    id,
                    response: error_status(StatusCode::FAILURE, "reply too large"),
                }
                .encode(&mut self.output);
            }
        }
    }

    /// A path made absolute against the start directory.
    fn path(&self, p: &[u8]) -> Vec<u8> {
        match &self.options.start_directory {
            Some(dir) if !p.starts_with(b"/") => {
                let mut full = dir.clone();
                if !p.is_empty() {
                    if !full.ends_with(b"/") {
                        full.push(b'/');
                    }
                    full.extend_from_slice(p);
                }
                full
            }
            _ => p.to_vec(),
        }
    }

    /// Permissions for a created file or directory under the umask.
    fn masked(&self, attrs: Attrs, default: u32) -> Attrs {
        match self.options.umask {
            Some(mask) => Attrs {
                permissions: Some(attrs.permissions.unwrap_or(default) & 0o7777 & !mask),
                ..attrs
            },
            None => attrs,
        }
    }

    fn answer(&mut self, request: Request) -> Response {
        if let Request::Extended(ExtendedRequest::Unknown { .. }) = request {
            return Response::status(StatusCode::OP_UNSUPPORTED);
        }
        if !self.options.permits(&request) {
            self.log.refused(request.name().unwrap_or("unnamed"));
            return Response::status(StatusCode::PERMISSION_DENIED);
        }
        match request {
            Request::Open {
                filename,
                flags,
                attrs,
            } => {
                if self.handles.len() >= self.options.max_handles {
                    return error_status(StatusCode::FAILURE, "too many open handles");
                }
                let attrs = self.masked(attrs, 0o666);
                let path = self.path(&filename);
                match self.fs.open(&path, flags, &attrs) {
                    Ok(f) => Response::Handle(self.insert(Open::File(f))),
                    Err(e) => fs_status(&e),
                }
            }
            Request::Opendir { path } => {
                if self.handles.len() >= self.options.max_handles {
                    return error_status(StatusCode::FAILURE, "too many open handles");
                }
                let path = self.path(&path);
                match self.fs.opendir(&path) {
                    Ok(d) => Response::Handle(self.insert(Open::Dir(d, VecDeque::new()))),
                    Err(e) => fs_status(&e),
                }
            }
            Request::Close { handle } => match self.take(&handle) {
                Some((_, Open::File(f))) => status(self.fs.close(f)),
                Some((_, Open::Dir(d, _))) => status(self.fs.closedir(d)),
                None => invalid_handle(),
            },
            Request::Read {
                handle,
                offset,
                len,
            } => {
                let len = len.min(u32::try_from(MAX_DATA_LEN).unwrap_or(u32::MAX));
                let Some(file) = self.file(&handle) else {
                    return invalid_handle();
                };
                match self.fs_read(file, offset, len) {
                    Ok(data) if data.is_empty() => Response::status(StatusCode::EOF),
                    Ok(data) => Response::Data(data),
                    Err(e) => fs_status(&e),
                }
            }
            Request::Write {
                handle,
                offset,
                data,
            } => match self.handles.get_mut(&handle_key(&handle).unwrap_or(0)) {
                Some(Open::File(f)) => status(self.fs.write(f, offset, &data)),
                _ => invalid_handle(),
            },
            Request::Fstat { handle } => {
                match self.handles.get_mut(&handle_key(&handle).unwrap_or(0)) {
                    Some(Open::File(f)) => attrs_reply(self.fs.fstat(f)),
                    _ => invalid_handle(),
                }
            }
            Request::Fsetstat { handle, attrs } => {
                match self.handles.get_mut(&handle_key(&handle).unwrap_or(0)) {
                    Some(Open::File(f)) => status(self.fs.fsetstat(f, &attrs)),
                    _ => invalid_handle(),
                }
            }
            Request::Readdir { handle } => self.readdir(&handle),
            Request::Lstat { path } => {
                let p = self.path(&path);
                attrs_reply(self.fs.lstat(&p))
            }
            Request::Stat { path } => {
                let p = self.path(&path);
                attrs_reply(self.fs.stat(&p))
            }
            Request::Setstat { path, attrs } => {
                let p = self.path(&path);
                status(self.fs.setstat(&p, &attrs))
            }
            Request::Remove { filename } => {
                let p = self.path(&filename);
                status(self.fs.remove(&p))
            }
            Request::Mkdir { path, attrs } => {
                let p = self.path(&path);
                let attrs = self.masked(attrs, 0o777);
                status(self.fs.mkdir(&p, &attrs))
            }
            Request::Rmdir { path } => {
                let p = self.path(&path);
                status(self.fs.rmdir(&p))
            }
            Request::Realpath { path } => {
                let p = if path.is_empty() { b".".to_vec() } else { path };
                let p = self.path(&p);
                name_reply(self.fs.realpath(&p))
            }
            Request::Rename { old_path, new_path } => {
                let (o, n) = (self.path(&old_path), self.path(&new_path));
                status(self.fs.rename(&o, &n))
            }
            Request::Readlink { path } => {
                let p = self.path(&path);
                name_reply(self.fs.readlink(&p))
            }
            Request::Symlink { target, link_path } => {
                // The target is stored as given: a relative target is
                // relative to the link's directory, not to ours.
                let l = self.path(&link_path);
                status(self.fs.symlink(&target, &l))
            }
            Request::Extended(e) => self.answer_extended(e),
        }
    }

    fn answer_extended(&mut self, request: ExtendedRequest) -> Response {
        match request {
            ExtendedRequest::PosixRename { old_path, new_path } => {
                let (o, n) = (self.path(&old_path), self.path(&new_path));
                status(self.fs.posix_rename(&o, &n))
            }
            ExtendedRequest::Hardlink { old_path, new_path } => {
                let (o, n) = (self.path(&old_path), self.path(&new_path));
                status(self.fs.hardlink(&o, &n))
            }
            ExtendedRequest::Statvfs { path } => {
                let p = self.path(&path);
                match self.fs.statvfs(&p) {
                    Ok(s) => extended_reply(|out| s.encode(out)),
                    Err(e) => fs_status(&e),
                }
            }
            ExtendedRequest::Fstatvfs { handle } => {
                match self.handles.get_mut(&handle_key(&handle).unwrap_or(0)) {
                    Some(Open::File(f)) => match self.fs.fstatvfs(f) {
                        Ok(s) => extended_reply(|out| s.encode(out)),
                        Err(e) => fs_status(&e),
                    },
                    _ => invalid_handle(),
                }
            }
            ExtendedRequest::Fsync { handle } => {
                match self.handles.get_mut(&handle_key(&handle).unwrap_or(0)) {
                    Some(Open::File(f)) => status(self.fs.fsync(f)),
                    _ => invalid_handle(),
                }
            }
            ExtendedRequest::Lsetstat { path, attrs } => {
                // OpenSSH: a size is "nonsensical for links".
                if attrs.size.is_some() {
                    return Response::status(StatusCode::BAD_MESSAGE);
                }
                let p = self.path(&path);
                status(self.fs.lsetstat(&p, &attrs))
            }
            ExtendedRequest::Limits => {
                let l = Limits {
                    max_packet_len: MAX_PACKET_LEN as u64,
                    max_read_len: MAX_DATA_LEN as u64,
                    max_write_len: MAX_DATA_LEN as u64,
                    max_open_handles: self.options.max_handles as u64,
                };
                extended_reply(|out| l.encode(out))
            }
            ExtendedRequest::ExpandPath { path } => {
                let p = if path.is_empty() { b".".to_vec() } else { path };
                if p.starts_with(b"~") {
                    name_reply(self.fs.expand_path(&p))
                } else {
                    let p = self.path(&p);
                    name_reply(self.fs.realpath(&p))
                }
            }
            ExtendedRequest::HomeDirectory { username } => {
                name_reply(self.fs.home_directory(&username))
            }
            ExtendedRequest::UsersGroupsById { uids, gids } => {
                match self.fs.users_groups_by_id(&uids, &gids) {
                    Ok(ug) => extended_reply(|out| ug.encode(out)),
                    Err(e) => fs_status(&e),
                }
            }
            ExtendedRequest::CopyData {
                read_handle,
                read_offset,
                read_length,
                write_handle,
                write_offset,
            } => self.copy_data(
                &read_handle,
                read_offset,
                read_length,
                &write_handle,
                write_offset,
            ),
            ExtendedRequest::Unknown { .. } => Response::status(StatusCode::OP_UNSUPPORTED),
        }
    }

    fn copy_data(
        &mut self,
        from: &Handle,
        from_offset: u64,
        len: u64,
        to: &Handle,
        to_offset: u64,
    ) -> Response {
        // OpenSSH refuses to copy within one handle.
        if from == to {
            return error_status(StatusCode::FAILURE, "read and write handles are the same");
        }
        let Some((rk, mut src)) = self.take_file(from) else {
            return invalid_handle();
        };
        let Some((wk, mut dst)) = self.take_file(to) else {
            self.handles.insert(rk, Open::File(src));
            return invalid_handle();
        };
        let r = self
            .fs
            .copy_data(&mut src, from_offset, len, &mut dst, to_offset);
        self.handles.insert(rk, Open::File(src));
        self.handles.insert(wk, Open::File(dst));
        match r {
            Ok(()) => Response::status(StatusCode::OK),
            Err(CopyError::Eof) => Response::status(StatusCode::EOF),
            Err(CopyError::Fs(e)) => fs_status(&e),
        }
    }

    fn readdir(&mut self, handle: &Handle) -> Response {
        let Some(Open::Dir(dir, pending)) = self.handles.get_mut(&handle_key(handle).unwrap_or(0))
        else {
            return invalid_handle();
        };
        if pending.is_empty() {
            match self.fs.readdir(dir) {
                Ok(batch) => pending.extend(batch),
                Err(e) => return fs_status(&e),
            }
        }
        if pending.is_empty() {
            return Response::status(StatusCode::EOF);
        }
        // Fill one NAME reply without passing the packet limit (9 bytes of
        // header and count).
        let mut entries = Vec::new();
        let mut size = 13;
        while let Some(e) = pending.front() {
            let len = e.encoded_len();
            if entries.len() >= MAX_NAMES_PER_REPLY
                || (size + len > MAX_PACKET_LEN && !entries.is_empty())
            {
                break;
            }
            size += len;
            if let Some(e) = pending.pop_front() {
                entries.push(e);
            }
        }
        Response::Name(entries)
    }

    fn insert(&mut self, open: OpenOf<F>) -> Handle {
        let key = self.next_handle;
        self.next_handle = self.next_handle.wrapping_add(1);
        self.handles.insert(key, open);
        Handle(key.to_be_bytes().to_vec())
    }

    fn take(&mut self, handle: &Handle) -> Option<(u64, OpenOf<F>)> {
        let key = handle_key(handle)?;
        self.handles.remove(&key).map(|o| (key, o))
    }

    fn take_file(&mut self, handle: &Handle) -> Option<(u64, F::File)> {
        match self.take(handle)? {
            (k, Open::File(f)) => Some((k, f)),
            (k, dir) => {
                self.handles.insert(k, dir);
                None
            }
        }
    }

    fn file(&mut self, handle: &Handle) -> Option<u64> {
        let key = handle_key(handle)?;
        matches!(self.handles.get(&key), Some(Open::File(_))).then_some(key)
    }

    fn fs_read(&mut self, key: u64, offset: u64, len: u32) -> Result<Vec<u8>, FsError> {
        match self.handles.get_mut(&key) {
            Some(Open::File(f)) => self.fs.read(f, offset, len),
            _ => Err(FsError::Other("invalid handle".into())),
        }
    }
}

/// The map key of a handle we issued; `None` for a forged one.
fn handle_key(handle: &Handle) -> Option<u64> {
    let bytes: [u8; 8] = handle.0.as_slice().try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

fn error_status(code: StatusCode, message: &str) -> Response {
    Response::Status {
        code,
        message: message.to_owned(),
        language: String::new(),
    }
}

/// A forged, stale or wrong-kind handle. Version 3 has no
/// INVALID_HANDLE code (it came in version 4), so FAILURE says it.
fn invalid_handle() -> Response {
    error_status(StatusCode::FAILURE, "invalid handle")
}

fn fs_status(e: &FsError) -> Response {
    error_status(e.status_code(), &e.to_string())
}

fn status(r: Result<(), FsError>) -> Response {
    match r {
        Ok(()) => Response::status(StatusCode::OK),
        Err(e) => fs_status(&e),
    }
}

fn attrs_reply(r: Result<Attrs, FsError>) -> Response {
    match r {
        Ok(a) => Response::Attrs(a),
        Err(e) => fs_status(&e),
    }
}

/// REALPATH, READLINK and friends: "a SSH_FXP_NAME with a single name"
/// whose longname and attributes are dummies (draft-02 §6.9).
fn name_reply(r: Result<Vec<u8>, FsError>) -> Response {
    match r {
        Ok(name) => Response::Name(vec![NameEntry {
            longname: name.clone(),
            filename: name,
            attrs: Attrs::new(),
        }]),
        Err(e) => fs_status(&e),
    }
}

fn extended_reply(f: impl FnOnce(&mut Vec<u8>)) -> Response {
    let mut data = Vec::new();
    f(&mut data);
    Response::ExtendedReply(data)
}
