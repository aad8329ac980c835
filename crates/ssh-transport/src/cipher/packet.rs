//! Sealing and opening binary packets in place (RFC 4253 §6).

use core::fmt;
use core::ops::Range;

use rand_core::CryptoRng;
use zeroize::{Zeroize, Zeroizing};

use super::chacha::ChaChaPoly;
use super::ctr::AesCtr;
use super::gcm::AesGcm;
use super::mac::{MAX_MAC_LEN, MacKey};
use super::state::KeyState;
use super::{
    CipherAlg, CryptoError, HEADER_LEN, MAX_PACKET_LEN, MIN_PACKET_LIMIT, MIN_PACKET_SIZE,
    MIN_PADDING, MacAlg, PacketCounters,
};

/// The keyed cipher of one direction.
///
/// Each cipher's state is boxed: the enum would be as large as the
/// largest (AES-256 key schedules, about a KiB per direction), and a
/// connection holds two for its life. One allocation per key exchange.
enum Engine {
    /// `none`: bytes pass through.
    Plain,
    Ctr(Box<AesCtr>),
    Gcm(Box<AesGcm>),
    ChaCha(Box<ChaChaPoly>),
}

/// Which of the three packet layouts applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// Whole packet encrypted, MAC over the plaintext.
    Classic,
    /// Length in clear, MAC over the ciphertext.
    Etm,
    /// AEAD tag, no MAC.
    Aead,
}

/// The state both directions share: algorithms, keys, layout.
struct Keys {
    cipher: CipherAlg,
    mac_alg: MacAlg,
    engine: Engine,
    /// Boxed as the engine's state (see [`Engine`]).
    mac: Option<Box<MacKey>>,
    layout: Layout,
    /// The key material the engine and MAC were made from, kept for
    /// [`KeyState`] (a connection handed to another process).
    enc_key: Zeroizing<Vec<u8>>,
    iv: Zeroizing<Vec<u8>>,
    mac_key: Zeroizing<Vec<u8>>,
}

impl Keys {
    fn new(
        cipher: CipherAlg,
        mac_alg: MacAlg,
        enc_key: &[u8],
        iv: &[u8],
        mac_key: &[u8],
    ) -> Result<Self, CryptoError> {
        if enc_key.len() != cipher.key_len() {
            return Err(CryptoError::KeyLength {
                expected: cipher.key_len(),
                got: enc_key.len(),
            });
        }
        if iv.len() != cipher.iv_len() {
            return Err(CryptoError::IvLength {
                expected: cipher.iv_len(),
                got: iv.len(),
            });
        }
        // An AEAD cipher ignores the negotiated MAC (OpenSSH `PROTOCOL` §1.6).
        let mac_alg = if cipher.is_aead() {
            MacAlg::None
        } else {
            mac_alg
        };
        if !cipher.is_aead() && cipher != CipherAlg::None && mac_alg == MacAlg::None {
            return Err(CryptoError::UnsupportedCombination);
        }
        let mac = if mac_alg == MacAlg::None {
            None
        } else {
            MacKey::new(mac_alg, mac_key)?.map(Box::new)
        };
        let engine = match cipher {
            CipherAlg::None => Engine::Plain,
            CipherAlg::ChaCha20Poly1305 => Engine::ChaCha(Box::new(ChaChaPoly::new(enc_key)?)),
            CipherAlg::Aes128Gcm | CipherAlg::Aes256Gcm => {
                Engine::Gcm(Box::new(AesGcm::new(cipher, enc_key, iv)?))
            }
            CipherAlg::Aes128Ctr | CipherAlg::Aes192Ctr | CipherAlg::Aes256Ctr => {
                Engine::Ctr(Box::new(AesCtr::new(cipher, enc_key, iv)?))
            }
        };
        let layout = if cipher.is_aead() {
            Layout::Aead
        } else if mac_alg.is_etm() {
            Layout::Etm
        } else {
            Layout::Classic
        };
        Ok(Keys {
            cipher,
            mac_alg,
            engine,
            mac,
            layout,
            enc_key: Zeroizing::new(enc_key.to_vec()),
            iv: Zeroizing::new(iv.to_vec()),
            mac_key: Zeroizing::new(if mac_alg == MacAlg::None {
                Vec::new()
            } else {
                mac_key.to_vec()
            }),
        })
    }

