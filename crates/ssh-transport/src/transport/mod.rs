//! The transport state machine (RFC 4253), both sides.
//!
//! Method classes, as in quinn-proto:
//! - input: [`Transport::handle_input`] (bytes from the peer),
//!   [`Transport::handle_timeout`];
//! - output: [`Transport::poll_incoming`] (upper-layer payloads, decrypted),
//!   [`Transport::poll_transmit`] (bytes for the peer),
//!   [`Transport::poll_event`], [`Transport::poll_timeout`];
//! - mutators for the application: [`Transport::send_payload`],
//!   [`Transport::accept_host_key`], [`Transport::force_rekey`],
//!   [`Transport::set_authenticated`], [`Transport::disconnect`], ...
//!
//! After feeding input, poll in this order: `poll_incoming` until `None`,
//! then `poll_event` until `None`, then `poll_transmit`, then
//! `poll_timeout`. Payloads and events are two queues, each in arrival
//! order; one `poll_incoming` call may handle several transport messages
//! (and queue their events) before it returns a payload that arrived after
//! them. Ask the getters (`kex_count`, `negotiated`) when the relative
//! order matters.
//!
//! ```text
//!  version exchange ──> first kex ──> established <──> re-key
//!         │                 │              │             │
//!         └────────── failed (stays failed; DISCONNECT sent) ──┘
//! ```

mod handover;
#[cfg(feature = "hostile")]
mod hostile;
mod input;
mod key_exchange;
mod method;
mod output;
mod remote_sign;

use std::collections::VecDeque;
use std::time::Instant;

use rand_core::CryptoRng;
use ssh_keys::Signer;
use ssh_wire::messages::transport::{
    Disconnect, DisconnectReason, Ping, ServiceAccept, ServiceRequest,
};
use ssh_wire::version::{Peer, Version, VersionReader};

use crate::config::{Algorithms, RekeyLimit};
use crate::error::Error;
use crate::event::Event;
use crate::negotiate::Negotiated;
use crate::rekey::RekeyTimer;

pub use method::GexConfig;

pub use handover::TransportState;
use input::Rx;
use key_exchange::KexRun;
use output::Tx;

/// Which end of the connection this transport is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Connects, checks the server's host key.
    Client,
    /// Accepts, proves its host key.
    Server,
}

/// How a transport behaves. `Default` gives OpenSSH's client defaults;
/// [`Config::server_default`] the server's.
#[derive(Debug, Clone)]
pub struct Config {
    /// Algorithm preferences.
    pub algorithms: Algorithms,
    /// Re-key thresholds.
    pub rekey: RekeyLimit,
    /// The software version in our version line (`SSH-2.0-<this>`).
    pub software_version: String,
    /// Offer strict key exchange (OpenSSH `PROTOCOL`, strict key exchange).
    /// On by default; turning it off leaves a connection open to Terrapin (CVE-2023-48795).
    pub strict_kex: bool,
    /// Advertise RFC 8308 extension negotiation (`ext-info-c` /
    /// `ext-info-s`).
    pub ext_info: bool,
    /// Server only: the public key algorithms announced in `server-sig-algs`
    /// (RFC 8308 §3.1). `None` sends none.
    pub server_sig_algs: Option<ssh_wire::NameList>,
    /// The largest `packet_length` accepted (clamped to 35000..=256 KiB).
    pub max_packet_len: usize,
    /// The most bytes of upper-layer payloads held while a key exchange
    /// runs; beyond it [`Transport::send_payload`] says
    /// [`Error::WouldBlock`].
    pub max_held_bytes: usize,
    /// Group exchange sizes and (server) groups.
    pub gex: GexConfig,
    /// The largest decompressed payload accepted from the peer.
    pub max_decompressed: usize,
    /// Client only, for tests of RFC 4253 §7's `first_kex_packet_follows`:
    /// send a guessed first key exchange packet for our preferred method.
    pub guess_kex: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            algorithms: Algorithms::client_default(),
            rekey: RekeyLimit::default(),
            software_version: concat!("rssh_", env!("CARGO_PKG_VERSION")).to_owned(),
            strict_kex: true,
            ext_info: true,
            server_sig_algs: None,
            max_packet_len: ssh_wire::packet::MAX_PACKET_LEN,
            max_held_bytes: 4 * 1024 * 1024,
            gex: GexConfig::default(),
            max_decompressed: ssh_wire::packet::MAX_PACKET_LEN,
            guess_kex: false,
        }
    }
}

impl Config {
    /// OpenSSH's server defaults.
    pub fn server_default() -> Self {
        Self {
            algorithms: Algorithms::server_default(),
            server_sig_algs: Some(crate::config::default_signature_algorithms().collect()),
            ..Self::default()
        }
    }
}

/// A host key the server proves possession of: anything that signs.
pub type HostKey = Box<dyn Signer + Send>;

