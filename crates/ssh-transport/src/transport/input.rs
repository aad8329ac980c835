//! The receiving half: buffering, the version line, opening packets,
//! decompression, and the dispatch of transport-layer messages.

use std::time::Instant;

use ssh_wire::messages::kex::KexContext;
use ssh_wire::messages::transport::{
    DisconnectReason, ExtInfo, Pong, TransportMessage, Unimplemented,
};
use ssh_wire::msg::{self, Layer};
use ssh_wire::version::VersionEvent;

use crate::cipher::{CryptoError, OpeningKey};
use crate::compress::Decompressor;
use crate::error::Error;
use crate::event::Event;

use super::{Role, Transport};

/// How much unprocessed input the transport buffers: two maximal packets.
/// Beyond it [`Transport::handle_input`] takes fewer bytes than offered.
fn rx_limit(max_packet_len: usize) -> usize {
    2 * (max_packet_len + 4 + 64)
}

/// The state of the direction from the peer.
pub(super) struct Rx {
    /// Input: `buf[pos..end]` is unprocessed; bytes past `end` are not
    /// input (kept initialised so that lending them costs nothing).
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// Sequence number of the next packet.
    pub seq: u32,
    pub key: OpeningKey,
    /// The wire length of the packet being assembled, once known.
    need: Option<usize>,
    pub decomp: Option<Decompressor>,
    pub delayed: Option<Decompressor>,
    /// Decompressed payload returned by the last `poll_incoming`.
    plain: Vec<u8>,
    /// How many bytes `input_buffer` lent, until committed.
    lent: Option<usize>,
    /// No packet has been received yet.
    pub first_packet: bool,
    /// The sequence number of the last upper-layer payload returned.
    pub last_upper_seq: u32,
    max_packet_len: usize,
}

impl Rx {
    pub fn new(max_packet_len: usize) -> Self {
        Self {
            buf: Vec::new(),
            pos: 0,
            end: 0,
            seq: 0,
            key: OpeningKey::none().with_max_packet_len(max_packet_len),
            need: None,
            decomp: None,
            delayed: None,
            plain: Vec::new(),
            lent: None,
            first_packet: true,
            last_upper_seq: 0,
            max_packet_len,
        }
    }

    pub fn start_delayed_compression(&mut self) {
        if let Some(d) = self.delayed.take() {
            self.decomp = Some(d);
        }
    }

    pub fn set_key(&mut self, key: OpeningKey) {
        self.key = key.with_max_packet_len(self.max_packet_len);
        self.need = None;
    }

    /// The input not yet processed, unless a loan is outstanding.
    pub(super) fn unprocessed_input(&self) -> Option<&[u8]> {
        self.lent.is_none().then(|| self.unprocessed())
    }

    /// Input carried over from another process's transport.
    pub(super) fn import_input(&mut self, input: &[u8]) {
        self.buf.clear();
        self.buf.extend_from_slice(input);
        self.pos = 0;
        self.end = input.len();
    }

    /// Forgets a loan never committed (what it lent holds no input).
    fn unlend(&mut self) {
        self.lent = None;
    }

    /// The unprocessed input.
    fn unprocessed(&self) -> &[u8] {
        self.buf.get(self.pos..self.end).unwrap_or_default()
    }

    /// Moves the unprocessed input to the front once enough before it
    /// was processed.
    fn compact(&mut self) {
        if self.pos > 0 && (self.pos == self.end || self.pos >= 64 * 1024) {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
    }

    /// Frees the buffers when they hold nothing: no unprocessed input, no
    /// packet half assembled. A loan not committed is forgotten (as by
    /// every other call): a read that was pending put nothing in it.
    fn release(&mut self) {
        self.unlend();
        if self.pos == self.end && self.need.is_none() {
            self.buf = Vec::new();
            self.pos = 0;
            self.end = 0;
        }
        self.plain = Vec::new();
    }

    /// `room` bytes of buffer from `end` (grown, zero-filled, only the
    /// first time it is needed).
    fn tail(&mut self, room: usize) -> &mut [u8] {
        let want = self.end + room;
        if self.buf.len() < want {
            self.buf.resize(want, 0);
        }
        self.buf.get_mut(self.end..want).unwrap_or_default()
    }
}

/// Where the payload of the packet just opened lies.
enum Opened {
    /// In the input buffer.
    Raw(core::ops::Range<usize>),
    /// In the decompression buffer.
    Plain,
}

impl Transport {
    /// Frees the input side's buffers if they hold nothing (see
    /// [`Transport::release_buffers`]).
    pub(super) fn release_input_buffers(&mut self) {
        self.rx.release();
    }

