//! One connection's driver: socket bytes into the session, the session's
//! output onto the socket, its deadline onto a timer ([`Driver`]); and,
//! after authentication, the task that does that while the application's
//! handles share the session ([`drive`]).

use core::pin::Pin;
use core::task::{Context, Poll};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::io::{AsyncRead, AsyncWrite};
use ssh_session::{ClientSession, ServerSession};

use crate::Error;
use crate::error::ConnectionError;
use crate::state::{State, lock};
use std::sync::{Arc, Mutex};

use crate::runtime::{Runtime, Sleep};

/// The most one read asks for (the transport lends at most this much of
/// its input buffer).
const READ_CHUNK: usize = 64 * 1024;
/// What the first read asks for. A read that fills its loan doubles the
/// next, up to [`READ_CHUNK`]: a bulk transfer reaches full-size reads
/// within five, while an idle connection's input buffer stays a few KiB
/// (it cost each of 5,000 idle connections 64 KiB of resident memory when
/// every read asked for the full chunk).
///
/// Reads of this size go onto the stack and are copied into the session
/// (`handle_input`), so the session's input buffer grows by what arrived,
/// not by the loan: a connection that only ever sees small packets keeps
/// a buffer of a few hundred bytes. (With 4 KiB loans, 1,000 idle
/// connections left 4 KiB each of freed buffer between live objects after
/// the idle release, memory the allocator could not return.) Larger
/// reads are lent the session's buffer, without a copy.
const FIRST_READ: usize = 4 * 1024;

/// How long a connection goes without reading or writing a byte before
/// its driver gives back the memory of its empty buffers (the session's
/// and its own): an idle connection then costs a server what its state
/// needs, not what its last burst of traffic grew.
pub(crate) const IDLE_RELEASE: Duration = Duration::from_secs(5);

/// Idle releases done by every driver of the process (see
/// [`idle_releases`]).
static IDLE_RELEASES: AtomicU64 = AtomicU64::new(0);

/// How many times, in this process, a connection that went idle gave back
/// its buffers' memory (after [`IDLE_RELEASE`] without traffic). A server
/// that returns freed memory to the system (`malloc_trim`) has something
/// to return when this moved.
pub fn idle_releases() -> u64 {
    IDLE_RELEASES.load(Ordering::Relaxed)
}

/// The sans-IO vocabulary both sessions share (input, output, deadlines).
pub(crate) trait SessionIo {
    fn input_room(&self, max: usize) -> usize;
    fn handle_input(&mut self, now: Instant, data: &[u8]) -> Result<usize, ssh_session::Error>;
    fn input_buffer(&mut self, max: usize) -> &mut [u8];
    fn commit_input(&mut self, now: Instant, n: usize) -> Result<(), ssh_session::Error>;
    fn poll_transmit(&mut self, out: &mut Vec<u8>);
    fn poll_timeout(&self) -> Option<Instant>;
    fn handle_timeout(&mut self, now: Instant) -> Result<(), ssh_session::Error>;
    fn release_buffers(&mut self);
}

impl SessionIo for ClientSession {
    fn input_room(&self, max: usize) -> usize {
        ClientSession::input_room(self, max)
    }
    fn handle_input(&mut self, now: Instant, data: &[u8]) -> Result<usize, ssh_session::Error> {
        ClientSession::handle_input(self, now, data)
    }
    fn input_buffer(&mut self, max: usize) -> &mut [u8] {
        ClientSession::input_buffer(self, max)
    }
    fn commit_input(&mut self, now: Instant, n: usize) -> Result<(), ssh_session::Error> {
        ClientSession::commit_input(self, now, n)
    }
    fn poll_transmit(&mut self, out: &mut Vec<u8>) {
        ClientSession::poll_transmit(self, out);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        ClientSession::poll_timeout(self)
    }
    fn handle_timeout(&mut self, now: Instant) -> Result<(), ssh_session::Error> {
        ClientSession::handle_timeout(self, now)
    }
    fn release_buffers(&mut self) {
        ClientSession::release_buffers(self);
    }
}

impl SessionIo for ServerSession {
    fn input_room(&self, max: usize) -> usize {
        ServerSession::input_room(self, max)
    }
    fn handle_input(&mut self, now: Instant, data: &[u8]) -> Result<usize, ssh_session::Error> {
        ServerSession::handle_input(self, now, data)
    }
    fn input_buffer(&mut self, max: usize) -> &mut [u8] {
        ServerSession::input_buffer(self, max)
    }
    fn commit_input(&mut self, now: Instant, n: usize) -> Result<(), ssh_session::Error> {
        ServerSession::commit_input(self, now, n)
    }
    fn poll_transmit(&mut self, out: &mut Vec<u8>) {
        ServerSession::poll_transmit(self, out);
    }
    fn poll_timeout(&self) -> Option<Instant> {
        ServerSession::poll_timeout(self)
    }
    fn handle_timeout(&mut self, now: Instant) -> Result<(), ssh_session::Error> {
        ServerSession::handle_timeout(self, now)
    }
    fn release_buffers(&mut self) {
        ServerSession::release_buffers(self);
    }
}

