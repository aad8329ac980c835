//! The layer plumbing both session sides share ([`Core`]): the transport,
//! the connection once authenticated, the queue of payloads the transport
//! would not take yet, routing of connection payloads, and the failure
//! state. `client.rs` and `server.rs` add what differs per side.

use std::collections::VecDeque;
use std::time::Instant;

use ssh_connection::Connection;
use ssh_transport::Transport;
use ssh_wire::msg::SSH_MSG_USERAUTH_SUCCESS;

use crate::error::Error;

/// The service that runs user authentication (RFC 4252 §1).
pub const SERVICE_USERAUTH: &str = "ssh-userauth";

/// Auth payloads held by the session while the transport says
/// `WouldBlock`. The auth machines send a handful of messages per attempt
/// and bound their attempts, so this is never reached by a correct stack;
/// it is a backstop.
const MAX_PENDING: usize = 256;

pub(crate) struct Core {
    pub(crate) transport: Transport,
    pub(crate) connection: Option<Connection>,
    conn_role: ssh_connection::Role,
    conn_config: ssh_connection::Config,
    /// Payloads refused with `WouldBlock`, oldest first. At most one comes
    /// from the connection (we stop draining it while this is not empty);
    /// the rest wait in the connection's own bounded queue.
    pending: VecDeque<Vec<u8>>,
    /// A copy of the payload being routed.
    pub(crate) rx: Vec<u8>,
    tx: Vec<u8>,
    pub(crate) failed: Option<Error>,
    pub(crate) now: Option<Instant>,
    /// Server: SUCCESS went into the transport and the connection started;
    /// the session reports it once.
    pub(crate) just_authenticated: bool,
}

impl Core {
    pub(crate) fn new(
        transport: Transport,
        conn_role: ssh_connection::Role,
        conn_config: ssh_connection::Config,
    ) -> Self {
        Self {
            transport,
            connection: None,
            conn_role,
            conn_config,
            pending: VecDeque::new(),
            rx: Vec::new(),
            tx: Vec::new(),
            failed: None,
            now: None,
            just_authenticated: false,
        }
    }

    pub(crate) fn check(&self) -> Result<(), Error> {
        match &self.failed {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Records a fatal error, sends the DISCONNECT it owes (the transport
    /// sends its own for its errors) and returns it.
    pub(crate) fn fail(&mut self, e: Error) -> Error {
        if self.failed.is_some() {
            return e;
        }
        if let Some(reason) = e.disconnect_reason() {
            // A no-op when the transport already failed (and disconnected).
            self.transport.disconnect(reason, &e.to_string());
        }
        self.failed = Some(e.clone());
        e
    }

    pub(crate) fn guard<T>(&mut self, r: Result<T, Error>) -> Result<T, Error> {
        match r {
            Err(e) if e.is_fatal() => Err(self.fail(e)),
            other => other,
        }
    }

    /// Starts the connection layer: authentication succeeded.
    pub(crate) fn authenticated(&mut self) -> Result<(), Error> {
        if self.connection.is_some() {
            return Ok(());
        }
        self.transport.set_authenticated()?;
        self.connection = Some(Connection::new(self.conn_role, self.conn_config.clone()));
        Ok(())
    }

    /// Routes a connection-layer payload (80-127).
    pub(crate) fn route_connection(&mut self, payload: &[u8]) -> Result<(), Error> {
        let Some(c) = &mut self.connection else {
            return Err(Error::protocol(format!(
                "connection message {} before authentication succeeded",
                payload.first().copied().unwrap_or_default()
            )));
        };
        match c.handle_payload(payload) {
            Ok(()) => Ok(()),
            // RFC 4253 §11.4: an unknown 80-127 number is answered with
            // SSH_MSG_UNIMPLEMENTED and the session goes on.
            Err(ssh_connection::Error::Unimplemented { .. }) => {
                self.transport.reject_last_payload()?;
                Ok(())
            }
            Err(e) => Err(Error::Connection(e)),
        }
    }

    /// Queues an auth payload behind anything pending and sends what the
    /// transport takes.
    pub(crate) fn queue(&mut self, payload: Vec<u8>) -> Result<(), Error> {
        if self.pending.len() >= MAX_PENDING {
            // Nothing may be dropped: end the session rather than queue
            // without bound.
            return Err(Error::protocol(
                "too many authentication messages held during a key exchange",
            ));
        }
        self.pending.push_back(payload);
        self.send_pending().map(|_| ())
    }

    /// Sends held payloads; true when none is left.
    fn send_pending(&mut self) -> Result<bool, Error> {
        while let Some(p) = self.pending.front() {
            match self.transport.send_payload(p) {
                Ok(()) => {
                    let number = p.first().copied();
                    self.pending.pop_front();
                    self.sent(number)?;
                }
                Err(ssh_transport::Error::WouldBlock) => return Ok(false),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(true)
    }

    fn sent(&mut self, number: Option<u8>) -> Result<(), Error> {
        // Server: SUCCESS is in the transport now; RFC 4252 §5.1 and
        // `set_authenticated`'s contract: switch right after sending it.
        if self.conn_role == ssh_connection::Role::Server
            && number == Some(SSH_MSG_USERAUTH_SUCCESS)
            && self.connection.is_none()
        {
            self.authenticated()?;
            self.just_authenticated = true;
        }
        Ok(())
    }

    /// Moves held payloads, then the connection's, into the transport,
    /// until it says `WouldBlock`.
    pub(crate) fn flush(&mut self) -> Result<(), Error> {
        if !self.send_pending()? {
            return Ok(());
        }
        let Some(c) = &mut self.connection else {
            return Ok(());
        };
        while c.poll_outgoing(&mut self.tx) {
            match self.transport.send_payload(&self.tx) {
                Ok(()) => {}
                Err(ssh_transport::Error::WouldBlock) => {
                    self.pending.push_back(core::mem::take(&mut self.tx));
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Takes the next upper-layer payload into `self.rx`; false when none.
    pub(crate) fn next_payload(&mut self) -> Result<bool, Error> {
        match self.transport.poll_incoming() {
            Ok(Some(p)) => {
                self.rx.clear();
                self.rx.extend_from_slice(p);
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}
