//! The messages between a server and its sockets helper: one request or
//! reply per `SOCK_SEQPACKET` record, bounded, strictly decoded (a
//! malformed message is refused, never guessed at).
//!
//! Request: `op` byte, then the op's fields; strings are a big-endian
//! `u16` length and that many bytes. Reply: `0`, a string (a path for
//! [`Request::CreatePrivateDir`], empty otherwise) and the descriptors as
//! `SCM_RIGHTS`; or `1`, a big-endian `i32` errno (0 when there is none)
//! and a message.

use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

/// The largest record either side sends or accepts.
pub(crate) const MAX_MESSAGE: usize = 8192;
/// The longest string field (a path: `PATH_MAX`).
const MAX_STRING: usize = 4096;
/// The most descriptors a reply carries (a TCP listener per family): what
/// one record carries.
pub(crate) use crate::fdpass::MAX_FDS;

const OP_CONNECT_TCP: u8 = 1;
const OP_CONNECT_UNIX: u8 = 2;
const OP_LISTEN_TCP: u8 = 3;
const OP_LISTEN_UNIX: u8 = 4;
const OP_CREATE_PRIVATE_DIR: u8 = 5;
const OP_REMOVE_PATH: u8 = 6;

/// What the helper is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Request {
    ConnectTcp { host: String, port: u16 },
    ConnectUnix { path: PathBuf },
    ListenTcp { addr: Option<String>, port: u16 },
    ListenUnix { path: PathBuf },
    CreatePrivateDir { prefix: String },
    RemovePath { path: PathBuf },
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) -> io::Result<()> {
    let n = u16::try_from(b.len())
        .ok()
        .filter(|&n| usize::from(n) <= MAX_STRING)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "name or path too long"))?;
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(b);
    Ok(())
}

/// A bounded reader over one record.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }
    fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes(b.try_into().ok()?))
    }
    fn i32(&mut self) -> Option<i32> {
        let b = self.take(4)?;
        Some(i32::from_be_bytes(b.try_into().ok()?))
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = usize::from(self.u16()?);
        if n > MAX_STRING {
            return None;
        }
        self.take(n)
    }
    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }
    /// A path: not empty, no NUL.
    fn path(&mut self) -> Option<PathBuf> {
        let b = self.bytes()?;
        if b.is_empty() || b.contains(&0) {
            return None;
        }
        Some(PathBuf::from(OsString::from_vec(b.to_vec())))
    }
    fn end(&self) -> Option<()> {
        self.0.is_empty().then_some(())
    }
}

impl Request {
    pub(crate) fn encode(&self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        match self {
            Request::ConnectTcp { host, port } => {
                out.push(OP_CONNECT_TCP);
                put_bytes(&mut out, host.as_bytes())?;
                out.extend_from_slice(&port.to_be_bytes());
            }
            Request::ConnectUnix { path } => {
                out.push(OP_CONNECT_UNIX);
                put_bytes(&mut out, path.as_os_str().as_bytes())?;
            }
            Request::ListenTcp { addr, port } => {
                out.push(OP_LISTEN_TCP);
                match addr {
                    None => out.push(0),
                    Some(a) => {
                        out.push(1);
                        put_bytes(&mut out, a.as_bytes())?;
                    }
                }
                out.extend_from_slice(&port.to_be_bytes());
            }
            Request::ListenUnix { path } => {
                out.push(OP_LISTEN_UNIX);
                put_bytes(&mut out, path.as_os_str().as_bytes())?;
            }
            Request::CreatePrivateDir { prefix } => {
                out.push(OP_CREATE_PRIVATE_DIR);
                put_bytes(&mut out, prefix.as_bytes())?;
            }
            Request::RemovePath { path } => {
                out.push(OP_REMOVE_PATH);
                put_bytes(&mut out, path.as_os_str().as_bytes())?;
            }
        }
        Ok(out)
    }

    /// The request in `b`; `None` when it is malformed in any way
    /// (unknown op, bad length, trailing bytes, a NUL in a path, a name
    /// that is not UTF-8).
    pub(crate) fn decode(b: &[u8]) -> Option<Request> {
        if b.len() > MAX_MESSAGE {
            return None;
        }
        let mut r = Reader(b);
        let req = match r.u8()? {
            OP_CONNECT_TCP => {
                let host = r.string()?;
                if host.is_empty() || host.contains('\0') {
                    return None;
                }
                Request::ConnectTcp {
                    host,
                    port: r.u16()?,
                }
            }
            OP_CONNECT_UNIX => Request::ConnectUnix { path: r.path()? },
            OP_LISTEN_TCP => {
                let addr = match r.u8()? {
                    0 => None,
                    1 => {
                        let a = r.string()?;
                        if a.contains('\0') {
                            return None;
                        }
                        Some(a)
                    }
                    _ => return None,
                };
                Request::ListenTcp {
                    addr,
                    port: r.u16()?,
                }
            }
            OP_LISTEN_UNIX => Request::ListenUnix { path: r.path()? },
            OP_CREATE_PRIVATE_DIR => Request::CreatePrivateDir {
                prefix: r.string()?,
            },
            OP_REMOVE_PATH => Request::RemovePath { path: r.path()? },
            _ => return None,
        };
        r.end()?;
        Some(req)
    }
}