/// The I/O half of a connection; the session is passed in at each call so
/// the application can use it between calls.
pub(crate) struct Driver<S> {
    stream: S,
    /// The clock, the timers.
    rt: Arc<dyn Runtime>,
    /// Output taken from the session, written from `out_pos`.
    out: Vec<u8>,
    out_pos: usize,
    timer: Option<(Instant, Sleep)>,
    need_flush: bool,
    /// What the next read asks for (see [`FIRST_READ`]).
    read_size: usize,
    /// Bytes read since the driver last let other tasks run (see
    /// [`INPUT_BURST`]).
    pub(crate) burst: usize,
    /// The peer closed its side of the stream.
    pub(crate) eof: bool,
    /// When a byte last moved either way.
    last_traffic: Instant,
    /// Wakes the driver [`IDLE_RELEASE`] after `last_traffic` (re-armed
    /// then if traffic moved it); none once the buffers were given back.
    idle_timer: Option<(Instant, Sleep)>,
    /// The buffers were given back and no byte moved since.
    released: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Driver<S> {
    pub(crate) fn new(stream: S, rt: Arc<dyn Runtime>) -> Self {
        Self {
            stream,
            out: Vec::new(),
            out_pos: 0,
            timer: None,
            need_flush: false,
            read_size: FIRST_READ,
            burst: 0,
            eof: false,
            last_traffic: rt.now(),
            idle_timer: None,
            released: false,
            rt,
        }
    }

    /// The runtime's current time.
    pub(crate) fn now(&self) -> Instant {
        self.rt.now()
    }

    /// Moves whatever can move now: buffered input, an expired deadline,
    /// output, one read. Ready when something moved (the caller then looks
    /// at the session's events and calls again), Pending otherwise (with
    /// the stream and the timer registered to wake the task).
    pub(crate) fn poll_io<T: SessionIo + ?Sized>(
        &mut self,
        sess: &mut T,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), Error>> {
        let mut progress = false;

        // The deadline.
        match sess.poll_timeout() {
            Some(deadline) => {
                if self.timer.as_ref().map(|t| t.0) != Some(deadline) {
                    self.timer = Some((deadline, self.rt.sleep_until(deadline)));
                }
                if let Some((_, sleep)) = self.timer.as_mut()
                    && sleep.as_mut().poll(cx).is_ready()
                {
                    self.timer = None;
                    sess.handle_timeout(self.rt.now())?;
                    progress = true;
                }
            }
            None => self.timer = None,
        }

        progress |= self.write_out(sess, cx)?;

        if !self.eof {
            progress |= if self.read_size <= FIRST_READ {
                self.read_small(sess, cx)?
            } else {
                self.read_lent(sess, cx)?
            };
        }

        if progress {
            self.last_traffic = self.rt.now();
            self.released = false;
            Poll::Ready(Ok(()))
        } else {
            self.poll_idle_release(sess, cx);
            Poll::Pending
        }
    }

    /// One read onto the stack, copied into the session (see
    /// [`FIRST_READ`]); true if the stream gave bytes or its end. Nothing
    /// is read while the session takes nothing (it holds enough
    /// unprocessed input and waits for an answer).
    fn read_small<T: SessionIo + ?Sized>(
        &mut self,
        sess: &mut T,
        cx: &mut Context<'_>,
    ) -> Result<bool, Error> {
        let room = sess.input_room(self.read_size);
        let mut scratch = [0u8; FIRST_READ];
        let Some(buf) = scratch.get_mut(..room).filter(|b| !b.is_empty()) else {
            return Ok(false);
        };
        let now = self.rt.now();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(0)) => {
                sess.handle_input(now, &[])?;
                self.eof = true;
                Ok(true)
            }
            Poll::Ready(Ok(n)) => {
                let read = buf.get(..n).unwrap_or_default();
                // The session takes all it said it had room for (nothing
                // ran in between); bytes it left would be lost, so that
                // is an error, never a silent drop.
                if sess.handle_input(now, read)? != read.len() {
                    return Err(Error::Io(io::Error::other(
                        "the session took less input than it had room for",
                    )));
                }
                self.burst = self.burst.saturating_add(n);
                if n == room {
                    self.read_size = (self.read_size * 2).min(READ_CHUNK);
                }
                Ok(true)
            }
            Poll::Ready(Err(e)) => Err(Error::Io(e)),
            Poll::Pending => Ok(false),
        }
    }

    /// One read straight into the transport's buffer, lent (the packet is
    /// decrypted where it lands); true if the stream gave bytes or its
    /// end. An empty loan: the session holds enough unprocessed input (it
    /// waits for an answer); read later.
    fn read_lent<T: SessionIo + ?Sized>(
        &mut self,
        sess: &mut T,
        cx: &mut Context<'_>,
    ) -> Result<bool, Error> {
        let now = self.rt.now();
        let buf = sess.input_buffer(self.read_size);
        if buf.is_empty() {
            return Ok(false);
        }
        let lent = buf.len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(0)) => {
                sess.commit_input(now, 0)?;
                self.eof = true;
                Ok(true)
            }
            Poll::Ready(Ok(n)) => {
                sess.commit_input(now, n)?;
                self.burst = self.burst.saturating_add(n);
                if n == lent {
                    self.read_size = (self.read_size * 2).min(READ_CHUNK);
                }
                Ok(true)
            }
            Poll::Ready(Err(e)) => Err(Error::Io(e)),
            Poll::Pending => Ok(false),
        }
    }

    /// Nothing moved: once nothing moved for [`IDLE_RELEASE`], gives back
    /// the memory of the empty buffers, once per quiet spell. The timer is
    /// set for `last_traffic` plus the delay and only moved when it fires
    /// early, so traffic costs no timer per read.
    fn poll_idle_release<T: SessionIo + ?Sized>(&mut self, sess: &mut T, cx: &mut Context<'_>) {
        if self.released {
            return;
        }
        loop {
            let due = self.last_traffic + IDLE_RELEASE;
            let (at, sleep) = self
                .idle_timer
                .get_or_insert_with(|| (due, self.rt.sleep_until(due)));
            if sleep.as_mut().poll(cx).is_pending() {
                return;
            }
            if *at >= due {
                break;
            }
            // Traffic since the timer was set: wait out the rest.
            self.idle_timer = None;
        }
        self.idle_timer = None;
        self.released = true;
        sess.release_buffers();
        if self.out_pos >= self.out.len() {
            self.out = Vec::new();
            self.out_pos = 0;
        }
        self.read_size = FIRST_READ;
        IDLE_RELEASES.fetch_add(1, Ordering::Relaxed);
    }

    /// Writes what the session has to send, coalesced into one buffer;
    /// true if any byte was written.
    fn write_out<T: SessionIo + ?Sized>(
        &mut self,
        sess: &mut T,
        cx: &mut Context<'_>,
    ) -> Result<bool, Error> {
        let mut progress = false;
        loop {
            if self.out_pos >= self.out.len() {
                self.out.clear();
                self.out_pos = 0;
                sess.poll_transmit(&mut self.out);
                if self.out.is_empty() {
                    break;
                }
            }
            let pending = self.out.get(self.out_pos..).unwrap_or_default();
            match Pin::new(&mut self.stream).poll_write(cx, pending) {
                Poll::Ready(Ok(0)) => return Err(Error::Io(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.out_pos += n;
                    self.need_flush = true;
                    progress = true;
                }
                Poll::Ready(Err(e)) => return Err(Error::Io(e)),
                Poll::Pending => break,
            }
        }
        if self.need_flush && self.out_pos >= self.out.len() {
            match Pin::new(&mut self.stream).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.need_flush = false,
                Poll::Ready(Err(e)) => return Err(Error::Io(e)),
                Poll::Pending => {}
            }
        }
        Ok(progress)
    }

    /// Best effort, without waiting: writes what the session still has to
    /// send (after a failure, its DISCONNECT) as far as the stream takes
    /// it now.
    pub(crate) fn try_flush<T: SessionIo + ?Sized>(&mut self, sess: &mut T) {
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        for _ in 0..16 {
            match self.write_out(sess, &mut cx) {
                Ok(true) => {}
                Ok(false) | Err(_) => break,
            }
        }
    }

    /// Writes everything the session has to send and flushes the stream.
    pub(crate) async fn flush_all<T: SessionIo + ?Sized>(
        &mut self,
        sess: &mut T,
    ) -> Result<(), Error> {
        futures::future::poll_fn(|cx| {
            self.write_out(sess, cx)?;
            if self.out_pos >= self.out.len() && !self.need_flush {
                Poll::Ready(Ok(()))
            } else {
                Poll::Pending
            }
        })
        .await
    }

    /// The stream, once the driver is done with it.
    pub(crate) fn into_stream(self) -> S {
        self.stream
    }

    /// Waits until something moved. On an error, what the session still
    /// has to send (its DISCONNECT) is written if the stream takes it at
    /// once.
    pub(crate) async fn step<T: SessionIo + ?Sized>(&mut self, sess: &mut T) -> Result<(), Error> {
        let r = futures::future::poll_fn(|cx| self.poll_io(sess, cx)).await;
        if r.is_err() {
            self.try_flush(sess);
        }
        r
    }
}

