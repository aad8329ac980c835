//! The sending half: sealing into the outgoing buffer, the queue held
//! during a key exchange, compression.

use std::collections::VecDeque;

use ssh_wire::Encode;

use crate::cipher::SealingKey;
use crate::compress::Compressor;
use crate::error::Error;
use crate::event::Event;

use super::Transport;

/// The state of the direction towards the peer.
pub(super) struct Tx {
    /// Sealed bytes not yet taken by the caller.
    pub buf: Vec<u8>,
    /// Sequence number of the next packet (RFC 4253 §6.4).
    pub seq: u32,
    pub key: SealingKey,
    /// Compression in force.
    pub comp: Option<Compressor>,
    /// `zlib@openssh.com` negotiated, waiting for authentication.
    pub delayed: Option<Compressor>,
    /// Scratch for a message encoded before compression.
    scratch: Vec<u8>,
    /// Upper-layer payloads (and service messages) held during a kex.
    pub held: VecDeque<Vec<u8>>,
    pub held_bytes: usize,
    /// A caller was told `WouldBlock` and is owed an `Event::Writable`.
    pub blocked: bool,
}

impl Tx {
    pub fn new() -> Self {
        Self {
            buf: Vec::new(),
            seq: 0,
            key: SealingKey::none(),
            comp: None,
            delayed: None,
            scratch: Vec::new(),
            held: VecDeque::new(),
            held_bytes: 0,
            blocked: false,
        }
    }

    pub fn start_delayed_compression(&mut self) {
        if let Some(c) = self.delayed.take() {
            self.comp = Some(c);
        }
    }

    /// Frees the buffers that hold nothing.
    pub fn release(&mut self) {
        if self.buf.is_empty() {
            self.buf = Vec::new();
        }
        self.scratch = Vec::new();
        if self.held.is_empty() {
            self.held = VecDeque::new();
        }
    }
}

impl Transport {
    /// [`Transport::send_payload`] of the payload `head || body`, sealed
    /// from the two parts: channel data goes from the caller's buffer into
    /// the packet with one copy. (Held or compressed payloads are joined
    /// first.)
    pub fn send_payload_parts(&mut self, head: &[u8], body: &[u8]) -> Result<(), Error> {
        self.check_failed()?;
        let Some(&number) = head.first() else {
            return Err(Error::Misuse("empty payload"));
        };
        if number < 50 || (128..192).contains(&number) {
            return Err(Error::Misuse("send_payload is for upper-layer messages"));
        }
        if !self.can_send() || self.tx.comp.is_some() {
            let mut joined = core::mem::take(&mut self.tx.scratch);
            joined.clear();
            joined.extend_from_slice(head);
            joined.extend_from_slice(body);
            let r = self.send_payload(&joined);
            self.tx.scratch = joined;
            return r;
        }
        let r = self.seal_message(&Parts(head, body));
        self.guard(r)?;
        let r = self.maybe_rekey();
        self.guard(r)
    }

    /// True while payloads of the upper layers must wait: we sent KEXINIT
    /// and not yet NEWKEYS (RFC 4253 §7.1), or older payloads still wait.
    pub(super) fn sending_blocked(&self) -> bool {
        let in_kex = self.kex.as_ref().is_some_and(|k| !k.sent_newkeys);
        in_kex || !self.tx.held.is_empty()
    }

    /// Holds a payload until the key exchange ends.
    pub(super) fn hold(&mut self, payload: &[u8]) -> Result<(), Error> {
        if self.tx.held_bytes.saturating_add(payload.len()) > self.config.max_held_bytes {
            self.tx.blocked = true;
            return Err(Error::WouldBlock);
        }
        self.tx.held_bytes += payload.len();
        self.tx.held.push_back(payload.to_vec());
        Ok(())
    }

    /// Seals everything held, in order, once NEWKEYS went out.
    pub(super) fn flush_held(&mut self) -> Result<(), Error> {
        while let Some(p) = self.tx.held.pop_front() {
            self.tx.held_bytes = self.tx.held_bytes.saturating_sub(p.len());
            self.seal_payload(&p)?;
        }
        if self.tx.blocked {
            self.tx.blocked = false;
            self.events.push_back(Event::Writable);
        }
        Ok(())
    }

    /// Encodes and sends a transport message that may not go during a key
    /// exchange (service request and accept, ping): held like payloads.
    pub(super) fn send_transport_or_hold<M: Encode>(&mut self, msg: &M) -> Result<(), Error> {
        if self.sending_blocked() || self.session_id.is_none() {
            let bytes = msg.to_bytes();
            return self.hold(&bytes);
        }
        self.seal_message(msg)
    }

    /// Seals one payload into the outgoing buffer.
    pub(super) fn seal_payload(&mut self, payload: &[u8]) -> Result<(), Error> {
        let start = self.tx.buf.len();
        self.tx
            .buf
            .extend_from_slice(&[0; ssh_wire::packet::HEADER_LEN]);
        match &mut self.tx.comp {
            Some(c) => c
                .compress(payload, &mut self.tx.buf)
                .map_err(|e| Error::Protocol {
                    reason: ssh_wire::messages::transport::DisconnectReason::COMPRESSION_ERROR,
                    message: e.to_string(),
                })?,
            None => self.tx.buf.extend_from_slice(payload),
        }
        self.seal_at(start)
    }

