//! A deterministic in-memory client/server pair of whole sessions.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    dead_code
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use ssh_auth::client::{ClientConfig, ClientEvent, ClientMethod};
use ssh_auth::server::{PasswordVerdict, ServerConfig, ServerEvent};
use ssh_connection::{ChannelHandle, Connection};
use ssh_keys::{PrivateKey, PublicKey, SignatureAlgorithm, Signer};
use ssh_session::{ClientSession, ClientSessionEvent, Error, ServerSession, ServerSessionEvent};

pub const PASSWORD: &str = "correct horse";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

pub fn host_key() -> PrivateKey {
    PrivateKey::from_ed25519_seed(&[7; 32])
}

pub fn user_key() -> PrivateKey {
    PrivateKey::from_ed25519_seed(&[9; 32])
}

/// The key a server swaps to when its [`HostKeySwap`] is set.
pub fn other_host_key() -> PrivateKey {
    PrivateKey::from_ed25519_seed(&[8; 32])
}

/// A server host key the test can swap for another between two key
/// exchanges (a server whose key changed, or a man in the middle that
/// took over after the first exchange): `host_key()` until the flag is
/// set, `other_host_key()` after.
pub struct HostKeySwap {
    keys: [PrivateKey; 2],
    swapped: Arc<AtomicBool>,
}

impl HostKeySwap {
    pub fn new(swapped: Arc<AtomicBool>) -> Self {
        Self {
            keys: [host_key(), other_host_key()],
            swapped,
        }
    }

    fn current(&self) -> &PrivateKey {
        &self.keys[usize::from(self.swapped.load(Ordering::SeqCst))]
    }
}

impl Signer for HostKeySwap {
    fn public_key(&self) -> &PublicKey {
        self.current().public()
    }

    fn sign(
        &self,
        alg: SignatureAlgorithm,
        data: &[u8],
        rng: &mut dyn rand_core::CryptoRng,
    ) -> Result<Vec<u8>, ssh_keys::Error> {
        Signer::sign(self.current(), alg, data, rng)
    }
}

pub struct Options {
    pub client_methods: Vec<ClientMethod>,
    pub transport_client: ssh_transport::Config,
    pub transport_server: ssh_transport::Config,
    pub conn_client: ssh_connection::Config,
    pub conn_server: ssh_connection::Config,
    /// Answer auth questions automatically.
    pub auto_auth: bool,
    /// When set, the server's host key is a [`HostKeySwap`] on this flag.
    pub host_key_swap: Option<Arc<AtomicBool>>,
    /// The server presents a host certificate of its key, signed by
    /// [`host_ca`].
    pub host_certificate: bool,
    /// The server holds only the public half of its host key
    /// ([`ssh_keys::RemoteKey`]); the pair signs its exchange hashes as a
    /// privilege-separation monitor would.
    pub remote_host_key: bool,
}

/// The CA of [`Options::host_certificate`].
pub fn host_ca() -> PrivateKey {
    PrivateKey::from_ed25519_seed(&[0xca; 32])
}

impl Default for Options {
    fn default() -> Self {
        Self {
            client_methods: vec![ClientMethod::Password],
            transport_client: ssh_transport::Config::default(),
            transport_server: ssh_transport::Config::server_default(),
            conn_client: ssh_connection::Config::default(),
            conn_server: ssh_connection::Config::default(),
            auto_auth: true,
            host_key_swap: None,
            host_certificate: false,
            remote_host_key: false,
        }
    }
}

pub struct Pair {
    pub c: ClientSession,
    pub s: ServerSession,
    pub now: Instant,
    pub auto_auth: bool,
    pub user_key: PrivateKey,
    pub authorized: PublicKey,
    pub host_public: PublicKey,
    pub sign_rng: StdRng,
    /// Non-connection events, in order.
    pub c_events: Vec<ClientSessionEvent>,
    pub s_events: Vec<ServerSessionEvent>,
    /// Connection events, in order (tests take them).
    pub c_conn: Vec<ssh_connection::Event>,
    pub s_conn: Vec<ssh_connection::Event>,
    /// Wire bytes each way.
    pub bytes_c2s: u64,
    pub bytes_s2c: u64,
    pub rounds: u64,
    /// Channels the server reads as data comes, inside `drive` (a reader
    /// that keeps up), with what it read.
    pub server_reads: Vec<(ChannelHandle, Vec<u8>)>,
    /// `app_round` sends with the sessions' `send_channel_data` (sealed
    /// straight from the application's bytes) instead of the
    /// connections' `send_data` (queued).
    pub direct: bool,
}

