//! The state an authenticated connection shares between its driver task
//! and the application's handles (channels, the connection handle).
//!
//! One `std::sync::Mutex` guards the session and the per-channel wake-up
//! slots; nobody awaits while holding it. Handles change the session
//! (send data, open channels) under the lock and wake the driver, which
//! writes what the session queued; the driver moves socket input into the
//! session and wakes the handles whose channels have something new.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use futures::io::{AsyncRead, AsyncWrite};
use ssh_connection::{ChannelHandle, Connection, Event, GlobalReply, RequestId};
use ssh_session::{ClientSession, ClientSessionEvent, ServerSession, ServerSessionEvent};

use ssh_wire::messages::{ChannelRequestKind, ChannelType, GlobalRequestKind, OpenFailureReason};

use crate::Error;
use crate::driver::{Driver, Sans};

/// How many session events the driver handles before it lets other tasks
/// run.
const DRIVER_BUDGET: usize = 64;

/// The most requests of the peer a channel keeps for the application
/// before it refuses further ones.
const MAX_QUEUED_REQUESTS: usize = 64;

/// The most incoming channel opens waiting for the application.
const MAX_QUEUED_OPENS: usize = 64;

/// The most global requests of the peer waiting for the application.
const MAX_QUEUED_GLOBALS: usize = 64;

/// What the shared state needs of a session.
pub(crate) trait Session: Sans + Send {
    fn connection(&mut self) -> Option<&mut Connection>;
    /// The next event: a connection event, or `None` inside for others
    /// (logged, not acted on).
    fn next_event(&mut self) -> Option<Option<Event>>;
    fn failure(&self) -> Option<ssh_session::Error>;
    fn disconnect(&mut self, description: &str);
    fn force_rekey(&mut self) -> Result<(), ssh_session::Error>;
    fn transport(&self) -> &ssh_transport::Transport;
}

/// A client session after authentication, with the host key the
/// application accepted: a re-key must present the same key (OpenSSH
/// refuses a changed key the same way).
pub(crate) struct ClientSide {
    pub(crate) session: Box<ClientSession>,
    pub(crate) host_key: Option<ssh_keys::PublicKey>,
}

impl Sans for ClientSide {
    fn handle_input(
        &mut self,
        now: std::time::Instant,
        data: &[u8],
    ) -> Result<usize, ssh_session::Error> {
        self.session.handle_input(now, data)
    }
    fn poll_transmit(&mut self, out: &mut Vec<u8>) {
        self.session.poll_transmit(out);
    }
    fn poll_timeout(&self) -> Option<std::time::Instant> {
        self.session.poll_timeout()
    }
    fn handle_timeout(&mut self, now: std::time::Instant) -> Result<(), ssh_session::Error> {
        self.session.handle_timeout(now)
    }
}

impl Session for ClientSide {
    fn connection(&mut self) -> Option<&mut Connection> {
        self.session.connection_mut()
    }
    fn next_event(&mut self) -> Option<Option<Event>> {
        self.session.poll_event().map(|e| match e {
            ClientSessionEvent::Connection(e) => Some(e),
            ClientSessionEvent::HostKey { key, .. } => {
                // A re-key: the same key as at the first exchange, or
                // the connection ends.
                let same = self.host_key.as_ref() == Some(&key);
                let r = if same {
                    self.session.accept_host_key()
                } else {
                    tracing::error!(
                        "the server's host key changed during a re-key ({}): disconnecting",
                        key.fingerprint_sha256()
                    );
                    self.session.reject_host_key()
                };
                if let Err(e) = r {
                    tracing::debug!("host key answer: {e}");
                }
                None
            }
            other => {
                tracing::debug!("session event: {other:?}");
                None
            }
        })
    }
    fn failure(&self) -> Option<ssh_session::Error> {
        self.session.error().cloned()
    }
    fn disconnect(&mut self, description: &str) {
        self.session.disconnect(description);
    }
    fn force_rekey(&mut self) -> Result<(), ssh_session::Error> {
        self.session.force_rekey()
    }
    fn transport(&self) -> &ssh_transport::Transport {
        self.session.transport()
    }
}

