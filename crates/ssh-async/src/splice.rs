//! Copying between a channel and a local stream, both ways, with
//! half-close carried across (EOF becomes `send_eof` or a shutdown of the
//! stream's write half).

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::io;

use futures::io::{AsyncRead, AsyncWrite};

use crate::{AlignedBuf, Channel, Error};

/// Size of the fixed buffer of each direction (two channel packets of
/// OpenSSH's default 32 KiB).
const BUF: usize = 64 * 1024;

/// Which half of a direction failed.
#[derive(Debug, Clone, Copy)]
enum Op {
    Read,
    Write,
}

/// One direction of the copy: read into a fixed buffer, write it all out,
/// repeat; at the reader's EOF, close the writer (EOF to the other side).
struct Dir {
    buf: AlignedBuf,
    start: usize,
    end: usize,
    /// The reader said EOF.
    read_eof: bool,
    /// The writer was closed after the reader's EOF.
    done: bool,
    /// Something was written since the last flush.
    unflushed: bool,
    /// Bytes moved.
    bytes: u64,
}

impl Dir {
    fn new() -> Self {
        Self {
            buf: AlignedBuf::new(BUF),
            start: 0,
            end: 0,
            read_eof: false,
            done: false,
            unflushed: false,
            bytes: 0,
        }
    }

    /// True while read bytes wait to be written.
    fn pending_bytes(&self) -> bool {
        self.start < self.end
    }

    /// Moves data until the reader or the writer has to wait (`Pending`),
    /// or the direction is finished (`Ready(Ok)`), or fails.
    fn poll<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        r: &mut R,
        w: &mut W,
    ) -> Poll<Result<(), (Op, io::Error)>>
    where
        R: AsyncRead + Unpin + ?Sized,
        W: AsyncWrite + Unpin + ?Sized,
    {
        loop {
            if self.done {
                return Poll::Ready(Ok(()));
            }
            if self.pending_bytes() {
                let chunk = self.buf.get(self.start..self.end).unwrap_or_default();
                match Pin::new(&mut *w).poll_write(cx, chunk) {
                    Poll::Ready(Ok(0)) => {
                        return Poll::Ready(Err((Op::Write, io::ErrorKind::WriteZero.into())));
                    }
                    Poll::Ready(Ok(n)) => {
                        self.start = self.start.saturating_add(n).min(self.end);
                        self.bytes = self.bytes.saturating_add(n as u64);
                        self.unflushed = true;
                        continue;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err((Op::Write, e))),
                    Poll::Pending => return Poll::Pending,
                }
            }
            if self.read_eof {
                // Flushes, then EOF / shutdown(Write).
                return match Pin::new(&mut *w).poll_close(cx) {
                    Poll::Ready(Ok(())) => {
                        self.done = true;
                        Poll::Ready(Ok(()))
                    }
                    Poll::Ready(Err(e)) => Poll::Ready(Err((Op::Write, e))),
                    Poll::Pending => Poll::Pending,
                };
            }
            self.start = 0;
            self.end = 0;
            match Pin::new(&mut *r).poll_read(cx, &mut self.buf) {
                Poll::Ready(Ok(0)) => self.read_eof = true,
                Poll::Ready(Ok(n)) => self.end = n.min(self.buf.len()),
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err((Op::Read, e))),
                Poll::Pending => {
                    // Nothing to read for now: push out what was written.
                    if self.unflushed {
                        match Pin::new(&mut *w).poll_flush(cx) {
                            Poll::Ready(Ok(())) => self.unflushed = false,
                            Poll::Ready(Err(e)) => return Poll::Ready(Err((Op::Write, e))),
                            Poll::Pending => {}
                        }
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

/// Copies both ways between `ch` and `stream` until both directions
/// reached EOF: the channel's EOF closes the stream's write half
/// (`AsyncWriteExt::close`, then `shutdown(Write)` when the stream is a
/// TCP or Unix stream of async-std (`ssh_async::runtime::net`): their
/// `close` only flushes), the stream's EOF sends EOF on the channel. Then the channel
/// is closed. A CLOSE from the peer ends the copy too (nothing more can
/// be sent); bytes read from the stream that could not be delivered make
/// an error. Returns (bytes channel -> stream, bytes stream -> channel).
///
/// On an error of either side the channel is closed and the stream
/// dropped; the error says which side failed.
pub async fn splice<S>(ch: Channel, stream: S) -> io::Result<(u64, u64)>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut ch = ch;
    let mut stream = stream;
    let control = ch.control();
    let mut closed: Pin<Box<dyn Future<Output = Result<_, Error>> + Send>> =
        Box::pin(async move { control.wait_closed().await });
    let mut peer_closed = false;
    let mut down = Dir::new(); // channel -> stream
    let mut up = Dir::new(); // stream -> channel
    let res = futures::future::poll_fn(|cx| {
        let was_done = down.done;
        if let Poll::Ready(Err((op, e))) = down.poll(cx, &mut ch, &mut stream) {
            let what = match op {
                Op::Read => "reading the channel",
                Op::Write => "writing the local socket",
            };
            return Poll::Ready(Err(with_context(e, what)));
        }
        if down.done
            && !was_done
            && let Err(e) = shutdown_write(&stream)
        {
            return Poll::Ready(Err(with_context(e, "shutting down the local socket")));
        }
        if let Poll::Ready(Err((op, e))) = up.poll(cx, &mut stream, &mut ch) {
            let what = match op {
                Op::Read => "reading the local socket",
                Op::Write => "writing the channel",
            };
            return Poll::Ready(Err(with_context(e, what)));
        }
        if down.done && up.done {
            return Poll::Ready(Ok(()));
        }
        if down.done && !peer_closed && closed.as_mut().poll(cx).is_ready() {
            peer_closed = true;
        }
        if peer_closed && !up.done {
            // The peer closed the channel: nothing more can go to it.
            if up.pending_bytes() {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "the peer closed the channel before taking all data",
                )));
            }
            return Poll::Ready(Ok(()));
        }
        Poll::Pending
    })
    .await;
    // Closing fails only when the connection is gone already.
    let _ = ch.close();
    res.map(|()| (down.bytes, up.bytes))
}

/// `shutdown(Write)` of async-std's TCP and Unix streams (their
/// `AsyncWrite::poll_close` only flushes); nothing for other streams,
/// whose `poll_close` was their end of writing. A peer that is gone
/// already is not an error.
fn shutdown_write<S: 'static>(stream: &S) -> io::Result<()> {
    #[cfg(feature = "async-std")]
    let res = crate::runtime::shutdown_write(stream).unwrap_or(Ok(()));
    #[cfg(not(feature = "async-std"))]
    let res: io::Result<()> = {
        let _ = stream;
        Ok(())
    };
    match res {
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
        other => other,
    }
}

fn with_context(e: io::Error, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}
