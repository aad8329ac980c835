//! An SFTP session over an `ssh-async` channel: `ssh-sftp`'s sans-IO
//! [`Client`] driven by one task, with whole-file [`SftpSession::get`] and
//! [`SftpSession::put`] on the crate's pipelined transfers and the local
//! files read and written here, and [`copy`] from one session's file to
//! another's (`scp -3`).
//!
//! Every method takes `&mut self`: one request (or one transfer) at a
//! time from the caller's view, many in flight on the wire during a
//! transfer.

use std::fmt;
use std::fs::File;
use std::io::{Seek, SeekFrom};

use futures::io::{AllowStdIo, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use ssh_async::{ChannelReader, ChannelWriter, Client as SshClient};
use ssh_sftp::client::{ExtendedReply, Status};
use ssh_sftp::{
    Attrs, Client, ClientConfig, Event, ExtendedRequest, Handle, NameEntry, OpenFlags, Reply,
    Request, RequestId, StatVfs, StatusCode,
};

/// Bytes asked of the channel (and of a local file) at once.
const IO_CHUNK: usize = 256 * 1024;

/// The most entries [`SftpSession::list`] keeps of one directory: a
/// server's listing is bounded before it grows our memory.
pub const MAX_LISTING: usize = 1 << 20;

/// Bytes [`copy`] holds between the download and the upload.
const COPY_BUFFER: usize = 4 << 20;

/// What went wrong.
#[derive(Debug)]
pub enum SftpError {
    /// The server answered with this status.
    Status(Status),
    /// The connection or channel failed.
    Ssh(ssh_async::Error),
    /// The server broke the protocol, or the client was misused.
    Protocol(String),
    /// The channel closed.
    Closed,
    /// A local file.
    Local(std::io::Error),
}

impl fmt::Display for SftpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SftpError::Status(s) if s.message.is_empty() => write!(f, "{}", s.code),
            SftpError::Status(s) => write!(f, "{}", s.message),
            SftpError::Ssh(e) => write!(f, "{e}"),
            SftpError::Protocol(e) => write!(f, "protocol error: {e}"),
            SftpError::Closed => write!(f, "Connection closed"),
            SftpError::Local(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SftpError {}

impl SftpError {
    /// The server's status code, when it is one.
    pub fn code(&self) -> Option<StatusCode> {
        match self {
            SftpError::Status(s) => Some(s.code),
            _ => None,
        }
    }
}

impl From<ssh_sftp::client::ApiError> for SftpError {
    fn from(e: ssh_sftp::client::ApiError) -> Self {
        SftpError::Protocol(e.to_string())
    }
}

/// Result of a session operation.
pub type SftpResult<T> = Result<T, SftpError>;

/// An SFTP session on a `sftp` subsystem channel.
pub struct SftpSession {
    client: Client,
    reader: ChannelReader,
    writer: ChannelWriter,
    out: Vec<u8>,
    input: Vec<u8>,
}

impl SftpSession {
    /// Opens a session channel on `ssh`, starts the `sftp` subsystem and
    /// waits for the server's VERSION.
    pub async fn start(ssh: &SshClient, config: ClientConfig) -> SftpResult<Self> {
        let channel = ssh.open_session().await.map_err(SftpError::Ssh)?;
        channel.subsystem("sftp").await.map_err(SftpError::Ssh)?;
        let mut s = SftpSession {
            client: Client::new(config),
            reader: channel.reader(),
            writer: channel.writer(),
            out: Vec::new(),
            input: vec![0; IO_CHUNK],
        };
        while !s.client.is_ready() {
            s.flush().await?;
            s.receive().await?;
            while let Some(e) = s.client.poll_event() {
                if let Event::Ready { .. } = e {
                    break;
                }
            }
        }
        Ok(s)
    }

    /// True when the server announced the extension.
    pub fn has_extension(&self, name: &str) -> bool {
        self.client.has_extension(name)
    }

    async fn flush(&mut self) -> SftpResult<()> {
        if self.client.poll_transmit(&mut self.out) {
            let r = self.writer.write_all(&self.out).await;
            self.out.clear();
            r.map_err(|e| SftpError::Protocol(format!("channel write: {e}")))?;
        }
        Ok(())
    }

    /// Reads what the channel has into the client.
    async fn receive(&mut self) -> SftpResult<()> {
        let n = self
            .reader
            .read(&mut self.input)
            .await
            .map_err(|e| SftpError::Protocol(format!("channel read: {e}")))?;
        if n == 0 {
            return Err(SftpError::Closed);
        }
        let data = self.input.get(..n).unwrap_or_default();
        self.client
            .handle_input(data)
            .map_err(|e| SftpError::Protocol(e.to_string()))
    }

    /// Sends `request` and waits for its reply.
    pub async fn call(&mut self, request: Request) -> SftpResult<Reply> {
        let id = self.client.request(request)?;
        self.wait(id).await
    }

    async fn wait(&mut self, id: RequestId) -> SftpResult<Reply> {
        loop {
            self.flush().await?;
            while let Some(e) = self.client.poll_event() {
                if let Event::Reply { id: got, reply } = e
                    && got == id
                {
                    return Ok(reply);
                }
            }
            self.receive().await?;
        }
    }

    async fn status(&mut self, request: Request) -> SftpResult<()> {
        match self.call(request).await? {
            Reply::Status(s) if s.code == StatusCode::OK => Ok(()),
            Reply::Status(s) => Err(SftpError::Status(s)),
            r => Err(unexpected(&r)),
        }
    }

    async fn attrs(&mut self, request: Request) -> SftpResult<Attrs> {
        match self.call(request).await? {
            Reply::Attrs(a) => Ok(a),
            Reply::Status(s) => Err(SftpError::Status(s)),
            r => Err(unexpected(&r)),
        }
    }

    async fn handle(&mut self, request: Request) -> SftpResult<Handle> {
        match self.call(request).await? {
            Reply::Handle(h) => Ok(h),
            Reply::Status(s) => Err(SftpError::Status(s)),
            r => Err(unexpected(&r)),
        }
    }

    async fn name(&mut self, request: Request) -> SftpResult<Vec<NameEntry>> {
        match self.call(request).await? {
            Reply::Name(n) => Ok(n),
            Reply::Status(s) => Err(SftpError::Status(s)),
            r => Err(unexpected(&r)),
        }
    }

    /// OPEN.
    pub async fn open(
        &mut self,
        path: &[u8],
        flags: OpenFlags,
        attrs: Attrs,
    ) -> SftpResult<Handle> {
        self.handle(Request::Open {
            filename: path.to_vec(),
            flags,
            attrs,
        })
        .await
    }

    /// CLOSE.
    pub async fn close(&mut self, handle: &Handle) -> SftpResult<()> {
        self.status(Request::Close {
            handle: handle.clone(),
        })
        .await
    }

    /// READ: `None` at end of file.
    pub async fn read(
        &mut self,
        handle: &Handle,
        offset: u64,
        len: u32,
    ) -> SftpResult<Option<Vec<u8>>> {
        match self
            .call(Request::Read {
                handle: handle.clone(),
                offset,
                len,
            })
            .await?
        {
            Reply::Data(d) => Ok(Some(d)),
            Reply::Status(s) if s.code == StatusCode::EOF => Ok(None),
            Reply::Status(s) => Err(SftpError::Status(s)),
            r => Err(unexpected(&r)),
        }
    }

    /// WRITE.
    pub async fn write(&mut self, handle: &Handle, offset: u64, data: &[u8]) -> SftpResult<()> {
        self.status(Request::Write {
            handle: handle.clone(),
            offset,
            data: data.to_vec(),
        })
        .await
    }

    /// STAT (follows symlinks).
    pub async fn stat(&mut self, path: &[u8]) -> SftpResult<Attrs> {
        self.attrs(Request::Stat {
            path: path.to_vec(),
        })
        .await
    }

    /// LSTAT.
    pub async fn lstat(&mut self, path: &[u8]) -> SftpResult<Attrs> {
        self.attrs(Request::Lstat {
            path: path.to_vec(),
        })
        .await
    }

    /// FSTAT.
    pub async fn fstat(&mut self, handle: &Handle) -> SftpResult<Attrs> {
        self.attrs(Request::Fstat {
            handle: handle.clone(),
        })
        .await
    }

    /// SETSTAT.
    pub async fn setstat(&mut self, path: &[u8], attrs: Attrs) -> SftpResult<()> {
        self.status(Request::Setstat {
            path: path.to_vec(),
            attrs,
        })
        .await
    }

    /// The entries of a directory (OPENDIR, READDIR to the end, CLOSE).
    pub async fn list(&mut self, path: &[u8]) -> SftpResult<Vec<NameEntry>> {
        let handle = self
            .handle(Request::Opendir {
                path: path.to_vec(),
            })
            .await?;
        let mut all = Vec::new();
        let result = loop {
            match self
                .call(Request::Readdir {
                    handle: handle.clone(),
                })
                .await
            {
                Ok(Reply::Name(mut n)) => {
                    if all.len().saturating_add(n.len()) > MAX_LISTING {
                        break Err(SftpError::Protocol(format!(
                            "directory listing longer than {MAX_LISTING} entries"
                        )));
                    }
                    all.append(&mut n)
                }
                Ok(Reply::Status(s)) if s.code == StatusCode::EOF => break Ok(()),
                Ok(Reply::Status(s)) => break Err(SftpError::Status(s)),
                Ok(r) => break Err(unexpected(&r)),
                Err(e) => break Err(e),
            }
        };
        let closed = self.close(&handle).await;
        result?;
        closed?;
        Ok(all)
    }

    /// MKDIR.
    pub async fn mkdir(&mut self, path: &[u8], attrs: Attrs) -> SftpResult<()> {
        self.status(Request::Mkdir {
            path: path.to_vec(),
            attrs,
        })
        .await
    }

    /// RMDIR.
    pub async fn rmdir(&mut self, path: &[u8]) -> SftpResult<()> {
        self.status(Request::Rmdir {
            path: path.to_vec(),
        })
        .await
    }

    /// REMOVE.
    pub async fn remove(&mut self, path: &[u8]) -> SftpResult<()> {
        self.status(Request::Remove {
            filename: path.to_vec(),
        })
        .await
    }

    /// Renames: `posix-rename@openssh.com` (replacing) when offered,
    /// RENAME otherwise.
    pub async fn rename(&mut self, old: &[u8], new: &[u8]) -> SftpResult<()> {
        if self.has_extension("posix-rename@openssh.com") {
            return self
                .status(Request::Extended(ExtendedRequest::PosixRename {
                    old_path: old.to_vec(),
                    new_path: new.to_vec(),
                }))
                .await;
        }
        self.status(Request::Rename {
            old_path: old.to_vec(),
            new_path: new.to_vec(),
        })
        .await
    }

    /// SYMLINK: `link_path` pointing at `target`.
    pub async fn symlink(&mut self, target: &[u8], link_path: &[u8]) -> SftpResult<()> {
        self.status(Request::Symlink {
            target: target.to_vec(),
            link_path: link_path.to_vec(),
        })
        .await
    }

    /// `hardlink@openssh.com`.
    pub async fn hardlink(&mut self, old: &[u8], new: &[u8]) -> SftpResult<()> {
        self.status(Request::Extended(ExtendedRequest::Hardlink {
            old_path: old.to_vec(),
            new_path: new.to_vec(),
        }))
        .await
    }

    /// READLINK.
    pub async fn readlink(&mut self, path: &[u8]) -> SftpResult<Vec<u8>> {
        first_name(
            self.name(Request::Readlink {
                path: path.to_vec(),
            })
            .await?,
        )
    }

    /// REALPATH.
    pub async fn realpath(&mut self, path: &[u8]) -> SftpResult<Vec<u8>> {
        first_name(
            self.name(Request::Realpath {
                path: path.to_vec(),
            })
            .await?,
        )
    }

    /// `statvfs@openssh.com`.
    pub async fn statvfs(&mut self, path: &[u8]) -> SftpResult<StatVfs> {
        match self
            .call(Request::Extended(ExtendedRequest::Statvfs {
                path: path.to_vec(),
            }))
            .await?
        {
            Reply::Extended(ExtendedReply::StatVfs(v)) => Ok(v),
            Reply::Status(s) => Err(SftpError::Status(s)),
            r => Err(unexpected(&r)),
        }
    }

    /// Downloads `remote` into `local` from `offset` (0, or the size
    /// already there to resume), calling `progress` with the bytes done
    /// so far (the offset included). Returns the remote attributes.
    pub async fn get(
        &mut self,
        remote: &[u8],
        local: &mut File,
        offset: u64,
        progress: &mut dyn FnMut(u64),
    ) -> SftpResult<Attrs> {
        local
            .seek(SeekFrom::Start(offset))
            .map_err(SftpError::Local)?;
        self.get_into(remote, &mut AllowStdIo::new(local), offset, progress)
            .await
    }

    /// Downloads `remote` from `offset` into `sink`, in order; otherwise
    /// as [`SftpSession::get`].
    pub async fn get_into<W: AsyncWrite + Unpin + ?Sized>(
        &mut self,
        remote: &[u8],
        sink: &mut W,
        offset: u64,
        progress: &mut dyn FnMut(u64),
    ) -> SftpResult<Attrs> {
        let handle = self.open(remote, OpenFlags::READ, Attrs::new()).await?;
        let result = self.get_open(&handle, sink, offset, progress).await;
        let closed = self.close(&handle).await;
        let attrs = result?;
        closed?;
        Ok(attrs)
    }

    async fn get_open<W: AsyncWrite + Unpin + ?Sized>(
        &mut self,
        handle: &Handle,
        sink: &mut W,
        offset: u64,
        progress: &mut dyn FnMut(u64),
    ) -> SftpResult<Attrs> {
        let attrs = self.fstat(handle).await?;
        let transfer = self.client.download(handle, offset, None)?;
        let mut done = offset;
        let mut result = None;
        while result.is_none() {
            self.flush().await?;
            while let Some(e) = self.client.poll_event() {
                match e {
                    Event::Data {
                        transfer: t, data, ..
                    } if t == transfer => {
                        sink.write_all(&data).await.map_err(SftpError::Local)?;
                        done += data.len() as u64;
                        progress(done);
                    }
                    Event::TransferDone {
                        transfer: t,
                        result: r,
                    } if t == transfer => result = Some(r),
                    _ => {}
                }
            }
            if result.is_none() {
                self.receive().await?;
            }
        }
        match result {
            Some(Err(s)) => Err(SftpError::Status(s)),
            _ => Ok(attrs),
        }
    }

    /// Uploads `local` (from `offset` on both sides) into `remote`,
    /// created with `mode` when given; truncated unless resuming
    /// (`offset` > 0). Calls `progress` with the bytes done so far.
    pub async fn put(
        &mut self,
        local: &mut File,
        remote: &[u8],
        offset: u64,
        mode: Option<u32>,
        progress: &mut dyn FnMut(u64),
    ) -> SftpResult<()> {
        local
            .seek(SeekFrom::Start(offset))
            .map_err(SftpError::Local)?;
        self.put_from(&mut AllowStdIo::new(local), remote, offset, mode, progress)
            .await
    }

    /// Uploads what `source` gives until its end into `remote` from
    /// `offset`; otherwise as [`SftpSession::put`].
    pub async fn put_from<R: AsyncRead + Unpin + ?Sized>(
        &mut self,
        source: &mut R,
        remote: &[u8],
        offset: u64,
        mode: Option<u32>,
        progress: &mut dyn FnMut(u64),
    ) -> SftpResult<()> {
        let flags = if offset > 0 {
            OpenFlags(OpenFlags::WRITE.0 | OpenFlags::CREAT.0)
        } else {
            OpenFlags(OpenFlags::WRITE.0 | OpenFlags::CREAT.0 | OpenFlags::TRUNC.0)
        };
        let mut attrs = Attrs::new();
        attrs.permissions = mode;
        let handle = self.open(remote, flags, attrs).await?;
        let result = self.put_open(&handle, source, offset, progress).await;
        let closed = self.close(&handle).await;
        result?;
        closed
    }

    async fn put_open<R: AsyncRead + Unpin + ?Sized>(
        &mut self,
        handle: &Handle,
        source: &mut R,
        offset: u64,
        progress: &mut dyn FnMut(u64),
    ) -> SftpResult<()> {
        let transfer = self.client.upload(handle, offset)?;
        // Aligned: reads out of a cached file into malloc's 256 KiB
        // buffer ran at a quarter of the speed (see `AlignedBuf`).
        let mut buf = ssh_async::AlignedBuf::new(IO_CHUNK);
        let (mut start, mut end) = (0usize, 0usize);
        let mut eof = false;
        let mut done = offset;
        let mut result = None;
        loop {
            // Feed the window from the source.
            while !eof && self.client.upload_capacity(transfer)? > 0 {
                if start == end {
                    let n = source.read(&mut buf).await.map_err(SftpError::Local)?;
                    if n == 0 {
                        eof = true;
                        self.client.upload_finish(transfer)?;
                        break;
                    }
                    (start, end) = (0, n);
                }
                let chunk = buf.get(start..end).unwrap_or_default();
                let took = self.client.upload_write(transfer, chunk)?;
                start += took;
                done += took as u64;
                if took == 0 {
                    break;
                }
            }
            self.flush().await?;
            while let Some(e) = self.client.poll_event() {
                if let Event::TransferDone {
                    transfer: t,
                    result: r,
                } = e
                    && t == transfer
                {
                    result = Some(r);
                }
            }
            if let Some(r) = result {
                return match r {
                    Ok(n) => {
                        progress(offset + n);
                        Ok(())
                    }
                    Err(s) => Err(SftpError::Status(s)),
                };
            }
            // Bytes handed over so far, acknowledged or not: what the
            // meter shows.
            progress(done);
            self.receive().await?;
        }
    }

    /// Ends the subsystem (EOF on the channel).
    pub async fn finish(mut self) {
        let _ = self.writer.close().await;
    }
}

/// Copies `from`'s file `src` into `to`'s file `dst` (created with `mode`
/// when given, truncated), the download and the upload running at once
/// with a bounded buffer between them: `scp -3`. `progress` is told the
/// bytes uploaded so far. The error is the download's if it failed (the
/// upload then ends short), else the upload's.
pub async fn copy(
    from: &mut SftpSession,
    src: &[u8],
    to: &mut SftpSession,
    dst: &[u8],
    mode: Option<u32>,
    progress: &mut dyn FnMut(u64),
) -> SftpResult<Attrs> {
    let (mut reader, mut writer) = piper::pipe(COPY_BUFFER);
    let download = async {
        let r = from.get_into(src, &mut writer, 0, &mut |_| {}).await;
        // The upload sees the end of its source either way.
        drop(writer);
        r
    };
    let upload = to.put_from(&mut reader, dst, 0, mode, progress);
    let (got, put) = futures::join!(download, upload);
    let attrs = got?;
    put?;
    Ok(attrs)
}

fn first_name(names: Vec<NameEntry>) -> SftpResult<Vec<u8>> {
    names
        .into_iter()
        .next()
        .map(|n| n.filename)
        .ok_or_else(|| SftpError::Protocol("empty NAME".into()))
}

fn unexpected(r: &Reply) -> SftpError {
    SftpError::Protocol(format!("unexpected reply {r:?}"))
}

#[cfg(test)]
mod tests;
