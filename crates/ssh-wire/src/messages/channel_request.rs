//! `SSH_MSG_CHANNEL_REQUEST` (RFC 4254 §5.4) with its typed requests
//! (RFC 4254 §6, RFC 4335, OpenSSH `PROTOCOL` §2) and the encoded terminal
//! modes of RFC 4254 §8.

use crate::codec::{Reader, put_bool, put_string, put_u32};
use crate::error::DecodeError;
use crate::messages::macros::impl_message;
use crate::messages::slen;
use crate::msg;

#[cfg(feature = "arbitrary")]
use proptest_derive::Arbitrary;

/// Terminal mode opcodes (RFC 4254 §8, RFC 8160 for `IUTF8`).
pub mod opcode {
    #![allow(missing_docs)]
    /// "Indicates end of options."
    pub const TTY_OP_END: u8 = 0;
    pub const VINTR: u8 = 1;
    pub const VQUIT: u8 = 2;
    pub const VERASE: u8 = 3;
    pub const VKILL: u8 = 4;
    pub const VEOF: u8 = 5;
    pub const VEOL: u8 = 6;
    pub const VEOL2: u8 = 7;
    pub const VSTART: u8 = 8;
    pub const VSTOP: u8 = 9;
    pub const VSUSP: u8 = 10;
    pub const VDSUSP: u8 = 11;
    pub const VREPRINT: u8 = 12;
    pub const VWERASE: u8 = 13;
    pub const VLNEXT: u8 = 14;
    pub const VFLUSH: u8 = 15;
    pub const VSWTCH: u8 = 16;
    pub const VSTATUS: u8 = 17;
    pub const VDISCARD: u8 = 18;
    pub const IGNPAR: u8 = 30;
    pub const PARMRK: u8 = 31;
    pub const INPCK: u8 = 32;
    pub const ISTRIP: u8 = 33;
    pub const INLCR: u8 = 34;
    pub const IGNCR: u8 = 35;
    pub const ICRNL: u8 = 36;
    pub const IUCLC: u8 = 37;
    pub const IXON: u8 = 38;
    pub const IXANY: u8 = 39;
    pub const IXOFF: u8 = 40;
    pub const IMAXBEL: u8 = 41;
    /// RFC 8160: "Terminal input and output is assumed to be encoded in
    /// UTF-8."
    pub const IUTF8: u8 = 42;
    pub const ISIG: u8 = 50;
    pub const ICANON: u8 = 51;
    pub const XCASE: u8 = 52;
    pub const ECHO: u8 = 53;
    pub const ECHOE: u8 = 54;
    pub const ECHOK: u8 = 55;
    pub const ECHONL: u8 = 56;
    pub const NOFLSH: u8 = 57;
    pub const TOSTOP: u8 = 58;
    pub const IEXTEN: u8 = 59;
    pub const ECHOCTL: u8 = 60;
    pub const ECHOKE: u8 = 61;
    pub const PENDIN: u8 = 62;
    pub const OPOST: u8 = 70;
    pub const OLCUC: u8 = 71;
    pub const ONLCR: u8 = 72;
    pub const OCRNL: u8 = 73;
    pub const ONOCR: u8 = 74;
    pub const ONLRET: u8 = 75;
    pub const CS7: u8 = 90;
    pub const CS8: u8 = 91;
    pub const PARENB: u8 = 92;
    pub const PARODD: u8 = 93;
    /// Input baud rate in bits per second.
    pub const TTY_OP_ISPEED: u8 = 128;
    /// Output baud rate in bits per second.
    pub const TTY_OP_OSPEED: u8 = 129;
}

/// The "encoded terminal modes" of a `pty-req` (RFC 4254 §8): "Opcodes 1 to
/// 159 have a single uint32 argument. Opcodes 160 to 255 are not yet
/// defined, and cause parsing to stop (they should only be used after any
/// other data). The stream is terminated by opcode TTY_OP_END (0x00)."
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TerminalModes {
    /// `(opcode, argument)` pairs in the order sent, opcodes 1-159.
    pub modes: Vec<(u8, u32)>,
    /// From the first opcode of 160 or more to the end, unparsed; empty
    /// when the stream ended with `TTY_OP_END`.
    pub unparsed: Vec<u8>,
}

impl TerminalModes {
    /// The argument of the last occurrence of `op`.
    pub fn get(&self, op: u8) -> Option<u32> {
        self.modes
            .iter()
            .rev()
            .find(|(o, _)| *o == op)
            .map(|(_, v)| *v)
    }

    fn stream_len(&self) -> usize {
        self.modes.len() * 5
            + if self.unparsed.is_empty() {
                1
            } else {
                self.unparsed.len()
            }
    }