    /// The keys as data: for AES-GCM the IV carries the next invocation
    /// counter, for AES-CTR the keystream position is given besides.
    fn export(&self, counters: PacketCounters) -> Result<KeyState, CryptoError> {
        let (iv, ctr_position) = match &self.engine {
            Engine::Gcm(g) => (g.current_iv().to_vec(), 0),
            Engine::Ctr(c) => (self.iv.to_vec(), c.position()?),
            Engine::Plain | Engine::ChaCha(_) => (self.iv.to_vec(), 0),
        };
        Ok(KeyState {
            cipher: self.cipher,
            mac: self.mac_alg,
            enc_key: self.enc_key.clone(),
            iv: Zeroizing::new(iv),
            mac_key: self.mac_key.clone(),
            ctr_position,
            counters,
            pending: None,
        })
    }

    fn import(state: &KeyState) -> Result<Self, CryptoError> {
        if state.cipher == CipherAlg::None && state.mac == MacAlg::None {
            return Ok(Self::none());
        }
        let mut keys = Self::new(
            state.cipher,
            state.mac,
            &state.enc_key,
            &state.iv,
            &state.mac_key,
        )?;
        match &mut keys.engine {
            Engine::Ctr(c) => c.seek(state.ctr_position)?,
            _ if state.ctr_position != 0 => return Err(CryptoError::UnsupportedCombination),
            _ => {}
        }
        Ok(keys)
    }

    fn none() -> Self {
        Keys {
            cipher: CipherAlg::None,
            mac_alg: MacAlg::None,
            engine: Engine::Plain,
            mac: None,
            layout: Layout::Classic,
            enc_key: Zeroizing::new(Vec::new()),
            iv: Zeroizing::new(Vec::new()),
            mac_key: Zeroizing::new(Vec::new()),
        }
    }

    /// Bytes after the packet: MAC or AEAD tag.
    fn tag_len(&self) -> usize {
        self.cipher.tag_len() + self.mac.as_deref().map_or(0, MacKey::len)
    }

    /// Runs a non-AEAD cipher over `data` (encrypting or decrypting).
    fn crypt(&mut self, data: &mut [u8]) -> Result<(), CryptoError> {
        match &mut self.engine {
            Engine::Plain => Ok(()),
            Engine::Ctr(c) => c.apply(data),
            // AEAD engines never take this path (their layout is `Aead`).
            Engine::Gcm(_) | Engine::ChaCha(_) => Err(CryptoError::UnsupportedCombination),
        }
    }

    /// Bytes `packet_length` must be aligned to, and how many bytes of the
    /// packet the alignment counts from (4 when the length is outside it).
    fn alignment(&self) -> (usize, usize) {
        let bs = self.cipher.block_size();
        match self.layout {
            Layout::Classic => (bs, 0),
            Layout::Etm | Layout::Aead => (bs, 4),
        }
    }
}

fn write_debug(f: &mut fmt::Formatter<'_>, name: &str, k: &Keys) -> fmt::Result {
    f.debug_struct(name)
        .field("cipher", &k.cipher.name())
        .field("mac", &k.mac_alg.name())
        .finish_non_exhaustive()
}

/// One direction's keys for sending: seals packets in place.
pub struct SealingKey {
    keys: Keys,
    counters: PacketCounters,
}

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_debug(f, "SealingKey", &self.keys)
    }
}

impl SealingKey {
    /// Keys for the negotiated algorithms, from the key material RFC 4253
    /// §7.2 derives: `enc_key` of [`CipherAlg::key_len`], `iv` of
    /// [`CipherAlg::iv_len`], `mac_key` of [`MacAlg::key_len`]. For an AEAD
    /// cipher `mac` and `mac_key` are ignored.
    ///
    /// # Errors
    /// A key, IV or MAC key of the wrong length, or a non-AEAD cipher
    /// without a MAC.
    pub fn new(
        cipher: CipherAlg,
        mac: MacAlg,
        enc_key: &[u8],
        iv: &[u8],
        mac_key: &[u8],
    ) -> Result<Self, CryptoError> {
        Ok(SealingKey {
            keys: Keys::new(cipher, mac, enc_key, iv, mac_key)?,
            counters: PacketCounters::default(),
        })
    }

    /// The `none` cipher without MAC, for the packets before the first NEWKEYS.
    pub fn none() -> Self {
        SealingKey {
            keys: Keys::none(),
            counters: PacketCounters::default(),
        }
    }

