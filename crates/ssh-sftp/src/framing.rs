//! Framing: byte chunks from the channel in, whole packets out.

use ssh_wire::DecodeError;

use crate::numbers::MAX_PACKET_LEN;

/// Collects channel data and cuts it into packets at their uint32 length
/// prefixes. A length above the limit is an error before anything is
/// buffered for it; so the buffer never holds more than one packet plus
/// one chunk.
#[derive(Debug, Clone)]
pub struct PacketReader {
    buf: Vec<u8>,
    /// Where the unread bytes start in `buf` (consumed bytes are dropped
    /// lazily, when they are at least half the buffer).
    start: usize,
    max: usize,
}

impl Default for PacketReader {
    fn default() -> Self {
        Self::new(MAX_PACKET_LEN)
    }
}

impl PacketReader {
    /// A reader refusing packets longer than `max` bytes (the length
    /// prefix excluded).
    pub const fn new(max: usize) -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
            max,
        }
    }

    /// Appends channel data.
    pub fn handle_input(&mut self, data: &[u8]) {
        if self.start > 0 && self.start * 2 >= self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// How many bytes are buffered and not yet returned as packets.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// How many more bytes complete the next packet (its length prefix
    /// first); 0 when it is complete, or when its length is over the limit
    /// (so that [`PacketReader::poll_packet`] reports it). Feeding no more
    /// than this keeps at most one packet buffered.
    pub fn needed(&self) -> usize {
        let rest = self.buf.get(self.start..).unwrap_or(&[]);
        let Some(prefix) = rest.get(..4) else {
            return 4 - rest.len();
        };
        let mut len_bytes = [0u8; 4];
        len_bytes.copy_from_slice(prefix);
        let len = usize::try_from(u32::from_be_bytes(len_bytes)).unwrap_or(usize::MAX);
        if len > self.max {
            return 0;
        }
        (4 + len).saturating_sub(rest.len())
    }

    /// The next whole packet's body (type byte onwards), if one has arrived.
    /// An oversized length prefix is an error (and stays one: the stream
    /// cannot be resynchronised).
    pub fn poll_packet(&mut self) -> Result<Option<&[u8]>, DecodeError> {
        let rest = self.buf.get(self.start..).unwrap_or(&[]);
        let Some(prefix) = rest.get(..4) else {
            return Ok(None);
        };
        let mut len_bytes = [0u8; 4];
        len_bytes.copy_from_slice(prefix);
        let len = usize::try_from(u32::from_be_bytes(len_bytes)).unwrap_or(usize::MAX);
        if len > self.max {
            return Err(DecodeError::TooLong {
                what: "sftp packet length",
                len,
                max: self.max,
            });
        }
        let Some(body) = rest.get(4..4 + len) else {
            return Ok(None);
        };
        self.start += 4 + len;
        Ok(Some(body))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn packets_split_across_chunks_come_out_whole() {
        let mut stream = Vec::new();
        for body in [&b"\x01abc"[..], b"\x02", b"\x03defgh"] {
            stream.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes());
            stream.extend_from_slice(body);
        }
        let mut r = PacketReader::default();
        let mut got = Vec::new();
        for byte in &stream {
            r.handle_input(core::slice::from_ref(byte));
            while let Some(p) = r.poll_packet().unwrap() {
                got.push(p.to_vec());
            }
        }
        assert_eq!(
            got,
            vec![b"\x01abc".to_vec(), b"\x02".to_vec(), b"\x03defgh".to_vec()]
        );
        assert_eq!(r.buffered(), 0);
    }

    #[test]
    fn oversized_length_is_refused_before_buffering() {
        let mut r = PacketReader::default();
        r.handle_input(&[0x00, 0x04, 0x00, 0x01]);
        assert!(matches!(r.poll_packet(), Err(DecodeError::TooLong { .. })));
    }
}