impl Pair {
    pub fn new(o: Options) -> Self {
        let host = host_key();
        let host_public = host.public().clone();
        let user = user_key();
        let authorized = user.public().clone();
        let auth_server = ServerConfig {
            host_key: Some(host_public.to_blob()),
            ..ServerConfig::default()
        };
        let c = ClientSession::new(
            o.transport_client,
            ClientConfig::new("alice", o.client_methods),
            o.conn_client,
            Box::new(StdRng::seed_from_u64(1)),
        )
        .unwrap();
        let cert = o.host_certificate.then(|| {
            ssh_keys::CertificateBuilder::new(host_public.clone(), ssh_keys::CertType::Host)
                .principal("host.example")
                .sign(&host_ca(), None, &mut StdRng::seed_from_u64(4))
                .unwrap()
        });
        let host: ssh_transport::HostKey = match (o.host_key_swap, cert, o.remote_host_key) {
            (Some(flag), _, _) => Box::new(HostKeySwap::new(flag)),
            (None, cert, true) => Box::new(ssh_keys::RemoteKey::new(host_public.clone(), cert)),
            (None, Some(cert), false) => Box::new(ssh_keys::CertifiedKey::new(host, cert).unwrap()),
            (None, None, false) => Box::new(host),
        };
        let now = Instant::now();
        let s = ServerSession::new(
            now,
            o.transport_server,
            vec![host],
            auth_server,
            o.conn_server,
            Box::new(StdRng::seed_from_u64(2)),
        )
        .unwrap();
        Self {
            c,
            s,
            now,
            auto_auth: o.auto_auth,
            user_key: user,
            authorized,
            host_public,
            sign_rng: StdRng::seed_from_u64(3),
            c_events: Vec::new(),
            s_events: Vec::new(),
            c_conn: Vec::new(),
            s_conn: Vec::new(),
            bytes_c2s: 0,
            bytes_s2c: 0,
            rounds: 0,
            server_reads: Vec::new(),
            direct: false,
        }
    }

    pub fn tick(&mut self, d: Duration) {
        self.now += d;
    }

    /// Moves bytes both ways until nothing moves; the first error of
    /// either side is returned (the other side keeps its state).
    pub fn drive(&mut self) -> Result<(), (Side, Error)> {
        let mut buf = Vec::new();
        for _ in 0..1_000_000 {
            self.rounds += 1;
            self.client_events().map_err(|e| (Side::Client, e))?;
            self.server_events().map_err(|e| (Side::Server, e))?;
            buf.clear();
            self.c.poll_transmit(&mut buf);
            let c2s = !buf.is_empty();
            self.bytes_c2s += buf.len() as u64;
            let mut at = 0;
            while at < buf.len() {
                let n = self
                    .s
                    .handle_input(self.now, &buf[at..])
                    .map_err(|e| (Side::Server, e))?;
                at += n;
                self.server_events().map_err(|e| (Side::Server, e))?;
            }
            buf.clear();
            self.s.poll_transmit(&mut buf);
            let s2c = !buf.is_empty();
            self.bytes_s2c += buf.len() as u64;
            let mut at = 0;
            while at < buf.len() {
                let n = self
                    .c
                    .handle_input(self.now, &buf[at..])
                    .map_err(|e| (Side::Client, e))?;
                at += n;
                self.client_events().map_err(|e| (Side::Client, e))?;
            }
            if !c2s && !s2c {
                if let Some(e) = self.c.error() {
                    return Err((Side::Client, e.clone()));
                }
                if let Some(e) = self.s.error() {
                    return Err((Side::Server, e.clone()));
                }
                return Ok(());
            }
        }
        panic!("the pair never went quiet");
    }

