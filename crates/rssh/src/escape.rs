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
    /// `~C`: the command line starts (show the `ssh> ` prompt).
    Command,
}

/// A piece of filtered input: bytes for the channel, or an action, in
/// the order typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Bytes to send.
    Data(Vec<u8>),
    /// An escape sequence.
    Action(Action),
    /// Bytes to echo on the terminal while the `~C` line is typed.
    Echo(Vec<u8>),
    /// The `~C` line, complete (empty when cancelled).
    CommandLine(String),
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
    /// The `~C` line being typed.
    command: Option<Vec<u8>>,
}

/// The longest `~C` line kept.
const MAX_COMMAND: usize = 1024;

impl EscapeFilter {
    /// A filter for `escape`.
    pub fn new(escape: u8) -> Self {
        Self {
            escape,
            at_line_start: true,
            pending: false,
            command: None,
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
            if let Some(line) = &mut self.command {
                match c {
                    b'\r' | b'\n' | 0x03 | 0x1b => {
                        let text = if c == b'\r' || c == b'\n' {
                            String::from_utf8_lossy(line).into_owned()
                        } else {
                            String::new()
                        };
                        self.command = None;
                        out.push(Piece::Echo(b"\r\n".to_vec()));
                        out.push(Piece::CommandLine(text));
                        self.at_line_start = true;
                    }
                    0x7f | 0x08 if line.pop().is_some() => {
                        out.push(Piece::Echo(b"\x08 \x08".to_vec()));
                    }
                    // (nothing to erase)
                    0x7f | 0x08 => {}
                    c if c >= 0x20 && line.len() < MAX_COMMAND => {
                        line.push(c);
                        out.push(Piece::Echo(vec![c]));
                    }
                    _ => {}
                }
                continue;
            }
            if self.pending {
                self.pending = false;
                let action = match c {
                    b'.' => Some(Action::Disconnect),
                    b'?' => Some(Action::Help),
                    b'R' => Some(Action::Rekey),
                    b'#' => Some(Action::ListConnections),
                    b'C' => Some(Action::Command),
                    _ => None,
                };
                if let Some(a) = action {
                    flush(&mut data, &mut out);
                    out.push(Piece::Action(a));
                    if a == Action::Command {
                        self.command = Some(Vec::new());
                    }
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
             {e}C   - open a command line\r\n \
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

    #[test]
    fn command_line_is_collected_with_echo_and_backspace() {
        let mut f = EscapeFilter::new(b'~');
        assert_eq!(
            f.feed(b"~C-L1:h:2x"),
            vec![
                Piece::Action(Action::Command),
                Piece::Echo(b"-".to_vec()),
                Piece::Echo(b"L".to_vec()),
                Piece::Echo(b"1".to_vec()),
                Piece::Echo(b":".to_vec()),
                Piece::Echo(b"h".to_vec()),
                Piece::Echo(b":".to_vec()),
                Piece::Echo(b"2".to_vec()),
                Piece::Echo(b"x".to_vec()),
            ]
        );
        assert_eq!(
            f.feed(b"\x7f\rls\r"),
            vec![
                Piece::Echo(b"\x08 \x08".to_vec()),
                Piece::Echo(b"\r\n".to_vec()),
                Piece::CommandLine("-L1:h:2".into()),
                data(b"ls\r"),
            ]
        );
        // Backspace on an empty line erases nothing and is not kept.
        let mut f = EscapeFilter::new(b'~');
        let out = f.feed(b"~C\x7fa\r");
        assert_eq!(out.last(), Some(&Piece::CommandLine("a".into())));
        // ^C cancels: an empty line; the next one is data again.
        let mut f = EscapeFilter::new(b'~');
        let out = f.feed(b"~Cab\x03~.");
        assert_eq!(out.get(3), Some(&Piece::Echo(b"\r\n".to_vec())));
        assert_eq!(out.get(4), Some(&Piece::CommandLine(String::new())));
        assert_eq!(out.get(5), Some(&Piece::Action(Action::Disconnect)));
    }
}
