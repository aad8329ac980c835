//! The state an authenticated connection shares between its driver task
//! (`driver.rs`) and the application's handles (channels, the connection
//! handle).
//!
//! One `std::sync::Mutex` guards the session and the per-channel wake-up
//! slots; nobody awaits while holding it. Handles change the session
//! (send data, open channels) under the lock and wake the driver, which
//! writes what the session queued; the driver moves socket input into the
//! session and wakes the handles whose channels have something new.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use zeroize::Zeroizing;

use ssh_connection::{ChannelHandle, Connection, Event, ExitStatus, GlobalReply, RequestId};
use ssh_session::{ClientSession, ClientSessionEvent, ServerSession, ServerSessionEvent};

use ssh_wire::messages::{ChannelRequestKind, ChannelType, GlobalRequestKind, OpenFailureReason};

use crate::Error;
use crate::driver::SessionIo;
use crate::error::ConnectionError;

/// The most requests of the peer a channel keeps for the application
/// before it refuses further ones.
const MAX_QUEUED_REQUESTS: usize = 64;

/// The most incoming channel opens waiting for the application.
const MAX_QUEUED_OPENS: usize = 64;

/// The most global requests of the peer waiting for the application.
const MAX_QUEUED_GLOBALS: usize = 64;

/// What the shared state needs of a session (client or server).
pub(crate) trait DrivenSession: SessionIo + Send {
    fn connection(&mut self) -> Option<&mut Connection>;
    /// The connection also after the session ended (to read what came
    /// before the end).
    fn connection_to_read(&mut self) -> Option<&mut Connection>;
    /// Channel data (extended data of `data_type`) sealed straight from
    /// `data` when nothing is queued before it (the session's
    /// `send_channel_data`).
    fn send_channel_data(
        &mut self,
        h: ssh_connection::ChannelHandle,
        data_type: Option<u32>,
        data: &[u8],
    ) -> Result<usize, ssh_connection::ApiError>;
    /// The next event: a connection event, or `None` inside for others
    /// (logged, not acted on).
    fn next_event(&mut self) -> Option<Option<Event>>;
    fn failure(&self) -> Option<ssh_session::Error>;
    fn disconnect(&mut self, description: &str);
    fn force_rekey(&mut self) -> Result<(), ssh_session::Error>;
    fn transport(&self) -> &ssh_transport::Transport;
    /// Server: the exchange hash a host key held elsewhere must sign, in
    /// its byte form, while one waits.
    fn exchange_hash_request(&self) -> Option<Zeroizing<Vec<u8>>> {
        None
    }
    /// Server: the signature of [`DrivenSession::exchange_hash_request`].
    fn answer_exchange_hash(&mut self, signature: Vec<u8>) -> Result<(), ssh_session::Error> {
        let _ = signature;
        Err(ssh_session::Error::Misuse("no exchange hash waits"))
    }
}