/// How many session events the driver handles before it lets other tasks
/// run.
const DRIVER_BUDGET: usize = 64;

/// How many bytes the driver reads before it lets other tasks run: the
/// channels' readers consume, and so re-open the window, while the peer
/// still has half of it to send. Reading up to the budget (64 reads of
/// 64 KiB, more than a 2 MiB window) left the peer without window while
/// one thread decrypted all of it: rssh > rsshd with aes256-ctr +
/// hmac-sha2-512-etm ran client and server in turn, not at once.
const INPUT_BURST: usize = 256 * 1024;

/// The driver task of an authenticated connection: runs until the
/// connection ends.
pub(crate) async fn drive<S>(shared: Arc<Mutex<State>>, mut driver: Driver<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    futures::future::poll_fn(|cx| poll_drive(&shared, &mut driver, cx)).await;
}

fn poll_drive<S>(shared: &Mutex<State>, driver: &mut Driver<S>, cx: &mut Context<'_>) -> Poll<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // The lock is taken again for each step, so that channel readers and
    // writers get in between the steps of a long burst. What they ask of
    // the driver is read in each step, under the lock that registers the
    // waker: a handle that asks between two steps finds the waker taken
    // by an earlier wake-up (this poll's own), so its wake-up is a no-op,
    // and only the next step sees what it asked. `closing` was read once
    // per poll, before the steps: a `disconnect` between them was never
    // seen, and the client waited for the end forever (about one run in
    // 300 of `the_api_runs_on_another_executor`).
    for _ in 0..DRIVER_BUDGET {
        let mut st = lock(shared);
        if st.ended.is_some() {
            return Poll::Ready(());
        }
        if st.driver_waker.is_none() {
            st.driver_waker = Some(cx.waker().clone());
        }
        if st.closing && st.session.failure().is_none() {
            st.session.disconnect("bye");
        }
        st.dispatch();
        st.poll_signing(cx);
        let poll = driver.poll_io(&mut *st.session, cx);
        match poll {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => {
                // The peer's violation: the DISCONNECT the session owes it
                // goes out first, as `Driver::step` sends it before
                // authentication (RFC 4253 §11.1).
                driver.try_flush(&mut *st.session);
                let reason = end_reason(e);
                st.dispatch();
                st.end(reason);
                return Poll::Ready(());
            }
            Poll::Pending => {
                st.dispatch();
                if let Some(e) = st.session.failure() {
                    driver.try_flush(&mut *st.session);
                    st.end(end_reason(Error::Session(e)));
                    return Poll::Ready(());
                }
                if driver.eof {
                    st.end(ConnectionError::StreamClosed);
                    return Poll::Ready(());
                }
                driver.burst = 0;
                return Poll::Pending;
            }
        }
        if let Some(e) = st.session.failure() {
            driver.try_flush(&mut *st.session);
            st.end(end_reason(Error::Session(e)));
            return Poll::Ready(());
        }
        if driver.eof {
            st.dispatch();
            st.end(ConnectionError::StreamClosed);
            return Poll::Ready(());
        }
        if driver.burst >= INPUT_BURST {
            break;
        }
    }
    driver.burst = 0;
    // Out of budget: let other tasks run, come back at once.
    cx.waker().wake_by_ref();
    Poll::Pending
}

