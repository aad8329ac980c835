//! SOCKS4, SOCKS4a and SOCKS5 (RFC 1928) CONNECT requests, sans-IO:
//! feed the bytes a SOCKS client sent, get what to answer and, at the
//! end, the target to connect to. Every length is bounded (names and
//! user ids at most 255 bytes); malformed input is an error, never a
//! panic. Only CONNECT and (for SOCKS5) "no authentication required"
//! are offered, as OpenSSH's dynamic forwarding does.
//!
//! ```
//! use ssh_client_kit::socks::{Parser, Step, Version};
//!
//! let mut p = Parser::new();
//! p.feed(&[5, 1, 0]); // greeting: one method, "no authentication"
//! assert_eq!(p.step().unwrap(), Step::Reply(vec![5, 0]));
//! p.feed(&[5, 1, 0, 3, 4, b'h', b'o', b's', b't', 0, 80]);
//! let Step::Request(r) = p.step().unwrap() else { panic!() };
//! assert_eq!((r.host.as_str(), r.port, r.version), ("host", 80, Version::V5));
//! ```

use core::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The longest host name or user id accepted (one length byte in SOCKS5).
pub const MAX_NAME: usize = 255;

/// More than any valid message (a SOCKS4a request with a user id and a
/// host name of [`MAX_NAME`] bytes each is 520 bytes).
const MAX_BUFFERED: usize = 1024;

/// The SOCKS dialect of a request (it decides the reply's format).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// SOCKS4: an IPv4 address.
    V4,
    /// SOCKS4a: a host name, resolved by the proxy.
    V4a,
    /// SOCKS5 (RFC 1928).
    V5,
}

/// A CONNECT request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The target: a host name, or an IPv4/IPv6 address as text (IPv6
    /// without brackets).
    pub host: String,
    /// The target port.
    pub port: u16,
    /// The dialect, for the reply.
    pub version: Version,
}

/// What the parser wants next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Feed more bytes.
    NeedMore,
    /// Send these bytes to the client, then call [`Parser::step`] again
    /// (the SOCKS5 method choice).
    Reply(Vec<u8>),
    /// The request is complete: connect, then send
    /// [`success_reply`] or [`failure_reply`].
    Request(Request),
}

/// Why a request was refused. `reply`, if any, is to be sent before
/// closing the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocksError {
    /// What was wrong.
    pub kind: SocksErrorKind,
    /// The bytes to answer with before closing, if the dialect has an
    /// answer for this error.
    pub reply: Option<Vec<u8>>,
}

/// The kinds of [`SocksError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SocksErrorKind {
    /// The first byte is neither 4 nor 5.
    UnknownVersion(u8),
    /// A command other than CONNECT.
    UnsupportedCommand(u8),
    /// None of the offered SOCKS5 methods is "no authentication".
    NoAcceptableMethod,
    /// A SOCKS5 address type other than IPv4, domain name or IPv6.
    UnsupportedAddressType(u8),
    /// A SOCKS5 request whose version byte is not 5.
    BadVersionInRequest(u8),
    /// A user id or host name longer than [`MAX_NAME`] bytes.
    TooLong,
    /// An empty host name.
    EmptyName,
    /// A host name that is not UTF-8 (or contains a NUL).
    BadName,
    /// [`Parser::step`] after the request was complete, or after an
    /// error.
    Finished,
}

impl fmt::Display for SocksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            SocksErrorKind::UnknownVersion(v) => write!(f, "unknown SOCKS version {v}"),
            SocksErrorKind::UnsupportedCommand(c) => write!(f, "unsupported SOCKS command {c}"),
            SocksErrorKind::NoAcceptableMethod => {
                f.write_str("no acceptable SOCKS5 authentication method")
            }
            SocksErrorKind::UnsupportedAddressType(a) => {
                write!(f, "unsupported SOCKS5 address type {a}")
            }
            SocksErrorKind::BadVersionInRequest(v) => {
                write!(f, "SOCKS5 request with version {v}")
            }
            SocksErrorKind::TooLong => write!(f, "SOCKS name longer than {MAX_NAME} bytes"),
            SocksErrorKind::EmptyName => f.write_str("empty SOCKS host name"),
            SocksErrorKind::BadName => f.write_str("SOCKS host name is not UTF-8"),
            SocksErrorKind::Finished => f.write_str("SOCKS negotiation already finished"),
        }
    }
}

