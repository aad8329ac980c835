//! The hostile peer's connection: one of our transports (real crypto),
//! client or server, over a socket, that sends any message at any moment
//! (`Transport::hostile_send`, ssh-transport's `hostile` feature) or bytes
//! its transport never counted, and records what the other side did: the
//! payloads it sent, its UNIMPLEMENTED and PONG replies, and how the
//! connection ended.
//!
//! A reader thread takes the socket's bytes, so that writing never waits
//! on our own reading; it can be stopped for a while ([`Hostile::flood`])
//! to play a peer that never reads.

use std::fmt;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use ssh_keys::{KeyType, PrivateKey};
use ssh_transport::{Config, Event, HostKey, Transport};
use ssh_wire::Encode;
use ssh_wire::messages::{
    AuthMethod, ChannelOpen, ChannelRequest, ChannelRequestKind, ChannelType, ConnectionMessage,
    UserauthRequest,
};
use ssh_wire::msg;

use crate::bail;
use crate::util::{Context, Result};

/// How long one step of a script may wait for the other side.
pub(crate) const STEP: Duration = Duration::from_secs(20);
/// Less than [`STALL_BYTES`] written in this long means the other side
/// stopped reading us (a full receive queue on loopback still takes a
/// trickle: the kernel collapses its buffers to make room).
const STALL: Duration = Duration::from_millis(500);
/// See [`STALL`].
const STALL_BYTES: usize = 32 * 1024;
/// How long one write of a flood may block.
const FLOOD_WRITE: Duration = Duration::from_millis(100);
/// How much a flood seals before writing it.
const BATCH: usize = 256 * 1024;

/// How the connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// The other side sent DISCONNECT.
    Disconnect {
        /// Its reason code.
        reason: u32,
        /// Its description.
        description: String,
    },
    /// The socket closed (or was reset) without a DISCONNECT.
    Closed,
    /// Our transport refused what came (a MAC error, a protocol error).
    Refused(String),
}

impl fmt::Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Disconnect {
                reason,
                description,
            } => write!(f, "DISCONNECT {reason} {description:?}"),
            Self::Closed => f.write_str("closed without DISCONNECT"),
            Self::Refused(why) => write!(f, "our transport refused its bytes: {why}"),
        }
    }
}

/// What the reader thread hands over.
enum Chunk {
    Bytes(Vec<u8>),
    Eof,
}

/// Stops and restarts the reader thread.
#[derive(Default)]
struct Gate {
    paused: Mutex<bool>,
    changed: Condvar,
}

impl Gate {
    fn set(&self, paused: bool) {
        *self.paused.lock().unwrap_or_else(PoisonError::into_inner) = paused;
        self.changed.notify_all();
    }

    fn wait_open(&self) {
        let mut paused = self.paused.lock().unwrap_or_else(PoisonError::into_inner);
        while *paused {
            paused = self
                .changed
                .wait(paused)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// What one flood did.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Flood {
    /// Bytes written to the socket while we did not read.
    pub(crate) sent: usize,
    /// Messages sealed.
    pub(crate) messages: usize,
    /// Less than [`STALL_BYTES`] went out in [`STALL`]: the other side
    /// stopped reading.
    pub(crate) stalled: bool,
}

/// A channel open's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Opened {
    /// CHANNEL_OPEN_CONFIRMATION: the other side's channel number.
    Confirmed(u32),
    /// CHANNEL_OPEN_FAILURE with this reason.
    Failed(u32),
    /// UNIMPLEMENTED: the other side does not take channels now.
    Unimplemented,
    /// The connection ended instead.
    Ended,
}

/// One hostile connection.
pub(crate) struct Hostile {
    /// The transport; scripts call its methods directly too.
    pub(crate) t: Transport,
    stream: TcpStream,
    rx: mpsc::Receiver<Chunk>,
    gate: Arc<Gate>,
    /// Received, not yet taken by the transport.
    input: Vec<u8>,
    eof: bool,
    write_closed: bool,
    /// Upper-layer payloads received, oldest first.
    pub(crate) got: Vec<Vec<u8>>,
    /// UNIMPLEMENTED replies received.
    pub(crate) unimplemented: usize,
    /// PONG replies received.
    pub(crate) pongs: usize,
    /// Client: the service was accepted; server: one was asked and
    /// accepted.
    pub(crate) service: bool,
    /// How the connection ended, once it did.
    pub(crate) end: Option<End>,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        // Ends the reader thread's read.
        self.gate.set(false);
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

/// A fresh RNG for a transport.
pub(crate) fn rng() -> Box<dyn rand_core::CryptoRng + Send> {
    Box::new(StdRng::from_rng(&mut rand::rng()))
}

/// An ed25519 host key for a hostile server.
pub(crate) fn host_key() -> Result<HostKey> {
    let key = PrivateKey::generate(KeyType::Ed25519, &mut StdRng::from_rng(&mut rand::rng()))
        .map_err(|e| format!("generating a host key: {e}"))?;
    Ok(Box::new(key))
}

impl Hostile {
    /// A client connected to `addr`, its version line and KEXINIT not
    /// yet written (see [`Hostile::flush`]).
    pub(crate) fn connect(addr: SocketAddr, config: Config) -> Result<Self> {
        let stream = TcpStream::connect_timeout(&addr, STEP)
            .context(format_args!("connecting to {addr}"))?;
        let t = Transport::client(config, rng()).map_err(|e| format!("our client: {e}"))?;
        Self::new(stream, t)
    }

