//! Channels as async byte streams, with their requests as methods.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::io;

use futures::io::{AsyncBufRead, AsyncRead, AsyncWrite};
use ssh_connection::{ChannelHandle, RequestId};
use ssh_wire::messages::{ChannelRequestKind, ChannelType, PtyRequest};

use crate::Error;
use ssh_connection::ExitStatus;

use crate::error::ConnectionError;
use crate::state::{OpenState, QueuedRequest, Shared, lock};

/// Extended data type 1: stderr (RFC 4254 §5.2).
pub const STDERR: u32 = 1;

/// One counted reference to a channel: the channel closes when the last
/// one is dropped.
#[derive(Debug)]
struct ChannelRef {
    shared: Shared,
    h: ChannelHandle,
}

impl ChannelRef {
    fn new(shared: Shared, h: ChannelHandle) -> Self {
        Self { shared, h }
    }
}

impl Clone for ChannelRef {
    fn clone(&self) -> Self {
        let mut st = lock(&self.shared);
        if let Some(c) = st.chans.get_mut(&self.h) {
            c.refs += 1;
        }
        drop(st);
        Self {
            shared: self.shared.clone(),
            h: self.h,
        }
    }
}

impl Drop for ChannelRef {
    fn drop(&mut self) {
        lock(&self.shared).unref(self.h);
    }
}

fn io_err(e: Error) -> io::Error {
    match e {
        Error::Io(e) => e,
        e => io::Error::other(e),
    }
}

/// An open channel. Reading and writing it moves channel data (stdout of
/// a remote command, stdin); [`Channel::stderr`] reads extended data.
/// Clone-free halves for two tasks come from [`Channel::reader`] and
/// [`Channel::writer`]. The channel is closed when the `Channel` and all
/// its halves are dropped.
#[derive(Debug)]
pub struct Channel {
    r: ChannelRef,
}

impl Channel {
    pub(crate) fn from_parts(shared: Shared, h: ChannelHandle) -> Self {
        Self {
            r: ChannelRef::new(shared, h),
        }
    }

