//! Pipelined whole-file transfers: many READs or WRITEs of one chunk size in
//! flight at once, as OpenSSH's `sftp` does (64 requests of 32 KiB to
//! start), growing while the pipeline is the limit (a long path), as state
//! machines the client drives by reply.

use std::collections::{BTreeMap, VecDeque};

use super::{ClientConfig, Event, Outgoing, Pending, ProtocolError, Status, TransferId};
use crate::message::{Handle, Request};
use crate::numbers::StatusCode;

impl ClientConfig {
    /// The requests in flight a transfer of `chunk`-byte requests starts
    /// with and may grow to.
    pub(crate) fn pipeline(&self, chunk: u32) -> Pipeline {
        let start = self.max_in_flight.max(1);
        let limit = usize::try_from(self.max_bytes_in_flight / u64::from(chunk.max(1)))
            .unwrap_or(usize::MAX)
            .max(start);
        Pipeline { now: start, limit }
    }
}

/// The requests a transfer may have in flight, growing while it is the
/// limit (see [`ClientConfig::max_bytes_in_flight`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pipeline {
    pub(crate) now: usize,
    pub(crate) limit: usize,
}

impl Pipeline {
    /// A reply came while `in_flight` requests (this one included) were
    /// out: if that was all the pipeline allows, it grows by one.
    pub(crate) fn on_reply(&mut self, in_flight: usize) {
        if in_flight >= self.now {
            self.grow();
        }
    }

    /// One more request, within the limit.
    pub(crate) fn grow(&mut self) {
        if self.now < self.limit {
            self.now += 1;
        }
    }
}

/// A download: READs ahead of the data delivered, the data handed out in
/// file order.
#[derive(Debug)]
pub(super) struct Download {
    handle: Handle,
    chunk: u32,
    pipeline: Pipeline,
    /// The next offset no READ has asked for yet.
    next_offset: u64,
    /// Where reading stops (exclusive), when the caller gave a length.
    end: Option<u64>,
    in_flight: usize,
    /// The lowest offset the server answered EOF at.
    eof_at: Option<u64>,
    /// Where the download started.
    start: u64,
    /// Everything before this offset was given to the application.
    delivered: u64,
    /// Data received out of order, by offset; bounded by the requests in
    /// flight times the chunk size.
    waiting: BTreeMap<u64, Vec<u8>>,
    error: Option<Status>,
}

impl Download {
    pub(super) fn new(
        handle: Handle,
        offset: u64,
        len: Option<u64>,
        chunk: u32,
        pipeline: Pipeline,
    ) -> Self {
        Self {
            handle,
            chunk: chunk.max(1),
            pipeline,
            next_offset: offset,
            end: len.map(|l| offset.saturating_add(l)),
            in_flight: 0,
            eof_at: None,
            start: offset,
            delivered: offset,
            waiting: BTreeMap::new(),
            error: None,
        }
    }

    /// Issues READs until the window is full or the end is known. The
    /// window is counted from the data delivered, not only from the READs
    /// in flight: a server answering one early READ last must not make us
    /// buffer the rest of the file.
    pub(super) fn pump(&mut self, id: TransferId, out: &mut Outgoing) {
        let window = self.pipeline.now as u64 * u64::from(self.chunk);
        while self.in_flight < self.pipeline.now
            && self.eof_at.is_none()
            && self.error.is_none()
            && self.next_offset.saturating_sub(self.delivered) < window
        {
            let want = match self.end {
                Some(end) if self.next_offset >= end => return,
                Some(end) => u32::try_from(end - self.next_offset)
                    .unwrap_or(u32::MAX)
                    .min(self.chunk),
                None => self.chunk,
            };
            let offset = self.next_offset;
            self.read_at(id, out, offset, want);
            self.next_offset = offset.saturating_add(u64::from(want));
        }
    }

    fn read_at(&mut self, id: TransferId, out: &mut Outgoing, offset: u64, len: u32) {
        let request = Request::Read {
            handle: self.handle.clone(),
            offset,
            len,
        };
        // A READ is a few dozen bytes; it always fits a packet.
        if out
            .send(
                request,
                Pending::Read {
                    transfer: id,
                    offset,
                    len,
                },
            )
            .is_ok()
        {
            self.in_flight += 1;
        }
    }