    fn encode_stream(&self, out: &mut Vec<u8>) {
        for (op, value) in &self.modes {
            out.push(*op);
            put_u32(out, *value);
        }
        if self.unparsed.is_empty() {
            out.push(opcode::TTY_OP_END);
        } else {
            out.extend_from_slice(&self.unparsed);
        }
    }

    /// Reads the stream (the contents of the string). A stream that ends
    /// without `TTY_OP_END` (some clients send an empty string) is taken as
    /// ended; bytes after `TTY_OP_END` are rejected by the caller's
    /// `nested`.
    fn decode_stream(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut modes = Vec::new();
        let mut unparsed = Vec::new();
        while !r.is_empty() {
            let rest = r.rest();
            let op = r.u8("terminal mode opcode")?;
            match op {
                opcode::TTY_OP_END => break,
                1..=159 => modes.push((op, r.u32("terminal mode argument")?)),
                _ => {
                    unparsed = rest.to_vec();
                    r.take_rest();
                }
            }
        }
        Ok(Self { modes, unparsed })
    }
}

#[cfg(feature = "arbitrary")]
impl proptest::arbitrary::Arbitrary for TerminalModes {
    type Parameters = ();
    type Strategy = proptest::strategy::BoxedStrategy<Self>;

    fn arbitrary_with((): ()) -> Self::Strategy {
        use proptest::prelude::*;
        let modes = proptest::collection::vec((1u8..=159, any::<u32>()), 0..8);
        let unparsed = prop_oneof![
            Just(Vec::new()),
            (160u8..=255, crate::messages::arb::bytes()).prop_map(|(op, mut rest)| {
                rest.insert(0, op);
                rest
            }),
        ];
        (modes, unparsed)
            .prop_map(|(modes, unparsed)| Self { modes, unparsed })
            .boxed()
    }
}

/// The fields of a `pty-req` (RFC 4254 §6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct PtyRequest {
    /// "TERM environment variable value (e.g., vt100)".
    pub term: String,
    /// "terminal width, characters (e.g., 80)".
    pub cols: u32,
    /// "terminal height, rows (e.g., 24)".
    pub rows: u32,
    /// "terminal width, pixels (e.g., 640)".
    pub width_px: u32,
    /// "terminal height, pixels (e.g., 480)".
    pub height_px: u32,
    /// "encoded terminal modes".
    pub modes: TerminalModes,
}

/// Channel request names.
pub mod names {
    #![allow(missing_docs)]
    pub const PTY_REQ: &str = "pty-req";
    pub const X11_REQ: &str = "x11-req";
    pub const ENV: &str = "env";
    pub const SHELL: &str = "shell";
    pub const EXEC: &str = "exec";
    pub const SUBSYSTEM: &str = "subsystem";
    pub const WINDOW_CHANGE: &str = "window-change";
    pub const XON_XOFF: &str = "xon-xoff";
    pub const SIGNAL: &str = "signal";
    pub const EXIT_STATUS: &str = "exit-status";
    pub const EXIT_SIGNAL: &str = "exit-signal";
    /// RFC 4335.
    pub const BREAK: &str = "break";
    pub const AUTH_AGENT_REQ: &str = "auth-agent-req@openssh.com";
    /// RFC 9987's name for agent forwarding (OpenSSH 10.6 sends it to a
    /// server that advertised the `agent-forward` extension).
    pub const AGENT_REQ: &str = "agent-req";
    /// OpenSSH `PROTOCOL` §2.1: end of write (no more data to the peer),
    /// while the read side stays open.
    pub const EOW: &str = "eow@openssh.com";
}