impl Session for ServerSession {
    fn connection(&mut self) -> Option<&mut Connection> {
        self.connection_mut()
    }
    fn next_event(&mut self) -> Option<Option<Event>> {
        self.poll_event().map(|e| match e {
            ServerSessionEvent::Connection(e) => Some(e),
            other => {
                tracing::debug!("session event: {other:?}");
                None
            }
        })
    }
    fn failure(&self) -> Option<ssh_session::Error> {
        self.error().cloned()
    }
    fn disconnect(&mut self, description: &str) {
        ServerSession::disconnect(self, description);
    }
    fn force_rekey(&mut self) -> Result<(), ssh_session::Error> {
        ServerSession::force_rekey(self)
    }
    fn transport(&self) -> &ssh_transport::Transport {
        ServerSession::transport(self)
    }
}

/// Whether a channel we opened was confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OpenState {
    Opening,
    Open,
    Failed(OpenFailureReason, String),
}

/// How a remote command ended, as the peer reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExitStatus {
    /// `exit-status`.
    Code(u32),
    /// `exit-signal`: the signal name without `SIG` (`TERM`, `KILL`, ...).
    Signal {
        /// The signal.
        name: String,
        /// A core was dumped.
        core_dumped: bool,
        /// The peer's message.
        message: String,
    },
}

/// A channel request of the peer, kept for the application.
#[derive(Debug)]
pub(crate) struct QueuedRequest {
    pub(crate) id: Option<RequestId>,
    pub(crate) kind: ChannelRequestKind,
}

#[derive(Debug)]
pub(crate) struct Chan {
    pub(crate) open: OpenState,
    /// Live handles (Channel, readers, writers); at zero we close.
    pub(crate) refs: usize,
    pub(crate) eof: bool,
    pub(crate) closed: bool,
    pub(crate) exit: Option<ExitStatus>,
    pub(crate) requests: VecDeque<QueuedRequest>,
    pub(crate) replies: HashMap<RequestId, bool>,
    /// The reader of channel data waiting for some.
    pub(crate) read_waker: Option<Waker>,
    /// The reader of extended data (stderr) waiting for some.
    pub(crate) ext_waker: Option<Waker>,
    /// The writer of channel data waiting for the window.
    pub(crate) write_waker: Option<Waker>,
    /// The writer of extended data waiting for the window (a slot of its
    /// own: both writers may wait at once, and both must be woken).
    pub(crate) ext_write_waker: Option<Waker>,
    pub(crate) event_waker: Option<Waker>,
}

impl Chan {
    pub(crate) fn new(open: OpenState, refs: usize) -> Self {
        Self {
            open,
            refs,
            eof: false,
            closed: false,
            exit: None,
            requests: VecDeque::new(),
            replies: HashMap::new(),
            read_waker: None,
            ext_waker: None,
            write_waker: None,
            ext_write_waker: None,
            event_waker: None,
        }
    }

    fn wake_all(&mut self) {
        for w in [
            self.read_waker.take(),
            self.ext_waker.take(),
            self.write_waker.take(),
            self.ext_write_waker.take(),
            self.event_waker.take(),
        ]
        .into_iter()
        .flatten()
        {
            w.wake();
        }
    }
}

/// A channel the peer asked to open, waiting for the application.
#[derive(Debug)]
pub(crate) struct PendingOpen {
    pub(crate) handle: ChannelHandle,
    pub(crate) channel_type: ChannelType,
}

/// A global request of the peer, waiting for the application.
#[derive(Debug)]
pub(crate) struct PendingGlobal {
    pub(crate) id: Option<RequestId>,
    pub(crate) request: GlobalRequestKind,
}

/// Which side of the connection we are (what to do with requests nobody
/// asked for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Client,
    Server,
}

