//! Records with descriptors between processes: `SOCK_SEQPACKET` socket
//! pairs (each send one record, boundaries kept) carrying file
//! descriptors as `SCM_RIGHTS`. Used by the sockets helper and by a
//! privilege-separated server's processes (the monitor hands a client's
//! socket to the user's session process).

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Mutex, PoisonError};

use async_io::Async;
use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags,
    SendAncillaryBuffer, SendAncillaryMessage, SendFlags, SocketFlags, SocketType,
};
use zeroize::Zeroize;

/// The most descriptors one record carries.
pub const MAX_FDS: usize = 4;

/// A connected pair of `SOCK_SEQPACKET` sockets, close-on-exec.
pub fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )?)
}

/// Sends `data` with `fds` (at most [`MAX_FDS`]) as one record.
pub fn send_with_fds(sock: BorrowedFd<'_>, data: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut anc = SendAncillaryBuffer::new(&mut space);
    if fds.len() > MAX_FDS || (!fds.is_empty() && !anc.push(SendAncillaryMessage::ScmRights(fds))) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "too many descriptors",
        ));
    }
    let n = rustix::net::sendmsg(sock, &[IoSlice::new(data)], &mut anc, SendFlags::NOSIGNAL)?;
    if n != data.len() {
        return Err(io::Error::new(io::ErrorKind::WriteZero, "short send"));
    }
    Ok(())
}

/// Receives one record of at most `max` bytes and the descriptors that
/// came with it. `Ok(None)` at end of file; a record that was truncated
/// (data or descriptors) is an error, its descriptors closed.
pub fn recv_with_fds(
    sock: BorrowedFd<'_>,
    max: usize,
) -> io::Result<Option<(Vec<u8>, Vec<OwnedFd>)>> {
    let mut buf = vec![0u8; max];
    Ok(recv_into(sock, &mut buf)?.map(|(n, fds)| {
        buf.truncate(n);
        (buf, fds)
    }))
}

/// Receives one record into `buf`: its length and the descriptors that
/// came with it; `Ok(None)` at end of file. A record longer than `buf`
/// is an error, its descriptors closed.
fn recv_into(sock: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<Option<(usize, Vec<OwnedFd>)>> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut anc = RecvAncillaryBuffer::new(&mut space);
    let msg = rustix::net::recvmsg(
        sock,
        &mut [IoSliceMut::new(buf)],
        &mut anc,
        RecvFlags::CMSG_CLOEXEC,
    )?;
    let mut fds = Vec::new();
    for m in anc.drain() {
        if let RecvAncillaryMessage::ScmRights(it) = m {
            fds.extend(it);
        }
    }
    if msg
        .flags
        .intersects(ReturnFlags::TRUNC | ReturnFlags::CTRUNC)
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "oversized message",
        ));
    }
    if msg.bytes == 0 && fds.is_empty() {
        return Ok(None);
    }
    Ok(Some((msg.bytes, fds)))
}

/// One end of a record socket, asynchronous: records of at most `max`
/// bytes, each with up to [`MAX_FDS`] descriptors.
#[derive(Debug)]
pub struct RecordChannel {
    sock: Async<OwnedFd>,
    max: usize,
    /// Where records are received, as large as the largest so far (not
    /// `max`: a buffer of `max` zero-filled for every attempt, including
    /// those that find nothing yet, cost the privilege-separated server
    /// about a megabyte of memset per record), zeroized after each.
    scratch: Mutex<Vec<u8>>,
}

impl RecordChannel {
    /// `sock` (one end of [`seqpacket_pair`]), made non-blocking.
    pub fn new(sock: OwnedFd, max: usize) -> io::Result<Self> {
        Ok(Self {
            sock: Async::new(sock)?,
            max,
            scratch: Mutex::new(Vec::new()),
        })
    }

    /// Sends one record (`data` at most `max` bytes).
    pub async fn send(&self, data: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<()> {
        if data.len() > self.max {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "record larger than the channel's limit",
            ));
        }
        self.sock
            .write_with(|s| send_with_fds(s.as_fd(), data, fds))
            .await
    }

    /// Sends no more: the other end's [`RecordChannel::recv`] gives `None`
    /// once it has read what was sent before.
    pub fn shutdown_send(&self) -> io::Result<()> {
        rustix::net::shutdown(self.sock.get_ref(), rustix::net::Shutdown::Write)?;
        Ok(())
    }

    /// The next record; `None` once the other end is closed.
    pub async fn recv(&self) -> io::Result<Option<(Vec<u8>, Vec<OwnedFd>)>> {
        self.sock.read_with(|s| self.recv_now(s.as_fd())).await
    }

    /// One record if one is waiting (`WouldBlock` if not). Its length is
    /// peeked first (`MSG_PEEK | MSG_TRUNC` with no buffer gives a
    /// record's full length) so that the scratch grows only to what
    /// arrives, at most `max`; a longer record is then refused as
    /// truncated. The lock holds the peek and the read together, so two
    /// readers cannot take each other's record.
    fn recv_now(&self, sock: BorrowedFd<'_>) -> io::Result<Option<(Vec<u8>, Vec<OwnedFd>)>> {
        let mut scratch = self.scratch.lock().unwrap_or_else(PoisonError::into_inner);
        let (_, len) =
            rustix::net::recv(sock, &mut [0u8; 0][..], RecvFlags::PEEK | RecvFlags::TRUNC)?;
        let want = len.min(self.max);
        if scratch.len() < want {
            scratch.resize(want, 0);
        }
        let buf = scratch.get_mut(..want).unwrap_or_default();
        let got = recv_into(sock, buf);
        let record = match &got {
            Ok(Some((n, _))) => buf.get(..*n).unwrap_or_default().to_vec(),
            _ => Vec::new(),
        };
        // Records carry secrets (passwords, exported keys): none stays.
        buf.zeroize();
        Ok(got?.map(|(_, fds)| (record, fds)))
    }
}
