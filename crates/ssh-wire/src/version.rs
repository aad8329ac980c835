//! The protocol version exchange (RFC 4253 §4.2).
//!
//! ```text
//! SSH-protoversion-softwareversion SP comments CR LF
//! ```
//!
//! "The maximum length of the string is 255 characters, including the
//! Carriage Return and Line Feed." A server "MAY send other lines of data
//! before sending the version string"; a client may not, so those lines are
//! accepted only when reading from a server, and only a bounded number of
//! bounded lines.

use core::fmt;

use crate::error::DecodeError;

/// The longest version line, with its CR LF (RFC 4253 §4.2).
pub const MAX_VERSION_LINE: usize = 255;
/// The most lines a server may send before its version line.
pub const MAX_PRE_BANNER_LINES: usize = 1024;
/// The longest line a server may send before its version line.
pub const MAX_PRE_BANNER_LINE: usize = 8192;

/// A parsed version line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    line: String,
    software_end: usize,
}

impl Version {
    /// Our own version line: `SSH-2.0-<software>[ <comments>]`. `software`
    /// must be printable US-ASCII without spaces or minus signs.
    pub fn new(software: &str, comments: Option<&str>) -> Result<Self, DecodeError> {
        let mut line = format!("SSH-2.0-{software}");
        if let Some(c) = comments {
            line.push(' ');
            line.push_str(c);
        }
        Self::parse(&line)
    }

    /// Parses a version line without its line ending.
    pub fn parse(line: &str) -> Result<Self, DecodeError> {
        const WHAT: &str = "version line";
        if line.len() + 2 > MAX_VERSION_LINE {
            return Err(DecodeError::TooLong {
                what: WHAT,
                len: line.len() + 2,
                max: MAX_VERSION_LINE,
            });
        }
        let Some(rest) = line.strip_prefix("SSH-") else {
            return Err(DecodeError::invalid(WHAT, "does not start with SSH-"));
        };
        let Some((proto, rest)) = rest.split_once('-') else {
            return Err(DecodeError::invalid(WHAT, "no software version"));
        };
        // "1.99" is how a server that also speaks SSH 1 announces that it
        // is compatible with 2.0 (RFC 4253 §5.1).
        if proto != "2.0" && proto != "1.99" {
            return Err(DecodeError::invalid(WHAT, "protocol version is not 2.0"));
        }
        let software = rest.split_once(' ').map_or(rest, |(s, _)| s);
        if software.is_empty() {
            return Err(DecodeError::invalid(WHAT, "empty software version"));
        }
        // "MUST consist of printable US-ASCII characters, with the exception
        // of whitespace characters and the minus sign (-)". Real peers put
        // minus signs in software versions; only printability is enforced.
        if !software.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(DecodeError::invalid(
                WHAT,
                "software version is not printable",
            ));
        }
        if line.bytes().any(|b| b == 0 || b == b'\r' || b == b'\n') {
            return Err(DecodeError::invalid(WHAT, "control character in line"));
        }
        let software_end = 4 + proto.len() + 1 + software.len();
        Ok(Self {
            line: line.to_owned(),
            software_end,
        })
    }

    /// The line without CR LF: what goes into the exchange hash as V_C or
    /// V_S (RFC 4253 §8).
    pub fn as_str(&self) -> &str {
        &self.line
    }

    /// The protocol version (`2.0`, or `1.99`).
    pub fn proto(&self) -> &str {
        self.line
            .get(4..)
            .and_then(|s| s.split_once('-'))
            .map_or("", |(p, _)| p)
    }

    /// The software version, e.g. `OpenSSH_9.2p1`.
    pub fn software(&self) -> &str {
        let start = 4 + self.proto().len() + 1;
        self.line.get(start..self.software_end).unwrap_or("")
    }

    /// The comments after the software version, if any.
    pub fn comments(&self) -> Option<&str> {
        self.line.get(self.software_end..)?.strip_prefix(' ')
    }

    /// The line as sent on the wire, with CR LF.
    pub fn to_wire(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.line.len() + 2);
        out.extend_from_slice(self.line.as_bytes());
        out.extend_from_slice(b"\r\n");
        out
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line)
    }
}

