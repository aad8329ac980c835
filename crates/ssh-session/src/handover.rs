//! Privilege separation's hand-over, on the server: an unprivileged worker
//! runs a session up to USERAUTH_SUCCESS and exports its transport; the
//! user's session process makes a session from it and serves the
//! connection layer.

use std::collections::VecDeque;
use std::time::Instant;

use rand_core::CryptoRng;
use ssh_transport::{HostKey, Transport, TransportState};

use crate::error::Error;
use crate::layers::Core;
use crate::server::ServerSession;

impl ServerSession {
    /// Hand-over mode (set before authentication succeeds): at
    /// USERAUTH_SUCCESS the session reports
    /// [`crate::ServerSessionEvent::Authenticated`] but neither starts the
    /// connection layer nor reads anything more; take every output
    /// ([`ServerSession::poll_transmit`]), then
    /// [`ServerSession::export_state`].
    pub fn set_hand_over(&mut self, on: bool) {
        self.core_mut().hand_over = on;
    }

    /// True once SUCCESS went out in hand-over mode.
    pub fn ready_to_hand_over(&self) -> bool {
        self.core().handing_over
    }

    /// The transport as data for the session process
    /// ([`ServerSession::from_state`]), once [`Self::ready_to_hand_over`]
    /// and every output was taken. This session is done afterwards.
    pub fn export_state(&mut self, now: Instant) -> Result<TransportState, Error> {
        self.core_mut().check()?;
        if !self.ready_to_hand_over() {
            return Err(Error::Misuse("no hand-over is due"));
        }
        let state = self.core_mut().transport.export_state(now)?;
        self.core_mut().failed = Some(Error::Transport(ssh_transport::Error::Disconnected));
        Ok(state)
    }

    /// A session going on with a connection another process authenticated
    /// and exported: the connection layer runs from here, with this
    /// process's transport settings (`host_keys` sign its re-keys) and
    /// connection settings.
    pub fn from_state(
        now: Instant,
        transport: ssh_transport::Config,
        host_keys: Vec<HostKey>,
        connection: ssh_connection::Config,
        rng: Box<dyn CryptoRng + Send>,
        state: TransportState,
    ) -> Result<Self, Error> {
        let transport = Transport::from_state(transport, host_keys, rng, state, now)?;
        let mut core = Core::new(transport, ssh_connection::Role::Server, connection);
        core.now = Some(now);
        core.authenticated()?;
        let mut session = Self::from_core(core, VecDeque::new());
        // Input the worker read and did not process (what the client sent
        // right behind SUCCESS) is processed now.
        session.process()?;
        Ok(session)
    }
}