impl std::error::Error for SocksError {}

/// SOCKS4 reply codes (CD of the reply).
const S4_GRANTED: u8 = 90;
const S4_REJECTED: u8 = 91;

/// SOCKS5 reply codes (RFC 1928 §6).
pub mod rep {
    /// succeeded
    pub const SUCCEEDED: u8 = 0;
    /// general SOCKS server failure
    pub const GENERAL_FAILURE: u8 = 1;
    /// connection not allowed by ruleset
    pub const NOT_ALLOWED: u8 = 2;
    /// Network unreachable
    pub const NETWORK_UNREACHABLE: u8 = 3;
    /// Host unreachable
    pub const HOST_UNREACHABLE: u8 = 4;
    /// Connection refused
    pub const CONNECTION_REFUSED: u8 = 5;
    /// Command not supported
    pub const COMMAND_NOT_SUPPORTED: u8 = 7;
    /// Address type not supported
    pub const ADDRESS_TYPE_NOT_SUPPORTED: u8 = 8;
}

/// The reply granting a request (bound address 0.0.0.0:0, as OpenSSH
/// sends: the real one is on the server).
pub fn success_reply(version: Version) -> Vec<u8> {
    match version {
        Version::V4 | Version::V4a => vec![0, S4_GRANTED, 0, 0, 0, 0, 0, 0],
        Version::V5 => v5_reply(rep::SUCCEEDED),
    }
}

/// The reply refusing a request; `code` is a SOCKS5 reply code of [`rep`]
/// (SOCKS4 has one refusal code for all).
pub fn failure_reply(version: Version, code: u8) -> Vec<u8> {
    match version {
        Version::V4 | Version::V4a => vec![0, S4_REJECTED, 0, 0, 0, 0, 0, 0],
        Version::V5 => v5_reply(if code == rep::SUCCEEDED {
            rep::GENERAL_FAILURE
        } else {
            code
        }),
    }
}

/// VER REP RSV ATYP=IPv4 BND.ADDR=0.0.0.0 BND.PORT=0.
fn v5_reply(code: u8) -> Vec<u8> {
    vec![5, code, 0, 1, 0, 0, 0, 0, 0, 0]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    V5Request,
    Done,
}

/// Parses one SOCKS negotiation.
#[derive(Debug, Clone)]
pub struct Parser {
    buf: Vec<u8>,
    state: State,
}

impl Default for Parser {
    fn default() -> Self {
        Self::new()
    }
}

fn err(kind: SocksErrorKind, reply: Option<Vec<u8>>) -> SocksError {
    SocksError { kind, reply }
}

/// `buf[at..]` up to (not including) the first NUL, if there is one
/// within `MAX_NAME + 1` bytes; `Ok(None)` when more bytes are needed.
fn nul_terminated(buf: &[u8], at: usize) -> Result<Option<&[u8]>, SocksErrorKind> {
    let rest = buf.get(at..).unwrap_or_default();
    match rest.iter().position(|&b| b == 0) {
        Some(n) if n > MAX_NAME => Err(SocksErrorKind::TooLong),
        Some(n) => Ok(rest.get(..n)),
        None if rest.len() > MAX_NAME => Err(SocksErrorKind::TooLong),
        None => Ok(None),
    }
}

fn host_name(bytes: &[u8]) -> Result<String, SocksErrorKind> {
    if bytes.is_empty() {
        return Err(SocksErrorKind::EmptyName);
    }
    if bytes.contains(&0) {
        return Err(SocksErrorKind::BadName);
    }
    String::from_utf8(bytes.to_vec()).map_err(|_| SocksErrorKind::BadName)
}

fn be16(buf: &[u8], at: usize) -> Option<u16> {
    let b = buf.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
}

fn array<const N: usize>(buf: &[u8], at: usize) -> Option<[u8; N]> {
    buf.get(at..at.checked_add(N)?)?.try_into().ok()
}

impl Parser {
    /// A parser waiting for the client's first byte.
    pub fn new() -> Self {
        Self {
            buf: Vec::new(),
            state: State::Start,
        }
    }