    /// A server on the next connection to `listener`.
    pub(crate) fn accept(listener: &TcpListener, config: Config) -> Result<Self> {
        let stream = accept_stream(listener)?;
        let t = Transport::server(config, vec![host_key()?], rng())
            .map_err(|e| format!("our server: {e}"))?;
        Self::new(stream, t)
    }

    fn new(stream: TcpStream, t: Transport) -> Result<Self> {
        stream
            .set_write_timeout(Some(STEP))
            .context("setting a write timeout")?;
        stream.set_nodelay(true).context("TCP_NODELAY")?;
        let mut read_half = stream.try_clone().context("cloning the socket")?;
        let gate = Arc::new(Gate::default());
        let (tx, rx) = mpsc::channel();
        let reader_gate = gate.clone();
        thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                reader_gate.wait_open();
                match read_half.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        let bytes = buf.get(..n).unwrap_or_default().to_vec();
                        if tx.send(Chunk::Bytes(bytes)).is_err() {
                            return;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            let _ = tx.send(Chunk::Eof);
        });
        Ok(Self {
            t,
            stream,
            rx,
            gate,
            input: Vec::new(),
            eof: false,
            write_closed: false,
            got: Vec::new(),
            unimplemented: 0,
            pongs: 0,
            service: false,
            end: None,
        })
    }

    // ---- sending ----

    /// Writes bytes the transport never saw (its sequence numbers do not
    /// count them).
    pub(crate) fn send_raw(&mut self, bytes: &[u8]) -> Result<()> {
        if self.write_closed {
            return Ok(());
        }
        match self.stream.write_all(bytes) {
            Ok(()) => Ok(()),
            Err(e) if closed(&e) => {
                self.write_closed = true;
                Ok(())
            }
            Err(e) => bail!("writing to the other side: {e}"),
        }
    }

    /// Writes what the transport has to send.
    pub(crate) fn flush(&mut self) -> Result<()> {
        let mut out = Vec::new();
        self.t.poll_transmit(&mut out);
        if out.is_empty() {
            return Ok(());
        }
        self.send_raw(&out)
    }

    /// Seals `payload` now, whatever the state (`hostile_send`), and
    /// writes it.
    pub(crate) fn send_now(&mut self, payload: &[u8]) -> Result<()> {
        self.t
            .hostile_send(payload)
            .map_err(|e| format!("sealing message {:?}: {e}", payload.first()))?;
        self.flush()
    }

    /// Sends an upper-layer payload the regular way (held during a key
    /// exchange).
    pub(crate) fn send(&mut self, payload: &[u8]) -> Result<()> {
        self.t
            .send_payload(payload)
            .map_err(|e| format!("sending message {:?}: {e}", payload.first()))?;
        self.flush()
    }

    // ---- receiving ----

    /// Takes what came (waiting at most `wait` for something), feeds it to
    /// the transport, records what it gives, and writes its answers.
    fn step(&mut self, wait: Duration) -> Result<()> {
        self.flush()?;
        if !self.eof {
            let first = if self.input.is_empty() {
                self.rx.recv_timeout(wait)
            } else {
                self.rx.try_recv().map_err(|e| match e {
                    mpsc::TryRecvError::Empty => RecvTimeoutError::Timeout,
                    mpsc::TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
                })
            };
            let mut next = first;
            loop {
                match next {
                    Ok(Chunk::Bytes(b)) => self.input.extend_from_slice(&b),
                    Ok(Chunk::Eof) | Err(RecvTimeoutError::Disconnected) => {
                        self.eof = true;
                        break;
                    }
                    Err(RecvTimeoutError::Timeout) => break,
                }
                next = self.rx.try_recv().map_err(|e| match e {
                    mpsc::TryRecvError::Empty => RecvTimeoutError::Timeout,
                    mpsc::TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
                });
            }
        }
        self.feed();
        if self.eof && self.end.is_none() {
            self.end = Some(End::Closed);
        }
        self.flush()
    }