    #[cfg(test)]
    pub(super) fn rx_capacity(&self) -> usize {
        self.rx.buf.capacity()
    }

    /// Takes bytes from the peer and returns how many were taken: fewer
    /// than offered when the input buffer holds enough unprocessed data
    /// (drain [`Transport::poll_incoming`] first, then offer the rest).
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) -> Result<usize, Error> {
        self.check_failed()?;
        self.now = Some(now);
        self.rx.unlend();
        self.rx.compact();
        let room = rx_limit(self.rx.max_packet_len).saturating_sub(self.rx.end - self.rx.pos);
        let n = data.len().min(room);
        self.rx
            .tail(n)
            .copy_from_slice(data.get(..n).unwrap_or_default());
        self.rx.end += n;
        Ok(n)
    }

    /// How many bytes [`Transport::input_buffer`] would lend for `max`,
    /// and [`Transport::handle_input`] would take now, found without
    /// growing the buffer. A caller that reads small amounts into its own
    /// memory first (an idle connection's keepalives) can offer exactly
    /// this much, and the buffer then grows only by what arrived.
    pub fn input_room(&self, max: usize) -> usize {
        rx_limit(self.rx.max_packet_len)
            .saturating_sub(self.rx.end - self.rx.pos)
            .min(max)
    }

    /// Lends the free end of the input buffer, at most `max` bytes, for
    /// the caller to read the socket straight into (as rustls' caller-owned
    /// input buffer): no copy between the socket's bytes and the packet
    /// decrypted in place. Follow with [`Transport::commit_input`] and the
    /// number of bytes read. Empty when the buffer holds enough
    /// unprocessed input already (drain [`Transport::poll_incoming`]
    /// first).
    pub fn input_buffer(&mut self, max: usize) -> &mut [u8] {
        self.rx.unlend();
        self.rx.compact();
        let used = self.rx.end - self.rx.pos;
        let room = rx_limit(self.rx.max_packet_len)
            .saturating_sub(used)
            .min(max);
        self.rx.lent = Some(room);
        self.rx.tail(room)
    }

    /// Takes the first `n` bytes of what [`Transport::input_buffer`] lent
    /// as input (the rest is given back).
    pub fn commit_input(&mut self, now: Instant, n: usize) -> Result<(), Error> {
        let Some(lent) = self.rx.lent.take() else {
            return Err(Error::Misuse("commit_input without input_buffer"));
        };
        self.rx.end += n.min(lent);
        self.check_failed()?;
        self.now = Some(now);
        Ok(())
    }