/// The request-specific part of `SSH_MSG_CHANNEL_REQUEST`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
#[non_exhaustive]
pub enum ChannelRequestKind {
    /// `pty-req` (RFC 4254 §6.2).
    PtyReq(PtyRequest),
    /// `x11-req` (RFC 4254 §6.3.1).
    X11Req {
        /// "single connection".
        single_connection: bool,
        /// "x11 authentication protocol".
        auth_protocol: String,
        /// "x11 authentication cookie" (hexadecimal text).
        auth_cookie: String,
        /// "x11 screen number".
        screen: u32,
    },
    /// `env` (RFC 4254 §6.4).
    Env {
        /// "variable name".
        name: String,
        /// "variable value", bytes as sent.
        value: Vec<u8>,
    },
    /// `shell` (RFC 4254 §6.5).
    Shell,
    /// `exec` (RFC 4254 §6.5): the command, bytes as sent.
    Exec {
        /// "command".
        command: Vec<u8>,
    },
    /// `subsystem` (RFC 4254 §6.5).
    Subsystem {
        /// "subsystem name".
        name: String,
    },
    /// `window-change` (RFC 4254 §6.7).
    WindowChange {
        /// "terminal width, columns".
        cols: u32,
        /// "terminal height, rows".
        rows: u32,
        /// "terminal width, pixels".
        width_px: u32,
        /// "terminal height, pixels".
        height_px: u32,
    },
    /// `xon-xoff` (RFC 4254 §6.8).
    XonXoff {
        /// "client can do".
        client_can_do: bool,
    },
    /// `signal` (RFC 4254 §6.9).
    Signal {
        /// "signal name (without the "SIG" prefix)".
        name: String,
    },
    /// `exit-status` (RFC 4254 §6.10).
    ExitStatus {
        /// "exit_status".
        status: u32,
    },
    /// `exit-signal` (RFC 4254 §6.10).
    ExitSignal {
        /// "signal name (without the "SIG" prefix)".
        signal: String,
        /// "core dumped".
        core_dumped: bool,
        /// "error message in ISO-10646 UTF-8 encoding".
        message: String,
        /// "language tag".
        language: String,
    },
    /// `break` (RFC 4335 §3).
    Break {
        /// "break-length in milliseconds".
        length_ms: u32,
    },
    /// `auth-agent-req@openssh.com`: no fields.
    AuthAgentReq,
    /// `agent-req` (RFC 9987): the same under its IANA name; the server
    /// then opens `agent-connect` channels.
    AgentReq,
    /// `eow@openssh.com`: no fields.
    Eow,
    /// Any other request: its name and raw fields.
    Unknown {
        /// The request name.
        #[cfg_attr(
            feature = "arbitrary",
            proptest(strategy = "crate::messages::arb::unknown_name()")
        )]
        name: String,
        /// The request-specific data, unparsed.
        rest: Vec<u8>,
    },
}

impl ChannelRequestKind {
    /// The request name as on the wire.
    pub fn name(&self) -> &str {
        match self {
            Self::PtyReq(_) => names::PTY_REQ,
            Self::X11Req { .. } => names::X11_REQ,
            Self::Env { .. } => names::ENV,
            Self::Shell => names::SHELL,
            Self::Exec { .. } => names::EXEC,
            Self::Subsystem { .. } => names::SUBSYSTEM,
            Self::WindowChange { .. } => names::WINDOW_CHANGE,
            Self::XonXoff { .. } => names::XON_XOFF,
            Self::Signal { .. } => names::SIGNAL,
            Self::ExitStatus { .. } => names::EXIT_STATUS,
            Self::ExitSignal { .. } => names::EXIT_SIGNAL,
            Self::Break { .. } => names::BREAK,
            Self::AuthAgentReq => names::AUTH_AGENT_REQ,
            Self::AgentReq => names::AGENT_REQ,
            Self::Eow => names::EOW,
            Self::Unknown { name, .. } => name,
        }
    }

    fn fields_len(&self) -> usize {
        match self {
            Self::PtyReq(p) => slen(p.term.as_bytes()) + 16 + 4 + p.modes.stream_len(),
            Self::X11Req {
                auth_protocol,
                auth_cookie,
                ..
            } => 1 + slen(auth_protocol.as_bytes()) + slen(auth_cookie.as_bytes()) + 4,
            Self::Env { name, value } => slen(name.as_bytes()) + slen(value),
            Self::Shell | Self::AuthAgentReq | Self::AgentReq | Self::Eow => 0,
            Self::Exec { command } => slen(command),
            Self::Subsystem { name } | Self::Signal { name } => slen(name.as_bytes()),
            Self::WindowChange { .. } => 16,
            Self::XonXoff { .. } => 1,
            Self::ExitStatus { .. } | Self::Break { .. } => 4,
            Self::ExitSignal {
                signal,
                message,
                language,
                ..
            } => slen(signal.as_bytes()) + 1 + slen(message.as_bytes()) + slen(language.as_bytes()),
            Self::Unknown { rest, .. } => rest.len(),
        }
    }