    fn feed(&mut self) {
        while self.end.is_none() {
            let taken = match self.t.handle_input(Instant::now(), &self.input) {
                Ok(n) => n,
                Err(e) => {
                    self.ended(e);
                    return;
                }
            };
            self.input.drain(..taken);
            self.drain();
            if taken == 0 || self.input.is_empty() {
                return;
            }
        }
    }

    /// Everything the transport has for us.
    fn drain(&mut self) {
        loop {
            match self.t.poll_incoming() {
                Ok(Some(p)) => {
                    let p = p.to_vec();
                    // A client's `zlib@openssh.com` starts on the packet
                    // right after SUCCESS: switched here, before the next
                    // is opened (after `login` saw it was too late when
                    // the next came in the same read: sshd's
                    // `hostkeys-00` was taken for plain, and the inflater
                    // started mid-stream, "corrupt compressed payload").
                    if p.first() == Some(&msg::SSH_MSG_USERAUTH_SUCCESS)
                        && self.t.role() == ssh_transport::Role::Client
                    {
                        let _ = self.t.set_authenticated();
                    }
                    self.got.push(p);
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    while let Some(ev) = self.t.poll_event() {
                        self.on_event(ev);
                    }
                    self.ended(e);
                    return;
                }
            }
            let mut any = false;
            while let Some(ev) = self.t.poll_event() {
                any = true;
                self.on_event(ev);
            }
            if !any {
                return;
            }
        }
    }

    fn on_event(&mut self, ev: Event) {
        match ev {
            Event::HostKey { .. } => {
                let _ = self.t.accept_host_key();
            }
            Event::ServiceRequest(_) => {
                self.service = self.t.accept_service().is_ok();
            }
            Event::ServiceAccepted(_) => self.service = true,
            Event::Unimplemented(_) => self.unimplemented += 1,
            Event::Pong(_) => self.pongs += 1,
            _ => {}
        }
    }

    fn ended(&mut self, e: ssh_transport::Error) {
        if self.end.is_some() {
            return;
        }
        self.end = Some(match e {
            ssh_transport::Error::PeerDisconnected {
                reason,
                description,
            } => End::Disconnect {
                reason: reason.0,
                description,
            },
            other => End::Refused(other.to_string()),
        });
        // Our own DISCONNECT, if the transport owes one.
        let _ = self.flush();
    }

    /// Runs until `done` holds; an error if the connection ended first or
    /// after [`STEP`].
    pub(crate) fn until(&mut self, what: &str, done: impl FnMut(&Self) -> bool) -> Result<()> {
        if self.until_or_end(what, done)? {
            return Ok(());
        }
        match &self.end {
            Some(end) => bail!("waiting for {what}, the connection ended: {end}"),
            None => bail!("waiting for {what}: no end and no answer"),
        }
    }

    /// Runs until `done` holds (true) or the connection ended (false); an
    /// error after [`STEP`].
    pub(crate) fn until_or_end(
        &mut self,
        what: &str,
        mut done: impl FnMut(&Self) -> bool,
    ) -> Result<bool> {
        let deadline = Instant::now() + STEP;
        loop {
            if done(self) {
                return Ok(true);
            }
            if self.end.is_some() {
                return Ok(false);
            }
            if Instant::now() >= deadline {
                bail!("waiting for {what}: nothing within {} s", STEP.as_secs());
            }
            self.step(Duration::from_millis(50))?;
        }
    }