    /// The cipher in use.
    pub fn cipher(&self) -> CipherAlg {
        self.keys.cipher
    }

    /// The MAC in use ([`MacAlg::None`] for an AEAD cipher).
    pub fn mac(&self) -> MacAlg {
        self.keys.mac_alg
    }

    /// Bytes of MAC or tag after each packet.
    pub fn tag_len(&self) -> usize {
        self.keys.tag_len()
    }

    /// What has been sealed since this key was made.
    pub fn counters(&self) -> PacketCounters {
        self.counters
    }

    /// This key as data, to go on sealing in another process
    /// ([`SealingKey::from_state`]).
    pub fn export_state(&self) -> Result<KeyState, CryptoError> {
        self.keys.export(self.counters)
    }

    /// Goes on from [`SealingKey::export_state`]: the next packet sealed
    /// is the one the exported key would have sealed.
    pub fn from_state(state: &KeyState) -> Result<Self, CryptoError> {
        if state.pending.is_some() {
            return Err(CryptoError::UnsupportedCombination);
        }
        Ok(SealingKey {
            keys: Keys::import(state)?,
            counters: state.counters,
        })
    }

    /// The padding a payload of `payload_len` bytes gets: at least 4 bytes,
    /// aligning to the block size (the whole packet for classic ciphers, all
    /// but the length field for EtM and AEAD), the packet at least 16 bytes.
    pub fn padding_len(&self, payload_len: usize) -> usize {
        let (bs, skip) = self.keys.alignment();
        let covered = (HEADER_LEN - skip).saturating_add(payload_len);
        let mut pad = bs - covered % bs;
        if pad < MIN_PADDING {
            pad += bs;
        }
        while HEADER_LEN.saturating_add(payload_len).saturating_add(pad) < MIN_PACKET_SIZE {
            pad += bs;
        }
        pad
    }

    /// Bytes a payload of `payload_len` bytes occupies on the wire once sealed.
    pub fn sealed_len(&self, payload_len: usize) -> usize {
        HEADER_LEN
            .saturating_add(payload_len)
            .saturating_add(self.padding_len(payload_len))
            .saturating_add(self.tag_len())
    }

    /// Seals the packet that starts at `buf[start]`: the caller has reserved
    /// [`HEADER_LEN`] bytes at `buf[start..start + 5]` (any content) and
    /// written the payload after them, up to the end of `buf`. This writes
    /// the header, appends random padding, encrypts in place and appends the
    /// MAC or tag. Bytes before `start` are left alone, so several packets
    /// can be sealed one after another into one buffer.
    ///
    /// Returns the sealed packet's length on the wire (`buf.len() - start`).
    ///
    /// # Errors
    /// [`CryptoError::BufferLength`] if `buf` is shorter than
    /// `start + HEADER_LEN`, [`CryptoError::PacketTooLarge`] if the packet
    /// would exceed [`MAX_PACKET_LEN`]; the buffer is unchanged then.
    pub fn seal<R: CryptoRng + ?Sized>(
        &mut self,
        seq: u32,
        buf: &mut Vec<u8>,
        start: usize,
        rng: &mut R,
    ) -> Result<usize, CryptoError> {
        let payload_len = buf
            .len()
            .checked_sub(start)
            .and_then(|n| n.checked_sub(HEADER_LEN))
            .ok_or(CryptoError::BufferLength)?;
        if payload_len > MAX_PACKET_LEN {
            return Err(CryptoError::PacketTooLarge);
        }
        let pad = self.padding_len(payload_len);
        let packet_len = 1 + payload_len + pad;
        if packet_len > MAX_PACKET_LEN {
            return Err(CryptoError::PacketTooLarge);
        }
        let len_field = u32::try_from(packet_len).map_err(|_| CryptoError::PacketTooLarge)?;
        let pad_byte = u8::try_from(pad).map_err(|_| CryptoError::PacketTooLarge)?;

        let pad_start = buf.len();
        buf.resize(pad_start + pad, 0);
        let packet = buf.get_mut(start..).ok_or(CryptoError::BufferLength)?;
        let (header, rest) = packet
            .split_first_chunk_mut::<HEADER_LEN>()
            .ok_or(CryptoError::BufferLength)?;
        let (len_bytes, pad_len_byte) = header.split_at_mut(4);
        len_bytes.copy_from_slice(&len_field.to_be_bytes());
        pad_len_byte.fill(pad_byte);
        if let Some(padding) = rest.get_mut(payload_len..) {
            rng.fill_bytes(padding);
        }

        let mut tag = [0u8; MAX_MAC_LEN];
        let tag_len = self.protect(seq, packet, &mut tag)?;
        buf.extend_from_slice(tag.get(..tag_len).unwrap_or_default());
        tag.zeroize();

        let wire = 4 + packet_len + tag_len;
        self.counters
            .add(packet_len, wire, self.keys.cipher.block_size());
        Ok(wire)
    }

