//! The client's own terminal: whether there is one, its size and modes (for
//! `pty-req`), raw mode for interactive sessions, and prompts on
//! `/dev/tty` with and without echo.

use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal, Read, Write};
use std::os::fd::{AsFd, OwnedFd};

use rustix::termios::{LocalModes, OptionalActions, SpecialCodeIndex, Termios};
use zeroize::Zeroizing;

use super::modes;
use super::pty::WinSize;

/// Whether `fd` is a terminal: `is_tty(std::io::stdin())`.
pub fn is_tty(fd: impl AsFd) -> bool {
    fd.as_fd().is_terminal()
}

/// The window size of the terminal on stdin, or else on stdout; `None`
/// when neither is a terminal.
pub fn size() -> Option<WinSize> {
    size_of(io::stdin()).or_else(|_| size_of(io::stdout())).ok()
}

/// The window size of the terminal `fd`.
pub fn size_of(fd: impl AsFd) -> io::Result<WinSize> {
    Ok(rustix::termios::tcgetwinsize(fd)?.into())
}

/// The modes of the terminal on stdin, RFC 4254 §8 encoded, for `pty-req`;
/// empty when stdin is not a terminal.
pub fn modes() -> Vec<(u8, u32)> {
    modes_of(io::stdin()).unwrap_or_default()
}

/// The modes of the terminal `fd`, RFC 4254 §8 encoded (the inverse of
/// what [`super::pty::Pty::open`] applies).
pub fn modes_of(fd: impl AsFd) -> io::Result<Vec<(u8, u32)>> {
    Ok(modes::encode(&rustix::termios::tcgetattr(fd)?))
}

/// A terminal in raw mode (`cfmakeraw`, as ssh does for interactive
/// sessions: no echo, no line editing, no signal keys, no output
/// processing), restored when this guard is dropped or
/// [`RawMode::restore`]d.
#[derive(Debug)]
pub struct RawMode {
    fd: OwnedFd,
    saved: Termios,
    restored: bool,
}

impl RawMode {
    /// Puts the terminal on stdin into raw mode.
    pub fn enter() -> io::Result<RawMode> {
        RawMode::enter_on(io::stdin())
    }

    /// Puts the terminal `fd` into raw mode (the guard keeps its own
    /// duplicate of `fd`).
    pub fn enter_on(fd: impl AsFd) -> io::Result<RawMode> {
        let fd = fd.as_fd().try_clone_to_owned()?;
        let saved = rustix::termios::tcgetattr(&fd)?;
        let mut raw = saved.clone();
        raw.make_raw();
        rustix::termios::tcsetattr(&fd, OptionalActions::Drain, &raw)?;
        Ok(RawMode {
            fd,
            saved,
            restored: false,
        })
    }

    /// Restores the modes saved on entry now, reporting failure (dropping
    /// the guard does the same silently).
    pub fn restore(mut self) -> io::Result<()> {
        self.restore_inner()
    }

    fn restore_inner(&mut self) -> io::Result<()> {
        if self.restored {
            return Ok(());
        }
        self.restored = true;
        rustix::termios::tcsetattr(&self.fd, OptionalActions::Drain, &self.saved)?;
        Ok(())
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = self.restore_inner();
    }
}

/// Reads a secret (a password, a passphrase) on `/dev/tty` without echo.
/// See [`Tty::read_secret`].
pub fn read_secret(prompt: &str) -> io::Result<String> {
    Tty::open()?.read_secret(prompt)
}

/// Reads a line on `/dev/tty` with echo, such as the answer to "Are you
/// sure you want to continue connecting (yes/no/\[fingerprint\])?". See
/// [`Tty::read_line`].
pub fn read_line(prompt: &str) -> io::Result<String> {
    Tty::open()?.read_line(prompt)
}

/// The longest secret kept; further bytes are dropped.
const MAX_SECRET: usize = 8 * 1024;
/// The longest answer line kept.
const MAX_LINE: usize = 8 * 1024;

/// A terminal to ask the user on, whatever stdin and stdout are
/// redirected to.
#[derive(Debug)]
pub struct Tty {
    file: File,
}

