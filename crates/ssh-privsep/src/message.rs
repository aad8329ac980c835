//! The messages between a worker and the monitor, and their byte form.
//!
//! A frame is `uint32 length || byte type || fields`, the fields in SSH's
//! own encoding (RFC 4251 §5). Every frame is bounded by [`MAX_FRAME`]
//! before anything is allocated for it, and a decoded frame must be read to
//! its last byte. Frames that carry secrets (a password, a key exchange's
//! shared secret) are built in buffers zeroized on drop.

use core::fmt;

use ssh_auth::authorized_keys::KeyOptions;
use ssh_transport::kex::ExchangeHashRequest;
use ssh_wire::DecodeError;
use ssh_wire::codec::{Reader, put_bool, put_string, put_u32};
use zeroize::Zeroizing;

/// The largest frame either side accepts: room for a key exchange's
/// inputs with two 8192-bit group exchange values and two KEXINITs, and
/// for a USERAUTH_REQUEST within the transport's packet limit.
pub const MAX_FRAME: usize = 512 * 1024;

/// A worker's number for one of its connections (its own, not global: the
/// monitor keys its ledger by worker and number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u32);

/// What a worker asks the monitor.
#[non_exhaustive]
pub enum Request {
    /// Sign this exchange: the monitor computes `H` from the inputs and
    /// signs it with the host key `K_S` names.
    SignExchangeHash {
        /// The connection.
        conn: ConnId,
        /// The inputs of `H`.
        request: Box<ExchangeHashRequest>,
    },
    /// Would this key be accepted for this user (a `publickey` query
    /// without a signature, RFC 4252 §7)?
    QueryPublicKey {
        /// The connection.
        conn: ConnId,
        /// The user the client named.
        user: String,
        /// The public key algorithm the client named.
        algorithm: String,
        /// The public key blob (a certificate's, for a certificate).
        key: Vec<u8>,
        /// Asked before a signature is checked (not a bare query): a
        /// refusal is logged as a failed attempt.
        proof: bool,
    },
    /// Verify this `publickey` USERAUTH_REQUEST, signature included, as
    /// the client sent it: the monitor rebuilds the signed data from the
    /// session identifier it computed itself.
    VerifyPublicKey {
        /// The connection.
        conn: ConnId,
        /// The whole SSH_MSG_USERAUTH_REQUEST payload.
        userauth_request: Vec<u8>,
    },
    /// Check this password for this user.
    Password {
        /// The connection.
        conn: ConnId,
        /// The user the client named.
        user: String,
        /// The password.
        password: Zeroizing<String>,
        /// Given as the answer to a keyboard-interactive prompt (the
        /// method it proves), not by the `password` method.
        keyboard_interactive: bool,
    },
    /// `user` passed every method the worker saw: may the account log in
    /// (PAM account management, expiry, nologin)? Asked before the
    /// worker sends USERAUTH_SUCCESS.
    Account {
        /// The connection.
        conn: ConnId,
        /// The user.
        user: String,
        /// The method that completed authentication.
        method: String,
    },
    /// The worker sent USERAUTH_SUCCESS: take the connection (its socket
    /// travels with this frame) and serve it. Granted only if the monitor
    /// itself verified the proofs; otherwise the socket is closed.
    Authenticated {
        /// The connection.
        conn: ConnId,
        /// The user.
        user: String,
        /// The transport's state (`TransportState::encode`).
        state: Zeroizing<Vec<u8>>,
    },
    /// From a user's session process: a session on the terminal `line`
    /// (`pts/N`) began (`login`) or ended, for the login records (utmp,
    /// wtmp, lastlog), which only root writes. `pid` is the session's
    /// program. No reply.
    LoginRecord {
        /// The connection.
        conn: ConnId,
        /// Began, or ended.
        login: bool,
        /// The terminal without `/dev/`.
        line: String,
        /// The session's program.
        pid: u32,
    },
    /// The connection ended in the worker (or in a user's session
    /// process).
    Closed {
        /// The connection.
        conn: ConnId,
        /// It ended because LoginGraceTime passed.
        grace_exceeded: bool,
    },
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SignExchangeHash { conn, request } => f
                .debug_struct("SignExchangeHash")
                .field("conn", conn)
                .field("request", request)
                .finish(),
            Self::QueryPublicKey {
                conn,
                user,
                algorithm,
                ..
            } => f
                .debug_struct("QueryPublicKey")
                .field("conn", conn)
                .field("user", user)
                .field("algorithm", algorithm)
                .finish_non_exhaustive(),
            Self::VerifyPublicKey { conn, .. } => f
                .debug_struct("VerifyPublicKey")
                .field("conn", conn)
                .finish_non_exhaustive(),
            Self::Password { conn, user, .. } => f
                .debug_struct("Password")
                .field("conn", conn)
                .field("user", user)
                .finish_non_exhaustive(),
            Self::Account { conn, user, method } => f
                .debug_struct("Account")
                .field("conn", conn)
                .field("user", user)
                .field("method", method)
                .finish(),
            Self::Authenticated { conn, user, .. } => f
                .debug_struct("Authenticated")
                .field("conn", conn)
                .field("user", user)
                .finish_non_exhaustive(),
            Self::LoginRecord {
                conn,
                login,
                line,
                pid,
            } => f
                .debug_struct("LoginRecord")
                .field("conn", conn)
                .field("login", login)
                .field("line", line)
                .field("pid", pid)
                .finish(),
            Self::Closed {
                conn,
                grace_exceeded,
            } => f
                .debug_struct("Closed")
                .field("conn", conn)
                .field("grace_exceeded", grace_exceeded)
                .finish(),
        }
    }
}