    /// Encrypts the complete plaintext `packet` in place and writes its MAC
    /// or tag into `tag`, returning the tag's length.
    fn protect(
        &mut self,
        seq: u32,
        packet: &mut [u8],
        tag: &mut [u8; MAX_MAC_LEN],
    ) -> Result<usize, CryptoError> {
        let keys = &mut self.keys;
        match keys.layout {
            Layout::Classic => {
                let n = match &keys.mac {
                    Some(m) => m.sign(seq, packet, tag),
                    None => 0,
                };
                keys.crypt(packet)?;
                Ok(n)
            }
            Layout::Etm => {
                keys.crypt(packet.get_mut(4..).unwrap_or_default())?;
                Ok(match &keys.mac {
                    Some(m) => m.sign(seq, packet, tag),
                    None => 0,
                })
            }
            Layout::Aead => {
                let t = match &mut keys.engine {
                    Engine::Gcm(g) => {
                        let (aad, body) = packet
                            .split_at_mut_checked(4)
                            .ok_or(CryptoError::BufferLength)?;
                        g.seal(aad, body)?
                    }
                    Engine::ChaCha(c) => c.seal(seq, packet)?,
                    Engine::Plain | Engine::Ctr(_) => {
                        return Err(CryptoError::UnsupportedCombination);
                    }
                };
                if let Some(dst) = tag.get_mut(..t.len()) {
                    dst.copy_from_slice(&t);
                }
                Ok(t.len())
            }
        }
    }
}

/// What `packet_length` learnt about the packet `open` is to finish.
struct Pending {
    seq: u32,
    /// The `packet_length` field.
    len: usize,
    /// Classic layout: the decrypted first block, so it is decrypted once.
    first: [u8; 16],
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.first.zeroize();
    }
}

/// One direction's keys for receiving: learns packet lengths and opens
/// packets in place.
///
/// Contract: for each packet, call [`OpeningKey::packet_length`] with (at
/// least) the first [`OpeningKey::first_len`] bytes received; it returns how
/// many bytes the whole packet occupies. When that many bytes have arrived,
/// call [`OpeningKey::open`] with exactly those bytes and the same sequence
/// number. `packet_length` never modifies its input; for a classic cipher it
/// decrypts a copy of the first block and keeps it, and `open` writes that
/// plaintext back and decrypts only the rest, so no byte is decrypted twice.
/// Calling `packet_length` again for the same sequence number returns the
/// same answer without touching the cipher. `open` alone (without a
/// `packet_length` call before it) also works when the whole packet is at
/// hand.
pub struct OpeningKey {
    keys: Keys,
    max_packet_len: usize,
    pending: Option<Pending>,
    failed: bool,
    counters: PacketCounters,
}

impl fmt::Debug for OpeningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_debug(f, "OpeningKey", &self.keys)
    }
}

impl OpeningKey {
    /// Keys for the negotiated algorithms, as [`SealingKey::new`]. The
    /// packet length limit is [`MAX_PACKET_LEN`]; see
    /// [`OpeningKey::with_max_packet_len`].
    ///
    /// # Errors
    /// A key, IV or MAC key of the wrong length, or a non-AEAD cipher
    /// without a MAC.
    pub fn new(
        cipher: CipherAlg,
        mac: MacAlg,
        enc_key: &[u8],
        iv: &[u8],
        mac_key: &[u8],
    ) -> Result<Self, CryptoError> {
        Ok(Self::from_keys(Keys::new(
            cipher, mac, enc_key, iv, mac_key,
        )?))
    }

    /// The `none` cipher without MAC, for the packets before the first NEWKEYS.
    pub fn none() -> Self {
        Self::from_keys(Keys::none())
    }

