//! A transport moved to another process: privilege separation hands an
//! authenticated connection (its socket, and this state) from the
//! unprivileged worker to the user's session process.
//!
//! What moves: both directions' keys where they stand (IVs, counters, a
//! packet whose length was already read), the sequence numbers, the
//! session identifier and its host key proof, what was negotiated (the
//! strict-kex and ext-info outcome included), the versions (the next
//! re-key's exchange hash needs them), the time since the last key
//! exchange, and input read from the socket but not yet processed.
//!
//! What does not: a key exchange in progress, output not yet taken, an
//! answer owed, compression in force. `zlib@openssh.com` starts only at
//! authentication, so a transport exported before
//! [`Transport::set_authenticated`] carries none (OpenSSH delays it for
//! this very reason); plain `zlib`, in force from the first NEWKEYS, cannot
//! move, and a privilege-separated server does not offer it.

use std::time::{Duration, Instant};

use rand_core::CryptoRng;
use ssh_wire::Reader;
use ssh_wire::codec::{put_bool, put_string, put_u32, put_u64};
use ssh_wire::version::Version;
use zeroize::Zeroizing;

use super::{Config, HostKey, Role, Transport};
use crate::cipher::{KeyState, OpeningKey, SealingKey};
use crate::compress::{CompressAlg, Compressor, Decompressor};
use crate::error::Error;
use crate::negotiate::Negotiated;

/// The most input carried over: a packet and a half at the largest size.
const MAX_INPUT: usize = 512 * 1024;

/// An established transport as data, from [`Transport::export_state`] to
/// [`Transport::from_state`]. Secret (keys): zeroized on drop.
pub struct TransportState {
    role: Role,
    our_version: String,
    peer_version: String,
    session_id: Vec<u8>,
    session_proof: Option<(Vec<u8>, Vec<u8>)>,
    kex_count: u64,
    strict: bool,
    negotiated: Negotiated,
    authenticated: bool,
    since_kex: Option<Duration>,
    peer_ping: bool,
    peer_agent_forward: bool,
    rx_seq: u32,
    rx_last_upper_seq: u32,
    tx_seq: u32,
    rx_key: KeyState,
    tx_key: KeyState,
    input: Zeroizing<Vec<u8>>,
}

impl core::fmt::Debug for TransportState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TransportState")
            .field("role", &self.role)
            .field("negotiated", &self.negotiated)
            .field("kex_count", &self.kex_count)
            .finish_non_exhaustive()
    }
}

fn misuse(why: &'static str) -> Error {
    Error::Misuse(why)
}

fn key_error(_: crate::cipher::CryptoError) -> Error {
    misuse("keys that cannot move")
}

impl Transport {
    /// The transport as data, for another process to go on with the
    /// connection ([`Transport::from_state`]). Only between key exchanges,
    /// with every output taken ([`Transport::poll_transmit`]), no answer
    /// owed and no compression in force; this transport is left failed
    /// (the connection is no longer its to use).
    pub fn export_state(&mut self, now: Instant) -> Result<TransportState, Error> {
        self.check_failed()?;
        let (Some(session_id), Some(negotiated), Some(peer_version)) = (
            self.session_id.clone(),
            self.negotiated.clone(),
            self.peer_version.as_ref(),
        ) else {
            return Err(misuse("export before the first key exchange finished"));
        };
        if self.kex.is_some() {
            return Err(misuse("export during a key exchange"));
        }
        if self.host_key_pending || self.signature_pending || self.service_pending.is_some() {
            return Err(misuse("export with an answer owed"));
        }
        if !self.tx.buf.is_empty() || !self.tx.held.is_empty() {
            return Err(misuse("export with output not yet taken"));
        }
        if self.tx.comp.is_some() || self.rx.decomp.is_some() {
            return Err(misuse("export with compression in force"));
        }
        let input = self
            .rx
            .unprocessed_input()
            .ok_or(misuse("export with input lent"))?;
        let state = TransportState {
            role: self.role,
            our_version: self.our_version.as_str().to_owned(),
            peer_version: peer_version.as_str().to_owned(),
            session_id,
            session_proof: self.session_proof.clone(),
            kex_count: self.kex_count,
            strict: self.strict,
            negotiated,
            authenticated: self.authenticated,
            since_kex: self
                .rekey_timer
                .last_kex
                .map(|t| now.saturating_duration_since(t)),
            peer_ping: self.peer_ping,
            peer_agent_forward: self.peer_agent_forward,
            rx_seq: self.rx.seq,
            rx_last_upper_seq: self.rx.last_upper_seq,
            tx_seq: self.tx.seq,
            rx_key: self.rx.key.export_state().map_err(key_error)?,
            tx_key: self.tx.key.export_state().map_err(key_error)?,
            input: Zeroizing::new(input.to_vec()),
        };
        self.failed = Some(Error::Disconnected);
        Ok(state)
    }

