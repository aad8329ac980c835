//! When to re-key (RFC 4253 §9, OpenSSH's defaults).
//!
//! Each direction counts packets and cipher blocks since its last NEWKEYS;
//! the transport also remembers when the last exchange finished. A limit in
//! either direction, or the time limit, asks for a new key exchange.

use core::time::Duration;
use std::time::Instant;

/// The volume after which a direction asks for a re-key, in cipher blocks,
/// as OpenSSH computes it: `2^(2 * block)` blocks for ciphers with blocks
/// of 16 bytes or more, 1 GiB worth of blocks for smaller ones, lowered to
/// `limit_bytes` when one is configured (`RekeyLimit`).
pub fn max_blocks(block_size: usize, limit_bytes: Option<u64>) -> u64 {
    let block = u64::try_from(block_size.max(1)).unwrap_or(u64::MAX);
    let default = if block >= 16 {
        // 2^32 blocks for 16-byte blocks; larger blocks saturate.
        1u64.checked_shl(u32::try_from(block * 2).unwrap_or(u32::MAX))
            .unwrap_or(u64::MAX)
    } else {
        (1u64 << 30) / block
    };
    match limit_bytes {
        Some(bytes) => default.min((bytes / block).max(1)),
        None => default,
    }
}

/// OpenSSH re-keys after 2^31 packets in a direction, well before the
/// 32-bit sequence number wraps (RFC 4344 §3.1).
pub const MAX_PACKETS: u64 = 1 << 31;

/// The counters of one direction since its keys were last changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirectionCounter {
    /// Packets sealed or opened.
    pub packets: u64,
    /// Cipher blocks processed (bytes rounded up to the block size).
    pub blocks: u64,
    /// Bytes on the wire.
    pub bytes: u64,
    /// The limit in blocks for the current keys.
    pub max_blocks: u64,
}

impl DirectionCounter {
    /// A fresh counter for keys with this block size.
    pub fn new(block_size: usize, limit_bytes: Option<u64>) -> Self {
        Self {
            max_blocks: max_blocks(block_size, limit_bytes),
            ..Self::default()
        }
    }

    /// Counts one packet of `wire_len` bytes.
    pub fn count(&mut self, wire_len: usize, block_size: usize) {
        let len = u64::try_from(wire_len).unwrap_or(u64::MAX);
        let block = u64::try_from(block_size.max(1)).unwrap_or(1);
        self.packets = self.packets.saturating_add(1);
        self.bytes = self.bytes.saturating_add(len);
        self.blocks = self.blocks.saturating_add(len.div_ceil(block));
    }

    /// True when these keys have carried enough.
    pub fn exhausted(&self) -> bool {
        self.blocks >= self.max_blocks || self.packets >= MAX_PACKETS
    }
}

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
        // 16-byte blocks: 2^32 blocks (64 GiB); 8-byte blocks (chacha20's
        // nominal block in OpenSSH): 1 GiB.
        assert_eq!(max_blocks(16, None), 1 << 32);
        assert_eq!(max_blocks(8, None) * 8, 1 << 30);
        // RekeyLimit 1M with AES: 65536 blocks.
        assert_eq!(max_blocks(16, Some(1 << 20)), 1 << 16);
        // A tiny limit still allows one block.
        assert_eq!(max_blocks(16, Some(1)), 1);
    }

    #[test]
    fn counter_trips_at_the_limit() {
        let mut c = DirectionCounter::new(16, Some(1024));
        assert_eq!(c.max_blocks, 64);
        for _ in 0..3 {
            c.count(320, 16);
        }
        assert!(!c.exhausted());
        c.count(100, 16);
        assert_eq!(c.blocks, 3 * 20 + 7);
        assert!(c.exhausted());
        assert_eq!(c.packets, 4);
        assert_eq!(c.bytes, 1060);
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