    /// Waits for the peer's answer to a channel we opened.
    pub(crate) async fn wait_open(&self) -> Result<(), Error> {
        futures::future::poll_fn(|cx| {
            let mut st = lock(&self.r.shared);
            let ended = st.ended.clone();
            let Some(c) = st.chans.get_mut(&self.r.h) else {
                return Poll::Ready(match ended {
                    Some(end) => Err(Error::Connection(end)),
                    None => Err(Error::ChannelGone),
                });
            };
            match &c.open {
                // The answer that came before the end is the answer.
                OpenState::Open => Poll::Ready(Ok(())),
                OpenState::Failed(reason, description) => {
                    Poll::Ready(Err(Error::ChannelOpenFailed {
                        reason: *reason,
                        description: description.clone(),
                    }))
                }
                OpenState::Opening => {
                    if let Some(end) = ended {
                        return Poll::Ready(Err(Error::Connection(end)));
                    }
                    c.event_wakers.register(cx.waker());
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// The channel's handle in the connection.
    pub fn handle(&self) -> ChannelHandle {
        self.r.h
    }

    /// A reader of channel data, usable beside this `Channel`.
    pub fn reader(&self) -> ChannelReader {
        ChannelReader {
            r: self.r.clone(),
            extended: false,
            lent: Lent::default(),
        }
    }

    /// A reader of extended data (stderr of a remote command).
    pub fn stderr(&self) -> ChannelReader {
        ChannelReader {
            r: self.r.clone(),
            extended: true,
            lent: Lent::default(),
        }
    }

    /// A writer of channel data; closing it sends EOF.
    pub fn writer(&self) -> ChannelWriter {
        ChannelWriter {
            r: self.r.clone(),
            ext: None,
        }
    }

    /// A writer of extended data of type 1 (stderr, from a server).
    pub fn stderr_writer(&self) -> ChannelWriter {
        ChannelWriter {
            r: self.r.clone(),
            ext: Some(STDERR),
        }
    }

    /// A handle for requests and status, usable beside the streams.
    pub fn control(&self) -> Channel {
        Channel { r: self.r.clone() }
    }

    /// Sends a request. With `want_reply`, waits for the answer (true for
    /// SUCCESS); without, returns true at once.
    pub async fn request(&self, kind: ChannelRequestKind, want_reply: bool) -> Result<bool, Error> {
        let id = {
            let mut st = lock(&self.r.shared);
            let id = st.conn()?.channel_request(self.r.h, kind, want_reply)?;
            st.wake_driver();
            id
        };
        let Some(id) = id else { return Ok(true) };
        futures::future::poll_fn(|cx| {
            let mut st = lock(&self.r.shared);
            let ended = st.ended.clone();
            let Some(c) = st.chans.get_mut(&self.r.h) else {
                return Poll::Ready(match ended {
                    Some(end) => Err(Error::Connection(end)),
                    None => Err(Error::ChannelGone),
                });
            };
            // A reply that came before the end is the answer.
            if let Some(ok) = c.replies.remove(&id) {
                return Poll::Ready(Ok(ok));
            }
            if let Some(end) = ended {
                return Poll::Ready(Err(Error::Connection(end)));
            }
            if c.closed {
                return Poll::Ready(Ok(false));
            }
            c.event_wakers.register(cx.waker());
            Poll::Pending
        })
        .await
    }

    async fn must(&self, kind: ChannelRequestKind, what: &'static str) -> Result<(), Error> {
        if self.request(kind, true).await? {
            Ok(())
        } else {
            Err(Error::RequestRefused(what))
        }
    }

    /// `pty-req`.
    pub async fn request_pty(&self, pty: PtyRequest) -> Result<(), Error> {
        self.must(ChannelRequestKind::PtyReq(pty), "pty-req").await
    }

    /// `env` without asking for a reply (as OpenSSH's `ssh` does: a
    /// server that refuses a variable says nothing).
    pub async fn set_env(&self, name: &str, value: &[u8]) -> Result<(), Error> {
        let kind = ChannelRequestKind::Env {
            name: name.into(),
            value: value.to_vec(),
        };
        self.request(kind, false).await.map(drop)
    }

    /// `exec`.
    pub async fn exec(&self, command: &str) -> Result<(), Error> {
        let kind = ChannelRequestKind::Exec {
            command: command.as_bytes().to_vec(),
        };
        self.must(kind, "exec").await
    }

    /// `shell`.
    pub async fn shell(&self) -> Result<(), Error> {
        self.must(ChannelRequestKind::Shell, "shell").await
    }

    /// `subsystem`.
    pub async fn subsystem(&self, name: &str) -> Result<(), Error> {
        let kind = ChannelRequestKind::Subsystem { name: name.into() };
        self.must(kind, "subsystem").await
    }

    /// `window-change` (no reply, RFC 4254 §6.7).
    pub async fn window_change(
        &self,
        cols: u32,
        rows: u32,
        width_px: u32,
        height_px: u32,
    ) -> Result<(), Error> {
        let kind = ChannelRequestKind::WindowChange {
            cols,
            rows,
            width_px,
            height_px,
        };
        self.request(kind, false).await.map(drop)
    }

    /// `signal` (no reply): `name` without `SIG`.
    pub async fn signal(&self, name: &str) -> Result<(), Error> {
        let kind = ChannelRequestKind::Signal { name: name.into() };
        self.request(kind, false).await.map(drop)
    }

    /// `exit-status` (no reply), sent by a server before EOF/CLOSE.
    pub async fn exit_status(&self, status: u32) -> Result<(), Error> {
        self.request(ChannelRequestKind::ExitStatus { status }, false)
            .await
            .map(drop)
    }

    /// `exit-signal` (no reply).
    pub async fn exit_signal(
        &self,
        name: &str,
        core_dumped: bool,
        message: &str,
    ) -> Result<(), Error> {
        let kind = ChannelRequestKind::ExitSignal {
            signal: name.into(),
            core_dumped,
            message: message.into(),
            language: String::new(),
        };
        self.request(kind, false).await.map(drop)
    }

    /// Sends EOF: no more data from us.
    pub fn send_eof(&self) -> Result<(), Error> {
        let mut st = lock(&self.r.shared);
        let conn = st.conn()?;
        let info = conn.channel_info(self.r.h)?;
        if !info.eof_sent
            && !matches!(
                info.state,
                ssh_connection::ChannelState::CloseSent | ssh_connection::ChannelState::Closed
            )
        {
            conn.send_eof(self.r.h)?;
        }
        st.wake_driver();
        Ok(())
    }

    /// Sends CLOSE (if not sent yet). Buffered data can still be read.
    pub fn close(&self) -> Result<(), Error> {
        let mut st = lock(&self.r.shared);
        let conn = st.conn()?;
        let info = conn.channel_info(self.r.h)?;
        if !matches!(
            info.state,
            ssh_connection::ChannelState::CloseSent | ssh_connection::ChannelState::Closed
        ) {
            conn.close(self.r.h)?;
        }
        st.wake_driver();
        Ok(())
    }

    /// The next request of the peer (server side: `pty-req`, `env`,
    /// `exec`, ...), `None` once the channel closed. Answer it with
    /// [`Channel::reply`] when it wants a reply.
    pub async fn next_request(&self) -> Option<IncomingRequest> {
        futures::future::poll_fn(|cx| {
            let mut st = lock(&self.r.shared);
            let ended = st.ended.is_some();
            let Some(c) = st.chans.get_mut(&self.r.h) else {
                return Poll::Ready(None);
            };
            if let Some(QueuedRequest { id, kind }) = c.requests.pop_front() {
                return Poll::Ready(Some(IncomingRequest { id, kind }));
            }
            if c.closed || ended {
                return Poll::Ready(None);
            }
            c.event_wakers.register(cx.waker());
            Poll::Pending
        })
        .await
    }

    /// Answers a request of the peer that wants a reply (no-op when it
    /// does not).
    pub fn reply(&self, request: &IncomingRequest, success: bool) -> Result<(), Error> {
        let Some(id) = request.id else { return Ok(()) };
        let mut st = lock(&self.r.shared);
        st.conn()?.answer_channel_request(self.r.h, id, success)?;
        st.wake_driver();
        Ok(())
    }

    /// Waits until CLOSE went both ways and returns how the remote
    /// command ended (`None` if the peer said nothing). Data still
    /// buffered is not read here: read the streams to their end first, or
    /// it is dropped.
    pub async fn wait_closed(&self) -> Result<Option<ExitStatus>, Error> {
        futures::future::poll_fn(|cx| {
            let mut st = lock(&self.r.shared);
            let ended = st.ended.clone();
            let exit = st.exit_status(self.r.h);
            let Some(c) = st.chans.get_mut(&self.r.h) else {
                return Poll::Ready(Err(Error::ChannelGone));
            };
            if c.closed {
                return Poll::Ready(Ok(exit));
            }
            if let Some(end) = ended {
                return Poll::Ready(match exit {
                    Some(e) => Ok(Some(e)),
                    None => Err(Error::Connection(end)),
                });
            }
            c.event_wakers.register(cx.waker());
            Poll::Pending
        })
        .await
    }

    /// How the remote command ended, if the peer said so already.
    pub fn exit(&self) -> Option<ExitStatus> {
        lock(&self.r.shared).exit_status(self.r.h)
    }
}

/// A request of the peer on a channel.
#[derive(Debug)]
pub struct IncomingRequest {
    id: Option<RequestId>,
    /// What is asked.
    pub kind: ChannelRequestKind,
}

impl IncomingRequest {
    /// True if the peer waits for an answer.
    pub fn wants_reply(&self) -> bool {
        self.id.is_some()
    }
}

/// Reads channel data or extended data.
///
/// Besides [`AsyncRead`] it is an [`AsyncBufRead`]: `poll_fill_buf` takes
/// everything the channel holds into the reader by handing over the
/// buffer itself, so a consumer that parses or forwards the bytes in
/// place skips the copy into a buffer of its own. Bytes taken stay
/// counted against the channel's window until consumed (credited in
/// batches), so a slow consumer still holds the peer back. A reader
/// dropped with bytes in hand puts them back for the channel's next
/// reader.
#[derive(Debug)]
pub struct ChannelReader {
    r: ChannelRef,
    extended: bool,
    lent: Lent,
}

/// The bytes a [`ChannelReader`] took from the channel.
#[derive(Debug, Default)]
struct Lent {
    buf: Vec<u8>,
    /// Consumed up to here.
    pos: usize,
    /// Consumed but not yet reported to the connection.
    uncredited: usize,
}

/// Consumed bytes are reported (re-opening the window) at the next fill,
/// or as soon as this many add up.
const CREDIT_BATCH: usize = 32 * 1024;

fn poll_read_chan(
    r: &ChannelRef,
    extended: bool,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    if buf.is_empty() {
        return Poll::Ready(Ok(0));
    }
    let mut st = lock(&r.shared);
    let ended = st.ended.clone();
    // Data that came before the end is still read.
    let res = match st.conn_to_read() {
        Some(conn) => {
            if extended {
                conn.read_extended(r.h, buf)
            } else {
                conn.read(r.h, buf)
            }
        }
        None => Ok(0),
    };
    match res {
        Ok(n) if n > 0 => {
            // Reading may have queued a WINDOW_ADJUST.
            st.wake_driver();
            Poll::Ready(Ok(n))
        }
        Ok(_) | Err(_) => {
            let Some(c) = st.chans.get_mut(&r.h) else {
                return Poll::Ready(Ok(0));
            };
            if c.eof || c.closed {
                return Poll::Ready(Ok(0));
            }
            if let Some(end) = ended {
                return Poll::Ready(Err(io_err(Error::Connection(end))));
            }
            if extended {
                c.ext_waker = Some(cx.waker().clone());
            } else {
                c.read_waker = Some(cx.waker().clone());
            }
            Poll::Pending
        }
    }
}

impl ChannelReader {
    fn in_hand(&self) -> &[u8] {
        self.lent.buf.get(self.lent.pos..).unwrap_or_default()
    }

    fn take_consumed(&mut self, amt: usize) {
        let amt = amt.min(self.in_hand().len());
        self.lent.pos += amt;
        self.lent.uncredited += amt;
        if self.lent.uncredited >= CREDIT_BATCH {
            let n = core::mem::take(&mut self.lent.uncredited);
            let mut st = lock(&self.r.shared);
            if let Ok(conn) = st.conn() {
                let _ = conn.consume_taken(self.r.h, n);
                st.wake_driver();
            }
        }
    }
}

impl AsyncRead for ChannelReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let hand = this.in_hand();
        if hand.is_empty() {
            return poll_read_chan(&this.r, this.extended, cx, buf);
        }
        let n = hand.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), hand.get(..n)) {
            dst.copy_from_slice(src);
        }
        this.take_consumed(n);
        Poll::Ready(Ok(n))
    }
}

impl AsyncBufRead for ChannelReader {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        if this.in_hand().is_empty() {
            let h = this.r.h;
            let mut st = lock(&this.r.shared);
            let ended = st.ended.clone();
            let spare = core::mem::take(&mut this.lent.buf);
            let credit = core::mem::take(&mut this.lent.uncredited);
            this.lent.pos = 0;
            // Data that came before the end is still taken.
            let taken = st.conn_to_read().and_then(|conn| {
                if credit > 0 {
                    let _ = conn.consume_taken(h, credit);
                }
                if this.extended {
                    conn.take_extended(h, spare).ok()
                } else {
                    conn.take_data(h, spare).ok()
                }
            });
            if credit > 0 {
                st.wake_driver();
            }
            this.lent.buf = taken.unwrap_or_default();
            if this.lent.buf.is_empty() {
                let Some(c) = st.chans.get_mut(&h) else {
                    return Poll::Ready(Ok(&[]));
                };
                if c.eof || c.closed {
                    return Poll::Ready(Ok(&[]));
                }
                if let Some(end) = ended {
                    return Poll::Ready(Err(io_err(Error::Connection(end))));
                }
                if this.extended {
                    c.ext_waker = Some(cx.waker().clone());
                } else {
                    c.read_waker = Some(cx.waker().clone());
                }
                return Poll::Pending;
            }
        }
        Poll::Ready(Ok(this.in_hand()))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        self.get_mut().take_consumed(amt);
    }
}