    /// DATA for the READ at `offset` of `len` bytes.
    pub(super) fn on_data(
        &mut self,
        id: TransferId,
        out: &mut Outgoing,
        offset: u64,
        len: u32,
        data: Vec<u8>,
        request_id: u32,
    ) -> Result<(), ProtocolError> {
        self.pipeline.on_reply(self.in_flight);
        self.in_flight = self.in_flight.saturating_sub(1);
        let n = data.len();
        if n > len as usize {
            return Err(ProtocolError::TooMuchData {
                id: request_id,
                asked: len,
                got: n,
            });
        }
        if n == 0 {
            // An empty DATA says what EOF would.
            self.eof_at = Some(self.eof_at.map_or(offset, |e| e.min(offset)));
            return Ok(());
        }
        if n < len as usize {
            // A short read: "the server ... may return less data than
            // requested" (draft-02 §6.4); ask for the rest.
            let rest_offset = offset.saturating_add(n as u64);
            let rest = len - u32::try_from(n).unwrap_or(len);
            if self.error.is_none() && self.eof_at.is_none_or(|e| rest_offset < e) {
                self.read_at(id, out, rest_offset, rest);
            }
        }
        self.waiting.insert(offset, data);
        Ok(())
    }

    /// STATUS for one of our READs.
    pub(super) fn on_status(&mut self, offset: u64, status: Status) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if status.code == StatusCode::EOF {
            self.eof_at = Some(self.eof_at.map_or(offset, |e| e.min(offset)));
        } else if self.error.is_none() {
            self.error = Some(status);
        }
    }

    /// Hands out contiguous data, asks for more, and queues `TransferDone`
    /// when the transfer is over (then true).
    pub(super) fn progress(
        &mut self,
        id: TransferId,
        out: &mut Outgoing,
        events: &mut VecDeque<Event>,
    ) -> bool {
        while let Some(data) = self.waiting.remove(&self.delivered) {
            let offset = self.delivered;
            let mut data = data;
            if let Some(e) = self.eof_at {
                // The file grew behind an EOF we already saw: stop at it.
                if offset >= e {
                    break;
                }
                data.truncate(usize::try_from(e - offset).unwrap_or(usize::MAX));
            }
            self.delivered = offset.saturating_add(data.len() as u64);
            events.push_back(Event::Data {
                transfer: id,
                offset,
                data,
            });
        }
        self.pump(id, out);
        let ended = self.eof_at.is_some()
            || self.error.is_some()
            || self.end.is_some_and(|e| self.next_offset >= e);
        if ended && self.in_flight == 0 {
            let result = match self.error.take() {
                Some(s) => Err(s),
                None => Ok(self.delivered - self.start),
            };
            events.push_back(Event::TransferDone {
                transfer: id,
                result,
            });
            return true;
        }
        false
    }
}

/// An upload: the application's bytes cut into WRITEs, many in flight.
#[derive(Debug)]
pub(super) struct Upload {
    handle: Handle,
    chunk: u32,
    pipeline: Pipeline,
    next_offset: u64,
    in_flight: usize,
    /// Bytes accepted and not yet a full chunk.
    buffer: Vec<u8>,
    finishing: bool,
    /// The application was told "no room" and waits for `Writable`.
    blocked: bool,
    /// The last write offered more than the pipeline took, or filled it:
    /// the pipeline, not the application, sets the pace (kept until a
    /// write leaves room).
    limited: bool,
    /// Bytes the server acknowledged.
    acked: u64,
    error: Option<Status>,
}

impl Upload {
    pub(super) fn new(handle: Handle, offset: u64, chunk: u32, pipeline: Pipeline) -> Self {
        Self {
            handle,
            chunk: chunk.max(1),
            pipeline,
            next_offset: offset,
            in_flight: 0,
            buffer: Vec::new(),
            finishing: false,
            blocked: false,
            limited: false,
            acked: 0,
            error: None,
        }
    }