/// One SSH transport: the state of one connection below authentication.
pub struct Transport {
    role: Role,
    config: Config,
    host_keys: Vec<HostKey>,
    rng: Box<dyn CryptoRng + Send>,
    our_version: Version,
    peer_version: Option<Version>,
    version_reader: VersionReader,
    rx: Rx,
    tx: Tx,
    /// Boxed: a connection spends its life between key exchanges, and an
    /// idle connection's memory is what a server holds per user.
    kex: Option<Box<KexRun>>,
    /// The exchange hash of the first key exchange (RFC 4253 §7.2).
    session_id: Option<Vec<u8>>,
    /// The host key blob and its signature of the session id, from the
    /// first key exchange.
    session_proof: Option<(Vec<u8>, Vec<u8>)>,
    kex_count: u64,
    /// Strict kex was agreed in the first exchange; it holds for the whole
    /// connection.
    strict: bool,
    negotiated: Option<Negotiated>,
    events: VecDeque<Event>,
    authenticated: bool,
    rekey_timer: RekeyTimer,
    /// Tests: the cipher's own volume limit, lowered to reach it.
    #[cfg(test)]
    hard_max_blocks: Option<u64>,
    failed: Option<Error>,
    /// Client: waiting for the application's verdict on the host key.
    host_key_pending: bool,
    /// Server: waiting for the signature of the exchange hash by a host
    /// key held elsewhere.
    signature_pending: bool,
    /// The peer accepts `ping@openssh.com`.
    peer_ping: bool,
    /// The peer advertised `agent-forward` (RFC 9987 names).
    peer_agent_forward: bool,
    /// Client: the service we asked for and not yet got.
    service_requested: Option<String>,
    /// Server: a service request the application has not answered.
    service_pending: Option<String>,
    /// When the transport last saw the time.
    now: Option<Instant>,
}

impl core::fmt::Debug for Transport {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Transport")
            .field("role", &self.role)
            .field("peer_version", &self.peer_version)
            .field("negotiated", &self.negotiated)
            .field("kex_count", &self.kex_count)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// A client transport. Our version line and first KEXINIT are queued at
    /// once (RFC 4253 §4.2, §7.1).
    pub fn client(config: Config, rng: Box<dyn CryptoRng + Send>) -> Result<Self, Error> {
        Self::new(Role::Client, config, Vec::new(), rng)
    }

    /// A server transport proving possession of `host_keys` (at least one).
    /// It offers the host key algorithms of the configured list that one of
    /// the keys can make.
    pub fn server(
        config: Config,
        host_keys: Vec<HostKey>,
        rng: Box<dyn CryptoRng + Send>,
    ) -> Result<Self, Error> {
        if host_keys.is_empty() {
            return Err(Error::Misuse("a server needs at least one host key"));
        }
        Self::new(Role::Server, config, host_keys, rng)
    }

    fn new(
        role: Role,
        config: Config,
        host_keys: Vec<HostKey>,
        rng: Box<dyn CryptoRng + Send>,
    ) -> Result<Self, Error> {
        let our_version = Version::new(&config.software_version, None)
            .map_err(|_| Error::Misuse("software version is not a valid version string"))?;
        let reader = VersionReader::new(match role {
            Role::Client => Peer::Server,
            Role::Server => Peer::Client,
        });
        let mut t = Self {
            role,
            rx: Rx::new(config.max_packet_len),
            tx: Tx::new(),
            config,
            host_keys,
            rng,
            our_version,
            peer_version: None,
            version_reader: reader,
            kex: None,
            session_id: None,
            session_proof: None,
            kex_count: 0,
            strict: false,
            negotiated: None,
            events: VecDeque::new(),
            authenticated: false,
            rekey_timer: RekeyTimer::default(),
            #[cfg(test)]
            hard_max_blocks: None,
            failed: None,
            host_key_pending: false,
            signature_pending: false,
            peer_ping: false,
            peer_agent_forward: false,
            service_requested: None,
            service_pending: None,
            now: None,
        };
        t.rekey_timer.interval = t.config.rekey.interval;
        let line = t.our_version.to_wire();
        t.tx.buf.extend_from_slice(&line);
        t.start_kex()?;
        Ok(t)
    }

    // ---- getters ----

    /// Which end this is.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Our version line (without CR LF).
    pub fn our_version(&self) -> &Version {
        &self.our_version
    }

    /// The peer's version line, once received.
    pub fn peer_version(&self) -> Option<&Version> {
        self.peer_version.as_ref()
    }

    /// The session identifier: the first exchange hash.
    pub fn session_id(&self) -> Option<&[u8]> {
        self.session_id.as_deref()
    }