    /// Goes on with a connection another process exported: `config` and
    /// `host_keys` are this process's (a server's re-keys are signed with
    /// them), `state` says where the connection stands. Its role must be
    /// the one `host_keys` implies (a server has some).
    pub fn from_state(
        config: Config,
        host_keys: Vec<HostKey>,
        rng: Box<dyn CryptoRng + Send>,
        state: TransportState,
        now: Instant,
    ) -> Result<Self, Error> {
        let mut t = match state.role {
            Role::Server => Self::server(config, host_keys, rng)?,
            Role::Client => Self::client(config, rng)?,
        };
        // The fresh transport queued its version line and KEXINIT: the
        // connection has had those long ago.
        t.tx.buf.clear();
        t.kex = None;
        let version =
            |line: &str| Version::parse(line).map_err(|_| misuse("exported version line"));
        t.our_version = version(&state.our_version)?;
        t.peer_version = Some(version(&state.peer_version)?);
        t.session_id = Some(state.session_id);
        t.session_proof = state.session_proof;
        t.kex_count = state.kex_count;
        t.strict = state.strict;
        t.authenticated = state.authenticated;
        t.rekey_timer.last_kex = state.since_kex.map(|d| now.checked_sub(d).unwrap_or(now));
        t.peer_ping = state.peer_ping;
        t.peer_agent_forward = state.peer_agent_forward;
        t.rx.seq = state.rx_seq;
        t.rx.last_upper_seq = state.rx_last_upper_seq;
        t.rx.first_packet = false;
        t.tx.seq = state.tx_seq;
        t.rx.set_key(OpeningKey::from_state(&state.rx_key).map_err(key_error)?);
        t.tx.key = SealingKey::from_state(&state.tx_key).map_err(key_error)?;
        let (ours, theirs) = match state.role {
            Role::Server => (&state.negotiated.comp_s2c, &state.negotiated.comp_c2s),
            Role::Client => (&state.negotiated.comp_c2s, &state.negotiated.comp_s2c),
        };
        for (name, tx) in [(ours, true), (theirs, false)] {
            let alg = CompressAlg::from_name(name).ok_or(misuse("exported compression"))?;
            if alg == CompressAlg::None {
                continue;
            }
            if !alg.is_delayed() || state.authenticated {
                return Err(misuse("compression in force cannot move"));
            }
            if tx {
                t.tx.delayed = Some(Compressor::new());
            } else {
                t.rx.delayed = Some(Decompressor::new());
            }
        }
        t.negotiated = Some(state.negotiated);
        t.now = Some(now);
        t.rx.import_input(&state.input);
        Ok(t)
    }
}

