//! `ConnectTimeout` covers the banner exchange too, as in `ssh`: a server
//! that accepts the connection but never sends its version line is given
//! up on. [`BannerWatch`] wraps the stream and notes when the server's
//! `SSH-` line has arrived; the connection races a timer that only counts
//! until then.

use core::pin::Pin;
use core::task::{Context, Poll};
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::io::{AsyncRead, AsyncWrite};

/// Stop looking after this much without a version line (the transport
/// refuses such a peer by itself).
const MAX_WATCHED: usize = 64 * 1024;

/// A stream that sets a flag once the peer's version line is complete.
pub struct BannerWatch<S> {
    inner: S,
    seen: Arc<AtomicBool>,
    /// The current line's start, up to 4 bytes (`SSH-`).
    line: [u8; 4],
    line_len: usize,
    watched: usize,
    done: bool,
}

impl<S> BannerWatch<S> {
    /// Wraps `inner`; `seen` becomes true when the version line ends.
    pub fn new(inner: S, seen: Arc<AtomicBool>) -> Self {
        Self {
            inner,
            seen,
            line: [0; 4],
            line_len: 0,
            watched: 0,
            done: false,
        }
    }

    fn observe(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if b == b'\n' {
                if self.line_len == 4 && &self.line == b"SSH-" {
                    self.done = true;
                    self.seen.store(true, Ordering::Release);
                    return;
                }
                self.line_len = 0;
            } else if let Some(slot) = self.line.get_mut(self.line_len) {
                *slot = b;
                self.line_len += 1;
            }
        }
        self.watched = self.watched.saturating_add(bytes.len());
        if self.watched > MAX_WATCHED {
            self.done = true;
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for BannerWatch<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if !this.done
            && let Poll::Ready(Ok(n)) = &r
        {
            let n = *n;
            this.observe(buf.get(..n).unwrap_or_default());
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for BannerWatch<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn watch() -> (BannerWatch<()>, Arc<AtomicBool>) {
        let seen = Arc::new(AtomicBool::new(false));
        (BannerWatch::new((), seen.clone()), seen)
    }

    #[test]
    fn the_version_line_counts_once_it_ends() {
        let (mut w, seen) = watch();
        w.observe(b"SSH-2.0-Open");
        assert!(!seen.load(Ordering::Acquire));
        w.observe(b"SSH_9.2\r\n");
        assert!(seen.load(Ordering::Acquire));
    }

    #[test]
    fn lines_before_it_do_not() {
        let (mut w, seen) = watch();
        w.observe(b"hello\r\nSS");
        w.observe(b"x-not it\r\n");
        assert!(!seen.load(Ordering::Acquire));
        w.observe(b"S");
        w.observe(b"S");
        w.observe(b"H-2.0-x\n");
        assert!(seen.load(Ordering::Acquire));
    }

    #[test]
    fn a_flood_without_one_stops_the_watch_unseen() {
        let (mut w, seen) = watch();
        for _ in 0..100 {
            w.observe(&[b'x'; 1024]);
        }
        assert!(w.done && !seen.load(Ordering::Acquire));
    }
}