/// Everything under the lock.
pub(crate) struct State {
    pub(crate) session: Box<dyn Session>,
    pub(crate) side: Side,
    pub(crate) chans: HashMap<ChannelHandle, Chan>,
    /// Channel opens of the peer not yet handed out.
    pub(crate) incoming: VecDeque<PendingOpen>,
    /// Whether the application takes incoming channels; when not, they
    /// are refused at once.
    pub(crate) accept_incoming: bool,
    pub(crate) incoming_waker: Option<Waker>,
    pub(crate) global_replies: HashMap<RequestId, GlobalReply>,
    /// Tasks waiting for replies to our global requests.
    pub(crate) global_wakers: Vec<Waker>,
    /// Our global requests whose waiter went away: their replies are
    /// dropped.
    pub(crate) global_abandoned: std::collections::HashSet<RequestId>,
    /// Global requests of the peer not yet handed out.
    pub(crate) global_incoming: VecDeque<PendingGlobal>,
    /// Whether the application takes the peer's global requests; when
    /// not, they are refused at once.
    pub(crate) accept_global: bool,
    pub(crate) global_incoming_waker: Option<Waker>,
    pub(crate) driver_waker: Option<Waker>,
    /// Why the connection ended; set once.
    pub(crate) ended: Option<EndReason>,
    pub(crate) end_wakers: Vec<Waker>,
    /// The application asked to disconnect.
    pub(crate) closing: bool,
    /// `ServerAliveInterval`/`ClientAliveInterval` and the count of
    /// unanswered probes after which the connection is given up.
    pub(crate) keepalive: Option<Keepalive>,
}

/// Keepalive probes: `keepalive@openssh.com` global requests sent after
/// `interval` without input; `max_missed` unanswered ones end the
/// connection.
pub(crate) struct Keepalive {
    pub(crate) interval: std::time::Duration,
    pub(crate) max_missed: u32,
    pub(crate) missed: u32,
    pub(crate) pending: Vec<RequestId>,
    /// When input last arrived.
    pub(crate) last_input: Option<std::time::Instant>,
    pub(crate) timer: Option<crate::runtime::Sleep>,
}

impl core::fmt::Debug for Keepalive {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Keepalive")
            .field("interval", &self.interval)
            .field("missed", &self.missed)
            .finish_non_exhaustive()
    }
}

impl Keepalive {
    pub(crate) fn new(interval: std::time::Duration, max_missed: u32) -> Self {
        Self {
            interval,
            max_missed,
            missed: 0,
            pending: Vec::new(),
            last_input: None,
            timer: None,
        }
    }
}

/// Why a connection ended.
#[derive(Debug, Clone)]
pub(crate) enum EndReason {
    /// DISCONNECT by either side, or the stream closed: a normal end.
    Closed(String),
    /// A failure.
    Failed(String),
}

impl EndReason {
    pub(crate) fn to_error(&self) -> Error {
        match self {
            Self::Closed(_) => Error::Disconnected,
            Self::Failed(m) => Error::Failed(m.clone()),
        }
    }
}

