//! When to re-key (RFC 4253 §9, OpenSSH's defaults).
//!
//! Each direction's keys count packets and cipher blocks since NEWKEYS
//! ([`crate::cipher::PacketCounters`]); the transport also remembers when
//! the last exchange finished. A limit in either direction, or the time
//! limit, asks for a new key exchange.

use core::time::Duration;
use std::time::Instant;

use crate::cipher::CipherAlg;

/// The volume after which a direction asks for a re-key, in cipher blocks:
/// the cipher's default ([`CipherAlg::rekey_blocks`], as OpenSSH computes
/// it), lowered to `limit_bytes` when one is configured (`RekeyLimit`).
pub fn max_blocks(cipher: CipherAlg, limit_bytes: Option<u64>) -> u64 {
    let default = cipher.rekey_blocks();
    let block = u64::try_from(cipher.block_size().max(1)).unwrap_or(u64::MAX);
    match limit_bytes {
        Some(bytes) => default.min((bytes / block).max(1)),
        None => default,
    }
}

/// OpenSSH re-keys after 2^31 packets in a direction, well before the
/// 32-bit sequence number wraps (RFC 4344 §3.1).
pub const MAX_PACKETS: u64 = 1 << 31;

/// The time part of the re-key policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RekeyTimer {
    /// `RekeyLimit`'s second value; off by default as in OpenSSH.
    pub interval: Option<Duration>,
    /// When the last key exchange finished.
    pub last_kex: Option<Instant>,
}

impl RekeyTimer {
    /// When the next re-key is due by time, if a limit is set.
    pub fn deadline(&self) -> Option<Instant> {
        Some(self.last_kex? + self.interval?)
    }

    /// True when `now` is at or past the deadline.
    pub fn due(&self, now: Instant) -> bool {
        self.deadline().is_some_and(|d| now >= d)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn openssh_default_volumes() {
        // 16-byte blocks: 2^32 blocks (64 GiB); chacha20-poly1305 (8-byte
        // blocks in OpenSSH's accounting): 1 GiB.
        assert_eq!(max_blocks(CipherAlg::Aes128Ctr, None), 1 << 32);
        assert_eq!(max_blocks(CipherAlg::ChaCha20Poly1305, None) * 8, 1 << 30);
        // RekeyLimit 1M with AES: 65536 blocks.
        assert_eq!(max_blocks(CipherAlg::Aes256Gcm, Some(1 << 20)), 1 << 16);
        // A tiny limit still allows one block.
        assert_eq!(max_blocks(CipherAlg::Aes128Ctr, Some(1)), 1);
    }

    #[test]
    fn timer() {
        let t0 = Instant::now();
        let mut timer = RekeyTimer::default();
        assert_eq!(timer.deadline(), None);
        timer.last_kex = Some(t0);
        assert!(
            !timer.due(t0 + Duration::from_secs(100_000)),
            "off by default"
        );
        timer.interval = Some(Duration::from_secs(60));
        assert!(!timer.due(t0 + Duration::from_secs(59)));
        assert!(timer.due(t0 + Duration::from_secs(60)));
    }
}