impl Drop for ChannelReader {
    fn drop(&mut self) {
        let credit = self.lent.uncredited;
        let rest = self.in_hand();
        if credit == 0 && rest.is_empty() {
            return;
        }
        let mut st = lock(&self.r.shared);
        if let Ok(conn) = st.conn() {
            let _ = conn.consume_taken(self.r.h, credit);
            let _ = conn.put_back(self.r.h, self.extended, rest);
            st.wake_driver();
        }
    }
}

impl AsyncRead for Channel {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        poll_read_chan(&self.r, false, cx, buf)
    }
}

/// Writes channel data or extended data.
#[derive(Debug)]
pub struct ChannelWriter {
    r: ChannelRef,
    ext: Option<u32>,
}

fn poll_write_chan(
    r: &ChannelRef,
    ext: Option<u32>,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<io::Result<usize>> {
    if buf.is_empty() {
        return Poll::Ready(Ok(0));
    }
    let mut st = lock(&r.shared);
    let closed = st.chans.get(&r.h).is_none_or(|c| c.closed);
    if closed {
        return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
    }
    if let Err(e) = st.conn() {
        return Poll::Ready(Err(io_err(e)));
    }
    let res = st.session.send_channel_data(r.h, ext, buf);
    match res {
        Ok(0) => {
            if let Some(c) = st.chans.get_mut(&r.h) {
                let slot = if ext.is_some() {
                    &mut c.ext_write_waker
                } else {
                    &mut c.write_waker
                };
                *slot = Some(cx.waker().clone());
            }
            // The window may open in the meantime: the driver wakes us.
            st.wake_driver();
            Poll::Pending
        }
        Ok(n) => {
            st.wake_driver();
            Poll::Ready(Ok(n))
        }
        Err(e) => Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, e))),
    }
}