/// Whose version line is being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// Reading a server's lines: other lines may come first.
    Server,
    /// Reading a client's lines: the first line must be the version.
    Client,
}

/// What [`VersionReader::read`] found at the start of its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionEvent {
    /// No complete line yet; call again with more input.
    Incomplete,
    /// A line a server sent before its version (without the line ending),
    /// and the bytes it took.
    PreBannerLine {
        /// The text (invalid UTF-8 replaced).
        text: String,
        /// Bytes consumed.
        consumed: usize,
    },
    /// The version line and the bytes it took. Binary packets start right
    /// after it.
    Version {
        /// The parsed line.
        version: Version,
        /// Bytes consumed.
        consumed: usize,
    },
}

/// Reads the peer's version line, one line at a time, with every bound of
/// RFC 4253 §4.2 enforced before the line is buffered further.
#[derive(Debug, Clone)]
pub struct VersionReader {
    peer: Peer,
    lines: usize,
    /// How much of the current line is known to hold no line feed: a line
    /// that arrives a byte at a time is scanned once, not once per byte.
    scanned: usize,
    /// Tests: every byte looked at for a line feed.
    #[cfg(test)]
    examined: usize,
}

impl VersionReader {
    /// A reader for lines from `peer`.
    pub const fn new(peer: Peer) -> Self {
        Self {
            peer,
            lines: 0,
            scanned: 0,
            #[cfg(test)]
            examined: 0,
        }
    }

