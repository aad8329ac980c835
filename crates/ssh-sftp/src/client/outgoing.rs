//! The request side of the client: request ids, what each request waits
//! for, and the encoded bytes waiting to be sent.

use std::collections::HashMap;

use super::Pending;
use crate::message::{Handle, Packet, Request, TooLarge};

/// The request side: ids, what each waits for, the bytes to send.
#[derive(Debug, Default)]
pub(super) struct Outgoing {
    pub(super) next_id: u32,
    pub(super) pending: HashMap<u32, Pending>,
    pub(super) bytes: Vec<u8>,
}

impl Outgoing {
    pub(super) fn send(&mut self, request: Request, pending: Pending) -> Result<u32, TooLarge> {
        let mut id = self.next_id;
        while self.pending.contains_key(&id) {
            id = id.wrapping_add(1);
        }
        Packet::Request { id, request }.encode(&mut self.bytes)?;
        self.next_id = id.wrapping_add(1);
        self.pending.insert(id, pending);
        Ok(id)
    }

    /// [`Outgoing::send`] of a WRITE whose data is borrowed.
    pub(super) fn send_write(
        &mut self,
        handle: &Handle,
        offset: u64,
        data: &[u8],
        pending: Pending,
    ) -> Result<u32, TooLarge> {
        let mut id = self.next_id;
        while self.pending.contains_key(&id) {
            id = id.wrapping_add(1);
        }
        Packet::encode_write(&mut self.bytes, id, handle, offset, data)?;
        self.next_id = id.wrapping_add(1);
        self.pending.insert(id, pending);
        Ok(id)
    }
}