/// What the monitor answers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reply {
    /// The signature blob over the exchange hash.
    Signature(Vec<u8>),
    /// The answer to a query or a check: the key would be accepted, the
    /// signature verified for an authorized key, the password is right,
    /// the hand-over is done.
    Verdict(bool),
    /// The account may not log in: the message is for the user (a
    /// banner), and the connection ends.
    Denied(String),
    /// The account may log in, and the message (PAM's) is shown to the
    /// user first, as a banner.
    Allowed(String),
    /// The server's policy ends the connection (sshd's
    /// `RefuseConnection`): DISCONNECT with this reason.
    Disconnect(String),
    /// The request broke the monitor's rules for this connection (see
    /// [`crate::Refusal`]); the monitor forgets the connection.
    Refused(String),
}

/// What the monitor sends a worker or a user's session process: its
/// start, each connection it is given, and the replies to its requests.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WorkerFrame {
    /// The first frame: the public halves of the host keys (the blob of
    /// each, and of its certificate if it has one). The private halves
    /// stay with the monitor.
    Start {
        /// `(public key blob, certificate blob)` per host key.
        host_keys: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    },
    /// A new client's socket travels with this frame.
    Connection {
        /// The monitor's number for it.
        conn: ConnId,
        /// The client's address (`ip:port`).
        peer: String,
        /// The address it connected to.
        local: String,
    },
    /// To a user's session process: an authenticated connection, whose
    /// socket travels with this frame, to resume from `state` and serve.
    Serve {
        /// The monitor's number for it.
        conn: ConnId,
        /// The authenticated user.
        user: String,
        /// The client's address (`ip:port`).
        peer: String,
        /// The address it connected to.
        local: String,
        /// The options of the key that authenticated it (`authorized_keys`
        /// options and a certificate's restrictions), if a key did.
        key_options: Option<Box<KeyOptions>>,
        /// The user's password has expired: the sessions may only run
        /// `passwd` (sshd's forced change), and nothing is forwarded.
        password_change: bool,
        /// The transport's state (`TransportState::encode`).
        state: Zeroizing<Vec<u8>>,
    },
    /// The answer to the connection's pending request.
    Reply {
        /// The connection.
        conn: ConnId,
        /// The answer.
        reply: Reply,
    },
}

/// Host keys in a [`WorkerFrame::Start`], at most.
pub const MAX_HOST_KEYS: usize = 32;

const SIGN: u8 = 1;
const QUERY_KEY: u8 = 2;
const VERIFY_KEY: u8 = 3;
const PASSWORD: u8 = 4;
const AUTHENTICATED: u8 = 5;
const CLOSED: u8 = 6;
const ACCOUNT: u8 = 7;
const LOGIN_RECORD: u8 = 8;