impl DrivenSession for ClientSession {
    fn connection(&mut self) -> Option<&mut Connection> {
        self.connection_mut()
    }
    fn connection_to_read(&mut self) -> Option<&mut Connection> {
        ClientSession::connection_to_read(self)
    }
    fn send_channel_data(
        &mut self,
        h: ssh_connection::ChannelHandle,
        data_type: Option<u32>,
        data: &[u8],
    ) -> Result<usize, ssh_connection::ApiError> {
        ClientSession::send_channel_data(self, h, data_type, data)
    }
    fn next_event(&mut self) -> Option<Option<Event>> {
        // Re-keys answer the host key question inside the session (the
        // same key as at the first exchange, else it fails).
        self.poll_event().map(|e| match e {
            ClientSessionEvent::Connection(e) => Some(e),
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
        ClientSession::disconnect(self, description);
    }
    fn force_rekey(&mut self) -> Result<(), ssh_session::Error> {
        ClientSession::force_rekey(self)
    }
    fn transport(&self) -> &ssh_transport::Transport {
        ClientSession::transport(self)
    }
}

impl DrivenSession for ServerSession {
    fn connection(&mut self) -> Option<&mut Connection> {
        self.connection_mut()
    }
    fn connection_to_read(&mut self) -> Option<&mut Connection> {
        ServerSession::connection_to_read(self)
    }
    fn send_channel_data(
        &mut self,
        h: ssh_connection::ChannelHandle,
        data_type: Option<u32>,
        data: &[u8],
    ) -> Result<usize, ssh_connection::ApiError> {
        ServerSession::send_channel_data(self, h, data_type, data)
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
    fn exchange_hash_request(&self) -> Option<Zeroizing<Vec<u8>>> {
        ServerSession::exchange_hash_request(self).map(|r| r.encode())
    }
    fn answer_exchange_hash(&mut self, signature: Vec<u8>) -> Result<(), ssh_session::Error> {
        self.answer_exchange_hash_signature(signature)
    }
}

/// Whether a channel we opened was confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OpenState {
    Opening,
    Open,
    Failed(OpenFailureReason, String),
}

/// A channel request of the peer, kept for the application.
#[derive(Debug)]
pub(crate) struct QueuedRequest {
    pub(crate) id: Option<RequestId>,
    pub(crate) kind: ChannelRequestKind,
}

/// What the async layer keeps per channel beside the connection's own
/// state: the handles' count, the peer's requests waiting for the
/// application, replies to ours, and one waker per thing that waits.
#[derive(Debug)]
pub(crate) struct ChannelSlot {
    pub(crate) open: OpenState,
    /// Live handles (Channel, readers, writers); at zero we close.
    pub(crate) refs: usize,
    pub(crate) eof: bool,
    pub(crate) closed: bool,
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
    /// Everyone waiting for the channel's events (opened, a reply, a
    /// request, the close): several tasks may wait at once (a request
    /// loop beside a close watch), and each must be woken.
    pub(crate) event_wakers: EventWakers,
}

/// The wakers of the tasks waiting for a channel's events; a task waiting
/// again replaces its own entry, so this holds one per waiting task.
#[derive(Debug, Default)]
pub(crate) struct EventWakers(Vec<Waker>);

impl EventWakers {
    pub(crate) fn register(&mut self, waker: &Waker) {
        if !self.0.iter().any(|w| w.will_wake(waker)) {
            self.0.push(waker.clone());
        }
    }

    pub(crate) fn wake(&mut self) {
        for w in self.0.drain(..) {
            w.wake();
        }
    }
}

impl ChannelSlot {
    pub(crate) fn new(open: OpenState, refs: usize) -> Self {
        Self {
            open,
            refs,
            eof: false,
            closed: false,
            requests: VecDeque::new(),
            replies: HashMap::new(),
            read_waker: None,
            ext_waker: None,
            write_waker: None,
            ext_write_waker: None,
            event_wakers: EventWakers::default(),
        }
    }

    fn wake_all(&mut self) {
        for w in [
            self.read_waker.take(),
            self.ext_waker.take(),
            self.write_waker.take(),
            self.ext_write_waker.take(),
        ]
        .into_iter()
        .flatten()
        {
            w.wake();
        }
        self.event_wakers.wake();
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
    pub(crate) session: Box<dyn DrivenSession>,
    pub(crate) side: Side,
    pub(crate) chans: HashMap<ChannelHandle, ChannelSlot>,
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
    /// Why the connection ended; set once, cloned to every waiter.
    pub(crate) ended: Option<ConnectionError>,
    pub(crate) end_wakers: Vec<Waker>,
    /// The application asked to disconnect.
    pub(crate) closing: bool,
    /// Signs re-keys' exchange hashes for host keys held elsewhere.
    pub(crate) signer: Option<Arc<dyn crate::handover::ExchangeHashSigner>>,
    /// A signature being made.
    signing: Option<futures::future::BoxFuture<'static, Result<Vec<u8>, String>>>,
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
    pub(crate) fn new(session: Box<dyn DrivenSession>, side: Side) -> Self {
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
            signer: None,
            signing: None,
        }
    }

    /// The connection, or why there is none.
    pub(crate) fn conn(&mut self) -> Result<&mut Connection, Error> {
        if let Some(end) = &self.ended {
            return Err(Error::Connection(end.clone()));
        }
        if self.session.connection().is_none() {
            return Err(match self.session.failure() {
                Some(e) => Error::Session(e),
                None => Error::Connection(ConnectionError::LocallyClosed),
            });
        }
        self.session
            .connection()
            .ok_or(Error::Connection(ConnectionError::LocallyClosed))
    }

    /// The connection for reading what arrived, also after the end:
    /// channel data, EOF, replies and exit status that came before a
    /// DISCONNECT or a closed stream stay the application's (a server
    /// hangs up right after a session's last messages). `None` only when
    /// the connection layer never started.
    pub(crate) fn conn_to_read(&mut self) -> Option<&mut Connection> {
        self.session.connection_to_read()
    }

    pub(crate) fn wake_driver(&mut self) {
        if let Some(w) = self.driver_waker.take() {
            w.wake();
        }
    }

    /// Ends the connection: records why, wakes everybody.
    pub(crate) fn end(&mut self, reason: ConnectionError) {
        if self.ended.is_some() {
            return;
        }
        tracing::debug!("connection ended: {reason}");
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

    /// How the remote command on `h` ended, if the peer said so.
    pub(crate) fn exit_status(&mut self, h: ChannelHandle) -> Option<ExitStatus> {
        // Also once the connection ended: the status came before.
        self.session
            .connection_to_read()
            .and_then(|c| c.exit_status(h).cloned())
    }

    /// Handles the session's events.
    /// Starts signing an exchange hash the session waits for (a re-key
    /// with a host key held elsewhere) and answers it once signed; no
    /// signer, or a refusal, ends the connection.
    pub(crate) fn poll_signing(&mut self, cx: &mut Context<'_>) {
        if self.signing.is_none()
            && let Some(request) = self.session.exchange_hash_request()
        {
            match &self.signer {
                Some(signer) => self.signing = Some(signer.sign(request)),
                None => {
                    tracing::debug!("a re-key needs a host key signature and no signer is set");
                    self.session.disconnect("key exchange failed");
                    return;
                }
            }
        }
        let Some(signing) = self.signing.as_mut() else {
            return;
        };
        let Poll::Ready(signed) = signing.as_mut().poll(cx) else {
            return;
        };
        self.signing = None;
        let answered = match signed {
            Ok(signature) => self.session.answer_exchange_hash(signature),
            Err(why) => {
                tracing::debug!("host key signature refused: {why}");
                self.session.disconnect("key exchange failed");
                Ok(())
            }
        };
        if let Err(e) = answered {
            tracing::debug!("host key signature: {e}");
        }
    }

    pub(crate) fn dispatch(&mut self) {
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
                    c.event_wakers.wake();
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
                // Replies to keepalive probes never come here: the
                // session takes them.
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
            // Recorded by the connection (and refused there if a reply
            // was wanted); waiters look there.
            ChannelRequestKind::ExitStatus { .. } | ChannelRequestKind::ExitSignal { .. } => false,
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
        c.event_wakers.wake();
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