    /// Processes buffered input and returns the next upper-layer payload
    /// (message number 50-127), decrypted and decompressed. Transport
    /// messages are handled inside; their effects show as events and
    /// output. `None` means more input is needed, or the transport waits
    /// for an answer ([`super::Event::HostKey`]). The slice is valid until
    /// the next call.
    pub fn poll_incoming(&mut self) -> Result<Option<&[u8]>, Error> {
        self.check_failed()?;
        self.rx.unlend();
        loop {
            if self.host_key_pending || self.signature_pending {
                return Ok(None);
            }
            if self.peer_version.is_none() {
                match self.read_version() {
                    Ok(true) => continue,
                    Ok(false) => return Ok(None),
                    Err(e) => return Err(self.fail(e)),
                }
            }
            let opened = match self.open_next() {
                Ok(Some(o)) => o,
                Ok(None) => return Ok(None),
                Err(e) => return Err(self.fail(e)),
            };
            // Inbound volume counts towards a re-key too.
            if let Err(e) = self.maybe_rekey() {
                return Err(self.fail(e));
            }
            let number = match &opened {
                Opened::Raw(r) => self.rx.buf.get(r.clone()).and_then(|p| p.first().copied()),
                Opened::Plain => self.rx.plain.first().copied(),
            };
            let Some(number) = number else {
                return Err(self.fail(Error::protocol("empty payload")));
            };
            let layer = Layer::of(number);
            if layer.is_userauth() || layer.is_connection() {
                if let Err(e) = self.check_upper_allowed(number) {
                    return Err(self.fail(e));
                }
                self.rx.last_upper_seq = self.rx.seq.wrapping_sub(1);
                return Ok(Some(match opened {
                    Opened::Raw(r) => self.rx.buf.get(r).unwrap_or_default(),
                    Opened::Plain => &self.rx.plain,
                }));
            }
            let seq = self.rx.seq.wrapping_sub(1);
            if layer == Layer::KeyExchange && self.take_skip_guess() {
                // RFC 4253 §7: a wrong guess's packet "MUST be ignored". It
                // is another method's message, which need not decode under
                // the negotiated one: it is dropped unread.
                tracing::debug!("ignored the peer's wrongly guessed key exchange packet");
                continue;
            }
            let (msg, raw_kexinit) = {
                let payload = match &opened {
                    Opened::Raw(r) => self.rx.buf.get(r.clone()).unwrap_or_default(),
                    Opened::Plain => &self.rx.plain,
                };
                let ctx = self.kex_context();
                let decoded = TransportMessage::decode(payload, ctx);
                let raw = (number == msg::SSH_MSG_KEXINIT).then(|| payload.to_vec());
                (decoded, raw)
            };
            let msg = match msg {
                Ok(m) => m,
                Err(e) => {
                    return Err(self.fail(Error::protocol(format!(
                        "malformed {}: {e}",
                        msg::name(number)
                    ))));
                }
            };
            if let Err(e) = self.handle_transport(msg, raw_kexinit, seq) {
                return Err(self.fail(e));
            }
        }
    }

    /// Answers the upper-layer payload last returned by
    /// [`Transport::poll_incoming`] with SSH_MSG_UNIMPLEMENTED: "An
    /// implementation MUST respond to all unrecognized messages with an
    /// SSH_MSG_UNIMPLEMENTED message in the order in which the messages
    /// were received" (RFC 4253 §11.4). For the layers above, which know
    /// which numbers they recognise.
    pub fn reject_last_payload(&mut self) -> Result<(), Error> {
        self.check_failed()?;
        let sequence = self.rx.last_upper_seq;
        let r = self.seal_message(&Unimplemented { sequence });
        self.guard(r)
    }

    /// Reads the peer's version line (and a server's lines before it).
    /// Returns true when done.
    fn read_version(&mut self) -> Result<bool, Error> {
        loop {
            let avail = self.rx.unprocessed();
            let ev = self
                .version_reader
                .read(avail)
                .map_err(|e| Error::Protocol {
                    reason: DisconnectReason::PROTOCOL_VERSION_NOT_SUPPORTED,
                    message: format!("bad version exchange: {e}"),
                })?;
            match ev {
                VersionEvent::Incomplete => return Ok(false),
                VersionEvent::PreBannerLine { text, consumed } => {
                    self.rx.pos += consumed;
                    self.events.push_back(Event::PreBannerLine(text));
                }
                VersionEvent::Version { version, consumed } => {
                    self.rx.pos += consumed;
                    self.events
                        .push_back(Event::PeerVersion(version.as_str().to_owned()));
                    self.peer_version = Some(version);
                    return Ok(true);
                }
            }
        }
    }

