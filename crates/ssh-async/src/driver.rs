//! One connection's driver: socket bytes into the session, the session's
//! output onto the socket, its deadline onto a timer ([`Driver`]); and,
//! after authentication, the task that does that while the application's
//! handles share the session ([`drive`]).

use core::pin::Pin;
use core::task::{Context, Poll};
use std::io;
use std::time::Instant;

use futures::io::{AsyncRead, AsyncWrite};
use ssh_session::{ClientSession, ServerSession};

use crate::Error;
use crate::error::ConnectionError;
use crate::state::{State, lock};
use std::sync::{Arc, Mutex};

use crate::runtime::{Runtime, Sleep};

/// Read buffer size.
const READ_CHUNK: usize = 32 * 1024;

/// The sans-IO vocabulary both sessions share (input, output, deadlines).
pub(crate) trait SessionIo {
    fn handle_input(&mut self, now: Instant, data: &[u8]) -> Result<usize, ssh_session::Error>;
    fn poll_transmit(&mut self, out: &mut Vec<u8>);
    fn poll_timeout(&self) -> Option<Instant>;
    fn handle_timeout(&mut self, now: Instant) -> Result<(), ssh_session::Error>;
}

impl SessionIo for ClientSession {
    fn handle_input(&mut self, now: Instant, data: &[u8]) -> Result<usize, ssh_session::Error> {
        ClientSession::handle_input(self, now, data)
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
}

impl SessionIo for ServerSession {
    fn handle_input(&mut self, now: Instant, data: &[u8]) -> Result<usize, ssh_session::Error> {
        ServerSession::handle_input(self, now, data)
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
    /// Input read but not yet consumed by the session (it pauses while a
    /// question such as the host key is unanswered).
    inbuf: Vec<u8>,
    in_pos: usize,
    rbuf: Vec<u8>,
    timer: Option<(Instant, Sleep)>,
    need_flush: bool,
    /// The peer closed its side of the stream.
    pub(crate) eof: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Driver<S> {
    pub(crate) fn new(stream: S, rt: Arc<dyn Runtime>) -> Self {
        Self {
            stream,
            rt,
            out: Vec::new(),
            out_pos: 0,
            inbuf: Vec::new(),
            in_pos: 0,
            rbuf: vec![0; READ_CHUNK],
            timer: None,
            need_flush: false,
            eof: false,
        }
    }

    /// The runtime's current time.
    pub(crate) fn now(&self) -> Instant {
        self.rt.now()
    }

    /// Gives buffered input to the session; true if it took any.
    fn feed<T: SessionIo + ?Sized>(&mut self, sess: &mut T) -> Result<bool, Error> {
        let mut any = false;
        while let Some(rest) = self.inbuf.get(self.in_pos..) {
            if rest.is_empty() {
                break;
            }
            let n = sess.handle_input(self.rt.now(), rest)?;
            if n == 0 {
                break;
            }
            self.in_pos += n;
            any = true;
        }
        if self.in_pos >= self.inbuf.len() {
            self.inbuf.clear();
            self.in_pos = 0;
        }
        Ok(any)
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
        let mut progress = self.feed(sess)?;

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

        // Input, when the session took everything read before.
        if self.inbuf.is_empty() && !self.eof {
            match Pin::new(&mut self.stream).poll_read(cx, &mut self.rbuf) {
                Poll::Ready(Ok(0)) => {
                    self.eof = true;
                    progress = true;
                }
                Poll::Ready(Ok(n)) => {
                    // Straight from the read buffer into the session; only
                    // what it does not take now (it pauses on a question
                    // such as the host key) is kept aside.
                    let got = self.rbuf.get(..n).unwrap_or_default();
                    let mut taken = 0;
                    while let Some(rest) = got.get(taken..) {
                        if rest.is_empty() {
                            break;
                        }
                        let k = sess.handle_input(self.rt.now(), rest)?;
                        if k == 0 {
                            break;
                        }
                        taken += k;
                    }
                    self.inbuf
                        .extend_from_slice(got.get(taken..).unwrap_or_default());
                    progress = true;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(Error::Io(e))),
                Poll::Pending => {}
            }
        }

        if progress {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
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
    {
        let mut st = lock(shared);
        if st.ended.is_some() {
            return Poll::Ready(());
        }
        if st.closing {
            st.session.disconnect("bye");
        }
    }
    // The lock is taken again for each step, so that channel readers and
    // writers get in between the steps of a long burst.
    for _ in 0..DRIVER_BUDGET {
        let mut st = lock(shared);
        if st.driver_waker.is_none() {
            st.driver_waker = Some(cx.waker().clone());
        }
        st.dispatch();
        let poll = driver.poll_io(&mut *st.session, cx);
        match poll {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => {
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
    }
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