    fn encode_fields(&self, out: &mut Vec<u8>) {
        match self {
            Self::PtyReq(p) => {
                put_string(out, p.term.as_bytes());
                put_u32(out, p.cols);
                put_u32(out, p.rows);
                put_u32(out, p.width_px);
                put_u32(out, p.height_px);
                put_u32(out, u32::try_from(p.modes.stream_len()).unwrap_or(u32::MAX));
                p.modes.encode_stream(out);
            }
            Self::X11Req {
                single_connection,
                auth_protocol,
                auth_cookie,
                screen,
            } => {
                put_bool(out, *single_connection);
                put_string(out, auth_protocol.as_bytes());
                put_string(out, auth_cookie.as_bytes());
                put_u32(out, *screen);
            }
            Self::Env { name, value } => {
                put_string(out, name.as_bytes());
                put_string(out, value);
            }
            Self::Shell | Self::AuthAgentReq | Self::AgentReq | Self::Eow => {}
            Self::Exec { command } => put_string(out, command),
            Self::Subsystem { name } | Self::Signal { name } => put_string(out, name.as_bytes()),
            Self::WindowChange {
                cols,
                rows,
                width_px,
                height_px,
            } => {
                put_u32(out, *cols);
                put_u32(out, *rows);
                put_u32(out, *width_px);
                put_u32(out, *height_px);
            }
            Self::XonXoff { client_can_do } => put_bool(out, *client_can_do),
            Self::ExitStatus { status: v } | Self::Break { length_ms: v } => put_u32(out, *v),
            Self::ExitSignal {
                signal,
                core_dumped,
                message,
                language,
            } => {
                put_string(out, signal.as_bytes());
                put_bool(out, *core_dumped);
                put_string(out, message.as_bytes());
                put_string(out, language.as_bytes());
            }
            Self::Unknown { rest, .. } => out.extend_from_slice(rest),
        }
    }

    fn decode_fields(name: &str, r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match name {
            names::PTY_REQ => Self::PtyReq(PtyRequest {
                term: r.utf8("TERM")?.to_owned(),
                cols: r.u32("terminal width")?,
                rows: r.u32("terminal height")?,
                width_px: r.u32("terminal width in pixels")?,
                height_px: r.u32("terminal height in pixels")?,
                modes: r.nested("encoded terminal modes", TerminalModes::decode_stream)?,
            }),
            names::X11_REQ => Self::X11Req {
                single_connection: r.bool("single connection")?,
                auth_protocol: r.utf8("x11 authentication protocol")?.to_owned(),
                auth_cookie: r.utf8("x11 authentication cookie")?.to_owned(),
                screen: r.u32("x11 screen number")?,
            },
            names::ENV => Self::Env {
                name: r.utf8("variable name")?.to_owned(),
                value: r.string("variable value")?.to_vec(),
            },
            names::SHELL => Self::Shell,
            names::EXEC => Self::Exec {
                command: r.string("command")?.to_vec(),
            },
            names::SUBSYSTEM => Self::Subsystem {
                name: r.utf8("subsystem name")?.to_owned(),
            },
            names::WINDOW_CHANGE => Self::WindowChange {
                cols: r.u32("terminal width")?,
                rows: r.u32("terminal height")?,
                width_px: r.u32("terminal width in pixels")?,
                height_px: r.u32("terminal height in pixels")?,
            },
            names::XON_XOFF => Self::XonXoff {
                client_can_do: r.bool("client can do")?,
            },
            names::SIGNAL => Self::Signal {
                name: r.utf8("signal name")?.to_owned(),
            },
            names::EXIT_STATUS => Self::ExitStatus {
                status: r.u32("exit status")?,
            },
            names::EXIT_SIGNAL => Self::ExitSignal {
                signal: r.utf8("signal name")?.to_owned(),
                core_dumped: r.bool("core dumped")?,
                message: r.utf8("error message")?.to_owned(),
                language: r.utf8("language tag")?.to_owned(),
            },
            names::BREAK => Self::Break {
                length_ms: r.u32("break length")?,
            },
            names::AUTH_AGENT_REQ => Self::AuthAgentReq,
            names::AGENT_REQ => Self::AgentReq,
            names::EOW => Self::Eow,
            other => Self::Unknown {
                name: other.to_owned(),
                rest: r.take_rest().to_vec(),
            },
        })
    }
}

/// `SSH_MSG_CHANNEL_REQUEST` (RFC 4254 §5.4).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct ChannelRequest {
    /// The receiver's channel number.
    pub recipient: u32,
    /// "If 'want reply' is FALSE, no response will be sent to the
    /// request."
    pub want_reply: bool,
    /// The request and its fields.
    pub request: ChannelRequestKind,
}

impl ChannelRequest {
    fn body_len(&self) -> usize {
        4 + slen(self.request.name().as_bytes()) + 1 + self.request.fields_len()
    }
    fn encode_body(&self, out: &mut Vec<u8>) {
        put_u32(out, self.recipient);
        put_string(out, self.request.name().as_bytes());
        put_bool(out, self.want_reply);
        self.request.encode_fields(out);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let recipient = r.u32("recipient channel")?;
        let name = r.ascii("request type")?;
        let want_reply = r.bool("want reply")?;
        let request = ChannelRequestKind::decode_fields(name, r)?;
        Ok(Self {
            recipient,
            want_reply,
            request,
        })
    }
}
impl_message!(
    ChannelRequest,
    msg::SSH_MSG_CHANNEL_REQUEST,
    "SSH_MSG_CHANNEL_REQUEST"
);