    /// Opens the next whole packet, if it is all there.
    fn open_next(&mut self) -> Result<Option<Opened>, Error> {
        let seq = self.rx.seq;
        let need = match self.rx.need {
            Some(n) => n,
            None => {
                let avail = self
                    .rx
                    .buf
                    .get(self.rx.pos..self.rx.end)
                    .unwrap_or_default();
                if avail.len() < self.rx.key.first_len() {
                    return Ok(None);
                }
                let n = self
                    .rx
                    .key
                    .packet_length(seq, avail)
                    .map_err(crypto_error)?;
                self.rx.need = Some(n);
                n
            }
        };
        let start = self.rx.pos;
        if start + need > self.rx.end {
            return Ok(None);
        }
        let Some(packet) = self.rx.buf.get_mut(start..start + need) else {
            return Ok(None);
        };
        let range = self.rx.key.open(seq, packet).map_err(crypto_error)?;
        self.rx.need = None;
        self.rx.pos += need;
        self.rx.seq = super::output::next_seq(seq, self.strict_initial_kex())?;
        self.rx.first_packet = false;
        let range = start + range.start..start + range.end;
        if let Some(d) = &mut self.rx.decomp {
            self.rx.plain.clear();
            let input = self.rx.buf.get(range).unwrap_or_default();
            d.decompress(input, &mut self.rx.plain, self.config.max_decompressed)
                .map_err(|e| Error::Protocol {
                    reason: DisconnectReason::COMPRESSION_ERROR,
                    message: e.to_string(),
                })?;
            return Ok(Some(Opened::Plain));
        }
        Ok(Some(Opened::Raw(range)))
    }

    /// The context numbers 30-49 decode in: the negotiated method's, during
    /// a key exchange whose KEXINITs crossed.
    fn kex_context(&self) -> Option<KexContext> {
        let kex = self.kex.as_ref()?;
        kex.negotiated
            .as_ref()
            .map(|n| super::method::context(&n.kex))
    }

    /// RFC 4253 §7.1 and the strict-kex rules: what may arrive when.
    fn check_upper_allowed(&self, number: u8) -> Result<(), Error> {
        if self.session_id.is_none() {
            return Err(Error::protocol(format!(
                "{} before the first key exchange finished",
                msg::name(number)
            )));
        }
        if self.kex.as_ref().is_some_and(|k| k.peer_in_kex()) {
            // The peer sent KEXINIT and so "MUST NOT send any messages
            // other than" transport and kex messages until its NEWKEYS;
            // OpenSSH 10.4 disconnects such a peer too.
            return Err(Error::protocol(format!(
                "{} during a key exchange the peer had started",
                msg::name(number)
            )));
        }
        Ok(())
    }

    /// True during the first key exchange when strict kex is (or, before
    /// the peer's KEXINIT, may be) in force.
    pub(super) fn strict_initial_kex(&self) -> bool {
        self.session_id.is_none() && (self.strict || self.config.strict_kex)
    }