    /// Looks at the start of `buf`: the bytes not yet consumed, which
    /// begin with what earlier calls saw of the current line.
    pub fn read(&mut self, buf: &[u8]) -> Result<VersionEvent, DecodeError> {
        const WHAT: &str = "version line";
        let is_version = buf.starts_with(b"SSH-") || b"SSH-".starts_with(buf);
        let limit = if is_version || self.peer == Peer::Client {
            MAX_VERSION_LINE
        } else {
            MAX_PRE_BANNER_LINE
        };
        if buf.len() < self.scanned {
            // Not the line seen so far: look at all of it.
            self.scanned = 0;
        }
        let from = self.scanned.min(limit);
        let window = buf.get(from..buf.len().min(limit)).unwrap_or_default();
        #[cfg(test)]
        {
            self.examined += window.len();
        }
        let Some(lf) = window.iter().position(|&b| b == b'\n').map(|i| from + i) else {
            self.scanned = from + window.len();
            if buf.len() >= limit {
                return Err(DecodeError::TooLong {
                    what: WHAT,
                    len: buf.len(),
                    max: limit,
                });
            }
            return Ok(VersionEvent::Incomplete);
        };
        let consumed = lf + 1;
        self.scanned = 0;
        let line = buf.get(..lf).unwrap_or_default();
        // CR LF is the rule; a bare LF is accepted as OpenSSH does.
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.starts_with(b"SSH-") {
            let text = core::str::from_utf8(line)
                .map_err(|_| DecodeError::invalid(WHAT, "not US-ASCII"))?;
            let version = Version::parse(text)?;
            return Ok(VersionEvent::Version { version, consumed });
        }
        if self.peer == Peer::Client {
            return Err(DecodeError::invalid(
                WHAT,
                "a client must send its version line first",
            ));
        }
        self.lines += 1;
        if self.lines > MAX_PRE_BANNER_LINES {
            return Err(DecodeError::TooLong {
                what: "lines before the version",
                len: self.lines,
                max: MAX_PRE_BANNER_LINES,
            });
        }
        Ok(VersionEvent::PreBannerLine {
            text: String::from_utf8_lossy(line).into_owned(),
            consumed,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn a_line_arriving_a_byte_at_a_time_is_scanned_once() {
        let mut input = vec![b'x'; MAX_PRE_BANNER_LINE - 1];
        input.push(b'\n');
        input.extend_from_slice(b"SSH-2.0-slow\r\n");
        let mut r = VersionReader::new(Peer::Server);
        let (mut start, mut end) = (0, 0);
        let mut lines = 0;
        while end < input.len() {
            end += 1;
            match r.read(&input[start..end]).unwrap() {
                VersionEvent::Incomplete => {}
                VersionEvent::PreBannerLine { consumed, text } => {
                    assert_eq!(text.len(), MAX_PRE_BANNER_LINE - 1);
                    lines += 1;
                    start += consumed;
                }
                VersionEvent::Version { version, consumed } => {
                    assert_eq!(version.software(), "slow");
                    assert_eq!(lines, 1);
                    assert_eq!(start + consumed, input.len());
                    // Each byte looked at once (the quadratic rescan of
                    // the whole line per byte examined 33 million).
                    assert_eq!(r.examined, input.len());
                    return;
                }
            }
        }
        panic!("no version line");
    }

    #[test]
    fn openssh_lines_parse() {
        let v = Version::parse("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6").unwrap();
        assert_eq!(v.proto(), "2.0");
        assert_eq!(v.software(), "OpenSSH_9.2p1");
        assert_eq!(v.comments(), Some("Debian-2+deb12u6"));
        let v = Version::parse("SSH-1.99-OpenSSH_3.9").unwrap();
        assert_eq!(v.proto(), "1.99");
        assert_eq!(v.comments(), None);
        let ours = Version::new("rssh_0.1", None).unwrap();
        assert_eq!(ours.to_wire(), b"SSH-2.0-rssh_0.1\r\n");
    }

    #[test]
    fn bad_lines_are_rejected() {
        for bad in [
            "SSH-1.5-old",
            "SSH-2.0-",
            "SSH-2.0",
            "HTTP/1.1 200 OK",
            "SSH-2.0-a\u{1}b",
        ] {
            assert!(Version::parse(bad).is_err(), "{bad:?}");
        }
        let long = format!("SSH-2.0-{}", "x".repeat(250));
        assert!(Version::parse(&long).is_err());
        let exact = format!("SSH-2.0-{}", "x".repeat(253 - 8));
        assert!(Version::parse(&exact).is_ok(), "253 + CR LF = 255");
    }

    #[test]
    fn server_may_send_lines_first() {
        let input = b"hello\r\nworld\nSSH-2.0-X\r\n\x00\x00";
        let mut r = VersionReader::new(Peer::Server);
        let mut at = 0;
        let mut seen = Vec::new();
        loop {
            match r.read(&input[at..]).unwrap() {
                VersionEvent::PreBannerLine { text, consumed } => {
                    seen.push(text);
                    at += consumed;
                }
                VersionEvent::Version { version, consumed } => {
                    assert_eq!(version.as_str(), "SSH-2.0-X");
                    at += consumed;
                    break;
                }
                VersionEvent::Incomplete => panic!("complete input"),
            }
        }
        assert_eq!(seen, ["hello", "world"]);
        assert_eq!(&input[at..], b"\x00\x00");
    }

    #[test]
    fn client_must_start_with_version() {
        let mut r = VersionReader::new(Peer::Client);
        assert!(r.read(b"hello\r\n").is_err());
        assert_eq!(r.read(b"SSH-2.0-X").unwrap(), VersionEvent::Incomplete);
    }

    #[test]
    fn unbounded_input_is_refused() {
        let mut r = VersionReader::new(Peer::Client);
        assert!(r.read(&[b'S'; 300]).is_err(), "no LF within 255 bytes");
        let mut r = VersionReader::new(Peer::Server);
        assert!(r.read(&[b'a'; MAX_PRE_BANNER_LINE]).is_err());
        assert_eq!(r.read(&[b'a'; 100]).unwrap(), VersionEvent::Incomplete);
        let mut long_version = b"SSH-2.0-".to_vec();
        long_version.resize(400, b'x');
        assert!(r.read(&long_version).is_err());
        for _ in 0..MAX_PRE_BANNER_LINES {
            r.read(b"x\n").unwrap();
        }
        assert!(r.read(b"x\n").is_err());
    }
}
