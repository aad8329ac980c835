//! Log lines safe to read: a client chooses many of the strings rsshd
//! logs (user names, forwarding targets, socket paths), so control
//! characters inside a line are written as octal escapes (`\012`), as
//! sshd's `strnvis` does; a log reader never sees a line the client
//! forged. The same lines go to stderr (`-e`, `-d`) or to the system
//! log, as sshd's do.

use std::io::{self, Write};
use std::sync::atomic::AtomicBool;

use ssh_os::syslog::Severity;
use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// `body` with control characters (except tab) and DEL as octal escapes.
fn escape(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 8);
    for &b in body {
        if (b < 0x20 && b != b'\t') || b == 0x7f {
            out.extend_from_slice(format!("\\{b:03o}").as_bytes());
        } else {
            out.push(b);
        }
    }
    out
}

/// Escapes control characters (except tab) and DEL in each write but a
/// final newline: one write is one formatted event.
pub(crate) struct Escaping<W>(pub(crate) W);

impl<W: Write> Write for Escaping<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let (body, end) = match buf.split_last() {
            Some((b'\n', body)) => (body, &b"\n"[..]),
            _ => (buf, &b""[..]),
        };
        let mut out = escape(body);
        out.extend_from_slice(end);
        self.0.write_all(&out)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// Whether the log goes to the system log (set once, at start).
pub(crate) static TO_SYSLOG: AtomicBool = AtomicBool::new(false);

/// The system log as the subscriber's writer: one event, one syslog(3)
/// message, its severity from the event's level (sshd's mapping).
pub(crate) struct Syslog;

/// One event's text, sent to the system log when the subscriber is done
/// with it.
pub(crate) struct SyslogEvent {
    severity: Severity,
    text: Vec<u8>,
}

impl<'a> MakeWriter<'a> for Syslog {
    type Writer = SyslogEvent;

    fn make_writer(&'a self) -> SyslogEvent {
        SyslogEvent {
            severity: Severity::Info,
            text: Vec::new(),
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> SyslogEvent {
        let severity = match *meta.level() {
            Level::ERROR => Severity::Error,
            Level::WARN => Severity::Warning,
            Level::INFO => Severity::Info,
            _ => Severity::Debug,
        };
        SyslogEvent {
            severity,
            text: Vec::new(),
        }
    }
}

impl Write for SyslogEvent {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.text.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl SyslogEvent {
    /// The message as syslog gets it: escaped, without its final newline.
    fn message(&self) -> String {
        let body = self.text.strip_suffix(b"\n").unwrap_or(&self.text);
        String::from_utf8_lossy(&escape(body)).into_owned()
    }
}

impl Drop for SyslogEvent {
    fn drop(&mut self) {
        if !self.text.is_empty() {
            ssh_os::syslog::send(self.severity, &self.message());
        }
    }
}

/// A privilege-separated worker's log: each event one line on standard
/// output (a pipe the monitor reads, [`relay`]), its level first (`E`,
/// `W`, `I`, `D`, `T`), escaped. The worker's sandbox has no system log
/// to reach.
pub(crate) struct Pipe;

/// One event, written as a line when the subscriber is done with it.
pub(crate) struct PipeEvent {
    level: u8,
    text: Vec<u8>,
}

impl<'a> MakeWriter<'a> for Pipe {
    type Writer = PipeEvent;

    fn make_writer(&'a self) -> PipeEvent {
        PipeEvent {
            level: b'I',
            text: Vec::new(),
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> PipeEvent {
        let level = match *meta.level() {
            Level::ERROR => b'E',
            Level::WARN => b'W',
            Level::INFO => b'I',
            Level::DEBUG => b'D',
            Level::TRACE => b'T',
        };
        PipeEvent {
            level,
            text: Vec::new(),
        }
    }
}

impl Write for PipeEvent {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.text.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl PipeEvent {
    /// The line for the pipe: level, escaped text, newline.
    fn line(&self) -> Vec<u8> {
        let body = self.text.strip_suffix(b"\n").unwrap_or(&self.text);
        let mut line = vec![self.level];
        line.extend_from_slice(&escape(body));
        line.push(b'\n');
        line
    }
}

impl Drop for PipeEvent {
    fn drop(&mut self) {
        if !self.text.is_empty() {
            let _ = io::stdout().lock().write_all(&self.line());
        }
    }
}

/// Sends a worker's log events to its standard output ([`Pipe`]).
pub(crate) fn init_pipe(filter: &str) {
    let _ = tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_level(false)
        .with_ansi(false)
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(Pipe)
        .try_init();
}

/// Logs a line a worker wrote ([`Pipe`]) here, at its level.
pub(crate) fn relay(line: &str) {
    let (level, text) = line.split_at_checked(1).unwrap_or(("I", line));
    match level {
        "E" => tracing::error!("{text}"),
        "W" => tracing::warn!("{text}"),
        "I" => tracing::info!("{text}"),
        "D" => tracing::debug!("{text}"),
        _ => tracing::trace!("{text}"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn escaped(input: &[u8]) -> Vec<u8> {
        let mut w = Escaping(Vec::new());
        assert_eq!(w.write(input).unwrap(), input.len());
        w.0
    }

    #[test]
    fn control_characters_inside_a_line_are_escaped() {
        assert_eq!(
            escaped(b"refused open to evil\nAccepted publickey for root\r\x1b[2J\x7f\n"),
            b"refused open to evil\\012Accepted publickey for root\\015\\033[2J\\177\n"
        );
    }

    #[test]
    fn a_syslog_message_is_escaped_and_loses_its_newline() {
        let mut event = SyslogEvent {
            severity: Severity::Info,
            text: Vec::new(),
        };
        event
            .write_all(b"Invalid user a\nb from 10.0.0.1\n")
            .unwrap();
        assert_eq!(event.message(), "Invalid user a\\012b from 10.0.0.1");
        event.text.clear();
    }

    #[test]
    fn a_worker_line_carries_its_level_and_is_escaped() {
        let mut event = PipeEvent {
            level: b'W',
            text: Vec::new(),
        };
        event.write_all(b"Invalid user a\nb\n").unwrap();
        assert_eq!(event.line(), b"WInvalid user a\\012b\n");
        event.text.clear();
    }

    #[test]
    fn plain_lines_tabs_and_utf8_pass_unchanged() {
        let line = "Accepted publickey for caf\u{e9} from 127.0.0.1 port 22\tok\n";
        assert_eq!(escaped(line.as_bytes()), line.as_bytes());
        assert_eq!(escaped(b"no newline"), b"no newline");
    }
}