    fn from_keys(keys: Keys) -> Self {
        OpeningKey {
            keys,
            max_packet_len: MAX_PACKET_LEN,
            pending: None,
            failed: false,
            counters: PacketCounters::default(),
        }
    }

    /// Sets the largest `packet_length` accepted, clamped to
    /// [`MIN_PACKET_LIMIT`]..=[`MAX_PACKET_LEN`].
    #[must_use]
    pub fn with_max_packet_len(mut self, max: usize) -> Self {
        self.max_packet_len = max.clamp(MIN_PACKET_LIMIT, MAX_PACKET_LEN);
        self
    }

    /// The cipher in use.
    pub fn cipher(&self) -> CipherAlg {
        self.keys.cipher
    }

    /// The MAC in use ([`MacAlg::None`] for an AEAD cipher).
    pub fn mac(&self) -> MacAlg {
        self.keys.mac_alg
    }

    /// Bytes of MAC or tag after each packet.
    pub fn tag_len(&self) -> usize {
        self.keys.tag_len()
    }

    /// What has been opened since this key was made.
    pub fn counters(&self) -> PacketCounters {
        self.counters
    }

    /// This key as data, to go on opening in another process
    /// ([`OpeningKey::from_state`]), a packet whose length was read
    /// included. A failed key has no state to give.
    pub fn export_state(&self) -> Result<KeyState, CryptoError> {
        if self.failed {
            return Err(CryptoError::Failed);
        }
        let mut state = self.keys.export(self.counters)?;
        state.pending = self
            .pending
            .as_ref()
            .map(|p| (p.seq, u32::try_from(p.len).unwrap_or(u32::MAX), p.first));
        Ok(state)
    }

    /// Goes on from [`OpeningKey::export_state`], with the packet length
    /// limit [`MAX_PACKET_LEN`] (see [`OpeningKey::with_max_packet_len`]).
    pub fn from_state(state: &KeyState) -> Result<Self, CryptoError> {
        let mut key = Self::from_keys(Keys::import(state)?);
        key.counters = state.counters;
        key.pending = state.pending.map(|(seq, len, first)| Pending {
            seq,
            len: usize::try_from(len).unwrap_or(usize::MAX),
            first,
        });
        Ok(key)
    }

    /// Bytes [`OpeningKey::packet_length`] needs: the first cipher block for
    /// a classic cipher, the 4-byte length otherwise.
    pub fn first_len(&self) -> usize {
        match self.keys.layout {
            Layout::Classic => self.keys.cipher.block_size(),
            Layout::Etm | Layout::Aead => 4,
        }
    }

    /// Whether an earlier error made this key unusable.
    pub fn has_failed(&self) -> bool {
        self.failed
    }

    fn fail<T>(&mut self, e: CryptoError) -> Result<T, CryptoError> {
        self.failed = true;
        self.pending = None;
        Err(e)
    }

    /// Learns the length of the packet with sequence number `seq` from its
    /// first [`OpeningKey::first_len`] bytes (more are ignored) and returns
    /// the bytes the whole packet occupies on the wire, MAC or tag included.
    /// The length is checked (at least 5, at most the limit, aligned to the
    /// block size) before the caller has to buffer anything.
    ///
    /// # Errors
    /// [`CryptoError::BufferLength`] if `first` is too short (the key stays
    /// usable: call again with more bytes); [`CryptoError::BadPacketLength`]
    /// (the key fails).
    pub fn packet_length(&mut self, seq: u32, first: &[u8]) -> Result<usize, CryptoError> {
        if self.failed {
            return Err(CryptoError::Failed);
        }
        if let Some(p) = &self.pending {
            if p.seq != seq {
                return self.fail(CryptoError::SequenceMismatch);
            }
            return Ok(4 + p.len + self.keys.tag_len());
        }
        let need = self.first_len();
        let Some(head) = first.get(..need) else {
            return Err(CryptoError::BufferLength);
        };
        let mut pending = Pending {
            seq,
            len: 0,
            first: [0; 16],
        };
        let mut len_bytes = [0u8; 4];
        let decoded = match self.keys.layout {
            Layout::Classic => {
                let block = pending.first.get_mut(..need).unwrap_or_default();
                block.copy_from_slice(head);
                self.keys.crypt(block)
            }
            Layout::Etm | Layout::Aead => {
                len_bytes.copy_from_slice(head);
                match &self.keys.engine {
                    Engine::ChaCha(c) => c.crypt_length(seq, &mut len_bytes),
                    Engine::Plain | Engine::Ctr(_) | Engine::Gcm(_) => Ok(()),
                }
            }
        };
        if let Err(e) = decoded {
            return self.fail(e);
        }
        if self.keys.layout == Layout::Classic
            && let Some(b) = pending.first.first_chunk::<4>()
        {
            len_bytes = *b;
        }
        let len = usize::try_from(u32::from_be_bytes(len_bytes)).unwrap_or(usize::MAX);
        let (bs, skip) = self.keys.alignment();
        // RFC 4253 §6: padding is at least 4 bytes, and the length (plus the
        // length field for classic ciphers) is a multiple of the block size.
        if len < 1 + MIN_PADDING || len > self.max_packet_len || (len + 4 - skip) % bs != 0 {
            return self.fail(CryptoError::BadPacketLength);
        }
        pending.len = len;
        self.pending = Some(pending);
        Ok(4 + len + self.keys.tag_len())
    }