impl Tty {
    /// Opens the process's controlling terminal, `/dev/tty`.
    pub fn open() -> io::Result<Tty> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .map_err(|e| io::Error::new(e.kind(), format!("cannot open /dev/tty: {e}")))?;
        Ok(Tty { file })
    }

    /// Uses an open terminal (such as a PTY slave, for tests).
    pub fn from_file(file: File) -> Tty {
        Tty { file }
    }

    /// Prints `prompt`, reads a line without echo, prints a newline. The
    /// terminal's modes are restored on every path. Line editing is done
    /// here, with the terminal's own keys: erase (and DEL, ^H), kill-line,
    /// word-erase; Enter ends; the interrupt or quit key fails with
    /// `Interrupted`, end-of-file on an empty line with `UnexpectedEof`.
    pub fn read_secret(&mut self, prompt: &str) -> io::Result<String> {
        let saved = rustix::termios::tcgetattr(&self.file)?;
        let mut quiet = saved.clone();
        // Non-canonical and without signal keys, so that ^C comes to us
        // and the modes are restored before anything else happens.
        quiet.local_modes.remove(
            LocalModes::ECHO
                | LocalModes::ECHOE
                | LocalModes::ECHOK
                | LocalModes::ECHONL
                | LocalModes::ICANON
                | LocalModes::ISIG,
        );
        quiet.special_codes[SpecialCodeIndex::VMIN] = 1;
        quiet.special_codes[SpecialCodeIndex::VTIME] = 0;
        // Flush: type-ahead is not meant for a password prompt.
        rustix::termios::tcsetattr(&self.file, OptionalActions::Flush, &quiet)?;
        let restore = Restore {
            file: &self.file,
            saved: &saved,
        };
        (&self.file).write_all(prompt.as_bytes())?;
        let keys = Keys::of(&saved);
        let mut line = Zeroizing::new(Vec::with_capacity(64));
        let mut byte = [0u8; 1];
        loop {
            if (&self.file).read(&mut byte)? == 0 {
                if line.is_empty() {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                break;
            }
            let [c] = byte;
            match c {
                b'\n' | b'\r' => break,
                _ if keys.is(keys.intr, c) || keys.is(keys.quit, c) => {
                    return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
                }
                _ if keys.is(keys.eof, c) => {
                    if line.is_empty() {
                        return Err(io::ErrorKind::UnexpectedEof.into());
                    }
                    break;
                }
                0x7f | 0x08 => pop_char(&mut line),
                _ if keys.is(keys.erase, c) => pop_char(&mut line),
                _ if keys.is(keys.kill, c) => line.clear(),
                _ if keys.is(keys.werase, c) => {
                    while line.last().is_some_and(|b| *b == b' ') {
                        line.pop();
                    }
                    while line.last().is_some_and(|b| *b != b' ') {
                        line.pop();
                    }
                }
                _ => {
                    if line.len() < MAX_SECRET {
                        line.push(c);
                    }
                }
            }
        }
        drop(restore);
        String::from_utf8(line.to_vec())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "secret is not UTF-8"))
    }

    /// Prints `prompt` and reads a line with the terminal's usual echo and
    /// line editing. The newline is not part of the answer; end of file on
    /// an empty line fails with `UnexpectedEof`.
    pub fn read_line(&mut self, prompt: &str) -> io::Result<String> {
        (&self.file).write_all(prompt.as_bytes())?;
        let mut line = Vec::new();
        let mut buf = [0u8; 256];
        loop {
            let n = (&self.file).read(&mut buf)?;
            let Some(chunk) = buf.get(..n) else {
                break;
            };
            if chunk.is_empty() {
                if line.is_empty() {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                break;
            }
            if let Some(end) = chunk.iter().position(|b| *b == b'\n') {
                line.extend_from_slice(chunk.get(..end).unwrap_or_default());
                break;
            }
            if line.len() < MAX_LINE {
                line.extend_from_slice(chunk);
            }
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        String::from_utf8(line)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "answer is not UTF-8"))
    }
}

/// Removes the last UTF-8 character of `line`.
fn pop_char(line: &mut Vec<u8>) {
    while let Some(b) = line.pop() {
        // Stop after removing a lead byte (not a 10xxxxxx continuation).
        if b & 0xc0 != 0x80 {
            break;
        }
    }
}

/// The terminal's editing and signal keys while reading a secret.
struct Keys {
    intr: u8,
    quit: u8,
    eof: u8,
    erase: u8,
    kill: u8,
    werase: u8,
}

impl Keys {
    fn of(t: &Termios) -> Keys {
        let c = &t.special_codes;
        Keys {
            intr: c[SpecialCodeIndex::VINTR],
            quit: c[SpecialCodeIndex::VQUIT],
            eof: c[SpecialCodeIndex::VEOF],
            erase: c[SpecialCodeIndex::VERASE],
            kill: c[SpecialCodeIndex::VKILL],
            werase: c[SpecialCodeIndex::VWERASE],
        }
    }

    /// Whether `c` is `key` (a disabled key, 0 on Linux, matches nothing).
    fn is(&self, key: u8, c: u8) -> bool {
        key != 0 && key == c
    }
}

/// Puts the saved modes back and ends the prompt's line, on every path out
/// of [`Tty::read_secret`].
struct Restore<'a> {
    file: &'a File,
    saved: &'a Termios,
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(self.file, OptionalActions::Drain, self.saved);
        let _ = self.file.write_all(b"\n");
    }
}
