//! Log lines safe to read: a client chooses many of the strings rsshd
//! logs (user names, forwarding targets, socket paths), so control
//! characters inside a line are written as octal escapes (`\012`), as
//! sshd's `strnvis` does; a log reader never sees a line the client
//! forged.

use std::io::{self, Write};

/// Escapes control characters (except tab) and DEL in each write but a
/// final newline: one write is one formatted event.
pub(crate) struct Escaping<W>(pub(crate) W);

impl<W: Write> Write for Escaping<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let (body, end) = match buf.split_last() {
            Some((b'\n', body)) => (body, &b"\n"[..]),
            _ => (buf, &b""[..]),
        };
        let mut out = Vec::with_capacity(buf.len() + 8);
        for &b in body {
            if (b < 0x20 && b != b'\t') || b == 0x7f {
                out.extend_from_slice(format!("\\{b:03o}").as_bytes());
            } else {
                out.push(b);
            }
        }
        out.extend_from_slice(end);
        self.0.write_all(&out)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
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
    fn plain_lines_tabs_and_utf8_pass_unchanged() {
        let line = "Accepted publickey for caf\u{e9} from 127.0.0.1 port 22\tok\n";
        assert_eq!(escaped(line.as_bytes()), line.as_bytes());
        assert_eq!(escaped(b"no newline"), b"no newline");
    }
}
