//! Stdin read on the caller's own thread, without blocking, when it is a
//! pipe or a socket ([`AsyncStdin`]), as `ssh` reads it: its descriptor is
//! made non-blocking (ssh does so too) and put back as it was when the
//! reader goes away. A terminal or a regular file is left alone (a
//! terminal's flags are shared with the shell that started us; a file
//! cannot be polled), and the caller reads those otherwise.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use async_io::Async;
use futures::io::AsyncRead;
use rustix::fs::{FileType, OFlags};

/// Our stdin as a non-blocking async reader (a pipe or a socket only).
pub struct AsyncStdin {
    io: Async<File>,
    /// The status flags it had, put back on drop.
    flags: OFlags,
}

impl AsyncStdin {
    /// Stdin, if it is a pipe or a socket and can be made non-blocking;
    /// `None` otherwise (read it on a thread).
    pub fn open() -> Option<Self> {
        Self::from_fd(io::stdin().as_fd().try_clone_to_owned().ok()?)
    }

    fn from_fd(fd: OwnedFd) -> Option<Self> {
        let kind = FileType::from_raw_mode(rustix::fs::fstat(&fd).ok()?.st_mode);
        if !matches!(kind, FileType::Fifo | FileType::Socket) {
            return None;
        }
        let flags = rustix::fs::fcntl_getfl(&fd).ok()?;
        // Async::new makes the descriptor non-blocking itself; the flags
        // are kept to undo that.
        let io = Async::new(File::from(fd)).ok()?;
        Some(Self { io, flags })
    }
}

impl Drop for AsyncStdin {
    fn drop(&mut self) {
        let _ = rustix::fs::fcntl_setfl(self.io.get_ref(), self.flags);
    }
}

impl AsyncRead for AsyncStdin {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use futures::io::AsyncReadExt as _;
    use std::io::Write as _;

    #[test]
    fn a_pipe_is_read_without_blocking_and_its_flags_come_back() {
        let (r, w) = rustix::pipe::pipe().unwrap();
        let probe = r.try_clone().unwrap();
        let before = rustix::fs::fcntl_getfl(&probe).unwrap();
        assert!(!before.contains(OFlags::NONBLOCK));
        let mut stdin = AsyncStdin::from_fd(r).unwrap();
        assert!(
            rustix::fs::fcntl_getfl(&probe)
                .unwrap()
                .contains(OFlags::NONBLOCK)
        );
        let writer = std::thread::spawn(move || {
            let mut w = File::from(w);
            std::thread::sleep(std::time::Duration::from_millis(50));
            w.write_all(b"hello").unwrap();
        });
        let mut got = Vec::new();
        async_io::block_on(stdin.read_to_end(&mut got)).unwrap();
        writer.join().unwrap();
        assert_eq!(got, b"hello");
        drop(stdin);
        assert_eq!(rustix::fs::fcntl_getfl(&probe).unwrap(), before);
    }

    #[test]
    fn regular_files_are_left_to_a_thread() {
        let f = File::open("/proc/self/status").unwrap();
        assert!(AsyncStdin::from_fd(f.into()).is_none());
    }
}
