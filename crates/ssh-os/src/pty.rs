//! Pseudo-terminals for sessions (`pty-req`, RFC 4254 §6.2).
//!
//! [`Pty::open`] allocates a master/slave pair, applies the client's
//! terminal modes and window size to the slave; the slave goes to the
//! child with [`Pty::take_slave`] and [`SpawnOptions::pty`]; the master
//! becomes an async reader and writer ([`Pty::into_master`]) plus a
//! cloneable [`PtyControl`] for `window-change`.
//!
//! [`SpawnOptions::pty`]: super::process::SpawnOptions::pty

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_io::Async;
use futures::io::{AsyncRead, AsyncWrite};
use rustix::fs::{Mode, OFlags};
use rustix::pty::OpenptFlags;
use rustix::termios::{OptionalActions, Winsize};

use super::modes;

/// A terminal's window size, in characters and pixels (0 when unknown), as
/// `pty-req` and `window-change` carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WinSize {
    /// Width in characters.
    pub cols: u16,
    /// Height in characters.
    pub rows: u16,
    /// Width in pixels.
    pub width_px: u16,
    /// Height in pixels.
    pub height_px: u16,
}

impl From<WinSize> for Winsize {
    fn from(w: WinSize) -> Self {
        Winsize {
            ws_row: w.rows,
            ws_col: w.cols,
            ws_xpixel: w.width_px,
            ws_ypixel: w.height_px,
        }
    }
}

impl From<Winsize> for WinSize {
    fn from(w: Winsize) -> Self {
        WinSize {
            cols: w.ws_col,
            rows: w.ws_row,
            width_px: w.ws_xpixel,
            height_px: w.ws_ypixel,
        }
    }
}

/// An open pseudo-terminal pair. Dropping it closes both halves (those not
/// taken out).
#[derive(Debug)]
pub struct Pty {
    master: Arc<Async<File>>,
    slave: Option<OwnedFd>,
    slave_name: PathBuf,
}

/// The slave half, to become a child's stdin, stdout, stderr and
/// controlling terminal ([`super::process::SpawnOptions::pty`]). Spawning
/// consumes it, so the parent keeps no copy: when the child and its
/// descendants have closed it, reading the master ends.
#[derive(Debug)]
pub struct PtySlave {
    fd: OwnedFd,
}

impl PtySlave {
    /// Another descriptor of the same slave.
    pub(crate) fn try_clone_fd(&self) -> io::Result<OwnedFd> {
        self.fd.try_clone()
    }
}

impl AsFd for PtySlave {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Pty {
    /// Opens a pseudo-terminal, sets its window size and applies `modes`
    /// (RFC 4254 §8 `(opcode, argument)` pairs; unknown opcodes are
    /// ignored) on top of the kernel's defaults. Both descriptors are
    /// close-on-exec and the slave is not our controlling terminal.
    pub fn open(size: WinSize, modes: &[(u8, u32)]) -> io::Result<Pty> {
        let master =
            rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
        rustix::pty::grantpt(&master)?;
        rustix::pty::unlockpt(&master)?;
        let name = rustix::pty::ptsname(&master, Vec::new())?;
        let slave = rustix::fs::open(
            name.as_c_str(),
            OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let mut termios = rustix::termios::tcgetattr(&slave)?;
        modes::apply(&mut termios, modes);
        rustix::termios::tcsetattr(&slave, OptionalActions::Now, &termios)?;
        rustix::termios::tcsetwinsize(&slave, size.into())?;
        let slave_name = PathBuf::from(std::ffi::OsStr::from_bytes(name.as_bytes()));
        Ok(Pty {
            master: Arc::new(Async::new(File::from(master))?),
            slave: Some(slave),
            slave_name,
        })
    }

    /// The slave's device path, such as `/dev/pts/3` (for `utmp` and
    /// `SSH_TTY`).
    pub fn slave_name(&self) -> &Path {
        &self.slave_name
    }

    /// Sets the window size; the kernel sends SIGWINCH to the terminal's
    /// foreground process group.
    pub fn resize(&self, size: WinSize) -> io::Result<()> {
        self.control().resize(size)
    }

    /// A handle for resizing that outlives [`Pty::into_master`].
    pub fn control(&self) -> PtyControl {
        PtyControl {
            master: Arc::clone(&self.master),
        }
    }

    /// Gives the slave to `user`, mode 0620 (owner read/write, group
    /// write), as sshd does for root servers; `gid` is usually the `tty`
    /// group. Needs privileges to change the owner.
    pub fn chown_slave(&self, uid: u32, gid: u32) -> io::Result<()> {
        std::os::unix::fs::chown(&self.slave_name, Some(uid), Some(gid))?;
        std::fs::set_permissions(&self.slave_name, std::fs::Permissions::from_mode(0o620))
    }

    /// The slave's current terminal modes, RFC 4254 §8 encoded. Fails once
    /// the slave was taken.
    pub fn modes(&self) -> io::Result<Vec<(u8, u32)>> {
        let slave = self.slave.as_ref().ok_or_else(slave_taken)?;
        Ok(modes::encode(&rustix::termios::tcgetattr(slave)?))
    }

    /// Takes the slave half out, to hand to [`super::process::spawn`].
    /// Fails the second time.
    pub fn take_slave(&mut self) -> io::Result<PtySlave> {
        let fd = self.slave.take().ok_or_else(slave_taken)?;
        Ok(PtySlave { fd })
    }

    /// Splits the master half into a reader and a writer usable from two
    /// tasks. Drops the slave if it was not taken.
    pub fn into_master(self) -> (PtyReader, PtyWriter) {
        (
            PtyReader {
                master: Arc::clone(&self.master),
            },
            PtyWriter {
                master: self.master,
            },
        )
    }
}

fn slave_taken() -> io::Error {
    io::Error::other("the PTY slave was already taken")
}

/// Resizes the terminal; cloneable, shares the master descriptor.
#[derive(Debug, Clone)]
pub struct PtyControl {
    master: Arc<Async<File>>,
}

impl PtyControl {
    /// Sets the window size (`TIOCSWINSZ` on the master); the kernel sends
    /// SIGWINCH to the foreground process group of the terminal.
    pub fn resize(&self, size: WinSize) -> io::Result<()> {
        rustix::termios::tcsetwinsize(self.master.get_ref(), size.into())?;
        Ok(())
    }

    /// The current window size.
    pub fn size(&self) -> io::Result<WinSize> {
        Ok(rustix::termios::tcgetwinsize(self.master.get_ref())?.into())
    }
}

/// The reading half of the master: what the session's programs write to
/// the terminal. Ends (reads 0) when every descriptor of the slave is closed.
#[derive(Debug)]
pub struct PtyReader {
    master: Arc<Async<File>>,
}

/// The writing half of the master: the keyboard of the session's programs.
#[derive(Debug)]
pub struct PtyWriter {
    master: Arc<Async<File>>,
}

impl AsyncRead for PtyReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut &*self.master).poll_read(cx, buf) {
            // Linux answers EIO on the master once the last slave
            // descriptor is closed: that is the end of the stream.
            Poll::Ready(Err(e))
                if e.raw_os_error() == Some(rustix::io::Errno::IO.raw_os_error()) =>
            {
                Poll::Ready(Ok(0))
            }
            other => other,
        }
    }
}

impl AsyncWrite for PtyWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut &*self.master).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.master).poll_flush(cx)
    }

    /// A terminal has no half-close: this only flushes. To signal end of
    /// input to a program reading the terminal, write its `VEOF` character
    /// (usually `^D`) at the start of a line.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut &*self.master).poll_flush(cx)
    }
}