/// The typed reason a connection ended, from the error that ended it.
fn end_reason(e: Error) -> ConnectionError {
    use ssh_session::Error as S;
    use ssh_transport::Error as T;
    match e {
        Error::Session(S::Transport(T::PeerDisconnected {
            reason,
            description,
        })) => ConnectionError::PeerDisconnected {
            reason,
            description,
        },
        Error::Session(S::Transport(T::Disconnected)) => ConnectionError::LocallyClosed,
        Error::Session(e) => ConnectionError::Session(e),
        Error::Io(e) => ConnectionError::Io(Arc::new(e)),
        Error::Connection(c) => c,
        other => ConnectionError::Io(Arc::new(std::io::Error::other(other.to_string()))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// A clock that never fires (the reads are what is tested).
    #[derive(Debug)]
    struct Still(Instant);

    impl Runtime for Still {
        fn now(&self) -> Instant {
            self.0
        }
        fn sleep_until(&self, _: Instant) -> Sleep {
            Box::pin(futures::future::pending())
        }
        fn spawn(&self, _: crate::runtime::Task) {}
    }

    /// How one read reached the session.
    #[derive(Debug, PartialEq, Eq)]
    enum Read {
        /// Offered (copied) after a read of at most this many bytes.
        Copied(usize),
        /// Read straight into the session's buffer, lent this many bytes.
        Lent(usize),
    }

    /// A session that records how each read reached it, with room for
    /// `room` more bytes of input (none: `Some(0)`).
    #[derive(Default)]
    struct Recorder {
        buf: Vec<u8>,
        reads: Vec<Read>,
        asked: usize,
        room: Option<usize>,
        taken: usize,
    }

    impl SessionIo for Recorder {
        fn input_room(&self, max: usize) -> usize {
            self.room.unwrap_or(usize::MAX).min(max)
        }
        fn handle_input(&mut self, _: Instant, data: &[u8]) -> Result<usize, ssh_session::Error> {
            self.reads.push(Read::Copied(self.asked));
            self.taken += data.len();
            Ok(data.len())
        }
        fn input_buffer(&mut self, max: usize) -> &mut [u8] {
            self.reads.push(Read::Lent(max));
            self.buf.resize(self.input_room(max), 0);
            &mut self.buf
        }
        fn commit_input(&mut self, _: Instant, n: usize) -> Result<(), ssh_session::Error> {
            self.taken += n;
            Ok(())
        }
        fn poll_transmit(&mut self, _: &mut Vec<u8>) {}
        fn poll_timeout(&self) -> Option<Instant> {
            None
        }
        fn handle_timeout(&mut self, _: Instant) -> Result<(), ssh_session::Error> {
            Ok(())
        }
        fn release_buffers(&mut self) {
            self.buf = Vec::new();
        }
    }

    /// A stream whose reads give at most `per_read` bytes, always ready.
    struct Source {
        per_read: usize,
    }

    impl AsyncRead for Source {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<std::io::Result<usize>> {
            Poll::Ready(Ok(buf.len().min(self.per_read)))
        }
    }

    impl AsyncWrite for Source {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// Runs `polls` polls over a stream giving `per_read` bytes a read;
    /// the session's record and the bytes it took.
    fn run(per_read: usize, polls: usize, room: Option<usize>) -> (Vec<Read>, usize) {
        let rt: Arc<dyn Runtime> = Arc::new(Still(Instant::now()));
        let mut driver = Driver::new(Source { per_read }, rt);
        let mut sess = Recorder {
            room,
            ..Recorder::default()
        };
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        for _ in 0..polls {
            sess.asked = driver.read_size;
            let _ = driver.poll_io(&mut sess, &mut cx);
        }
        (sess.reads, sess.taken)
    }

    #[test]
    fn reads_that_fill_their_loan_grow_to_the_full_chunk() {
        // The first read is the small one, copied; the larger ones read
        // into the session's own buffer.
        let (reads, taken) = run(usize::MAX, 6, None);
        assert_eq!(
            reads,
            [
                Read::Copied(4096),
                Read::Lent(8192),
                Read::Lent(16384),
                Read::Lent(32768),
                Read::Lent(65536),
                Read::Lent(65536)
            ]
        );
        assert_eq!(taken, 4096 + 8192 + 16384 + 32768 + 2 * 65536);
    }

    #[test]
    fn an_idle_connection_keeps_small_reads_and_never_lends_its_buffer() {
        // Keepalives and small packets: every read is small and copied,
        // so the session's buffer grows by what came, not by a loan.
        let (reads, taken) = run(100, 4, None);
        assert_eq!(
            reads,
            [
                Read::Copied(4096),
                Read::Copied(4096),
                Read::Copied(4096),
                Read::Copied(4096)
            ]
        );
        assert_eq!(taken, 400);
    }

    #[test]
    fn a_small_read_offers_no_more_than_the_session_has_room_for() {
        // Room for 300: each read is cut to it, and all of it is taken.
        let (reads, taken) = run(usize::MAX, 3, Some(300));
        assert_eq!(reads.len(), 3);
        assert_eq!(taken, 900);
        // No room (the session waits for an answer): nothing is read.
        let (reads, taken) = run(usize::MAX, 3, Some(0));
        assert!(reads.is_empty());
        assert_eq!(taken, 0);
    }
}
