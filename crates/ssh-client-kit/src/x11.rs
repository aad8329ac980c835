//! X11 forwarding on the client (`-X`/`-Y`): the `x11-req` carries a
//! fresh random MIT-MAGIC-COOKIE-1 (the fake cookie); each `x11` channel
//! the server opens must start with an X connection setup that presents
//! exactly that cookie, which is then replaced by a real cookie before the
//! connection reaches the local display. A wrong cookie closes the
//! channel.
//!
//! The real cookie depends on the mode, as in OpenSSH's `ssh`: trusted
//! (`-Y`, `ForwardX11Trusted yes`) hands on the display's own cookie
//! (`xauth list`); untrusted (`-X`) a cookie that `xauth generate ...
//! untrusted` made for the purpose, which the X server restricts (its
//! SECURITY extension) and forgets `ForwardX11Timeout` plus a minute
//! later. After `ForwardX11Timeout` new X11 connections are refused.

use core::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use rand::rngs::StdRng;
use ssh_wire::messages::ChannelRequestKind;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use ssh_async::Channel;
use ssh_async::runtime::net::{TcpStream, UnixStream};
use ssh_async::splice;

/// The only X authorization protocol forwarded.
pub const MIT_MAGIC_COOKIE_1: &str = "MIT-MAGIC-COOKIE-1";

/// What OpenSSH's `ssh` prints when the display has no cookie.
pub const NO_XAUTH_DATA: &str =
    "Warning: No xauth data; using fake authentication data for X11 forwarding.";

/// What OpenSSH's `ssh` says when `-X` got no untrusted cookie (X11
/// forwarding is then not set up).
pub const UNTRUSTED_FAILED: &str =
    "Warning: untrusted X11 forwarding setup failed: xauth key data not generated";

/// What OpenSSH's `ssh` logs for an X11 connection after
/// `ForwardX11Timeout`.
pub const TIMEOUT_EXPIRED: &str = "Rejected X11 connection after ForwardX11Timeout expired";

/// What OpenSSH's `ssh` logs for a connection with the wrong cookie.
pub const WRONG_AUTHENTICATION: &str = "X11 connection rejected because of wrong authentication.";

/// Longest authorization name or data accepted in a connection setup
/// (real ones are 18 and 16 bytes).
const MAX_AUTH_FIELD: usize = 1024;

/// Where the local display is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisplayTarget {
    /// A Unix socket (`:N`, `unix:N` -> `/tmp/.X11-unix/XN`, or a path).
    Unix(PathBuf),
    /// TCP `host`, port 6000 + N.
    Tcp(String, u16),
}

/// Parses a `DISPLAY` value: the target to connect to and the screen
/// number (`.S`, 0 without). `None` if it is not a display.
pub fn parse_display(display: &str) -> Option<(DisplayTarget, u32)> {
    let (host, rest) = display.rsplit_once(':')?;
    let (num, screen) = match rest.split_once('.') {
        Some((n, s)) => (n, s.parse::<u32>().ok()?),
        None => (rest, 0),
    };
    let n: u16 = num.parse().ok()?;
    let target = if host.is_empty() || host == "unix" {
        DisplayTarget::Unix(PathBuf::from(format!("/tmp/.X11-unix/X{n}")))
    } else if host.starts_with('/') {
        // A socket path (macOS launchd style: "/path/to/socket:0").
        DisplayTarget::Unix(PathBuf::from(host))
    } else {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        DisplayTarget::Tcp(host.to_owned(), 6000u16.checked_add(n)?)
    };
    Some((target, screen))
}

/// The settings of X11 forwarding for one connection: the display, its
/// real cookie, the fake one sent to the server.
#[derive(Clone)]
pub struct X11Forwarding {
    target: DisplayTarget,
    screen: u32,
    /// `None`: the display had no cookie; connections keep the fake one
    /// (a display without access control still works).
    real: Option<Zeroizing<Vec<u8>>>,
    fake: Zeroizing<Vec<u8>>,
    trusted: bool,
    warning: Option<&'static str>,
    /// Untrusted forwarding: no new X11 connection from then on
    /// (`ForwardX11Timeout`).
    refuse_at: Option<Instant>,
}

impl fmt::Debug for X11Forwarding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("X11Forwarding")
            .field("target", &self.target)
            .field("screen", &self.screen)
            .field("real_cookie", &self.real.as_ref().map(|_| "<hidden>"))
            .field("trusted", &self.trusted)
            .finish_non_exhaustive()
    }
}