    /// Runs until the connection ends; an error after `within`.
    pub(crate) fn wait_end(&mut self, within: Duration) -> Result<End> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(end) = &self.end {
                return Ok(end.clone());
            }
            if Instant::now() >= deadline {
                bail!(
                    "the connection did not end within {} s",
                    within.as_secs_f64()
                );
            }
            self.step(Duration::from_millis(50))?;
        }
    }

    /// Runs for `how_long`, or until the connection ends.
    pub(crate) fn linger(&mut self, how_long: Duration) -> Result<()> {
        let deadline = Instant::now() + how_long;
        while self.end.is_none() && Instant::now() < deadline {
            self.step(Duration::from_millis(20))?;
        }
        Ok(())
    }

    /// The first payload of number `n` received at or after index `from`.
    pub(crate) fn find(&self, from: usize, n: u8) -> Option<&[u8]> {
        self.got
            .get(from..)
            .unwrap_or_default()
            .iter()
            .find(|p| p.first() == Some(&n))
            .map(Vec::as_slice)
    }

    // ---- scripts ----

    /// Client: the first key exchange, then the `ssh-userauth` service.
    pub(crate) fn handshake(&mut self) -> Result<()> {
        self.until("the first key exchange", |h| h.t.kex_count() >= 1)?;
        self.t
            .request_service("ssh-userauth")
            .map_err(|e| e.to_string())?;
        self.until("SERVICE_ACCEPT", |h| h.service)
    }

    /// Client: password authentication; Ok(false) when refused.
    pub(crate) fn login(&mut self, user: &str, password: &str) -> Result<bool> {
        let from = self.got.len();
        let req = UserauthRequest {
            user: user.to_owned(),
            service: "ssh-connection".to_owned(),
            method: AuthMethod::Password {
                password: password.to_owned(),
                new_password: None,
            },
        };
        self.send(&req.to_bytes())?;
        self.until("the answer to a password", |h| {
            h.find(from, msg::SSH_MSG_USERAUTH_SUCCESS).is_some()
                || h.find(from, msg::SSH_MSG_USERAUTH_FAILURE).is_some()
        })?;
        if self.find(from, msg::SSH_MSG_USERAUTH_SUCCESS).is_none() {
            return Ok(false);
        }
        self.t.set_authenticated().map_err(|e| e.to_string())?;
        Ok(true)
    }

    /// Opens a `session` channel numbered `id` with this maximum packet
    /// size; waits for the answer.
    pub(crate) fn open_session(&mut self, id: u32, max_packet: u32) -> Result<Opened> {
        let from = self.got.len();
        let unimplemented = self.unimplemented;
        self.send(&channel_open(id, max_packet))?;
        let answered = self.until_or_end("the answer to CHANNEL_OPEN", |h| {
            h.unimplemented > unimplemented
                || h.find(from, msg::SSH_MSG_CHANNEL_OPEN_CONFIRMATION)
                    .is_some()
                || h.find(from, msg::SSH_MSG_CHANNEL_OPEN_FAILURE).is_some()
        })?;
        if !answered {
            return Ok(Opened::Ended);
        }
        for p in self.got.get(from..).unwrap_or_default() {
            match ConnectionMessage::decode(p) {
                Ok(ConnectionMessage::OpenConfirmation(c)) if c.recipient == id => {
                    return Ok(Opened::Confirmed(c.sender));
                }
                Ok(ConnectionMessage::OpenFailure(f)) if f.recipient == id => {
                    return Ok(Opened::Failed(f.reason.0));
                }
                _ => {}
            }
        }
        Ok(Opened::Unimplemented)
    }

    /// Plays a peer that never reads: stops our reading, then seals
    /// `next(i)` for i = 0, 1, ... (whatever the state) and writes them,
    /// until `total` bytes went out, the connection closed, or less than
    /// [`STALL_BYTES`] went out in [`STALL`] (the other side stopped
    /// reading us).
    /// `sample` runs after each batch (to watch the other side's memory).
    /// Reading resumes after; what was not yet written goes out then.
    pub(crate) fn flood(
        &mut self,
        total: usize,
        mut next: impl FnMut(usize) -> Vec<u8>,
        mut sample: impl FnMut(),
    ) -> Result<Flood> {
        self.flush()?;
        self.gate.set(true);
        self.stream
            .set_write_timeout(Some(FLOOD_WRITE))
            .context("setting a write timeout")?;
        let mut report = Flood {
            sent: 0,
            messages: 0,
            stalled: false,
        };
        let mut rest = Vec::new();
        // Progress since this moment, this many bytes sent then.
        let mut since = (Instant::now(), 0usize);
        'flood: while report.sent < total && !self.write_closed {
            let mut batch = Vec::new();
            while batch.len() < BATCH {
                let p = next(report.messages);
                report.messages += 1;
                self.t
                    .hostile_send(&p)
                    .map_err(|e| format!("sealing the flood: {e}"))?;
                self.t.poll_transmit(&mut batch);
            }
            let mut at = 0;
            while at < batch.len() {
                match self.stream.write(batch.get(at..).unwrap_or_default()) {
                    Ok(0) => {
                        self.write_closed = true;
                        break 'flood;
                    }
                    Ok(n) => {
                        at += n;
                        report.sent += n;
                    }
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) if closed(&e) => {
                        self.write_closed = true;
                        break 'flood;
                    }
                    Err(e) => bail!("writing the flood: {e}"),
                }
                if since.0.elapsed() >= STALL {
                    if report.sent - since.1 < STALL_BYTES {
                        report.stalled = true;
                        rest = batch.get(at..).unwrap_or_default().to_vec();
                        break 'flood;
                    }
                    since = (Instant::now(), report.sent);
                }
            }
            sample();
        }
        sample();
        self.gate.set(false);
        self.stream
            .set_write_timeout(Some(STEP))
            .context("setting a write timeout")?;
        self.send_raw(&rest)?;
        Ok(report)
    }
}