impl core::fmt::Debug for State {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("State")
            .field("side", &self.side)
            .field("channels", &self.chans.len())
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl State {
    pub(crate) fn new(session: Box<dyn Session>, side: Side) -> Self {
        Self {
            session,
            side,
            chans: HashMap::new(),
            incoming: VecDeque::new(),
            accept_incoming: false,
            incoming_waker: None,
            global_replies: HashMap::new(),
            global_wakers: Vec::new(),
            global_abandoned: std::collections::HashSet::new(),
            global_incoming: VecDeque::new(),
            accept_global: false,
            global_incoming_waker: None,
            driver_waker: None,
            ended: None,
            end_wakers: Vec::new(),
            closing: false,
            keepalive: None,
        }
    }

    /// The connection, or why there is none.
    pub(crate) fn conn(&mut self) -> Result<&mut Connection, Error> {
        if let Some(end) = &self.ended {
            return Err(end.to_error());
        }
        if self.session.connection().is_none() {
            return Err(match self.session.failure() {
                Some(e) => Error::Session(e),
                None => Error::Disconnected,
            });
        }
        self.session.connection().ok_or(Error::Disconnected)
    }

    pub(crate) fn wake_driver(&mut self) {
        if let Some(w) = self.driver_waker.take() {
            w.wake();
        }
    }

    /// Ends the connection: records why, wakes everybody.
    pub(crate) fn end(&mut self, reason: EndReason) {
        if self.ended.is_some() {
            return;
        }
        match &reason {
            EndReason::Closed(m) => tracing::debug!("connection closed: {m}"),
            EndReason::Failed(m) => tracing::debug!("connection failed: {m}"),
        }
        self.ended = Some(reason);
        for c in self.chans.values_mut() {
            c.wake_all();
        }
        for w in self
            .end_wakers
            .drain(..)
            .chain(self.incoming_waker.take())
            .chain(self.global_wakers.drain(..))
            .chain(self.global_incoming_waker.take())
        {
            w.wake();
        }
    }

    /// Drops one handle's reference to `h`: at zero the channel is closed
    /// (and released once the peer's CLOSE came).
    pub(crate) fn unref(&mut self, h: ChannelHandle) {
        let Some(c) = self.chans.get_mut(&h) else {
            return;
        };
        c.refs = c.refs.saturating_sub(1);
        if c.refs > 0 {
            return;
        }
        let closed = c.closed;
        let failed = matches!(c.open, OpenState::Failed(..));
        if closed || failed {
            self.chans.remove(&h);
            if closed && let Ok(conn) = self.conn() {
                // Already released if the connection is gone.
                let _ = conn.release(h);
            }
        } else if let Ok(conn) = self.conn() {
            // Best effort: a channel still opening is closed when the
            // confirmation comes (see dispatch).
            let _ = conn.close(h);
        }
        self.wake_driver();
    }

    /// Handles the session's events.
    fn dispatch(&mut self) {
        while let Some(ev) = self.session.next_event() {
            let Some(ev) = ev else { continue };
            if let Err(e) = self.dispatch_one(ev) {
                tracing::debug!("while handling a connection event: {e}");
            }
        }
    }

    fn dispatch_one(&mut self, ev: Event) -> Result<(), Error> {
        match ev {
            Event::OpenRequest {
                handle,
                channel_type,
            } => {
                if self.accept_incoming && self.incoming.len() < MAX_QUEUED_OPENS {
                    self.incoming.push_back(PendingOpen {
                        handle,
                        channel_type,
                    });
                    if let Some(w) = self.incoming_waker.take() {
                        w.wake();
                    }
                } else {
                    self.conn()?.reject(
                        handle,
                        OpenFailureReason::ADMINISTRATIVELY_PROHIBITED,
                        "open failed",
                    )?;
                }
            }
            Event::OpenConfirmed { handle } => {
                let mut orphan = false;
                if let Some(c) = self.chans.get_mut(&handle) {
                    c.open = OpenState::Open;
                    orphan = c.refs == 0;
                    c.wake_all();
                }
                if orphan {
                    self.conn()?.close(handle)?;
                }
            }
            Event::OpenFailed {
                handle,
                reason,
                description,
            } => {
                if let Some(c) = self.chans.get_mut(&handle) {
                    c.open = OpenState::Failed(reason, description);
                    let orphan = c.refs == 0;
                    c.wake_all();
                    if orphan {
                        self.chans.remove(&handle);
                    }
                }
            }
            Event::Readable { handle } => {
                if let Some(w) = self
                    .chans
                    .get_mut(&handle)
                    .and_then(|c| c.read_waker.take())
                {
                    w.wake();
                }
            }
            Event::ReadableExtended { handle } => {
                if let Some(w) = self.chans.get_mut(&handle).and_then(|c| c.ext_waker.take()) {
                    w.wake();
                }
            }
            Event::Eof { handle } => {
                if let Some(c) = self.chans.get_mut(&handle) {
                    c.eof = true;
                    for w in [c.read_waker.take(), c.ext_waker.take()]
                        .into_iter()
                        .flatten()
                    {
                        w.wake();
                    }
                }
            }
            Event::Writable { handle } => {
                // The window is per channel: both writers may be waiting.
                if let Some(c) = self.chans.get_mut(&handle) {
                    for w in [c.write_waker.take(), c.ext_write_waker.take()]
                        .into_iter()
                        .flatten()
                    {
                        w.wake();
                    }
                }
            }
            Event::Closed { handle } => match self.chans.get_mut(&handle) {
                Some(c) if c.refs > 0 => {
                    c.closed = true;
                    c.wake_all();
                }
                _ => {
                    self.chans.remove(&handle);
                    self.conn()?.release(handle)?;
                }
            },
            Event::ChannelRequest {
                handle,
                id,
                request,
            } => self.channel_request(handle, id, request)?,
            Event::ChannelReply {
                handle,
                id,
                success,
            } => {
                if let Some(c) = self.chans.get_mut(&handle) {
                    c.replies.insert(id, success);
                    if let Some(w) = c.event_waker.take() {
                        w.wake();
                    }
                }
            }
            Event::GlobalRequest { id, request } => {
                let wanted = self.accept_global
                    && self.global_incoming.len() < MAX_QUEUED_GLOBALS
                    && !matches!(request, GlobalRequestKind::Keepalive);
                if wanted {
                    self.global_incoming
                        .push_back(PendingGlobal { id, request });
                    if let Some(w) = self.global_incoming_waker.take() {
                        w.wake();
                    }
                } else {
                    tracing::debug!("global request {request:?}: refused");
                    if let Some(id) = id {
                        self.conn()?
                            .answer_global_request(id, GlobalReply::Failure)?;
                    }
                }
            }
            Event::GlobalReply { id, reply } => {
                if let Some(k) = &mut self.keepalive
                    && let Some(pos) = k.pending.iter().position(|p| *p == id)
                {
                    // Any answer, even a refusal, shows the peer is there.
                    k.pending.remove(pos);
                    k.missed = 0;
                    return Ok(());
                }
                if self.global_abandoned.remove(&id) {
                    return Ok(());
                }
                self.global_replies.insert(id, reply);
                for w in self.global_wakers.drain(..) {
                    w.wake();
                }
            }
            other => tracing::debug!("connection event ignored: {other:?}"),
        }
        Ok(())
    }

    fn channel_request(
        &mut self,
        handle: ChannelHandle,
        id: Option<RequestId>,
        request: ChannelRequestKind,
    ) -> Result<(), Error> {
        let side = self.side;
        let Some(c) = self.chans.get_mut(&handle) else {
            if let Some(id) = id {
                self.conn()?.answer_channel_request(handle, id, false)?;
            }
            return Ok(());
        };
        let keep = match request {
            ChannelRequestKind::ExitStatus { status } => {
                c.exit = Some(ExitStatus::Code(status));
                false
            }
            ChannelRequestKind::ExitSignal {
                signal,
                core_dumped,
                message,
                ..
            } => {
                c.exit = Some(ExitStatus::Signal {
                    name: signal,
                    core_dumped,
                    message,
                });
                false
            }
            ref other => {
                if side == Side::Server && c.refs > 0 && c.requests.len() < MAX_QUEUED_REQUESTS {
                    c.requests.push_back(QueuedRequest {
                        id,
                        kind: other.clone(),
                    });
                    true
                } else {
                    tracing::debug!("channel request {other:?} refused");
                    false
                }
            }
        };
        if let Some(w) = c.event_waker.take() {
            w.wake();
        }
        if !keep && let Some(id) = id {
            self.conn()?.answer_channel_request(handle, id, false)?;
        }
        Ok(())
    }
}

/// The lock around [`State`].
pub(crate) type Shared = Arc<Mutex<State>>;

/// Locks, ignoring poisoning (a panic elsewhere must not turn into
/// panics here; the state stays consistent between calls).
pub(crate) fn lock(shared: &Mutex<State>) -> MutexGuard<'_, State> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// The driver task: runs until the connection ends.
pub(crate) async fn drive<S>(shared: Shared, mut driver: Driver<S>)
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
        let seen = driver.take_input_seen();
        if let Err(reason) = poll_keepalive(&mut st, seen, driver.runtime(), cx) {
            driver.try_flush(&mut *st.session);
            st.end(reason);
            return Poll::Ready(());
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
                let reason = end_reason(&e);
                st.dispatch();
                st.end(reason);
                return Poll::Ready(());
            }
            Poll::Pending => {
                st.dispatch();
                if let Some(e) = st.session.failure() {
                    driver.try_flush(&mut *st.session);
                    st.end(end_reason(&Error::Session(e)));
                    return Poll::Ready(());
                }
                if driver.eof {
                    st.end(EndReason::Closed("the peer closed the stream".into()));
                    return Poll::Ready(());
                }
                return Poll::Pending;
            }
        }
        if let Some(e) = st.session.failure() {
            driver.try_flush(&mut *st.session);
            st.end(end_reason(&Error::Session(e)));
            return Poll::Ready(());
        }
        if driver.eof {
            st.dispatch();
            st.end(EndReason::Closed("the peer closed the stream".into()));
            return Poll::Ready(());
        }
    }
    // Out of budget: let other tasks run, come back at once.
    cx.waker().wake_by_ref();
    Poll::Pending
}