fn fresh_fake() -> Zeroizing<Vec<u8>> {
    use rand::Rng as _;
    let mut rng: StdRng = rand::make_rng();
    let mut fake = Zeroizing::new(vec![0u8; 16]);
    rng.fill_bytes(&mut fake);
    fake
}

fn hex_encode(bytes: &[u8]) -> String {
    use core::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks_exact(2)
        .map(|pair| {
            let nibble = |c: u8| char::from(c).to_digit(16);
            let hi = nibble(*pair.first()?)?;
            let lo = nibble(*pair.get(1)?)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

fn bad_display(display: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("invalid DISPLAY {display:?}"),
    )
}

/// The MIT-MAGIC-COOKIE-1 of `xauth list` output (lines
/// `host/unix:0  MIT-MAGIC-COOKIE-1  hex`): the first such line's cookie.
pub fn parse_xauth_list(output: &str) -> Option<Vec<u8>> {
    output.lines().find_map(|line| {
        let mut f = line.split_whitespace();
        let _display = f.next()?;
        if f.next()? != MIT_MAGIC_COOKIE_1 {
            return None;
        }
        let cookie = hex_decode(f.next()?)?;
        (!cookie.is_empty() && cookie.len() <= MAX_AUTH_FIELD).then_some(cookie)
    })
}

impl X11Forwarding {
    /// Gets the real cookie for `display` (the local `DISPLAY`) with
    /// `xauth_location` (`XAuthLocation`) and makes a fresh random fake
    /// cookie, as `ssh` does. Trusted: the display's own cookie (`xauth
    /// list`); without one (or without `xauth`) [`NO_XAUTH_DATA`] is
    /// logged (and returned by [`X11Forwarding::warning`]) and connections
    /// keep the fake cookie, which a display without access control
    /// accepts. Untrusted: a cookie from `xauth generate ... untrusted`,
    /// valid for `timeout` (`ForwardX11Timeout`; zero: no limit) plus a
    /// minute, X11 connections refused after `timeout`; when none is
    /// generated, [`UNTRUSTED_FAILED`] is logged and is the error: there
    /// is no fall back to the display's own cookie.
    pub async fn new(
        display: &str,
        trusted: bool,
        xauth_location: &Path,
        timeout: Duration,
    ) -> io::Result<Self> {
        let (target, screen) = parse_display(display).ok_or_else(|| bad_display(display))?;
        // As OpenSSH: "localhost:N" is looked up as "unix:N" (xauth keeps
        // local displays under the host's name with "/unix").
        let lookup = match display.strip_prefix("localhost:") {
            Some(rest) => format!("unix:{rest}"),
            None => display.to_owned(),
        };
        let have_xauth = std::fs::metadata(xauth_location).is_ok();
        if !have_xauth {
            tracing::debug!("No xauth program.");
        }
        let mut refuse_at = None;
        let real = if trusted {
            if have_xauth {
                super::xauth::list(xauth_location, &lookup).await
            } else {
                None
            }
        } else {
            if !timeout.is_zero() {
                refuse_at =
                    Instant::now().checked_add(timeout.saturating_add(Duration::from_secs(1)));
            }
            let cookie = if have_xauth {
                super::xauth::generate_untrusted(xauth_location, &lookup, timeout).await
            } else {
                None
            };
            if cookie.is_none() {
                tracing::error!("{UNTRUSTED_FAILED}");
                return Err(io::Error::other(UNTRUSTED_FAILED));
            }
            cookie
        };
        let warning = if real.is_none() {
            tracing::warn!("{}", NO_XAUTH_DATA);
            Some(NO_XAUTH_DATA)
        } else {
            None
        };
        Ok(Self {
            target,
            screen,
            real: real.map(Zeroizing::new),
            fake: fresh_fake(),
            trusted,
            warning,
            refuse_at,
        })
    }

    /// For a known cookie (tests, or a cookie found elsewhere): `display`
    /// as for [`X11Forwarding::new`], `real_cookie` the display's
    /// MIT-MAGIC-COOKIE-1 (`None`: pass the fake one through).
    pub fn with_cookie(display: &str, real_cookie: Option<Vec<u8>>) -> io::Result<Self> {
        let (target, screen) = parse_display(display).ok_or_else(|| bad_display(display))?;
        Ok(Self {
            target,
            screen,
            real: real_cookie.map(Zeroizing::new),
            fake: fresh_fake(),
            trusted: true,
            warning: None,
            refuse_at: None,
        })
    }

    /// From `at` on, X11 connections are refused ([`TIMEOUT_EXPIRED`]);
    /// `None`: never. [`X11Forwarding::new`] sets it for untrusted
    /// forwarding with a `ForwardX11Timeout`.
    pub fn set_refuse_time(&mut self, at: Option<Instant>) {
        self.refuse_at = at;
    }

    /// The `x11-req` to send on the session channel before `shell` or
    /// `exec`: MIT-MAGIC-COOKIE-1 with the fake cookie in hex, not single
    /// connection, the screen of the display.
    pub fn request(&self) -> ChannelRequestKind {
        ChannelRequestKind::X11Req {
            single_connection: false,
            auth_protocol: MIT_MAGIC_COOKIE_1.into(),
            auth_cookie: hex_encode(&self.fake),
            screen: self.screen,
        }
    }

    /// The warning to show the user, if any ([`NO_XAUTH_DATA`]).
    pub fn warning(&self) -> Option<&'static str> {
        self.warning
    }

    /// Whether `-Y` (trusted) was asked.
    pub fn trusted(&self) -> bool {
        self.trusted
    }

    /// Where connections go.
    pub fn target(&self) -> &DisplayTarget {
        &self.target
    }

    /// Serves one `x11` channel: reads the X client's connection setup,
    /// refuses it after `ForwardX11Timeout` ([`TIMEOUT_EXPIRED`]), checks
    /// the fake cookie (constant time), puts the real one in its
    /// place, connects to the display and splices. A wrong cookie logs
    /// [`WRONG_AUTHENTICATION`] and closes the channel.
    pub async fn serve_channel(&self, ch: Channel) -> io::Result<()> {
        let mut r = ch.reader();
        let setup = match read_setup(&mut r).await {
            Ok(s) => s,
            Err(e) => {
                let _ = ch.close();
                return Err(e);
            }
        };
        drop(r);
        // As ssh's x11_open_helper: checked when the setup has come.
        if self.refuse_at.is_some_and(|at| Instant::now() >= at) {
            tracing::debug!("{TIMEOUT_EXPIRED}");
            let _ = ch.close();
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                TIMEOUT_EXPIRED,
            ));
        }
        let name_ok = setup.name == MIT_MAGIC_COOKIE_1.as_bytes();
        let data_ok: bool = setup.data.len() == self.fake.len()
            && bool::from(setup.data.as_slice().ct_eq(self.fake.as_slice()));
        if !(name_ok && data_ok) {
            tracing::error!("{WRONG_AUTHENTICATION}");
            let _ = ch.close();
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                WRONG_AUTHENTICATION,
            ));
        }
        let data: &[u8] = match &self.real {
            Some(real) => real,
            None => &self.fake,
        };
        let rewritten = setup.encode(data);
        match &self.target {
            DisplayTarget::Unix(path) => {
                let s = connect_or_close(&ch, UnixStream::connect(path).await)?;
                forward(ch, s, &rewritten).await
            }
            DisplayTarget::Tcp(host, port) => {
                let s = connect_or_close(&ch, TcpStream::connect((host.as_str(), *port)).await)?;
                forward(ch, s, &rewritten).await
            }
        }
    }
}