    fn handle_transport(
        &mut self,
        msg: TransportMessage,
        raw_kexinit: Option<Vec<u8>>,
        seq: u32,
    ) -> Result<(), Error> {
        let number = msg.number();
        // Before the peer's KEXINIT nobody knows yet whether strict kex
        // will be in force: IGNORE, DEBUG, ... are let through (RFC 4253
        // §11.2), and the KEXINIT that turns strict kex on must then have
        // been the first packet (as OpenSSH checks it).
        if self.strict && self.session_id.is_none() {
            // "During initial KEX, terminate the connection if any
            // unexpected or out-of-sequence packet is received", IGNORE and
            // DEBUG included.
            let kex_msg = matches!(
                msg,
                TransportMessage::KexInit(_)
                    | TransportMessage::NewKeys(_)
                    | TransportMessage::Kex(_)
                    | TransportMessage::Disconnect(_)
            );
            if !kex_msg {
                return Err(Error::protocol(format!(
                    "{} during a strict initial key exchange",
                    msg::name(number)
                )));
            }
        }
        match msg {
            TransportMessage::Disconnect(d) => Err(Error::PeerDisconnected {
                reason: d.reason,
                description: d.description,
            }),
            TransportMessage::Ignore(_) => Ok(()),
            TransportMessage::Debug(d) => {
                self.events.push_back(Event::Debug {
                    always_display: d.always_display,
                    message: d.message,
                });
                Ok(())
            }
            TransportMessage::Unimplemented(u) => {
                self.events.push_back(Event::Unimplemented(u.sequence));
                Ok(())
            }
            TransportMessage::KexInit(k) => {
                let raw = raw_kexinit.unwrap_or_default();
                self.handle_kexinit(k, raw)?;
                if self.strict && self.session_id.is_none() && seq != 0 {
                    // "terminate the connection if the first packet
                    // received is not SSH2_MSG_KEXINIT" (Terrapin).
                    return Err(Error::protocol(format!(
                        "strict kex: {seq} packet(s) before KEXINIT"
                    )));
                }
                Ok(())
            }
            TransportMessage::NewKeys(_) => self.handle_newkeys(),
            TransportMessage::Kex(m) => self.handle_kex_message(m),
            TransportMessage::ServiceRequest(r) => {
                self.check_not_in_kex(number)?;
                if self.role != Role::Server || self.session_id.is_none() {
                    return Err(Error::protocol("unexpected SSH_MSG_SERVICE_REQUEST"));
                }
                if self.service_pending.is_some() {
                    return Err(Error::protocol("second SSH_MSG_SERVICE_REQUEST"));
                }
                self.service_pending = Some(r.service.clone());
                self.events.push_back(Event::ServiceRequest(r.service));
                Ok(())
            }
            TransportMessage::ServiceAccept(a) => {
                self.check_not_in_kex(number)?;
                match self.service_requested.take() {
                    Some(name) if self.role == Role::Client && name == a.service => {
                        self.events.push_back(Event::ServiceAccepted(a.service));
                        Ok(())
                    }
                    _ => Err(Error::protocol("unexpected SSH_MSG_SERVICE_ACCEPT")),
                }
            }
            TransportMessage::ExtInfo(e) => {
                // Not a key exchange message: after the peer's KEXINIT it
                // ends the connection, as OpenSSH 10.4 ends it.
                self.check_not_in_kex(number)?;
                self.handle_ext_info(e)
            }
            TransportMessage::NewCompress(_) => Err(Error::protocol(
                "SSH_MSG_NEWCOMPRESS without delay-compression negotiated",
            )),
            TransportMessage::Ping(p) => {
                // OpenSSH `PROTOCOL` §1.8: answered only after
                // authentication and never during a key exchange; before
                // that it is dropped.
                if self.authenticated && self.kex.is_none() {
                    self.seal_message(&Pong { data: p.data })?;
                }
                Ok(())
            }
            TransportMessage::Pong(p) => {
                self.events.push_back(Event::Pong(p.data));
                Ok(())
            }
            TransportMessage::Unknown(u) => {
                if self.kex.is_some() && (30..=49).contains(&u.number) {
                    return Err(Error::kex(format!(
                        "unexpected key exchange message {}",
                        u.number
                    )));
                }
                // RFC 4253 §11.4.
                self.seal_message(&Unimplemented { sequence: seq })
            }
            other => Err(Error::protocol(format!(
                "unexpected message {}",
                other.number()
            ))),
        }
    }

    fn check_not_in_kex(&self, number: u8) -> Result<(), Error> {
        if self.kex.as_ref().is_some_and(|k| k.peer_in_kex()) || self.session_id.is_none() {
            return Err(Error::protocol(format!(
                "{} during a key exchange",
                msg::name(number)
            )));
        }
        Ok(())
    }

    fn handle_ext_info(&mut self, e: ExtInfo) -> Result<(), Error> {
        // RFC 8308 §2.4: only after NEWKEYS, and only if we asked for it.
        if self.session_id.is_none() || !self.config.ext_info {
            return Err(Error::protocol("unexpected SSH_MSG_EXT_INFO"));
        }
        if e.ping().is_some() {
            self.peer_ping = true;
        }
        // OpenSSH takes version "0" only.
        if e.agent_forward() == Some(b"0") {
            self.peer_agent_forward = true;
        }
        self.events.push_back(Event::ExtInfo(e));
        Ok(())
    }
}

fn crypto_error(e: CryptoError) -> Error {
    let reason = match e {
        CryptoError::MacMismatch => DisconnectReason::MAC_ERROR,
        _ => DisconnectReason::PROTOCOL_ERROR,
    };
    Error::Protocol {
        reason,
        message: format!("packet rejected: {e}"),
    }
}