const SIGNATURE: u8 = 101;
const VERDICT: u8 = 102;
const REFUSED: u8 = 103;
const DENIED: u8 = 104;
const DISCONNECT: u8 = 105;
const ALLOWED: u8 = 106;

const START: u8 = 201;
const CONNECTION: u8 = 202;
const REPLY: u8 = 203;
const SERVE: u8 = 204;

/// Strings (`permitopen`, `permitlisten`, `environment`) a key's options
/// carry in a frame, at most.
pub const MAX_KEY_OPTION_LISTS: usize = 1024;

/// A frame that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// The announced length is above [`MAX_FRAME`] or below one byte.
    Length(usize),
    /// The frame's type is not one of the request (or reply) types.
    UnknownType(u8),
    /// The fields do not decode.
    Decode(DecodeError),
    /// The exchange hash request inside does not decode.
    ExchangeHashRequest(String),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length(n) => write!(f, "frame of {n} bytes (at most {MAX_FRAME})"),
            Self::UnknownType(t) => write!(f, "unknown frame type {t}"),
            Self::Decode(e) => write!(f, "malformed frame: {e}"),
            Self::ExchangeHashRequest(e) => write!(f, "malformed exchange hash request: {e}"),
        }
    }
}

impl std::error::Error for FrameError {}

impl From<DecodeError> for FrameError {
    fn from(e: DecodeError) -> Self {
        Self::Decode(e)
    }
}

/// Starts a frame of type `ty`; [`finish`] writes its length.
fn start(ty: u8) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(64));
    put_u32(&mut out, 0);
    out.push(ty);
    out
}

fn finish(mut out: Zeroizing<Vec<u8>>) -> Zeroizing<Vec<u8>> {
    let len = u32::try_from(out.len().saturating_sub(4)).unwrap_or(u32::MAX);
    if let Some(head) = out.get_mut(..4) {
        head.copy_from_slice(&len.to_be_bytes());
    }
    out
}