    /// What binds an agent connection to this session (OpenSSH
    /// `PROTOCOL.agent` §1, `session-bind@openssh.com`): the host key blob
    /// of the first key exchange, the session id, and the host key's
    /// signature of it as the KEXDH_REPLY carried it. `None` before the
    /// first exchange completed.
    pub fn session_binding(&self) -> Option<(&[u8], &[u8], &[u8])> {
        let (key, sig) = self.session_proof.as_ref()?;
        Some((key, self.session_id.as_deref()?, sig))
    }

    /// The algorithms of the last completed key exchange.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    /// How many key exchanges have completed.
    pub fn kex_count(&self) -> u64 {
        self.kex_count
    }

    /// True while a key exchange runs.
    pub fn in_kex(&self) -> bool {
        self.kex.is_some()
    }

    /// True when the first key exchange completed and no error happened.
    pub fn is_established(&self) -> bool {
        self.session_id.is_some() && self.failed.is_none()
    }

    /// The error that ended this transport, if any.
    pub fn error(&self) -> Option<&Error> {
        self.failed.as_ref()
    }

    /// Bytes and packets each direction's current keys have processed:
    /// (sent, received).
    pub fn counters(&self) -> (crate::cipher::PacketCounters, crate::cipher::PacketCounters) {
        (self.tx.key.counters(), self.rx.key.counters())
    }

    /// The peer advertised `ping@openssh.com`.
    pub fn peer_supports_ping(&self) -> bool {
        self.peer_ping
    }

    /// The server advertised `agent-forward`: agent forwarding is asked
    /// with `agent-req` and comes as `agent-connect` channels (RFC 9987),
    /// as OpenSSH 10.6's ssh does.
    pub fn peer_supports_agent_forward(&self) -> bool {
        self.peer_agent_forward
    }