fn connect_or_close<S>(ch: &Channel, res: io::Result<S>) -> io::Result<S> {
    res.map_err(|e| {
        tracing::error!("connect to the local X11 display failed: {e}");
        let _ = ch.close();
        e
    })
}

async fn forward<S>(ch: Channel, mut s: S, setup: &[u8]) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    if let Err(e) = s.write_all(setup).await {
        let _ = ch.close();
        return Err(e);
    }
    splice(ch, s).await.map(drop)
}

/// The start of an X11 connection setup (X protocol, "Connection
/// Setup"): byte order, version, authorization name and data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setup {
    /// `B` (MSB first) or `l` (LSB first).
    pub byte_order: u8,
    /// protocol-major-version.
    pub major: u16,
    /// protocol-minor-version.
    pub minor: u16,
    /// authorization-protocol-name.
    pub name: Vec<u8>,
    /// authorization-protocol-data.
    pub data: Zeroizing<Vec<u8>>,
}

fn pad4(n: usize) -> usize {
    n.div_ceil(4).saturating_mul(4)
}

impl Setup {
    fn u16_of(&self, v: u16) -> [u8; 2] {
        if self.byte_order == b'B' {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    /// The setup with `data` as authorization data (lengths and padding
    /// recomputed, byte order kept).
    pub fn encode(&self, data: &[u8]) -> Vec<u8> {
        let name_len = u16::try_from(self.name.len()).unwrap_or(u16::MAX);
        let data_len = u16::try_from(data.len()).unwrap_or(u16::MAX);
        let mut out = Vec::with_capacity(12 + pad4(self.name.len()) + pad4(data.len()));
        out.push(self.byte_order);
        out.push(0);
        out.extend_from_slice(&self.u16_of(self.major));
        out.extend_from_slice(&self.u16_of(self.minor));
        out.extend_from_slice(&self.u16_of(name_len));
        out.extend_from_slice(&self.u16_of(data_len));
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.name);
        out.resize(12 + pad4(self.name.len()), 0);
        out.extend_from_slice(data);
        out.resize(12 + pad4(self.name.len()) + pad4(data.len()), 0);
        out
    }

    /// Parses a complete setup prefix from `buf`: `Ok(None)` if more
    /// bytes are needed (how many in total is then known from the
    /// header), an error for a bad byte order or oversized fields.
    pub fn parse(buf: &[u8]) -> io::Result<Option<(Setup, usize)>> {
        let Some(header) = buf.get(..12) else {
            return Ok(None);
        };
        let byte_order = header.first().copied().unwrap_or(0);
        let rd = |i: usize| -> u16 {
            let b = [
                header.get(i).copied().unwrap_or(0),
                header.get(i + 1).copied().unwrap_or(0),
            ];
            if byte_order == b'B' {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            }
        };
        if byte_order != b'B' && byte_order != b'l' {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "X11 connection setup with an unknown byte order",
            ));
        }
        let (major, minor) = (rd(2), rd(4));
        let (n, d) = (usize::from(rd(6)), usize::from(rd(8)));
        if n > MAX_AUTH_FIELD || d > MAX_AUTH_FIELD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "X11 authorization fields too long",
            ));
        }
        let total = 12 + pad4(n) + pad4(d);
        let Some(all) = buf.get(..total) else {
            return Ok(None);
        };
        let name = all.get(12..12 + n).unwrap_or_default().to_vec();
        let data_at = 12 + pad4(n);
        let data = all.get(data_at..data_at + d).unwrap_or_default().to_vec();
        Ok(Some((
            Setup {
                byte_order,
                major,
                minor,
                name,
                data: Zeroizing::new(data),
            },
            total,
        )))
    }
}