    /// Adds bytes the client sent. At most a bounded amount is kept
    /// until [`Parser::step`] consumes it; the rest of a large read is
    /// kept too but only ever handed back by [`Parser::into_rest`].
    pub fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes received after the request (data the client sent before our
    /// reply); pass them on to the target.
    pub fn into_rest(self) -> Vec<u8> {
        match self.state {
            State::Done => self.buf,
            _ => Vec::new(),
        }
    }

    /// Parses what was fed: [`Step::NeedMore`], a reply to send, or the
    /// finished request.
    pub fn step(&mut self) -> Result<Step, SocksError> {
        let res = match self.state {
            State::Start => match self.buf.first() {
                None => Ok(Step::NeedMore),
                Some(4) => self.v4(),
                Some(5) => self.v5_greeting(),
                Some(&v) => Err(err(SocksErrorKind::UnknownVersion(v), None)),
            },
            State::V5Request => self.v5_request(),
            State::Done => Err(err(SocksErrorKind::Finished, None)),
        };
        match &res {
            Err(_) => self.state = State::Done,
            Ok(Step::NeedMore) if self.buf.len() > MAX_BUFFERED => {
                // Not reachable with the bounds above; kept as a guard.
                self.state = State::Done;
                return Err(err(SocksErrorKind::TooLong, None));
            }
            Ok(_) => {}
        }
        res
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.buf.len());
        self.buf.drain(..n);
    }

    /// SOCKS4/4a: VN=4 CD DSTPORT(2) DSTIP(4) USERID NUL [HOST NUL].
    fn v4(&mut self) -> Result<Step, SocksError> {
        let refuse = || Some(vec![0, S4_REJECTED, 0, 0, 0, 0, 0, 0]);
        let (Some(&cd), Some(port), Some(ip)) = (
            self.buf.get(1),
            be16(&self.buf, 2),
            array::<4>(&self.buf, 4),
        ) else {
            return Ok(Step::NeedMore);
        };
        if cd != 1 {
            return Err(err(SocksErrorKind::UnsupportedCommand(cd), refuse()));
        }
        let user = match nul_terminated(&self.buf, 8) {
            Ok(Some(u)) => u.len(),
            Ok(None) => return Ok(Step::NeedMore),
            Err(k) => return Err(err(k, refuse())),
        };
        let mut end = 8 + user + 1;
        // SOCKS4a: "0.0.0.x" with x != 0 says a host name follows.
        let (host, version) = if ip[..3] == [0, 0, 0] && ip[3] != 0 {
            let name = match nul_terminated(&self.buf, end) {
                Ok(Some(n)) => n,
                Ok(None) => return Ok(Step::NeedMore),
                Err(k) => return Err(err(k, refuse())),
            };
            let len = name.len();
            let host = host_name(name).map_err(|k| err(k, refuse()))?;
            end += len + 1;
            (host, Version::V4a)
        } else {
            (Ipv4Addr::from(ip).to_string(), Version::V4)
        };
        self.consume(end);
        self.state = State::Done;
        Ok(Step::Request(Request {
            host,
            port,
            version,
        }))
    }

    /// SOCKS5 greeting: VER=5 NMETHODS METHODS.
    fn v5_greeting(&mut self) -> Result<Step, SocksError> {
        let Some(&n) = self.buf.get(1) else {
            return Ok(Step::NeedMore);
        };
        let end = 2 + usize::from(n);
        let Some(methods) = self.buf.get(2..end) else {
            return Ok(Step::NeedMore);
        };
        let no_auth = methods.contains(&0);
        self.consume(end);
        if !no_auth {
            return Err(err(SocksErrorKind::NoAcceptableMethod, Some(vec![5, 0xff])));
        }
        self.state = State::V5Request;
        Ok(Step::Reply(vec![5, 0]))
    }