    fn client_events(&mut self) -> Result<(), Error> {
        while let Some(ev) = self.c.poll_event() {
            match ev {
                ClientSessionEvent::Connection(e) => self.c_conn.push(e),
                ClientSessionEvent::HostKey { ref key, .. } => {
                    assert_eq!(*key, self.host_public);
                    self.c_events.push(ev);
                    self.c.accept_host_key()?;
                }
                ClientSessionEvent::Auth(ClientEvent::PasswordPrompt) if self.auto_auth => {
                    self.c_events.push(ev);
                    self.c.password(PASSWORD)?;
                }
                ClientSessionEvent::Auth(ClientEvent::NeedSignature {
                    ref key,
                    algorithm,
                    ref data,
                }) if self.auto_auth => {
                    assert_eq!(*key, self.authorized);
                    let sig = self
                        .user_key
                        .sign(algorithm, data, &mut self.sign_rng)
                        .unwrap();
                    self.c_events.push(ev);
                    self.c.signature(sig)?;
                }
                other => self.c_events.push(other),
            }
        }
        Ok(())
    }

    fn server_events(&mut self) -> Result<(), Error> {
        if let Some(c) = self.s.connection_mut() {
            let mut buf = vec![0u8; 64 * 1024];
            for (h, sink) in &mut self.server_reads {
                while let Ok(n) = c.read(*h, &mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.extend_from_slice(&buf[..n]);
                }
            }
        }
        while let Some(ev) = self.s.poll_event() {
            match ev {
                ServerSessionEvent::Connection(e) => self.s_conn.push(e),
                ServerSessionEvent::Auth(ServerEvent::VerifyPassword { ref password, .. })
                    if self.auto_auth =>
                {
                    let verdict = if password == PASSWORD {
                        PasswordVerdict::Accept
                    } else {
                        PasswordVerdict::Reject
                    };
                    self.s_events.push(ev);
                    self.s.answer_password(self.now, verdict)?;
                }
                ServerSessionEvent::Auth(ServerEvent::VerifyPublicKey { ref key, .. })
                    if self.auto_auth =>
                {
                    let ok = *key == self.authorized;
                    self.s_events.push(ev);
                    self.s.answer_public_key(self.now, ok)?;
                }
                ServerSessionEvent::Transport(ssh_transport::Event::SignExchangeHash) => {
                    // The monitor's part: H computed from the request, and
                    // signed only for the key it holds.
                    let request = self.s.exchange_hash_request().expect("a request");
                    let sig = match request.host_key_algorithm().is_certificate() {
                        true => {
                            let cert =
                                ssh_keys::Certificate::from_blob(request.host_key()).unwrap();
                            let key = ssh_keys::CertifiedKey::new(host_key(), cert).unwrap();
                            request.sign(&key, &mut self.sign_rng)
                        }
                        false => request.sign(&host_key(), &mut self.sign_rng),
                    }
                    .unwrap();
                    self.s_events.push(ev);
                    self.s.answer_exchange_hash_signature(sig)?;
                }
                other => self.s_events.push(other),
            }
        }
        Ok(())
    }

    /// Moves the clock to the earliest deadline of either side and tells
    /// both; false when neither has one.
    pub fn advance(&mut self) -> Result<bool, (Side, Error)> {
        let next = match (self.c.poll_timeout(), self.s.poll_timeout()) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => match a.or(b) {
                Some(t) => t,
                None => return Ok(false),
            },
        };
        self.now = self.now.max(next);
        if self.c.poll_timeout().is_some_and(|t| t <= self.now) {
            self.c
                .handle_timeout(self.now)
                .map_err(|e| (Side::Client, e))?;
        }
        if self.s.poll_timeout().is_some_and(|t| t <= self.now) {
            self.s
                .handle_timeout(self.now)
                .map_err(|e| (Side::Server, e))?;
        }
        Ok(true)
    }

    /// A pair, handshaken and authenticated.
    pub fn connected(o: Options) -> Self {
        let mut p = Self::new(o);
        p.drive().unwrap();
        assert!(p.c.is_authenticated(), "client: {:?}", p.c_events);
        assert!(p.s.is_authenticated(), "server: {:?}", p.s_events);
        p
    }

    pub fn cc(&mut self) -> &mut Connection {
        self.c.connection_mut().unwrap()
    }

    pub fn sc(&mut self) -> &mut Connection {
        self.s.connection_mut().unwrap()
    }

    /// Opens `n` session channels from the client, accepted by the server;
    /// returns (client handle, server handle) pairs.
    pub fn open_channels(&mut self, n: usize) -> Vec<(ChannelHandle, ChannelHandle)> {
        let mut ours = Vec::new();
        for _ in 0..n {
            ours.push(
                self.cc()
                    .open_channel(ssh_wire::messages::ChannelType::Session)
                    .unwrap(),
            );
        }
        self.drive().unwrap();
        let mut theirs = Vec::new();
        for e in core::mem::take(&mut self.s_conn) {
            if let ssh_connection::Event::OpenRequest { handle, .. } = e {
                self.sc().accept(handle).unwrap();
                theirs.push(handle);
            }
        }
        assert_eq!(theirs.len(), n);
        self.drive().unwrap();
        let confirmed: Vec<_> = core::mem::take(&mut self.c_conn)
            .into_iter()
            .filter_map(|e| match e {
                ssh_connection::Event::OpenConfirmed { handle } => Some(handle),
                _ => None,
            })
            .collect();
        assert_eq!(confirmed, ours);
        ours.into_iter().zip(theirs).collect()
    }
}