/// Reads exactly the connection setup prefix (no more) from `r`.
async fn read_setup<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<Setup> {
    let mut buf = vec![0u8; 12];
    r.read_exact(&mut buf).await?;
    loop {
        match Setup::parse(&buf)? {
            Some((setup, _)) => return Ok(setup),
            None => {
                // The header says how long the rest is (bounded above).
                let (n, d) = {
                    let order = buf.first().copied().unwrap_or(0);
                    let get = |i: usize| {
                        let b = [
                            buf.get(i).copied().unwrap_or(0),
                            buf.get(i + 1).copied().unwrap_or(0),
                        ];
                        usize::from(if order == b'B' {
                            u16::from_be_bytes(b)
                        } else {
                            u16::from_le_bytes(b)
                        })
                    };
                    (get(6), get(8))
                };
                let total = 12 + pad4(n) + pad4(d);
                let have = buf.len();
                if total <= have {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "X11 connection setup did not parse",
                    ));
                }
                buf.resize(total, 0);
                r.read_exact(buf.get_mut(have..).unwrap_or_default())
                    .await?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

    use super::*;

    #[test]
    fn displays() {
        let unix0 = DisplayTarget::Unix("/tmp/.X11-unix/X0".into());
        assert_eq!(parse_display(":0"), Some((unix0.clone(), 0)));
        assert_eq!(parse_display("unix:0"), Some((unix0, 0)));
        assert_eq!(
            parse_display(":12.1"),
            Some((DisplayTarget::Unix("/tmp/.X11-unix/X12".into()), 1))
        );
        assert_eq!(
            parse_display("localhost:10.0"),
            Some((DisplayTarget::Tcp("localhost".into(), 6010), 0))
        );
        assert_eq!(
            parse_display("[::1]:3"),
            Some((DisplayTarget::Tcp("::1".into(), 6003), 0))
        );
        assert_eq!(
            parse_display("/private/tmp/launch-x/org.xquartz:0"),
            Some((
                DisplayTarget::Unix("/private/tmp/launch-x/org.xquartz".into()),
                0
            ))
        );
        assert_eq!(parse_display(""), None);
        assert_eq!(parse_display("host"), None);
        assert_eq!(parse_display(":x"), None);
        assert_eq!(parse_display(":99999"), None);
        assert_eq!(parse_display(":1.y"), None);
    }

    #[test]
    fn xauth_list_output() {
        let out = "myhost/unix:0  MIT-MAGIC-COOKIE-1  00112233445566778899aabbccddeeff\n";
        assert_eq!(
            parse_xauth_list(out),
            Some(hex_decode("00112233445566778899aabbccddeeff").unwrap())
        );
        let two = "h/unix:0  XDM-AUTHORIZATION-1  0102\nh/unix:0  MIT-MAGIC-COOKIE-1  abcd\n";
        assert_eq!(parse_xauth_list(two), Some(vec![0xab, 0xcd]));
        assert_eq!(parse_xauth_list(""), None);
        assert_eq!(parse_xauth_list("h/unix:0  MIT-MAGIC-COOKIE-1  zz\n"), None);
        assert_eq!(parse_xauth_list("h/unix:0  MIT-MAGIC-COOKIE-1\n"), None);
    }

    fn setup_bytes(order: u8, name: &[u8], data: &[u8]) -> Vec<u8> {
        Setup {
            byte_order: order,
            major: 11,
            minor: 0,
            name: name.to_vec(),
            data: Zeroizing::new(Vec::new()),
        }
        .encode(data)
    }

    #[test]
    fn setup_both_byte_orders() {
        let b = setup_bytes(b'B', b"MIT-MAGIC-COOKIE-1", &[7; 16]);
        assert_eq!(&b[..12], &[b'B', 0, 0, 11, 0, 0, 0, 18, 0, 16, 0, 0]);
        assert_eq!(b.len(), 12 + 20 + 16);
        let l = setup_bytes(b'l', b"MIT-MAGIC-COOKIE-1", &[7; 16]);
        assert_eq!(&l[..12], &[b'l', 0, 11, 0, 0, 0, 18, 0, 16, 0, 0, 0]);
        for bytes in [b, l] {
            let (s, used) = Setup::parse(&bytes).unwrap().unwrap();
            assert_eq!(used, bytes.len());
            assert_eq!(s.major, 11);
            assert_eq!(s.name, b"MIT-MAGIC-COOKIE-1");
            assert_eq!(&*s.data, &[7; 16]);
            // Truncated: more is needed.
            for cut in 0..bytes.len() {
                assert!(Setup::parse(&bytes[..cut]).unwrap().is_none());
            }
        }
    }

    #[test]
    fn setup_rejects_garbage() {
        assert!(Setup::parse(b"GET / HTTP/1.1\r\n").is_err());
        let mut huge = setup_bytes(b'B', b"x", b"");
        huge[8] = 0xff;
        huge[9] = 0xff;
        assert!(Setup::parse(&huge).is_err());
    }

    #[test]
    fn the_request_carries_the_fake_cookie() {
        let x = X11Forwarding::with_cookie(":3.2", Some(vec![1; 16])).unwrap();
        let ChannelRequestKind::X11Req {
            single_connection,
            auth_protocol,
            auth_cookie,
            screen,
        } = x.request()
        else {
            panic!()
        };
        assert!(!single_connection);
        assert_eq!(auth_protocol, "MIT-MAGIC-COOKIE-1");
        assert_eq!(screen, 2);
        assert_eq!(auth_cookie.len(), 32);
        assert_eq!(hex_decode(&auth_cookie).unwrap(), *x.fake);
        assert_ne!(*x.fake, vec![1; 16]);
        // Fresh each time.
        let y = X11Forwarding::with_cookie(":3", None).unwrap();
        assert_ne!(x.fake, y.fake);
    }
}
