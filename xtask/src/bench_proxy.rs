//! A user-space long-fat-path emulator for `cargo xtask bench --rtt`: a
//! TCP proxy on a loopback port that forwards every connection to a
//! server, holding each byte for a fixed one-way delay in each direction
//! (so the round trip through it is twice that) and optionally pacing
//! each direction to a link rate. The kernel here has no netem.
//!
//! Each direction of a connection is a timed queue between two threads:
//! the reader takes what the sender wrote as soon as it arrives and
//! stamps it with its release time (arrival, or the moment the emulated
//! link has serialized it, plus the delay); the writer hands each chunk
//! to the receiver at its release time. Reads go on while earlier chunks
//! wait, so the proxy is not the naive read-sleep-write (one chunk per
//! delay): a path of delay `d` carries whatever the bandwidth-delay
//! product allows, up to the in-flight bound (bytes read and not yet
//! written, per direction), at which the reader stops reading and TCP's
//! flow control pushes back on the sender. End of stream is delayed like
//! data; an error on either side ends both directions.
//!
//! With a rate, the link has a short queue in front of it
//! ([`LINK_QUEUE`] of its time) rather than the whole in-flight bound:
//! the reader waits while that queue is full, so a sender that fills the
//! path sees the round trip plus a few milliseconds, not seconds of
//! buffer bloat, and the proxy's receive buffers are made small so the
//! kernel does not hide a deeper queue (the sender's own send buffer
//! still holds what it has written and TCP has not delivered).

use std::collections::VecDeque;
use std::io::{self, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::util::{Context, Result};

/// Bytes per read from a socket (and per queued chunk).
const CHUNK: usize = 128 << 10;
/// With a rate: how much of the link's time may wait in front of it.
pub const LINK_QUEUE: Duration = Duration::from_millis(10);
/// The default in-flight bound per direction: 64 MiB, five times the
/// bandwidth-delay product of 1 Gbit/s over 100 ms (12.5 MB).
pub const DEFAULT_BUFFER: usize = 64 << 20;

/// What path the proxy emulates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathConfig {
    /// Delay added in each direction; the round trip is twice this.
    pub one_way: Duration,
    /// The link rate of each direction in bits per second; `None` for no
    /// cap (as fast as the machine copies).
    pub rate_bits: Option<u64>,
    /// Bytes read and not yet written, per direction of a connection.
    pub buffer: usize,
}

impl PathConfig {
    /// A path with this round trip (split evenly between the directions).
    pub fn with_rtt(rtt: Duration, rate_bits: Option<u64>, buffer: usize) -> Self {
        Self {
            one_way: rtt / 2,
            rate_bits,
            buffer,
        }
    }

    /// The round trip the proxy adds.
    pub fn rtt(&self) -> Duration {
        self.one_way * 2
    }

    /// How long the link takes to serialize `bytes`.
    fn serialize(&self, bytes: usize) -> Duration {
        match self.rate_bits {
            Some(rate) if rate > 0 => Duration::from_secs_f64(bytes as f64 * 8.0 / rate as f64),
            _ => Duration::ZERO,
        }
    }

    /// `100 ms RTT, 1 Gbit/s` or `100 ms RTT, no rate cap`.
    pub fn describe(&self) -> String {
        let rtt = self.rtt();
        let rtt = if rtt.subsec_micros().is_multiple_of(1000) {
            format!("{} ms RTT", rtt.as_millis())
        } else {
            format!("{:.3} ms RTT", rtt.as_secs_f64() * 1e3)
        };
        match self.rate_bits {
            Some(r) => format!("{rtt}, {}", format_rate(r)),
            None => format!("{rtt}, no rate cap"),
        }
    }
}

/// Parses a duration: a number with `ms`, `us` or `s` (`100ms`, `0.1s`,
/// `250us`).
pub fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: f64 = number
        .parse()
        .map_err(|_| format!("{text:?}: not a duration (e.g. 100ms, 0.02s)"))?;
    let scale = match unit.trim() {
        "ms" => 1e-3,
        "us" | "µs" => 1e-6,
        "s" => 1.0,
        "" => return Err(format!("{text:?}: give a unit (ms, s or us)")),
        u => return Err(format!("{text:?}: unknown unit {u:?} (ms, s or us)")),
    };
    let secs = n * scale;
    if !(secs.is_finite() && secs > 0.0 && secs <= 60.0) {
        return Err(format!(
            "{text:?}: out of range (more than 0, at most 60 s)"
        ));
    }
    // Whole microseconds: 0.02s is 20 ms, not 19.999999 ms.
    match (secs * 1e6).round() as u64 {
        0 => Err(format!("{text:?}: less than a microsecond")),
        us => Ok(Duration::from_micros(us)),
    }
}