/// Deterministic content: byte `i` of the stream of channel `ch` in
/// direction `dir`.
pub fn pattern(ch: usize, dir: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            let x = (i as u64)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .wrapping_add((ch as u64) << 8 | u64::from(dir));
            (x >> 29) as u8
        })
        .collect()
}

/// One channel's transfer both ways.
pub struct Flow {
    pub c: ChannelHandle,
    pub s: ChannelHandle,
    pub to_server: Vec<u8>,
    pub to_client: Vec<u8>,
    pub c_sent: usize,
    pub s_sent: usize,
    pub c_got: Vec<u8>,
    pub s_got: Vec<u8>,
    /// The server never reads this channel.
    pub server_stalled: bool,
}

impl Flow {
    pub fn new(i: usize, c: ChannelHandle, s: ChannelHandle, len: usize) -> Self {
        Self {
            c,
            s,
            to_server: pattern(i, 0, len),
            to_client: pattern(i, 1, len),
            c_sent: 0,
            s_sent: 0,
            c_got: Vec::new(),
            s_got: Vec::new(),
            server_stalled: false,
        }
    }

    pub fn done(&self) -> bool {
        self.c_got.len() == self.to_client.len() && self.s_got.len() == self.to_server.len()
    }
}

/// One round of the applications: send what the windows take, read what
/// arrived (except stalled channels). Returns true if anything moved.
pub fn app_round(p: &mut Pair, flows: &mut [Flow]) -> bool {
    let mut moved = false;
    let mut buf = vec![0u8; 64 * 1024];
    for f in flows.iter_mut() {
        if f.c_sent < f.to_server.len() {
            let data = &f.to_server[f.c_sent..];
            let n = if p.direct {
                p.c.send_channel_data(f.c, None, data).unwrap()
            } else {
                p.cc().send_data(f.c, data).unwrap()
            };
            f.c_sent += n;
            moved |= n > 0;
        }
        if f.s_sent < f.to_client.len() {
            let data = &f.to_client[f.s_sent..];
            let n = if p.direct {
                p.s.send_channel_data(f.s, None, data).unwrap()
            } else {
                p.sc().send_data(f.s, data).unwrap()
            };
            f.s_sent += n;
            moved |= n > 0;
        }
        loop {
            let n = p.cc().read(f.c, &mut buf).unwrap();
            if n == 0 {
                break;
            }
            f.c_got.extend_from_slice(&buf[..n]);
            moved = true;
        }
        if !f.server_stalled {
            loop {
                let n = p.sc().read(f.s, &mut buf).unwrap();
                if n == 0 {
                    break;
                }
                f.s_got.extend_from_slice(&buf[..n]);
                moved = true;
            }
        }
    }
    p.c_conn.clear();
    p.s_conn.clear();
    moved
}

/// Runs `flows` to their end, the client re-keying at the third round and
/// the server at the sixth, data in flight; every flow done, every byte
/// in order both ways.
pub fn flows_with_rekeys(p: &mut Pair, flows: &mut [Flow]) {
    let mut round = 0;
    loop {
        let moved = app_round(p, flows);
        round += 1;
        if round == 3 {
            p.c.force_rekey().unwrap();
        }
        if round == 6 {
            p.s.force_rekey().unwrap();
        }
        p.drive().unwrap();
        if !moved && round > 6 && !app_round(p, flows) {
            break;
        }
        assert!(round < 100_000, "no end");
    }
    for (i, f) in flows.iter().enumerate() {
        assert!(f.done(), "flow {i}");
        assert!(f.c_got == f.to_client && f.s_got == f.to_server, "flow {i}");
    }
}
