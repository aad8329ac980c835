//! Packet protection: the binary packet's encryption and integrity
//! (RFC 4253 §6, RFC 4344, RFC 5647, RFC 6668, OpenSSH `PROTOCOL` §1.5-1.6
//! and `PROTOCOL.chacha20poly1305`).
//!
//! Algorithms are data ([`CipherAlg`], [`MacAlg`]). A [`SealingKey`] and an
//! [`OpeningKey`] hold one direction's keys from one NEWKEYS until the next;
//! they seal and open packets in place in buffers the caller reuses, so a
//! packet costs no allocation.
//!
//! Three packet layouts exist, chosen by the algorithms:
//! - *classic* (non-AEAD cipher, non-EtM MAC): the whole packet, length
//!   included, is encrypted; the MAC is over the sequence number and the
//!   plaintext packet.
//! - *encrypt-then-MAC* (an `-etm@openssh.com` MAC): the 4-byte length is in
//!   clear, the rest encrypted; the MAC is over the sequence number, the
//!   length and the ciphertext.
//! - *AEAD* (AES-GCM, chacha20-poly1305): no MAC; the tag covers the length
//!   (in clear for GCM, encrypted with its own key for chacha20-poly1305).
//!
//! A key that failed once (bad MAC, bad length, ...) stays failed: the
//! transport must disconnect, and any further use returns
//! [`CryptoError::Failed`].

mod alg;
mod chacha;
mod ctr;
mod gcm;
mod mac;
mod packet;
mod state;

pub use alg::{CipherAlg, MacAlg};
pub use packet::{OpeningKey, SealingKey};
pub use state::KeyState;

use core::fmt;

// The packet layout's limits are ssh-wire's (one definition for the
// plaintext layout and for the sealed one).
pub use ssh_wire::packet::{
    HEADER_LEN, MAX_PACKET_LEN, MIN_PACKET_SIZE, MIN_PADDING,
    MIN_SUPPORTED_PACKET_LEN as MIN_PACKET_LIMIT,
};

/// Why sealing or opening a packet failed. None of these are recoverable for
/// the session: a key that returned an error stays failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CryptoError {
    /// The MAC or AEAD tag did not verify (RFC 4253 disconnect reason
    /// `SSH_DISCONNECT_MAC_ERROR`).
    MacMismatch,
    /// The packet length is too small, too large, or not a multiple of the
    /// block size.
    BadPacketLength,
    /// `padding_length` is below 4 or leaves no room for the payload.
    BadPadding,
    /// The encryption key has the wrong length.
    KeyLength {
        /// Bytes the algorithm takes.
        expected: usize,
        /// Bytes given.
        got: usize,
    },
    /// The IV has the wrong length.
    IvLength {
        /// Bytes the algorithm takes.
        expected: usize,
        /// Bytes given.
        got: usize,
    },
    /// The MAC key has the wrong length.
    MacKeyLength {
        /// Bytes the algorithm takes.
        expected: usize,
        /// Bytes given.
        got: usize,
    },
    /// A non-AEAD cipher was given no MAC.
    UnsupportedCombination,
    /// The payload to seal would exceed [`MAX_PACKET_LEN`].
    PacketTooLarge,
    /// API misuse: the buffer is shorter than the header or the first block,
    /// or the packet handed to `open` is not the length `packet_length` said.
    BufferLength,
    /// API misuse: `open` was called with another sequence number than the
    /// `packet_length` call before it.
    SequenceMismatch,
    /// The cipher's counter space is used up (a re-key is long overdue).
    KeystreamExhausted,
    /// The key failed earlier and may not be used again.
    Failed,
}

impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CryptoError::MacMismatch => f.write_str("message authentication code incorrect"),
            CryptoError::BadPacketLength => f.write_str("bad packet length"),
            CryptoError::BadPadding => f.write_str("bad padding length"),
            CryptoError::KeyLength { expected, got } => {
                write!(f, "cipher key is {got} bytes, expected {expected}")
            }
            CryptoError::IvLength { expected, got } => {
                write!(f, "cipher IV is {got} bytes, expected {expected}")
            }
            CryptoError::MacKeyLength { expected, got } => {
                write!(f, "MAC key is {got} bytes, expected {expected}")
            }
            CryptoError::UnsupportedCombination => f.write_str("a non-AEAD cipher needs a MAC"),
            CryptoError::PacketTooLarge => f.write_str("payload too large for one packet"),
            CryptoError::BufferLength => f.write_str("packet buffer of the wrong length"),
            CryptoError::SequenceMismatch => {
                f.write_str("open called with another sequence number than packet_length")
            }
            CryptoError::KeystreamExhausted => f.write_str("cipher keystream exhausted"),
            CryptoError::Failed => f.write_str("key unusable after an earlier failure"),
        }
    }
}

impl std::error::Error for CryptoError {}

/// What one direction's key has processed since NEWKEYS, for re-key
/// decisions (compare `blocks` with [`CipherAlg::rekey_blocks`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketCounters {
    /// Packets sealed or opened.
    pub packets: u64,
    /// Cipher blocks: each packet's length field, padding length, payload
    /// and padding, divided by the block size (as OpenSSH counts them).
    pub blocks: u64,
    /// Bytes on the wire, MAC or tag included.
    pub bytes: u64,
}

impl PacketCounters {
    fn add(&mut self, packet_len: usize, wire_len: usize, block_size: usize) {
        let to64 = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        self.packets = self.packets.saturating_add(1);
        self.blocks = self
            .blocks
            .saturating_add(to64(packet_len.saturating_add(4) / block_size.max(1)));
        self.bytes = self.bytes.saturating_add(to64(wire_len));
    }
}

#[cfg(test)]
mod tests {
    use zeroize::ZeroizeOnDrop;

    fn zeroized_on_drop<T: ZeroizeOnDrop>() {}

    /// The keyed primitives behind each engine wipe their key schedules on
    /// drop (the crates' `zeroize` features); HMAC's keyed states are
    /// SHA-1/SHA-2 cores, which wipe themselves with the same features
    /// (`Poly1305` wipes itself in its `Drop` without the marker trait).
    /// The chacha20-poly1305 keys and GCM IV held here are wiped by `Drop`
    /// impls in `chacha.rs` and `gcm.rs`.
    #[test]
    fn primitives_zeroize_on_drop() {
        zeroized_on_drop::<ctr::Ctr128BE<aes::Aes128>>();
        zeroized_on_drop::<ctr::Ctr128BE<aes::Aes192>>();
        zeroized_on_drop::<ctr::Ctr128BE<aes::Aes256>>();
        zeroized_on_drop::<aes_gcm::Aes128Gcm>();
        zeroized_on_drop::<aes_gcm::Aes256Gcm>();
        zeroized_on_drop::<chacha20::ChaCha20Legacy>();
        zeroized_on_drop::<sha1::Sha1>();
        zeroized_on_drop::<sha2::Sha256>();
        zeroized_on_drop::<sha2::Sha512>();
    }
}