fn poll_eof(r: &ChannelRef) -> Poll<io::Result<()>> {
    let mut st = lock(&r.shared);
    let Ok(conn) = st.conn() else {
        return Poll::Ready(Ok(()));
    };
    if let Ok(info) = conn.channel_info(r.h)
        && !info.eof_sent
        && info.state == ssh_connection::ChannelState::Open
    {
        let _ = conn.send_eof(r.h);
    }
    st.wake_driver();
    Poll::Ready(Ok(()))
}

impl AsyncWrite for ChannelWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        poll_write_chan(&self.r, self.ext, cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    /// Sends EOF for channel data; for extended data, nothing.
    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.ext.is_some() {
            return Poll::Ready(Ok(()));
        }
        poll_eof(&self.r)
    }
}

impl AsyncWrite for Channel {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        poll_write_chan(&self.r, None, cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    /// Sends EOF.
    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        poll_eof(&self.r)
    }
}

/// Opens a channel of `kind` on `shared` and waits for the answer.
pub(crate) async fn open(shared: &Shared, kind: ChannelType) -> Result<Channel, Error> {
    let h = {
        let mut st = lock(shared);
        let h = st.conn()?.open_channel(kind)?;
        st.chans
            .insert(h, crate::state::ChannelSlot::new(OpenState::Opening, 1));
        st.wake_driver();
        h
    };
    let ch = Channel::from_parts(shared.clone(), h);
    ch.wait_open().await?;
    Ok(ch)
}

/// Waits until the connection ended; its reason.
pub(crate) fn wait_end(shared: &Shared) -> impl Future<Output = Result<(), Error>> + '_ {
    futures::future::poll_fn(move |cx| {
        let mut st = lock(shared);
        match &st.ended {
            Some(
                ConnectionError::PeerDisconnected { .. }
                | ConnectionError::StreamClosed
                | ConnectionError::LocallyClosed,
            ) => Poll::Ready(Ok(())),
            Some(e) => Poll::Ready(Err(Error::Connection(e.clone()))),
            None => {
                st.end_wakers.push(cx.waker().clone());
                Poll::Pending
            }
        }
    })
}