    /// How many more bytes [`Upload::write`] accepts now.
    pub(super) fn capacity(&self) -> usize {
        if self.error.is_some() || self.finishing {
            return 0;
        }
        let free = self.pipeline.now.saturating_sub(self.in_flight);
        (free * self.chunk as usize).saturating_sub(self.buffer.len())
    }

    /// Accepts up to [`Upload::capacity`] bytes; WRITEs go out per whole
    /// chunk.
    pub(super) fn write(&mut self, id: TransferId, out: &mut Outgoing, data: &[u8]) -> usize {
        let n = data.len().min(self.capacity());
        let overflow = n < data.len();
        if overflow {
            self.blocked = true;
        }
        let chunk = self.chunk as usize;
        let mut data = data.get(..n).unwrap_or_default();
        // Top up a partial chunk first; whole chunks then go from `data`
        // straight into their WRITE packets, and only a tail is kept.
        if !self.buffer.is_empty() {
            let fill = (chunk - self.buffer.len().min(chunk)).min(data.len());
            let (head, rest) = data.split_at(fill);
            self.buffer.extend_from_slice(head);
            data = rest;
            if self.buffer.len() >= chunk {
                let full = core::mem::take(&mut self.buffer);
                self.write_chunk(id, out, &full);
                self.buffer = full;
                self.buffer.clear();
            }
        }
        while data.len() >= chunk {
            let (whole, rest) = data.split_at(chunk);
            self.write_chunk(id, out, whole);
            data = rest;
        }
        self.buffer.extend_from_slice(data);
        // The pipeline sets the pace when the application offered more
        // than it took, or exactly all it had room for (rsftp's 256 KiB
        // reads fill 64 x 32 KiB exactly: without this the pipeline never
        // grew past 2 MiB per round trip).
        self.limited = overflow || self.capacity() == 0;
        n
    }

    fn write_chunk(&mut self, id: TransferId, out: &mut Outgoing, data: &[u8]) {
        let offset = self.next_offset;
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        self.next_offset = offset.saturating_add(u64::from(len));
        if out
            .send_write(
                &self.handle,
                offset,
                data,
                Pending::Write { transfer: id, len },
            )
            .is_ok()
        {
            self.in_flight += 1;
        } else if self.error.is_none() {
            self.error = Some(Status {
                code: StatusCode::FAILURE,
                message: "write request too large".into(),
            });
        }
    }

    /// No more data: the partial chunk goes out.
    pub(super) fn finish(&mut self, id: TransferId, out: &mut Outgoing) {
        self.finishing = true;
        if !self.buffer.is_empty() && self.error.is_none() {
            let chunk = core::mem::take(&mut self.buffer);
            self.write_chunk(id, out, &chunk);
        }
    }

    /// STATUS for one of our WRITEs.
    pub(super) fn on_status(&mut self, len: u32, status: Status) {
        // The application had more to write than the pipeline took: the
        // pipeline sets the pace, so each reply lets one more WRITE go
        // (doubling per round trip). Through a 100 ms path this took rsftp
        // put into rsshd from 18 to 48 MB/s, once the window tuner stopped
        // growing windows that bought no bandwidth.
        if status.code == StatusCode::OK && self.limited {
            self.pipeline.grow();
        }
        self.in_flight = self.in_flight.saturating_sub(1);
        if status.code == StatusCode::OK {
            self.acked = self.acked.saturating_add(u64::from(len));
        } else if self.error.is_none() {
            self.error = Some(status);
        }
    }

    /// Queues `Writable` or `TransferDone` as due; true when over.
    pub(super) fn progress(&mut self, id: TransferId, events: &mut VecDeque<Event>) -> bool {
        let over = self.in_flight == 0
            && (self.error.is_some() || (self.finishing && self.buffer.is_empty()));
        if over {
            let result = match self.error.take() {
                Some(s) => Err(s),
                None => Ok(self.acked),
            };
            events.push_back(Event::TransferDone {
                transfer: id,
                result,
            });
            return true;
        }
        if self.blocked && self.capacity() > 0 {
            self.blocked = false;
            events.push_back(Event::Writable { transfer: id });
        }
        false
    }
}
