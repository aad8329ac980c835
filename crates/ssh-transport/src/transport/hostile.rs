//! A test harness's escape hatch (feature `hostile`, off by default; only
//! the xtask's hostile peer turns it on): seal any payload now, with the
//! keys and compression in force, bypassing every check of what may be
//! sent when. A conforming peer never needs it; a hostile one sends
//! IGNORE and PING during a key exchange, USERAUTH_SUCCESS from a client,
//! channel messages before authentication, a decompression bomb.

use crate::error::Error;

use super::Transport;

impl Transport {
    /// Seals `payload` (any message number) into the output at once: not
    /// held during a key exchange, not checked against the state. The
    /// sequence number counts it as any packet. Fails only if the
    /// transport already failed, the payload is empty, or it does not fit
    /// one packet.
    pub fn hostile_send(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.check_failed()?;
        if payload.is_empty() {
            return Err(Error::Misuse("empty payload"));
        }
        let r = self.seal_payload(payload);
        self.guard(r)
    }
}