impl Request {
    /// The frame, length included, in a buffer zeroized on drop.
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let out = match self {
            Self::SignExchangeHash { conn, request } => {
                let mut out = start(SIGN);
                put_u32(&mut out, conn.0);
                put_string(&mut out, &request.encode());
                out
            }
            Self::QueryPublicKey {
                conn,
                user,
                algorithm,
                key,
                proof,
            } => {
                let mut out = start(QUERY_KEY);
                put_u32(&mut out, conn.0);
                put_string(&mut out, user.as_bytes());
                put_string(&mut out, algorithm.as_bytes());
                put_string(&mut out, key);
                put_bool(&mut out, *proof);
                out
            }
            Self::VerifyPublicKey {
                conn,
                userauth_request,
            } => {
                let mut out = start(VERIFY_KEY);
                put_u32(&mut out, conn.0);
                put_string(&mut out, userauth_request);
                out
            }
            Self::Password {
                conn,
                user,
                password,
                keyboard_interactive,
            } => {
                let mut out = start(PASSWORD);
                out.reserve(user.len() + password.len() + 13);
                put_u32(&mut out, conn.0);
                put_string(&mut out, user.as_bytes());
                put_string(&mut out, password.as_bytes());
                put_bool(&mut out, *keyboard_interactive);
                out
            }
            Self::Account { conn, user, method } => {
                let mut out = start(ACCOUNT);
                put_u32(&mut out, conn.0);
                put_string(&mut out, user.as_bytes());
                put_string(&mut out, method.as_bytes());
                out
            }
            Self::Authenticated { conn, user, state } => {
                let mut out = start(AUTHENTICATED);
                out.reserve(user.len() + state.len() + 12);
                put_u32(&mut out, conn.0);
                put_string(&mut out, user.as_bytes());
                put_string(&mut out, state);
                out
            }
            Self::LoginRecord {
                conn,
                login,
                line,
                pid,
            } => {
                let mut out = start(LOGIN_RECORD);
                put_u32(&mut out, conn.0);
                put_bool(&mut out, *login);
                put_string(&mut out, line.as_bytes());
                put_u32(&mut out, *pid);
                out
            }
            Self::Closed {
                conn,
                grace_exceeded,
            } => {
                let mut out = start(CLOSED);
                put_u32(&mut out, conn.0);
                put_bool(&mut out, *grace_exceeded);
                out
            }
        };
        finish(out)
    }

    /// Reads one frame's body (after the length: type and fields).
    pub fn decode(body: &[u8]) -> Result<Self, FrameError> {
        check_len(body.len())?;
        let mut r = Reader::new(body);
        let ty = r.u8("type")?;
        let conn = ConnId(r.u32("connection")?);
        let request = match ty {
            SIGN => {
                let bytes = r.string("exchange hash request")?;
                let request = ExchangeHashRequest::decode(bytes)
                    .map_err(|e| FrameError::ExchangeHashRequest(e.to_string()))?;
                Self::SignExchangeHash {
                    conn,
                    request: Box::new(request),
                }
            }
            QUERY_KEY => Self::QueryPublicKey {
                conn,
                user: r.utf8("user")?.to_owned(),
                algorithm: r.ascii("algorithm")?.to_owned(),
                key: r.string("key")?.to_vec(),
                proof: r.bool("proof")?,
            },
            VERIFY_KEY => Self::VerifyPublicKey {
                conn,
                userauth_request: r.string("userauth request")?.to_vec(),
            },
            PASSWORD => Self::Password {
                conn,
                user: r.utf8("user")?.to_owned(),
                password: Zeroizing::new(r.utf8("password")?.to_owned()),
                keyboard_interactive: r.bool("keyboard-interactive")?,
            },
            ACCOUNT => Self::Account {
                conn,
                user: r.utf8("user")?.to_owned(),
                method: r.ascii("method")?.to_owned(),
            },
            AUTHENTICATED => Self::Authenticated {
                conn,
                user: r.utf8("user")?.to_owned(),
                state: Zeroizing::new(r.string("state")?.to_vec()),
            },
            LOGIN_RECORD => Self::LoginRecord {
                conn,
                login: r.bool("login")?,
                line: r.ascii("line")?.to_owned(),
                pid: r.u32("pid")?,
            },
            CLOSED => Self::Closed {
                conn,
                grace_exceeded: r.bool("grace exceeded")?,
            },
            other => return Err(FrameError::UnknownType(other)),
        };
        r.finish("request")?;
        Ok(request)
    }
}

impl Reply {
    /// The frame, length included.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Zeroizing::new(Vec::with_capacity(64));
        put_u32(&mut out, 0);
        self.put(&mut out);
        finish(out).to_vec()
    }

    /// Type and fields, appended to `out`.
    fn put(&self, out: &mut Vec<u8>) {
        match self {
            Self::Signature(sig) => {
                out.push(SIGNATURE);
                put_string(out, sig);
            }
            Self::Verdict(yes) => {
                out.push(VERDICT);
                put_bool(out, *yes);
            }
            Self::Refused(why) => {
                out.push(REFUSED);
                put_string(out, why.as_bytes());
            }
            Self::Denied(why) => {
                out.push(DENIED);
                put_string(out, why.as_bytes());
            }
            Self::Disconnect(why) => {
                out.push(DISCONNECT);
                put_string(out, why.as_bytes());
            }
            Self::Allowed(message) => {
                out.push(ALLOWED);
                put_string(out, message.as_bytes());
            }
        }
    }

    /// Reads one frame's body (after the length).
    pub fn decode(body: &[u8]) -> Result<Self, FrameError> {
        check_len(body.len())?;
        let mut r = Reader::new(body);
        let reply = Self::take(&mut r)?;
        r.finish("reply")?;
        Ok(reply)
    }

    fn take(r: &mut Reader<'_>) -> Result<Self, FrameError> {
        Ok(match r.u8("type")? {
            SIGNATURE => Self::Signature(r.string("signature")?.to_vec()),
            VERDICT => Self::Verdict(r.bool("verdict")?),
            REFUSED => Self::Refused(r.utf8("reason")?.to_owned()),
            DENIED => Self::Denied(r.utf8("message")?.to_owned()),
            DISCONNECT => Self::Disconnect(r.utf8("reason")?.to_owned()),
            ALLOWED => Self::Allowed(r.utf8("message")?.to_owned()),
            other => return Err(FrameError::UnknownType(other)),
        })
    }
}