impl TransportState {
    /// The byte form, in a buffer zeroized on drop.
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(1024 + self.input.len()));
        out.push(match self.role {
            Role::Client => 0,
            Role::Server => 1,
        });
        put_string(&mut out, self.our_version.as_bytes());
        put_string(&mut out, self.peer_version.as_bytes());
        put_string(&mut out, &self.session_id);
        match &self.session_proof {
            None => put_bool(&mut out, false),
            Some((key, sig)) => {
                put_bool(&mut out, true);
                put_string(&mut out, key);
                put_string(&mut out, sig);
            }
        }
        put_u64(&mut out, self.kex_count);
        let n = &self.negotiated;
        for name in [
            &n.kex,
            &n.host_key,
            &n.cipher_c2s,
            &n.cipher_s2c,
            n.mac_c2s.as_deref().unwrap_or(""),
            n.mac_s2c.as_deref().unwrap_or(""),
            &n.comp_c2s,
            &n.comp_s2c,
        ] {
            put_string(&mut out, name.as_bytes());
        }
        for flag in [
            n.strict_kex,
            n.peer_ext_info,
            self.strict,
            self.authenticated,
            self.peer_ping,
            self.peer_agent_forward,
            self.since_kex.is_some(),
        ] {
            put_bool(&mut out, flag);
        }
        let since = self.since_kex.unwrap_or_default();
        put_u64(&mut out, since.as_secs());
        put_u32(&mut out, since.subsec_nanos());
        put_u32(&mut out, self.rx_seq);
        put_u32(&mut out, self.rx_last_upper_seq);
        put_u32(&mut out, self.tx_seq);
        self.rx_key.encode(&mut out);
        self.tx_key.encode(&mut out);
        put_string(&mut out, &self.input);
        out
    }

    /// Reads [`TransportState::encode`]'s form; every length is bounded by
    /// the bytes present, the carried input by a packet and a half.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let bad = |_| misuse("malformed transport state");
        let mut r = Reader::new(bytes);
        let role = match r.u8("role").map_err(bad)? {
            0 => Role::Client,
            1 => Role::Server,
            _ => return Err(misuse("malformed transport state")),
        };
        let our_version = r.utf8("version").map_err(bad)?.to_owned();
        let peer_version = r.utf8("version").map_err(bad)?.to_owned();
        let session_id = r.string_max(64, "session id").map_err(bad)?.to_vec();
        let session_proof = if r.bool("proof").map_err(bad)? {
            Some((
                r.string("host key").map_err(bad)?.to_vec(),
                r.string("signature").map_err(bad)?.to_vec(),
            ))
        } else {
            None
        };
        let kex_count = r.u64("kex count").map_err(bad)?;
        let mut name = || r.ascii("name").map(str::to_owned).map_err(bad);
        let (kex, host_key, cipher_c2s, cipher_s2c) = (name()?, name()?, name()?, name()?);
        let (mac_c2s, mac_s2c, comp_c2s, comp_s2c) = (name()?, name()?, name()?, name()?);
        let mut flag = || r.bool("flag").map_err(bad);
        let (strict_kex, peer_ext_info, strict, authenticated) =
            (flag()?, flag()?, flag()?, flag()?);
        let (peer_ping, peer_agent_forward, has_since) = (flag()?, flag()?, flag()?);
        let secs = r.u64("seconds").map_err(bad)?;
        let nanos = r.u32("nanoseconds").map_err(bad)?;
        let since_kex = has_since.then(|| Duration::new(secs, nanos.min(999_999_999)));
        let rx_seq = r.u32("seq").map_err(bad)?;
        let rx_last_upper_seq = r.u32("seq").map_err(bad)?;
        let tx_seq = r.u32("seq").map_err(bad)?;
        let rx_key = KeyState::decode(&mut r).map_err(key_error)?;
        let tx_key = KeyState::decode(&mut r).map_err(key_error)?;
        let input = Zeroizing::new(r.string_max(MAX_INPUT, "input").map_err(bad)?.to_vec());
        r.finish("transport state").map_err(bad)?;
        let opt = |s: String| (!s.is_empty()).then_some(s);
        Ok(Self {
            role,
            our_version,
            peer_version,
            session_id,
            session_proof,
            kex_count,
            strict,
            negotiated: Negotiated {
                kex,
                host_key,
                cipher_c2s,
                cipher_s2c,
                mac_c2s: opt(mac_c2s),
                mac_s2c: opt(mac_s2c),
                comp_c2s,
                comp_s2c,
                strict_kex,
                peer_ext_info,
            },
            authenticated,
            since_kex,
            peer_ping,
            peer_agent_forward,
            rx_seq,
            rx_last_upper_seq,
            tx_seq,
            rx_key,
            tx_key,
            input,
        })
    }
}