    // ---- output ----

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Moves every byte ready for the peer to the end of `out`.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) {
        if out.is_empty() {
            core::mem::swap(out, &mut self.tx.buf);
        } else {
            out.append(&mut self.tx.buf);
        }
    }

    /// Gives back the memory of buffers that hold nothing: the input
    /// buffer when no unprocessed byte is in it, the sealed output once
    /// taken, the queues when empty. For a connection gone idle (a server
    /// holds thousands); they grow again on their next use. Nothing held
    /// is lost: a buffer with bytes in it is kept.
    pub fn release_buffers(&mut self) {
        self.release_input_buffers();
        self.tx.release();
        if self.events.is_empty() {
            self.events = VecDeque::new();
        }
    }

    /// The capacity of the input and output buffers (for tests of
    /// [`Transport::release_buffers`]).
    #[cfg(test)]
    pub(super) fn buffer_capacity(&self) -> (usize, usize) {
        (self.rx_capacity(), self.tx.buf.capacity())
    }

    /// The bytes ready for the peer, to write without a copy; call
    /// [`Transport::consume_transmit`] with how many were written.
    pub fn transmit_buffer(&self) -> &[u8] {
        &self.tx.buf
    }

    /// Drops the first `n` bytes of [`Transport::transmit_buffer`].
    pub fn consume_transmit(&mut self, n: usize) {
        let n = n.min(self.tx.buf.len());
        self.tx.buf.drain(..n);
    }

    /// When [`Transport::handle_timeout`] should be called next: the
    /// re-key time limit, if one is set.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.authenticated || self.kex.is_some() || self.failed.is_some() {
            return None;
        }
        self.rekey_timer.deadline()
    }

    // ---- input ----

    /// Tells the transport the time; starts a re-key when the time limit
    /// passed.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        self.check_failed()?;
        self.now = Some(now);
        if self.authenticated && self.kex.is_none() && self.rekey_timer.due(now) {
            let r = self.start_kex();
            return self.guard(r);
        }
        Ok(())
    }

    // ---- mutators ----

    /// Queues an upper-layer payload (message number 50 and above). During
    /// a key exchange it is held and sent after NEWKEYS, in order.
    pub fn send_payload(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.check_failed()?;
        let Some(&number) = payload.first() else {
            return Err(Error::Misuse("empty payload"));
        };
        if number < 50 || (128..192).contains(&number) {
            return Err(Error::Misuse("send_payload is for upper-layer messages"));
        }
        if self.session_id.is_none() && self.kex.is_some() && self.kex_count == 0 {
            // Before the first NEWKEYS nothing of the upper layers may go.
            return self.hold(payload);
        }
        if self.sending_blocked() {
            return self.hold(payload);
        }
        let r = self.seal_payload(payload);
        self.guard(r)?;
        let r = self.maybe_rekey();
        self.guard(r)
    }

    /// True when [`Transport::send_payload`] would take a payload now
    /// without holding it.
    pub fn can_send(&self) -> bool {
        self.failed.is_none() && !self.sending_blocked() && self.session_id.is_some()
    }

    /// Client: the application accepts the host key of the last
    /// [`Event::HostKey`]; the key exchange goes on.
    pub fn accept_host_key(&mut self) -> Result<(), Error> {
        self.check_failed()?;
        if !self.host_key_pending {
            return Err(Error::Misuse("no host key is waiting for an answer"));
        }
        self.host_key_pending = false;
        let r = self.host_key_accepted();
        self.guard(r)
    }

    /// Client: the application refuses the host key; the connection ends
    /// with `SSH_DISCONNECT_HOST_KEY_NOT_VERIFIABLE`.
    pub fn reject_host_key(&mut self) -> Result<(), Error> {
        self.check_failed()?;
        if !self.host_key_pending {
            return Err(Error::Misuse("no host key is waiting for an answer"));
        }
        self.host_key_pending = false;
        Err(self.fail(Error::HostKeyRejected))
    }

    /// Client: asks for a service (`ssh-userauth`), after the first key
    /// exchange. [`Event::ServiceAccepted`] follows.
    pub fn request_service(&mut self, name: &str) -> Result<(), Error> {
        self.check_failed()?;
        if self.role != Role::Client {
            return Err(Error::Misuse("only a client requests services"));
        }
        if self.service_requested.is_some() {
            return Err(Error::Misuse("a service request is already pending"));
        }
        self.service_requested = Some(name.to_owned());
        let msg = ServiceRequest {
            service: name.to_owned(),
        };
        let r = self.send_transport_or_hold(&msg);
        self.guard(r)
    }

    /// Server: accepts the service of the last [`Event::ServiceRequest`].
    pub fn accept_service(&mut self) -> Result<(), Error> {
        self.check_failed()?;
        let Some(name) = self.service_pending.take() else {
            return Err(Error::Misuse("no service request is waiting for an answer"));
        };
        let msg = ServiceAccept { service: name };
        let r = self.send_transport_or_hold(&msg);
        self.guard(r)
    }

    /// Tells the transport that user authentication succeeded: re-keys of
    /// our own may start from now on, `zlib@openssh.com` compression starts
    /// (server: call right after sending USERAUTH_SUCCESS; client: right
    /// after receiving it), and pings are answered.
    pub fn set_authenticated(&mut self) -> Result<(), Error> {
        self.check_failed()?;
        if self.authenticated {
            return Ok(());
        }
        self.authenticated = true;
        self.tx.start_delayed_compression();
        self.rx.start_delayed_compression();
        let r = self.maybe_rekey();
        self.guard(r)
    }

    /// Starts a key exchange now (unless one runs). For tests and for
    /// users who want fresh keys.
    pub fn force_rekey(&mut self) -> Result<(), Error> {
        self.check_failed()?;
        if self.session_id.is_none() {
            return Err(Error::Misuse("the first key exchange has not finished"));
        }
        if self.kex.is_some() {
            return Ok(());
        }
        let r = self.start_kex();
        self.guard(r)
    }

    /// Sends `ping@openssh.com` with `data`, if the peer supports it.
    pub fn send_ping(&mut self, data: &[u8]) -> Result<(), Error> {
        self.check_failed()?;
        if !self.peer_ping {
            return Err(Error::Misuse("the peer did not advertise ping@openssh.com"));
        }
        if !self.authenticated {
            return Err(Error::Misuse("pings are for after authentication"));
        }
        let msg = Ping {
            data: data.to_vec(),
        };
        let r = self.send_transport_or_hold(&msg);
        self.guard(r)
    }

    /// Sends SSH_MSG_DISCONNECT and ends the transport. Later calls fail
    /// with [`Error::Disconnected`].
    pub fn disconnect(&mut self, reason: DisconnectReason, description: &str) {
        if self.failed.is_some() {
            return;
        }
        let msg = Disconnect {
            reason,
            description: description.to_owned(),
            language: String::new(),
        };
        // A failure to seal leaves nothing to send; the transport ends
        // either way.
        let _ = self.seal_message(&msg);
        self.failed = Some(Error::Disconnected);
    }

    // ---- failure ----

    fn check_failed(&self) -> Result<(), Error> {
        match &self.failed {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Records a fatal error, queueing a DISCONNECT where one is owed, and
    /// returns it.
    fn fail(&mut self, e: Error) -> Error {
        if self.failed.is_some() {
            return e;
        }
        if let Some(reason) = e.disconnect_reason() {
            let msg = Disconnect {
                reason,
                description: e.to_string(),
                language: String::new(),
            };
            let _ = self.seal_message(&msg);
        }
        self.failed = Some(e.clone());
        e
    }

    /// Turns a fatal error of an inner step into a failed transport.
    fn guard<T>(&mut self, r: Result<T, Error>) -> Result<T, Error> {
        match r {
            Err(e) if e.is_fatal() => Err(self.fail(e)),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests;