/// The next connection to `listener`, waiting at most [`STEP`].
fn accept_stream(listener: &TcpListener) -> Result<TcpStream> {
    listener
        .set_nonblocking(true)
        .context("making the listener non-blocking")?;
    let deadline = Instant::now() + STEP;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream
                    .set_nonblocking(false)
                    .context("making the stream blocking")?;
                return Ok(stream);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(10));
            }
            Err(e) => bail!("no connection to accept: {e}"),
        }
    }
}

/// An error that means the other side is gone.
fn closed(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::BrokenPipe | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
    )
}

// ---- messages ----

/// CHANNEL_OPEN `session`, channel `id`, a 2 MiB window.
pub(crate) fn channel_open(id: u32, max_packet: u32) -> Vec<u8> {
    ChannelOpen {
        sender: id,
        initial_window: 2 * 1024 * 1024,
        max_packet,
        channel_type: ChannelType::Session,
    }
    .to_bytes()
}

/// CHANNEL_REQUEST `exec` of `command` on the other side's channel
/// `recipient`, wanting a reply.
pub(crate) fn exec(recipient: u32, command: &str) -> Vec<u8> {
    ChannelRequest {
        recipient,
        want_reply: true,
        request: ChannelRequestKind::Exec {
            command: command.as_bytes().to_vec(),
        },
    }
    .to_bytes()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use ssh_wire::messages::Ignore;

    use super::*;

    /// Against our own server transport (strict kex): an IGNORE sealed
    /// behind our KEXINIT ends the connection with a DISCONNECT, which the
    /// hostile client reports; no key exchange completes.
    #[test]
    fn an_ignore_in_a_strict_first_exchange_comes_back_as_a_disconnect() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || -> Result<End> {
            let mut s = Hostile::accept(&listener, Config::server_default())?;
            s.wait_end(STEP)
        });
        let mut c = Hostile::connect(addr, Config::default()).unwrap();
        c.flush().unwrap();
        c.send_now(&Ignore { data: vec![1] }.to_bytes()).unwrap();
        let end = c.wait_end(STEP).unwrap();
        assert!(matches!(end, End::Disconnect { reason: 2, .. }), "{end}");
        assert_eq!(c.t.kex_count(), 0);
        let server_end = server.join().unwrap().unwrap();
        assert!(matches!(server_end, End::Refused(_)), "{server_end}");
    }

    /// A flood towards a socket nobody reads stops once the kernel's
    /// buffers are full, and says so; what was sealed and not written goes
    /// out once the other side reads again.
    #[test]
    fn a_flood_stops_when_the_other_side_does_not_read() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let holder = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            // Not read until the flood stalled (STALL after the buffers
            // filled), then all of it.
            thread::sleep(3 * STALL);
            let mut all = Vec::new();
            let _ = s.read_to_end(&mut all);
            all.len()
        });
        let mut c = Hostile::connect(addr, Config::default()).unwrap();
        let total = 256 * 1024 * 1024;
        let mut samples = 0;
        let f = c
            .flood(
                total,
                |_| {
                    Ignore {
                        data: vec![0; 1000],
                    }
                    .to_bytes()
                },
                || samples += 1,
            )
            .unwrap();
        assert!(f.stalled, "{f:?}");
        assert!(f.sent > 0 && f.sent < total, "{f:?}");
        assert!(samples > 0);
        drop(c);
        let read = holder.join().unwrap();
        assert!(read > f.sent, "{read} bytes read, {f:?}");
    }
}