/// Parses a rate in bits per second with decimal multiples: `1G`,
/// `1Gbit`, `10gbit/s`, `500M`, `100Mbps`.
pub fn parse_rate(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: f64 = number
        .parse()
        .map_err(|_| format!("{text:?}: not a rate (e.g. 1G, 100Mbit)"))?;
    let unit = unit.trim().to_ascii_lowercase();
    let unit = ["bit/s", "bits/s", "bps", "bit", "b"]
        .iter()
        .find_map(|s| unit.strip_suffix(s))
        .unwrap_or(&unit);
    let scale = match unit {
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        "g" => 1e9,
        u => return Err(format!("{text:?}: unknown multiple {u:?} (k, M or G)")),
    };
    let bits = (n * scale).round();
    if !(bits.is_finite() && (8.0..=1e12).contains(&bits)) {
        return Err(format!("{text:?}: out of range (8 bit/s to 1 Tbit/s)"));
    }
    Ok(bits as u64)
}

/// `1 Gbit/s`, `2.5 Gbit/s`, `100 Mbit/s`.
pub fn format_rate(bits: u64) -> String {
    for (scale, unit) in [(1e9, "Gbit/s"), (1e6, "Mbit/s"), (1e3, "kbit/s")] {
        let v = bits as f64 / scale;
        if v >= 1.0 {
            let text = format!("{v:.3}");
            let text = text.trim_end_matches('0').trim_end_matches('.');
            return format!("{text} {unit}");
        }
    }
    format!("{bits} bit/s")
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One direction's queue.
#[derive(Default)]
struct Line {
    /// Chunks with their release times, in order; an empty chunk is the
    /// end of the stream.
    chunks: VecDeque<(Instant, Vec<u8>)>,
    /// Bytes in `chunks`.
    bytes: usize,
    /// When the emulated link is free again (with a rate).
    link_free: Option<Instant>,
    /// Buffers the writer is done with, for the reader to reuse.
    spare: Vec<Vec<u8>>,
    /// Either side failed or the connection is being torn down.
    dead: bool,
}

/// A queue and its wake-up.
#[derive(Default)]
struct Shared {
    line: Mutex<Line>,
    changed: Condvar,
}

/// One relayed connection: a queue per direction (0: client to server,
/// 1: server to client) and both sockets.
struct Conn {
    lines: [Shared; 2],
    /// The client's socket and the server's.
    sockets: [TcpStream; 2],
    path: PathConfig,
}

impl Conn {
    /// Ends both directions: queues dropped, both sockets shut (which
    /// wakes a reader blocked in `read`).
    fn kill(&self) {
        for shared in &self.lines {
            lock(&shared.line).dead = true;
            shared.changed.notify_all();
        }
        for s in &self.sockets {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// Reads direction `dir`'s sender into its queue, stamping each chunk's
/// release time.
fn read_side(conn: &Conn, dir: usize) {
    let (Some(shared), Some(mut from)) = (conn.lines.get(dir), conn.sockets.get(dir)) else {
        return;
    };
    let path = conn.path;
    loop {
        let mut buf = {
            let mut line = lock(&shared.line);
            loop {
                if line.dead {
                    return;
                }
                let now = Instant::now();
                let full = line.bytes >= path.buffer;
                let link_busy = line
                    .link_free
                    .filter(|free| *free > now + LINK_QUEUE)
                    .map(|free| free - LINK_QUEUE - now);
                match (full, link_busy) {
                    (true, _) => {
                        line = shared
                            .changed
                            .wait(line)
                            .unwrap_or_else(PoisonError::into_inner);
                    }
                    (false, Some(wait)) => {
                        drop(line);
                        thread::sleep(wait);
                        line = lock(&shared.line);
                    }
                    (false, None) => break line.spare.pop().unwrap_or_default(),
                }
            }
        };
        buf.resize(CHUNK, 0);
        let n = loop {
            match from.read(&mut buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    conn.kill();
                    return;
                }
            }
        };
        buf.truncate(n);
        let now = Instant::now();
        let mut line = lock(&shared.line);
        let departs = match path.rate_bits {
            Some(_) => {
                let start = line.link_free.map_or(now, |f| f.max(now));
                let done = start + path.serialize(n);
                line.link_free = Some(done);
                done
            }
            None => now,
        };
        line.bytes += n;
        line.chunks.push_back((departs + path.one_way, buf));
        drop(line);
        shared.changed.notify_all();
        if n == 0 {
            return;
        }
    }
}

/// Writes direction `dir`'s queue to its receiver at the release times;
/// at the end of the stream shuts the receiver's sending side.
fn write_side(conn: &Conn, dir: usize) {
    let (Some(shared), Some(mut to)) = (conn.lines.get(dir), conn.sockets.get(1 - dir)) else {
        return;
    };
    loop {
        let chunk = {
            let mut line = lock(&shared.line);
            loop {
                if line.dead {
                    return;
                }
                let now = Instant::now();
                match line.chunks.front().map(|(at, _)| *at) {
                    None => {
                        line = shared
                            .changed
                            .wait(line)
                            .unwrap_or_else(PoisonError::into_inner);
                    }
                    Some(at) if at > now => {
                        // Nothing can be due earlier: release times grow
                        // along the queue.
                        drop(line);
                        thread::sleep(at - now);
                        line = lock(&shared.line);
                    }
                    Some(_) => {
                        if let Some((_, c)) = line.chunks.pop_front() {
                            break c;
                        }
                    }
                }
            }
        };
        if chunk.is_empty() {
            let _ = to.shutdown(Shutdown::Write);
            return;
        }
        if to.write_all(&chunk).is_err() {
            conn.kill();
            return;
        }
        let mut line = lock(&shared.line);
        line.bytes -= chunk.len();
        if line.spare.len() < 4 {
            line.spare.push(chunk);
        }
        drop(line);
        shared.changed.notify_all();
    }
}

/// Relays one accepted connection to `server` until both directions end.
fn relay(client: TcpStream, server: SocketAddr, path: PathConfig) {
    let Ok(upstream) = TcpStream::connect(server) else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    if let Some(rate) = path.rate_bits {
        // Small receive buffers: the link's queue is ours, not the
        // kernel's (2 ms of the link; the kernel doubles the figure).
        let bytes = usize::try_from(rate / 8 / 500).unwrap_or(usize::MAX);
        let bytes = bytes.clamp(64 << 10, 4 << 20);
        let _ = rustix::net::sockopt::set_socket_recv_buffer_size(&client, bytes);
        let _ = rustix::net::sockopt::set_socket_recv_buffer_size(&upstream, bytes);
    }
    let conn = Arc::new(Conn {
        lines: Default::default(),
        sockets: [client, upstream],
        path,
    });
    let threads: Vec<JoinHandle<()>> = (0..2)
        .flat_map(|dir| {
            let r = Arc::clone(&conn);
            let w = Arc::clone(&conn);
            [
                thread::spawn(move || read_side(&r, dir)),
                thread::spawn(move || write_side(&w, dir)),
            ]
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    // Both ends of stream delivered (or an error): close both.
    conn.kill();
}

/// A running proxy; dropping it stops accepting and ends its connections.
pub struct Proxy {
    /// The loopback port clients connect to.
    pub port: u16,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    /// Listens on a free loopback port and relays to `server`.
    pub fn start(server: SocketAddr, path: PathConfig) -> Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).context("binding the delay proxy")?;
        let port = listener.local_addr().context("the proxy's address")?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let accept = {
            let stop = Arc::clone(&stop);
            let open = Arc::clone(&open);
            thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    // Kept to be shut on drop (one per connection: the
                    // bench makes few).
                    if let Ok(c) = conn.try_clone() {
                        lock(&open).push(c);
                    }
                    thread::spawn(move || relay(conn, server, path));
                }
            })
        };
        Ok(Self {
            port,
            stop,
            accept: Some(accept),
            open,
        })
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        for s in lock(&self.open).drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use sha2::{Digest as _, Sha256};

    /// An echo server on a free port: each connection's bytes sent back.
    fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                thread::spawn(move || {
                    let _ = conn.set_nodelay(true);
                    let mut back = conn.try_clone().unwrap();
                    let _ = io::copy(&mut conn, &mut back);
                    let _ = back.shutdown(Shutdown::Write);
                });
            }
        });
        addr
    }

    /// Deterministic, non-repeating test data.
    fn data(len: usize) -> Vec<u8> {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    /// Sends `payload` through a fresh connection to `port` while reading
    /// the echo; the echo and the time to its end of stream.
    fn echo_through(port: u16, payload: Vec<u8>) -> (Vec<u8>, Duration) {
        let start = Instant::now();
        let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
        conn.set_nodelay(true).unwrap();
        let mut send = conn.try_clone().unwrap();
        let writer = thread::spawn(move || {
            for piece in payload.chunks(50_000) {
                send.write_all(piece).unwrap();
            }
            send.shutdown(Shutdown::Write).unwrap();
        });
        let mut back = Vec::new();
        conn.read_to_end(&mut back).unwrap();
        writer.join().unwrap();
        (back, start.elapsed())
    }

    #[test]
    fn bytes_arrive_in_order_and_intact_both_ways() {
        let path = PathConfig::with_rtt(Duration::from_millis(20), None, 1 << 20);
        let proxy = Proxy::start(echo_server(), path).unwrap();
        // More than the in-flight bound, so the reader stops and resumes.
        let payload = data(24 << 20);
        let want = Sha256::digest(&payload);
        let (back, _) = echo_through(proxy.port, payload);
        assert_eq!(back.len(), 24 << 20);
        assert_eq!(Sha256::digest(&back), want);
    }

    /// The median round trip of a one-byte echo over one connection.
    fn ping(port: u16, times: usize) -> Duration {
        let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
        conn.set_nodelay(true).unwrap();
        let mut rtts = Vec::new();
        for i in 0..times {
            let start = Instant::now();
            conn.write_all(&[i as u8]).unwrap();
            let mut b = [0u8];
            conn.read_exact(&mut b).unwrap();
            assert_eq!(b[0], i as u8);
            rtts.push(start.elapsed());
        }
        rtts.sort();
        rtts[times / 2]
    }

    #[test]
    fn a_small_echo_takes_the_configured_round_trip() {
        let rtt = Duration::from_millis(100);
        let proxy = Proxy::start(
            echo_server(),
            PathConfig::with_rtt(rtt, None, DEFAULT_BUFFER),
        )
        .unwrap();
        let measured = ping(proxy.port, 5);
        // Never early; late by at most 60 ms on a busy machine (a delay
        // added twice per direction would be 200 ms).
        assert!(measured >= rtt, "{measured:?}");
        assert!(measured < rtt + Duration::from_millis(60), "{measured:?}");
        // A rate cap does not change a one-byte round trip by much.
        let capped = Proxy::start(
            echo_server(),
            PathConfig::with_rtt(rtt, Some(1_000_000_000), DEFAULT_BUFFER),
        )
        .unwrap();
        let measured = ping(capped.port, 3);
        assert!(measured >= rtt, "{measured:?}");
        assert!(measured < rtt + Duration::from_millis(60), "{measured:?}");
    }

    #[test]
    fn throughput_is_not_one_chunk_per_delay() {
        // 40 ms each way: a read-sleep-write relay of 128 KiB chunks
        // would need 2 x 128 x 40 ms = 10 s for 16 MiB there and back.
        let path = PathConfig::with_rtt(Duration::from_millis(80), None, DEFAULT_BUFFER);
        let proxy = Proxy::start(echo_server(), path).unwrap();
        let (back, took) = echo_through(proxy.port, data(16 << 20));
        assert_eq!(back.len(), 16 << 20);
        assert!(took >= path.rtt(), "{took:?}");
        assert!(took < Duration::from_secs(4), "{took:?}");
    }

    #[test]
    fn the_rate_cap_paces_each_direction() {
        // 80 Mbit/s = 10 MB/s: 2 MB takes at least 0.2 s to serialize
        // (echoed, both directions overlap), plus the round trip.
        let path = PathConfig::with_rtt(Duration::from_millis(10), Some(80_000_000), 1 << 20);
        let proxy = Proxy::start(echo_server(), path).unwrap();
        let payload = data(2_000_000);
        let want = Sha256::digest(&payload);
        let (back, took) = echo_through(proxy.port, payload);
        assert_eq!(Sha256::digest(&back), want);
        assert!(took >= Duration::from_millis(200), "{took:?}");
        assert!(took < Duration::from_secs(2), "{took:?}");
    }

    #[test]
    fn durations_and_rates_parse() {
        assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("0.02s"), Ok(Duration::from_millis(20)));
        assert_eq!(parse_duration("0.3s"), Ok(Duration::from_millis(300)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert!(parse_duration("100").is_err());
        assert!(parse_duration("0ms").is_err());
        assert!(parse_duration("2m").is_err());
        assert!(parse_duration("ms").is_err());
        assert_eq!(parse_rate("1G"), Ok(1_000_000_000));
        assert_eq!(parse_rate("10Gbit"), Ok(10_000_000_000));
        assert_eq!(parse_rate("100mbit/s"), Ok(100_000_000));
        assert_eq!(parse_rate("2.5Gbps"), Ok(2_500_000_000));
        assert!(parse_rate("1T").is_err());
        assert!(parse_rate("fast").is_err());
        assert_eq!(format_rate(1_000_000_000), "1 Gbit/s");
        assert_eq!(format_rate(2_500_000_000), "2.5 Gbit/s");
        assert_eq!(format_rate(100_000_000), "100 Mbit/s");
        let p = PathConfig::with_rtt(Duration::from_millis(100), Some(1_000_000_000), 1);
        assert_eq!(p.one_way, Duration::from_millis(50));
        assert_eq!(p.describe(), "100 ms RTT, 1 Gbit/s");
        let p = PathConfig::with_rtt(Duration::from_millis(20), None, 1);
        assert_eq!(p.describe(), "20 ms RTT, no rate cap");
    }
}
