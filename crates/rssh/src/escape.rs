//! Escape sequences typed on the local terminal (`ssh(1)` ESCAPE
//! CHARACTERS): recognised only right after a newline (or at the start),
//! the escape character (`~` by default) and one more key.

/// What the user asked for with an escape sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `~.`: disconnect.
    Disconnect,
    /// `~?`: list the escapes.
    Help,
    /// `~R`: re-key.
    Rekey,
    /// `~#`: list the connections.
    ListConnections,
}

/// A piece of filtered input: bytes for the channel, or an action, in
/// the order typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Bytes to send.
    Data(Vec<u8>),
    /// An escape sequence.
    Action(Action),
}

/// The filter's state across reads.
#[derive(Debug, Clone)]
pub struct EscapeFilter {
    escape: u8,
    /// The last byte was a newline (true at the start).
    at_line_start: bool,
    /// The escape character was typed at a line start; the next byte
    /// decides.
    pending: bool,
}

impl EscapeFilter {
    /// A filter for `escape`.
    pub fn new(escape: u8) -> Self {
        Self {
            escape,
            at_line_start: true,
            pending: false,
        }
    }

    /// Filters `input`. After [`Action::Disconnect`] the rest of the
    /// input is dropped.
    pub fn feed(&mut self, input: &[u8]) -> Vec<Piece> {
        let mut out = Vec::new();
        let mut data = Vec::new();
        let flush = |data: &mut Vec<u8>, out: &mut Vec<Piece>| {
            if !data.is_empty() {
                out.push(Piece::Data(core::mem::take(data)));
            }
        };
        for &c in input {
            if self.pending {
                self.pending = false;
                let action = match c {
                    b'.' => Some(Action::Disconnect),
                    b'?' => Some(Action::Help),
                    b'R' => Some(Action::Rekey),
                    b'#' => Some(Action::ListConnections),
                    _ => None,
                };
                if let Some(a) = action {
                    flush(&mut data, &mut out);
                    out.push(Piece::Action(a));
                    if a == Action::Disconnect {
                        return out;
                    }
                    // OpenSSH stays at a line start after an escape.
                    self.at_line_start = true;
                    continue;
                }
                if c == self.escape {
                    // `~~`: one escape character is sent.
                    data.push(c);
                    self.at_line_start = false;
                    continue;
                }
                // Not an escape: both characters go through.
                data.push(self.escape);
            } else if self.at_line_start && c == self.escape {
                self.pending = true;
                continue;
            }
            data.push(c);
            self.at_line_start = c == b'\r' || c == b'\n';
        }
        flush(&mut data, &mut out);
        out
    }

    /// The `~?` text (with `\r\n` line ends, for a raw terminal).
    pub fn help(&self) -> String {
        let e = char::from(self.escape);
        format!(
            "Supported escape sequences:\r\n \
             {e}.   - terminate connection\r\n \
             {e}R   - request rekey\r\n \
             {e}#   - list forwarded connections\r\n \
             {e}?   - this message\r\n \
             {e}{e}   - send the escape character by typing it twice\r\n\
             (Note that escapes are only recognized immediately after newline.)\r\n"
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn data(s: &[u8]) -> Piece {
        Piece::Data(s.to_vec())
    }

    #[test]
    fn disconnect_at_start_and_after_newline_only() {
        let mut f = EscapeFilter::new(b'~');
        assert_eq!(f.feed(b"~."), vec![Piece::Action(Action::Disconnect)]);
        let mut f = EscapeFilter::new(b'~');
        assert_eq!(f.feed(b"ls ~.\r"), vec![data(b"ls ~.\r")]);
        assert_eq!(
            f.feed(b"~.rest"),
            vec![Piece::Action(Action::Disconnect)],
            "input after ~. is dropped"
        );
        let mut f = EscapeFilter::new(b'~');
        assert_eq!(
            f.feed(b"a\n~.b"),
            vec![data(b"a\n"), Piece::Action(Action::Disconnect)]
        );
    }

    #[test]
    fn sequences_split_across_reads() {
        let mut f = EscapeFilter::new(b'~');
        assert_eq!(f.feed(b"x\r"), vec![data(b"x\r")]);
        assert_eq!(f.feed(b"~"), vec![], "the escape waits for the next key");
        assert_eq!(f.feed(b"?"), vec![Piece::Action(Action::Help)]);
        // Still at a line start after an escape.
        assert_eq!(f.feed(b"~"), vec![]);
        assert_eq!(f.feed(b"~"), vec![data(b"~")]);
        // After `~~` the line has started.
        assert_eq!(f.feed(b"~."), vec![data(b"~.")]);
    }

    #[test]
    fn unknown_escapes_and_other_escape_chars_pass_through() {
        let mut f = EscapeFilter::new(b'~');
        assert_eq!(f.feed(b"~x~y"), vec![data(b"~x~y")]);
        let mut f = EscapeFilter::new(b'~');
        assert_eq!(
            f.feed(b"~R\n~#"),
            vec![
                Piece::Action(Action::Rekey),
                data(b"\n"),
                Piece::Action(Action::ListConnections)
            ]
        );
        let mut f = EscapeFilter::new(b'%');
        assert_eq!(f.feed(b"~.%%"), vec![data(b"~.%%")]);
        assert_eq!(
            f.feed(b"\r%."),
            vec![data(b"\r"), Piece::Action(Action::Disconnect)]
        );
        assert!(f.help().contains("%.   - terminate connection"));
    }
}