    /// Encodes a message straight into the outgoing buffer (through the
    /// scratch buffer when compressing) and seals it.
    pub(super) fn seal_message<M: Encode + ?Sized>(&mut self, msg: &M) -> Result<(), Error> {
        if self.tx.comp.is_some() {
            let mut scratch = core::mem::take(&mut self.tx.scratch);
            scratch.clear();
            msg.encode(&mut scratch);
            let r = self.seal_payload(&scratch);
            self.tx.scratch = scratch;
            return r;
        }
        let start = self.tx.buf.len();
        self.tx
            .buf
            .extend_from_slice(&[0; ssh_wire::packet::HEADER_LEN]);
        msg.encode(&mut self.tx.buf);
        self.seal_at(start)
    }

    fn seal_at(&mut self, start: usize) -> Result<(), Error> {
        let seq = self.tx.seq;
        if let Err(e) = self
            .tx
            .key
            .seal(seq, &mut self.tx.buf, start, &mut *self.rng)
        {
            self.tx.buf.truncate(start);
            return Err(Error::Misuse(match e {
                crate::cipher::CryptoError::PacketTooLarge => "payload too large for one packet",
                _ => "packet could not be sealed",
            }));
        }
        self.tx.seq = next_seq(seq, self.strict_initial_kex())?;
        Ok(())
    }

    /// Starts a re-key of our own when the keys have carried enough, only
    /// after authentication (design.md; OpenSSH does the same). Before
    /// authentication nobody re-keys, so keys that carried the cipher's
    /// own limit end the connection instead (OpenSSH 10.3).
    pub(super) fn maybe_rekey(&mut self) -> Result<(), Error> {
        if self.kex.is_some() || self.session_id.is_none() {
            return Ok(());
        }
        if !self.authenticated {
            return self.check_preauth_volume();
        }
        let (tx_max, rx_max) = self.volume_limits(self.config.rekey.bytes);
        // A slightly higher limit inbound, so that both sides rarely start
        // at the same moment.
        let rx_max = rx_max.saturating_add(rx_max / 16);
        let by_volume = self.volume_reached(tx_max, rx_max);
        let by_time = self.now.is_some_and(|now| self.rekey_timer.due(now));
        if by_volume || by_time {
            self.start_kex()?;
        }
        Ok(())
    }

    /// The hard limits before authentication: the cipher's own volume and
    /// 2^31 packets each way, not `RekeyLimit`'s (OpenSSH's
    /// `ssh_packet_check_rekey_preauth`, which ends the connection).
    fn check_preauth_volume(&self) -> Result<(), Error> {
        let (tx_max, rx_max) = self.volume_limits(None);
        if self.volume_reached(tx_max, rx_max) {
            return Err(Error::protocol(
                "RekeyLimit exceeded before authentication completed",
            ));
        }
        Ok(())
    }

    /// True when either direction's keys carried `tx_max`/`rx_max` blocks,
    /// or 2^31 packets (RFC 4344 §3.1).
    fn volume_reached(&self, tx_max: u64, rx_max: u64) -> bool {
        let (tx, rx) = (self.tx.key.counters(), self.rx.key.counters());
        tx.blocks >= tx_max
            || rx.blocks >= rx_max
            || tx.packets >= crate::rekey::MAX_PACKETS
            || rx.packets >= crate::rekey::MAX_PACKETS
    }

    /// Each direction's volume limit in blocks: the cipher's own, lowered
    /// to `limit_bytes` when given.
    fn volume_limits(&self, limit_bytes: Option<u64>) -> (u64, u64) {
        let tx = crate::rekey::max_blocks(self.tx.key.cipher(), limit_bytes);
        let rx = crate::rekey::max_blocks(self.rx.key.cipher(), limit_bytes);
        #[cfg(test)]
        if let Some(hard) = self.hard_max_blocks {
            return (tx.min(hard), rx.min(hard));
        }
        (tx, rx)
    }
}

/// The next sequence number. It wraps (RFC 4253 §6.4), except during a
/// strict initial key exchange, where a wrap is fatal (OpenSSH `PROTOCOL`,
/// strict key exchange).
pub(super) fn next_seq(seq: u32, strict_initial: bool) -> Result<u32, Error> {
    match seq.checked_add(1) {
        Some(n) => Ok(n),
        None if strict_initial => Err(Error::protocol(
            "sequence number wrapped during the initial key exchange",
        )),
        None => Ok(0),
    }
}

/// A payload in two parts (a message's header and its data), encoded by
/// appending both.
pub(super) struct Parts<'a>(pub(super) &'a [u8], pub(super) &'a [u8]);

impl Encode for Parts<'_> {
    fn encoded_len(&self) -> usize {
        self.0.len() + self.1.len()
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.0);
        out.extend_from_slice(self.1);
    }
}