/// The helper's answer (descriptors travel beside it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// Done; the path made, if any (empty otherwise).
    Ok(Vec<u8>),
    /// Failed with this errno (0: none) and message.
    Err { errno: i32, message: String },
}

impl Reply {
    pub(crate) fn from_error(e: &io::Error) -> Reply {
        let mut message = e.to_string();
        if message.len() > 1024 {
            let mut n = 1024;
            while !message.is_char_boundary(n) {
                n -= 1;
            }
            message.truncate(n);
        }
        Reply::Err {
            errno: e.raw_os_error().unwrap_or(0),
            message,
        }
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Reply::Ok(path) => {
                out.push(0);
                if put_bytes(&mut out, path).is_err() {
                    return Reply::Err {
                        errno: 0,
                        message: "path too long".into(),
                    }
                    .encode();
                }
            }
            Reply::Err { errno, message } => {
                out.push(1);
                out.extend_from_slice(&errno.to_be_bytes());
                // from_error bounds the message.
                let _ = put_bytes(&mut out, message.as_bytes());
            }
        }
        out
    }

    pub(crate) fn decode(b: &[u8]) -> Option<Reply> {
        let mut r = Reader(b);
        let reply = match r.u8()? {
            0 => Reply::Ok(r.bytes()?.to_vec()),
            1 => Reply::Err {
                errno: r.i32()?,
                message: String::from_utf8_lossy(r.bytes()?).into_owned(),
            },
            _ => return None,
        };
        r.end()?;
        Some(reply)
    }

    /// The error this reply stands for (`Ok(path bytes)` otherwise).
    pub(crate) fn into_result(self) -> io::Result<Vec<u8>> {
        match self {
            Reply::Ok(p) => Ok(p),
            Reply::Err { errno, message } if errno > 0 => {
                let e = io::Error::from_raw_os_error(errno);
                Err(io::Error::new(e.kind(), message))
            }
            Reply::Err { message, .. } => Err(io::Error::other(message)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        let reqs = [
            Request::ConnectTcp {
                host: "example.org".into(),
                port: 443,
            },
            Request::ConnectUnix {
                path: "/run/x.sock".into(),
            },
            Request::ListenTcp {
                addr: None,
                port: 0,
            },
            Request::ListenTcp {
                addr: Some("localhost".into()),
                port: 8080,
            },
            Request::ListenUnix {
                path: "/tmp/a".into(),
            },
            Request::CreatePrivateDir {
                prefix: "ssh-".into(),
            },
            Request::RemovePath {
                path: "/tmp/a".into(),
            },
        ];
        for r in reqs {
            let b = r.encode().unwrap();
            assert_eq!(Request::decode(&b), Some(r.clone()));
            // Every truncation and any trailing byte is refused.
            for n in 0..b.len() {
                assert_eq!(Request::decode(&b[..n]), None, "{r:?} cut at {n}");
            }
            let mut longer = b.clone();
            longer.push(0);
            assert_eq!(Request::decode(&longer), None);
        }
    }

    #[test]
    fn malformed_requests_are_refused() {
        assert_eq!(Request::decode(&[]), None);
        assert_eq!(Request::decode(&[99]), None);
        // A path with a NUL, an empty path, an empty host.
        assert_eq!(
            Request::decode(&[OP_CONNECT_UNIX, 0, 3, b'a', 0, b'b']),
            None
        );
        assert_eq!(Request::decode(&[OP_CONNECT_UNIX, 0, 0]), None);
        assert_eq!(Request::decode(&[OP_CONNECT_TCP, 0, 0, 0, 22]), None);
        // A listen address flag other than 0/1.
        assert_eq!(Request::decode(&[OP_LISTEN_TCP, 2, 0, 22]), None);
        // A length beyond the record.
        assert_eq!(Request::decode(&[OP_REMOVE_PATH, 0xff, 0xff, b'a']), None);
        // Too long to encode.
        let long = Request::ConnectUnix {
            path: PathBuf::from("a".repeat(MAX_STRING + 1)),
        };
        assert!(long.encode().is_err());
    }

    #[test]
    fn replies_round_trip_and_become_errors() {
        let ok = Reply::Ok(b"/tmp/ssh-x".to_vec());
        assert_eq!(Reply::decode(&ok.encode()), Some(ok.clone()));
        assert_eq!(ok.into_result().unwrap(), b"/tmp/ssh-x");
        let e = Reply::from_error(&io::Error::from_raw_os_error(13));
        let back = Reply::decode(&e.encode()).unwrap();
        assert_eq!(back, e);
        assert_eq!(
            back.into_result().unwrap_err().kind(),
            io::ErrorKind::PermissionDenied
        );
        let e = Reply::Err {
            errno: 0,
            message: "no such host".into(),
        };
        let err = Reply::decode(&e.encode())
            .unwrap()
            .into_result()
            .unwrap_err();
        assert_eq!(err.to_string(), "no such host");
        assert_eq!(Reply::decode(&[2]), None);
        assert_eq!(Reply::decode(&[0, 0, 0, 1]), None);
    }
}
