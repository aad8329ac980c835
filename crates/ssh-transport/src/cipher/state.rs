//! One direction's keys as data: what a connection handed to another
//! process (privilege separation) needs to go on sealing or opening
//! exactly where this one stopped.

use core::fmt;

use ssh_wire::codec::{Reader, put_bool, put_string, put_u32, put_u64};
use zeroize::Zeroizing;

use super::{CipherAlg, CryptoError, MacAlg, PacketCounters};

/// One direction's algorithms, key material and position. Secret: its
/// buffers are zeroized on drop, and `Debug` shows only the names.
pub struct KeyState {
    pub(crate) cipher: CipherAlg,
    pub(crate) mac: MacAlg,
    pub(crate) enc_key: Zeroizing<Vec<u8>>,
    /// AES-GCM: the fixed field and the next invocation counter; AES-CTR:
    /// the IV the key was made with.
    pub(crate) iv: Zeroizing<Vec<u8>>,
    pub(crate) mac_key: Zeroizing<Vec<u8>>,
    /// AES-CTR: keystream bytes used.
    pub(crate) ctr_position: u64,
    pub(crate) counters: PacketCounters,
    /// Opening: a packet whose length was read (sequence number, length,
    /// the decrypted first block of a classic cipher).
    pub(crate) pending: Option<(u32, u32, [u8; 16])>,
}

impl fmt::Debug for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyState")
            .field("cipher", &self.cipher.name())
            .field("mac", &self.mac.name())
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl KeyState {
    /// The cipher.
    pub fn cipher(&self) -> CipherAlg {
        self.cipher
    }

    /// Appends the byte form.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_string(out, self.cipher.name().as_bytes());
        put_string(out, self.mac.name().as_bytes());
        put_string(out, &self.enc_key);
        put_string(out, &self.iv);
        put_string(out, &self.mac_key);
        put_u64(out, self.ctr_position);
        put_u64(out, self.counters.packets);
        put_u64(out, self.counters.blocks);
        put_u64(out, self.counters.bytes);
        match &self.pending {
            None => put_bool(out, false),
            Some((seq, len, first)) => {
                put_bool(out, true);
                put_u32(out, *seq);
                put_u32(out, *len);
                out.extend_from_slice(first);
            }
        }
    }

    /// Reads [`KeyState::encode`]'s form. Lengths are checked when a key
    /// is made from it.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self, CryptoError> {
        let bad = |_| CryptoError::UnsupportedCombination;
        let cipher = CipherAlg::from_name(r.ascii("cipher").map_err(bad)?)
            .ok_or(CryptoError::UnsupportedCombination)?;
        let mac = MacAlg::from_name(r.ascii("mac").map_err(bad)?)
            .ok_or(CryptoError::UnsupportedCombination)?;
        let mut key = || -> Result<Zeroizing<Vec<u8>>, CryptoError> {
            Ok(Zeroizing::new(
                r.string_max(64, "key").map_err(bad)?.to_vec(),
            ))
        };
        let (enc_key, iv, mac_key) = (key()?, key()?, key()?);
        let ctr_position = r.u64("position").map_err(bad)?;
        let counters = PacketCounters {
            packets: r.u64("packets").map_err(bad)?,
            blocks: r.u64("blocks").map_err(bad)?,
            bytes: r.u64("bytes").map_err(bad)?,
        };
        let pending = if r.bool("pending").map_err(bad)? {
            let seq = r.u32("seq").map_err(bad)?;
            let len = r.u32("len").map_err(bad)?;
            let first = r.array::<16>("first block").map_err(bad)?;
            Some((seq, len, first))
        } else {
            None
        };
        Ok(Self {
            cipher,
            mac,
            enc_key,
            iv,
            mac_key,
            ctr_position,
            counters,
            pending,
        })
    }
}