impl WorkerFrame {
    /// The frame, length included.
    pub fn encode(&self) -> Vec<u8> {
        let out = match self {
            Self::Start { host_keys } => {
                let mut out = start(START);
                put_u32(&mut out, u32::try_from(host_keys.len()).unwrap_or(u32::MAX));
                for (key, cert) in host_keys {
                    put_string(&mut out, key);
                    put_bool(&mut out, cert.is_some());
                    put_string(&mut out, cert.as_deref().unwrap_or_default());
                }
                out
            }
            Self::Connection { conn, peer, local } => {
                let mut out = start(CONNECTION);
                put_u32(&mut out, conn.0);
                put_string(&mut out, peer.as_bytes());
                put_string(&mut out, local.as_bytes());
                out
            }
            Self::Serve {
                conn,
                user,
                peer,
                local,
                key_options,
                password_change,
                state,
            } => {
                let mut out = start(SERVE);
                out.reserve(state.len() + 64);
                put_u32(&mut out, conn.0);
                put_string(&mut out, user.as_bytes());
                put_string(&mut out, peer.as_bytes());
                put_string(&mut out, local.as_bytes());
                put_bool(&mut out, key_options.is_some());
                if let Some(o) = key_options {
                    put_key_options(&mut out, o);
                }
                put_bool(&mut out, *password_change);
                put_string(&mut out, state);
                out
            }
            Self::Reply { conn, reply } => {
                let mut out = start(REPLY);
                put_u32(&mut out, conn.0);
                reply.put(&mut out);
                out
            }
        };
        finish(out).to_vec()
    }

    /// Reads one frame's body (after the length).
    pub fn decode(body: &[u8]) -> Result<Self, FrameError> {
        check_len(body.len())?;
        let mut r = Reader::new(body);
        let frame = match r.u8("type")? {
            START => {
                let n = usize::try_from(r.u32("host key count")?).unwrap_or(usize::MAX);
                if n == 0 || n > MAX_HOST_KEYS {
                    return Err(FrameError::Length(n));
                }
                let mut host_keys = Vec::with_capacity(n);
                for _ in 0..n {
                    let key = r.string("host key")?.to_vec();
                    let has_cert = r.bool("has certificate")?;
                    let cert = r.string("certificate")?;
                    host_keys.push((key, has_cert.then(|| cert.to_vec())));
                }
                Self::Start { host_keys }
            }
            CONNECTION => Self::Connection {
                conn: ConnId(r.u32("connection")?),
                peer: r.ascii("peer")?.to_owned(),
                local: r.ascii("local")?.to_owned(),
            },
            REPLY => Self::Reply {
                conn: ConnId(r.u32("connection")?),
                reply: Reply::take(&mut r)?,
            },
            SERVE => Self::Serve {
                conn: ConnId(r.u32("connection")?),
                user: r.utf8("user")?.to_owned(),
                peer: r.ascii("peer")?.to_owned(),
                local: r.ascii("local")?.to_owned(),
                key_options: if r.bool("has key options")? {
                    Some(Box::new(take_key_options(&mut r)?))
                } else {
                    None
                },
                password_change: r.bool("password change")?,
                state: Zeroizing::new(r.string("state")?.to_vec()),
            },
            other => return Err(FrameError::UnknownType(other)),
        };
        r.finish("frame")?;
        Ok(frame)
    }
}

impl fmt::Debug for WorkerFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Start { host_keys } => f
                .debug_struct("Start")
                .field("host_keys", &host_keys.len())
                .finish(),
            Self::Connection { conn, peer, local } => f
                .debug_struct("Connection")
                .field("conn", conn)
                .field("peer", peer)
                .field("local", local)
                .finish(),
            // The state holds the session's keys: never printed.
            Self::Serve {
                conn, user, peer, ..
            } => f
                .debug_struct("Serve")
                .field("conn", conn)
                .field("user", user)
                .field("peer", peer)
                .finish_non_exhaustive(),
            Self::Reply { conn, reply } => f
                .debug_struct("Reply")
                .field("conn", conn)
                .field("reply", reply)
                .finish(),
        }
    }
}