/// Sends a probe when the interval passed without input; fails after
/// `max_missed` unanswered probes.
fn poll_keepalive(
    st: &mut State,
    input_seen: bool,
    rt: &dyn crate::runtime::Runtime,
    cx: &mut Context<'_>,
) -> Result<(), EndReason> {
    let Some(k) = st.keepalive.as_mut() else {
        return Ok(());
    };
    let now = rt.now();
    if input_seen || k.last_input.is_none() {
        k.last_input = Some(now);
    }
    let due = k.last_input.unwrap_or(now) + k.interval;
    if k.timer.is_none() {
        k.timer = Some(rt.sleep_until(due));
    }
    let fired = k
        .timer
        .as_mut()
        .is_some_and(|t| t.as_mut().poll(cx).is_ready());
    if !fired {
        return Ok(());
    }
    // Input came while the timer ran: wait for the rest of the interval
    // (one timer per interval, not one per read).
    let next = if due > now { due } else { now + k.interval };
    let mut timer = rt.sleep_until(next);
    // Registers the waker for the next deadline.
    let _ = timer.as_mut().poll(cx);
    k.timer = Some(timer);
    if due > now {
        return Ok(());
    }
    k.last_input = Some(now);
    if k.missed >= k.max_missed {
        return Err(EndReason::Failed(format!(
            "Timeout: no answer to {} keepalive probes",
            k.missed
        )));
    }
    k.missed += 1;
    let id = st.conn().ok().and_then(|c| {
        c.global_request(GlobalRequestKind::Keepalive, true)
            .ok()
            .flatten()
    });
    if let (Some(id), Some(k)) = (id, st.keepalive.as_mut()) {
        k.pending.push(id);
    }
    st.wake_driver();
    cx.waker().wake_by_ref();
    Ok(())
}

/// A DISCONNECT of either side is a normal end; anything else a failure.
fn end_reason(e: &Error) -> EndReason {
    match e {
        Error::Session(ssh_session::Error::Transport(ssh_transport::Error::PeerDisconnected {
            description,
            ..
        })) => EndReason::Closed(description.clone()),
        Error::Session(ssh_session::Error::Transport(ssh_transport::Error::Disconnected)) => {
            EndReason::Closed("disconnected".into())
        }
        other => EndReason::Failed(other.to_string()),
    }
}