    /// Verifies and decrypts in place the whole packet `packet` (exactly the
    /// length [`OpeningKey::packet_length`] returned) with sequence number
    /// `seq`, and returns the payload's range within it.
    ///
    /// # Errors
    /// [`CryptoError::MacMismatch`], [`CryptoError::BadPadding`],
    /// [`CryptoError::BadPacketLength`], or API misuse (wrong buffer length,
    /// another sequence number than `packet_length`'s). Every error makes
    /// the key fail.
    pub fn open(&mut self, seq: u32, packet: &mut [u8]) -> Result<Range<usize>, CryptoError> {
        if self.failed {
            return Err(CryptoError::Failed);
        }
        if self.pending.is_none() {
            match self.packet_length(seq, packet) {
                Ok(_) => {}
                Err(CryptoError::BufferLength) => return self.fail(CryptoError::BufferLength),
                Err(e) => return Err(e),
            }
        }
        let Some(p) = self.pending.take() else {
            return self.fail(CryptoError::BufferLength);
        };
        if p.seq != seq {
            return self.fail(CryptoError::SequenceMismatch);
        }
        match self.unprotect(&p, packet) {
            Ok(range) => {
                let wire = packet.len();
                self.counters
                    .add(p.len, wire, self.keys.cipher.block_size());
                Ok(range)
            }
            Err(e) => self.fail(e),
        }
    }

    fn unprotect(&mut self, p: &Pending, packet: &mut [u8]) -> Result<Range<usize>, CryptoError> {
        let tag_len = self.keys.tag_len();
        if packet.len() != 4 + p.len + tag_len {
            return Err(CryptoError::BufferLength);
        }
        let (body, tag) = packet
            .split_at_mut_checked(4 + p.len)
            .ok_or(CryptoError::BufferLength)?;
        let seq = p.seq;
        let keys = &mut self.keys;
        match keys.layout {
            Layout::Classic => {
                let bs = keys.cipher.block_size();
                let (head, rest) = body
                    .split_at_mut_checked(bs)
                    .ok_or(CryptoError::BufferLength)?;
                head.copy_from_slice(p.first.get(..bs).unwrap_or_default());
                keys.crypt(rest)?;
                if let Some(m) = &keys.mac {
                    m.verify(seq, body, tag)?;
                }
            }
            Layout::Etm => {
                if let Some(m) = &keys.mac {
                    m.verify(seq, body, tag)?;
                }
                keys.crypt(body.get_mut(4..).unwrap_or_default())?;
            }
            Layout::Aead => match &mut keys.engine {
                Engine::Gcm(g) => {
                    let (aad, rest) = body
                        .split_at_mut_checked(4)
                        .ok_or(CryptoError::BufferLength)?;
                    g.open(aad, rest, tag)?;
                }
                Engine::ChaCha(c) => c.open(seq, body, tag)?,
                Engine::Plain | Engine::Ctr(_) => return Err(CryptoError::UnsupportedCombination),
            },
        }
        // RFC 4253 §6: "random padding ... at least four bytes", and the
        // payload is packet_length - padding_length - 1 bytes.
        let pad = usize::from(*body.get(4).ok_or(CryptoError::BadPacketLength)?);
        if pad < MIN_PADDING || pad >= p.len {
            return Err(CryptoError::BadPadding);
        }
        Ok(HEADER_LEN..4 + p.len - pad)
    }
}