    /// SOCKS5 request: VER=5 CMD RSV ATYP DST.ADDR DST.PORT.
    fn v5_request(&mut self) -> Result<Step, SocksError> {
        let (Some(&ver), Some(&cmd), Some(&atyp)) =
            (self.buf.first(), self.buf.get(1), self.buf.get(3))
        else {
            return Ok(Step::NeedMore);
        };
        if ver != 5 {
            return Err(err(
                SocksErrorKind::BadVersionInRequest(ver),
                Some(v5_reply(rep::GENERAL_FAILURE)),
            ));
        }
        if cmd != 1 {
            return Err(err(
                SocksErrorKind::UnsupportedCommand(cmd),
                Some(v5_reply(rep::COMMAND_NOT_SUPPORTED)),
            ));
        }
        let fail = |k| err(k, Some(v5_reply(rep::GENERAL_FAILURE)));
        let (host, port_at) = match atyp {
            1 => {
                let Some(a) = array::<4>(&self.buf, 4) else {
                    return Ok(Step::NeedMore);
                };
                (Ipv4Addr::from(a).to_string(), 8)
            }
            4 => {
                let Some(a) = array::<16>(&self.buf, 4) else {
                    return Ok(Step::NeedMore);
                };
                (Ipv6Addr::from(a).to_string(), 20)
            }
            3 => {
                let Some(&len) = self.buf.get(4) else {
                    return Ok(Step::NeedMore);
                };
                let end = 5 + usize::from(len);
                let Some(name) = self.buf.get(5..end) else {
                    return Ok(Step::NeedMore);
                };
                (host_name(name).map_err(fail)?, end)
            }
            other => {
                return Err(err(
                    SocksErrorKind::UnsupportedAddressType(other),
                    Some(v5_reply(rep::ADDRESS_TYPE_NOT_SUPPORTED)),
                ));
            }
        };
        let Some(port) = be16(&self.buf, port_at) else {
            return Ok(Step::NeedMore);
        };
        self.consume(port_at + 2);
        self.state = State::Done;
        Ok(Step::Request(Request {
            host,
            port,
            version: Version::V5,
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;

    /// Feeds `input` whole and runs the parser to its first non-reply
    /// step, collecting replies.
    fn run(input: &[u8]) -> (Vec<Vec<u8>>, Result<Step, SocksError>) {
        let mut p = Parser::new();
        p.feed(input);
        let mut replies = Vec::new();
        loop {
            match p.step() {
                Ok(Step::Reply(r)) => replies.push(r),
                other => return (replies, other),
            }
        }
    }

    fn request(host: &str, port: u16, version: Version) -> Step {
        Step::Request(Request {
            host: host.into(),
            port,
            version,
        })
    }

    #[test]
    fn socks4_with_an_ipv4_address() {
        let input = [4, 1, 0x1f, 0x90, 10, 1, 2, 3, b'b', b'o', b'b', 0];
        let (replies, step) = run(&input);
        assert!(replies.is_empty());
        assert_eq!(step.unwrap(), request("10.1.2.3", 8080, Version::V4));
    }

    #[test]
    fn socks4a_with_a_host_name() {
        let mut input = vec![4, 1, 0, 80, 0, 0, 0, 1];
        input.extend_from_slice(b"\0example.org\0");
        let (_, step) = run(&input);
        assert_eq!(step.unwrap(), request("example.org", 80, Version::V4a));
    }

    #[test]
    fn socks5_domain_ipv4_ipv6() {
        let mut input = vec![5, 2, 2, 0];
        input.extend_from_slice(&[5, 1, 0, 3, 9]);
        input.extend_from_slice(b"localhost");
        input.extend_from_slice(&[0x01, 0xbb]);
        let (replies, step) = run(&input);
        assert_eq!(replies, vec![vec![5, 0]]);
        assert_eq!(step.unwrap(), request("localhost", 443, Version::V5));

        let (_, step) = run(&[5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, 0, 22]);
        assert_eq!(step.unwrap(), request("127.0.0.1", 22, Version::V5));

        let mut v6 = vec![5, 1, 0, 5, 1, 0, 4];
        v6.extend_from_slice(&[0; 15]);
        v6.extend_from_slice(&[1, 0x12, 0x34]);
        let (_, step) = run(&v6);
        assert_eq!(step.unwrap(), request("::1", 0x1234, Version::V5));
    }

    #[test]
    fn byte_by_byte_gives_the_same_result() {
        let mut input = vec![5, 1, 0, 5, 1, 0, 3, 4];
        input.extend_from_slice(b"host");
        input.extend_from_slice(&[0, 80]);
        input.extend_from_slice(b"early data");
        let mut p = Parser::new();
        let mut replies = Vec::new();
        let mut result = None;
        for &b in &input {
            p.feed(&[b]);
            loop {
                match p.step().unwrap() {
                    Step::NeedMore => break,
                    Step::Reply(r) => replies.push(r),
                    Step::Request(r) => {
                        result = Some(r);
                        break;
                    }
                }
            }
            if result.is_some() {
                break;
            }
        }
        assert_eq!(replies, vec![vec![5, 0]]);
        let r = result.unwrap();
        assert_eq!((r.host.as_str(), r.port), ("host", 80));
        // The early data arrived after the request was complete: fed now.
        p.feed(b"early data");
        assert_eq!(p.into_rest(), b"early data");
    }

    #[test]
    fn data_after_the_request_is_kept() {
        let mut input = vec![4, 1, 0, 80, 1, 2, 3, 4, 0];
        input.extend_from_slice(b"GET /");
        let mut p = Parser::new();
        p.feed(&input);
        assert!(matches!(p.step().unwrap(), Step::Request(_)));
        assert_eq!(p.into_rest(), b"GET /");
    }

    #[test]
    fn truncated_input_needs_more() {
        let full4a = b"\x04\x01\x00\x50\x00\x00\x00\x07user\0host\0".to_vec();
        let mut full5 = vec![5, 1, 0, 5, 1, 0, 3, 4];
        full5.extend_from_slice(b"host\x00\x50");
        for full in [full4a, full5] {
            for cut in 0..full.len() {
                let (_, step) = run(&full[..cut]);
                assert_eq!(step.unwrap(), Step::NeedMore, "cut at {cut} of {full:?}");
            }
            assert!(matches!(run(&full).1.unwrap(), Step::Request(_)));
        }
    }

    #[test]
    fn refusals_with_their_replies() {
        let (_, e) = run(b"GET / HTTP/1.1\r\n");
        let e = e.unwrap_err();
        assert_eq!(e.kind, SocksErrorKind::UnknownVersion(b'G'));
        assert_eq!(e.reply, None);

        // SOCKS4 BIND.
        let e = run(&[4, 2, 0, 80, 1, 2, 3, 4, 0]).1.unwrap_err();
        assert_eq!(e.kind, SocksErrorKind::UnsupportedCommand(2));
        assert_eq!(e.reply.unwrap()[1], 91);

        // SOCKS5 with only username/password offered.
        let (replies, e) = run(&[5, 1, 2]);
        assert!(replies.is_empty());
        let e = e.unwrap_err();
        assert_eq!(e.kind, SocksErrorKind::NoAcceptableMethod);
        assert_eq!(e.reply.unwrap(), vec![5, 0xff]);

        // SOCKS5 with no method at all.
        assert_eq!(
            run(&[5, 0]).1.unwrap_err().kind,
            SocksErrorKind::NoAcceptableMethod
        );

        // SOCKS5 UDP ASSOCIATE.
        let e = run(&[5, 1, 0, 5, 3, 0, 1, 0, 0, 0, 0, 0, 0]).1.unwrap_err();
        assert_eq!(e.kind, SocksErrorKind::UnsupportedCommand(3));
        assert_eq!(e.reply.unwrap(), vec![5, 7, 0, 1, 0, 0, 0, 0, 0, 0]);

        // Unknown address type.
        let e = run(&[5, 1, 0, 5, 1, 0, 2, 0, 0]).1.unwrap_err();
        assert_eq!(e.kind, SocksErrorKind::UnsupportedAddressType(2));
        assert_eq!(e.reply.unwrap()[1], 8);

        // A request with another version.
        let e = run(&[5, 1, 0, 4, 1, 0, 1, 0, 0, 0, 0, 0, 0]).1.unwrap_err();
        assert_eq!(e.kind, SocksErrorKind::BadVersionInRequest(4));

        // Empty and non-UTF-8 names.
        let e = run(&[5, 1, 0, 5, 1, 0, 3, 0, 0, 80]).1.unwrap_err();
        assert_eq!(e.kind, SocksErrorKind::EmptyName);
        let e = run(&[5, 1, 0, 5, 1, 0, 3, 2, 0xff, 0xfe, 0, 80])
            .1
            .unwrap_err();
        assert_eq!(e.kind, SocksErrorKind::BadName);
        let e = run(b"\x04\x01\x00\x50\x00\x00\x00\x01\0\0").1.unwrap_err();
        assert_eq!(e.kind, SocksErrorKind::EmptyName);
    }

    #[test]
    fn names_longer_than_255_bytes_are_refused() {
        // A SOCKS4 user id that never ends.
        let mut input = vec![4, 1, 0, 80, 1, 2, 3, 4];
        input.extend_from_slice(&[b'u'; 255]);
        assert_eq!(run(&input).1.unwrap(), Step::NeedMore);
        input.push(b'u');
        assert_eq!(run(&input).1.unwrap_err().kind, SocksErrorKind::TooLong);
        // 255 bytes plus NUL is fine.
        let mut ok = vec![4, 1, 0, 80, 1, 2, 3, 4];
        ok.extend_from_slice(&[b'u'; 255]);
        ok.push(0);
        assert!(matches!(run(&ok).1.unwrap(), Step::Request(_)));
        // A SOCKS4a host name of 256 bytes.
        let mut input = vec![4, 1, 0, 80, 0, 0, 0, 9, 0];
        input.extend_from_slice(&[b'h'; 256]);
        input.push(0);
        assert_eq!(run(&input).1.unwrap_err().kind, SocksErrorKind::TooLong);
    }

    #[test]
    fn after_the_end_next_is_an_error() {
        let mut p = Parser::new();
        p.feed(&[4, 1, 0, 80, 1, 2, 3, 4, 0]);
        assert!(matches!(p.step().unwrap(), Step::Request(_)));
        assert_eq!(p.step().unwrap_err().kind, SocksErrorKind::Finished);
        let mut p = Parser::new();
        p.feed(b"x");
        assert!(p.step().is_err());
        assert_eq!(p.step().unwrap_err().kind, SocksErrorKind::Finished);
    }

    #[test]
    fn replies() {
        assert_eq!(success_reply(Version::V4), vec![0, 90, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            failure_reply(Version::V4a, rep::HOST_UNREACHABLE),
            vec![0, 91, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            success_reply(Version::V5),
            vec![5, 0, 0, 1, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            failure_reply(Version::V5, rep::CONNECTION_REFUSED),
            vec![5, 5, 0, 1, 0, 0, 0, 0, 0, 0]
        );
        // "Success" is not a failure code.
        assert_eq!(failure_reply(Version::V5, rep::SUCCEEDED)[1], 1);
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            /// Any input, fed in any chunks, never panics, and the parser
            /// never keeps more than its bound while it needs more.
            #[test]
            fn arbitrary_input_never_panics(
                input in proptest::collection::vec(any::<u8>(), 0..700),
                chunk in 1usize..64,
            ) {
                let mut p = Parser::new();
                'outer: for c in input.chunks(chunk) {
                    p.feed(c);
                    loop {
                        match p.step() {
                            Ok(Step::NeedMore) => {
                                prop_assert!(p.buf.len() <= MAX_BUFFERED);
                                break;
                            }
                            Ok(Step::Reply(_)) => {}
                            Ok(Step::Request(r)) => {
                                prop_assert!(r.host.len() <= 255);
                                break 'outer;
                            }
                            Err(_) => break 'outer,
                        }
                    }
                }
            }

            /// Well-formed SOCKS5 domain requests come back as sent.
            #[test]
            fn socks5_names_round_trip(name in "[a-z0-9.-]{1,255}", port: u16) {
                let mut input = vec![5, 1, 0, 5, 1, 0, 3, name.len() as u8];
                input.extend_from_slice(name.as_bytes());
                input.extend_from_slice(&port.to_be_bytes());
                let mut p = Parser::new();
                p.feed(&input);
                prop_assert_eq!(p.step().unwrap(), Step::Reply(vec![5, 0]));
                let step = p.step().unwrap();
                prop_assert_eq!(step, Step::Request(Request {
                    host: name, port, version: Version::V5,
                }));
            }
        }
    }
}