/// A key's options as a session needs them after authentication. Left
/// out: `from=`, `expiry-time=`, `principals=` and `cert-authority`,
/// which were applied before the key was accepted.
fn put_key_options(out: &mut Vec<u8>, o: &KeyOptions) {
    let opt = |out: &mut Vec<u8>, s: &Option<String>| {
        put_bool(out, s.is_some());
        put_string(out, s.as_deref().unwrap_or_default().as_bytes());
    };
    opt(out, &o.command);
    for flag in [
        o.pty,
        o.port_forwarding,
        o.agent_forwarding,
        o.x11_forwarding,
        o.user_rc,
        o.no_touch_required,
        o.verify_required,
    ] {
        put_bool(out, flag);
    }
    for list in [&o.permit_open, &o.permit_listen] {
        put_u32(out, u32::try_from(list.len()).unwrap_or(u32::MAX));
        for s in list {
            put_string(out, s.as_bytes());
        }
    }
    put_u32(out, u32::try_from(o.environment.len()).unwrap_or(u32::MAX));
    for (k, v) in &o.environment {
        put_string(out, k.as_bytes());
        put_string(out, v.as_bytes());
    }
    put_bool(out, o.tunnel.is_some());
    put_u32(out, o.tunnel.unwrap_or(0));
}

fn take_key_options(r: &mut Reader<'_>) -> Result<KeyOptions, FrameError> {
    let opt = |r: &mut Reader<'_>, what| -> Result<Option<String>, FrameError> {
        let present = r.bool(what)?;
        let s = r.utf8(what)?;
        Ok(present.then(|| s.to_owned()))
    };
    let count = |r: &mut Reader<'_>, what| -> Result<usize, FrameError> {
        let n = usize::try_from(r.u32(what)?).unwrap_or(usize::MAX);
        if n > MAX_KEY_OPTION_LISTS {
            return Err(FrameError::Length(n));
        }
        Ok(n)
    };
    let mut o = KeyOptions::default();
    o.command = opt(r, "command")?;
    o.pty = r.bool("pty")?;
    o.port_forwarding = r.bool("port-forwarding")?;
    o.agent_forwarding = r.bool("agent-forwarding")?;
    o.x11_forwarding = r.bool("x11-forwarding")?;
    o.user_rc = r.bool("user-rc")?;
    o.no_touch_required = r.bool("no-touch-required")?;
    o.verify_required = r.bool("verify-required")?;
    for list in [&mut o.permit_open, &mut o.permit_listen] {
        for _ in 0..count(r, "permission count")? {
            list.push(r.utf8("permission")?.to_owned());
        }
    }
    for _ in 0..count(r, "environment count")? {
        let k = r.utf8("environment name")?.to_owned();
        let v = r.utf8("environment value")?.to_owned();
        o.environment.push((k, v));
    }
    let has_tunnel = r.bool("has tunnel")?;
    let tunnel = r.u32("tunnel")?;
    o.tunnel = has_tunnel.then_some(tunnel);
    Ok(o)
}

fn check_len(len: usize) -> Result<(), FrameError> {
    if len == 0 || len > MAX_FRAME {
        return Err(FrameError::Length(len));
    }
    Ok(())
}

/// Splits a byte stream into frame bodies, refusing an oversized length
/// before buffering it.
#[derive(Debug, Default)]
pub struct FrameReader {
    buf: Zeroizing<Vec<u8>>,
}

impl FrameReader {
    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame's body, if there is one. An announced
    /// length out of bounds is an error at once, with its bytes not yet
    /// received.
    pub fn next_frame(&mut self) -> Result<Option<Zeroizing<Vec<u8>>>, FrameError> {
        let Some(head) = self.buf.get(..4) else {
            return Ok(None);
        };
        let mut len = [0; 4];
        len.copy_from_slice(head);
        let len = usize::try_from(u32::from_be_bytes(len)).unwrap_or(usize::MAX);
        check_len(len)?;
        let Some(body) = self.buf.get(4..4 + len) else {
            return Ok(None);
        };
        let body = Zeroizing::new(body.to_vec());
        self.buf.drain(..4 + len);
        Ok(Some(body))
    }
}
