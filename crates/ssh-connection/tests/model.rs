//! Model-based property test: random operations on both ends of an
//! in-memory pair, with payloads delivered in random batches.
//!
//! Invariants checked: every byte written arrives once and in order; the
//! windows balance exactly (sender's window + data in flight + credit in
//! flight == receiver's window), so none goes negative or is lost; no message
//! follows a CLOSE on its channel; neither side ever reports an error; a
//! stalled channel never blocks another; every opened channel is finally
//! released on both sides.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{HashSet, VecDeque};

use proptest::prelude::*;
use ssh_connection::{
    ApiError, ChannelHandle, ChannelState, Config, Connection, Event, RequestId, Role,
};
use ssh_wire::messages::{ChannelRequestKind, ChannelType, ConnectionMessage, OpenFailureReason};

#[derive(Debug, Clone)]
enum Op {
    Open {
        side: usize,
        accept: bool,
    },
    Write {
        side: usize,
        ch: usize,
        len: usize,
    },
    Read {
        side: usize,
        ch: usize,
        len: usize,
    },
    Eof {
        side: usize,
        ch: usize,
    },
    Close {
        side: usize,
        ch: usize,
    },
    Release {
        side: usize,
        ch: usize,
    },
    Deliver {
        from: usize,
        count: usize,
    },
    GrowWindow {
        side: usize,
        ch: usize,
        size: u32,
    },
    Request {
        side: usize,
        ch: usize,
        want_reply: bool,
        known: bool,
    },
    /// Answer the requests waiting on `side`, newest first if `reverse`.
    Answer {
        side: usize,
        reverse: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let side = 0..2usize;
    let ch = 0..6usize;
    prop_oneof![
        2 => (side.clone(), any::<bool>()).prop_map(|(side, a)| Op::Open { side, accept: a || side == 0 }),
        6 => (side.clone(), ch.clone(), 0..20_000usize).prop_map(|(side, ch, len)| Op::Write { side, ch, len }),
        5 => (side.clone(), ch.clone(), 1..20_000usize).prop_map(|(side, ch, len)| Op::Read { side, ch, len }),
        1 => (side.clone(), ch.clone()).prop_map(|(side, ch)| Op::Eof { side, ch }),
        1 => (side.clone(), ch.clone()).prop_map(|(side, ch)| Op::Close { side, ch }),
        1 => (side.clone(), ch.clone()).prop_map(|(side, ch)| Op::Release { side, ch }),
        8 => (side.clone(), 1..6usize).prop_map(|(from, count)| Op::Deliver { from, count }),
        1 => (side.clone(), ch.clone(), 1000..100_000u32).prop_map(|(side, ch, size)| Op::GrowWindow { side, ch, size }),
        2 => (side.clone(), ch, any::<bool>(), any::<bool>())
            .prop_map(|(side, ch, want_reply, known)| Op::Request { side, ch, want_reply, known }),
        1 => (side, any::<bool>()).prop_map(|(side, reverse)| Op::Answer { side, reverse }),
    ]
}

/// One channel as the model sees it, `[client, server]` per field.
#[derive(Default, Debug)]
struct Chan {
    handle: [Option<ChannelHandle>; 2],
    /// Bytes written by each side.
    sent: [Vec<u8>; 2],
    /// Bytes read by each side (from the other).
    got: [Vec<u8>; 2],
    /// The side released before the end: its incoming stream is cut.
    released_early: [bool; 2],
    closed: [bool; 2],
    refused: bool,
}

struct Model {
    conn: [Connection; 2],
    /// Payloads in flight from side i to the other.
    wire: [VecDeque<Vec<u8>>; 2],
    chans: Vec<Chan>,
    /// Recipients closed per direction (recipient numbers of the receiver).
    closed_recipients: [HashSet<u32>; 2],
    counter: u64,
    /// Per side: our requests waiting for a reply, with the answer the
    /// peer will give (`None` for unknown requests: always failure).
    asked: [VecDeque<(ChannelHandle, RequestId, Option<bool>)>; 2],
    /// Per side: the peer's requests waiting for our answer.
    to_answer: [Vec<(ChannelHandle, RequestId, bool)>; 2],
    /// Alternates the answers requested.
    request_seq: u64,
}

fn pattern(seed: u64, len: usize) -> Vec<u8> {
    (0..len as u64)
        .map(|i| ((seed + i).wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

impl Model {
    fn new(config: &Config) -> Self {
        Self {
            conn: [
                Connection::new(Role::Client, config.clone()),
                Connection::new(Role::Server, config.clone()),
            ],
            wire: [VecDeque::new(), VecDeque::new()],
            chans: Vec::new(),
            closed_recipients: [HashSet::new(), HashSet::new()],
            counter: 0,
            asked: [VecDeque::new(), VecDeque::new()],
            to_answer: [Vec::new(), Vec::new()],
            request_seq: 0,
        }
    }

    fn collect_output(&mut self) {
        for side in 0..2 {
            let mut buf = Vec::new();
            while self.conn[side].poll_outgoing(&mut buf) {
                self.wire[side].push_back(buf.clone());
            }
        }
    }

    fn find(&self, side: usize, h: ChannelHandle) -> Option<usize> {
        self.chans.iter().position(|c| c.handle[side] == Some(h))
    }

    fn handle_events(&mut self) {
        for side in 0..2 {
            while let Some(e) = self.conn[side].poll_event() {
                match e {
                    Event::OpenRequest { handle, .. } => {
                        // Match by numbers: the opener's local number is our
                        // remote one.
                        let remote = self.conn[side]
                            .channel_info(handle)
                            .unwrap()
                            .remote
                            .unwrap();
                        let found = self.chans.iter().position(|c| {
                            c.handle[side].is_none()
                                && c.handle[1 - side]
                                    .is_some_and(|h| h.local_id().get() == remote.get())
                        });
                        let Some(idx) = found else {
                            // The opener released it already: accept; its
                            // CLOSE follows.
                            self.conn[side].accept(handle).unwrap();
                            let mut c = Chan {
                                released_early: [true, true],
                                ..Chan::default()
                            };
                            c.handle[side] = Some(handle);
                            self.chans.push(c);
                            continue;
                        };
                        if self.chans[idx].refused {
                            self.conn[side]
                                .reject(handle, OpenFailureReason::CONNECT_FAILED, "no")
                                .unwrap();
                        } else {
                            self.conn[side].accept(handle).unwrap();
                            self.chans[idx].handle[side] = Some(handle);
                        }
                    }
                    Event::OpenFailed { handle, reason, .. } => {
                        let idx = self.find(side, handle).expect("known channel");
                        // Refused by the model, or by the peer's session limit.
                        assert!(
                            self.chans[idx].refused
                                || reason == OpenFailureReason::RESOURCE_SHORTAGE,
                            "{reason:?}"
                        );
                        self.chans[idx].refused = true;
                        self.chans[idx].handle[side] = None;
                    }
                    Event::Closed { handle } => {
                        let idx = self.find(side, handle).expect("known channel");
                        self.chans[idx].closed[side] = true;
                    }
                    Event::OpenConfirmed { handle }
                    | Event::Readable { handle }
                    | Event::Writable { handle }
                    | Event::Eof { handle } => {
                        assert!(self.find(side, handle).is_some(), "{e:?}");
                    }
                    Event::ChannelRequest {
                        handle,
                        id,
                        request,
                    } => {
                        assert!(self.find(side, handle).is_some());
                        assert!(!matches!(request, ChannelRequestKind::Unknown { .. }));
                        let yes = matches!(&request, ChannelRequestKind::Signal { name } if name == "YES");
                        if let Some(id) = id {
                            self.to_answer[side].push((handle, id, yes));
                        }
                    }
                    Event::ChannelReply {
                        handle,
                        id,
                        success,
                    } => {
                        // Replies arrive in request order per channel.
                        let pos = self.asked[side]
                            .iter()
                            .position(|(h, _, _)| *h == handle)
                            .expect("a request was pending");
                        let (_, rid, answer) = self.asked[side].remove(pos).unwrap();
                        assert_eq!(rid, id, "replies in order");
                        match answer {
                            Some(a) => assert_eq!(success, a, "the answer given"),
                            None => assert!(!success, "unknown requests fail"),
                        }
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
        self.collect_output();
    }

    /// Delivers up to `count` payloads from `from`, checking the wire rules.
    fn deliver(&mut self, from: usize, count: usize) {
        for _ in 0..count {
            let Some(p) = self.wire[from].pop_front() else {
                break;
            };
            let m = ConnectionMessage::decode(&p).unwrap();
            match &m {
                // The receiver hands out a number again only after it was
                // released; the sender learns it anew from an OPEN or
                // CONFIRMATION.
                ConnectionMessage::ChannelOpen(o) => {
                    self.closed_recipients[1 - from].remove(&o.sender);
                }
                ConnectionMessage::OpenConfirmation(c) => {
                    self.closed_recipients[1 - from].remove(&c.sender);
                }
                _ => {}
            }
            if let Some(r) = m.recipient() {
                if !matches!(
                    m,
                    ConnectionMessage::OpenFailure(_) | ConnectionMessage::OpenConfirmation(_)
                ) {
                    assert!(
                        !self.closed_recipients[from].contains(&r),
                        "message after CLOSE: {m:?}"
                    );
                }
                if matches!(m, ConnectionMessage::Close(_)) {
                    self.closed_recipients[from].insert(r);
                }
            }
            self.conn[1 - from].handle_payload(&p).unwrap();
            self.handle_events();
        }
    }

    /// Sender window + data in flight + credit in flight == receiver window,
    /// for every channel open on both sides.
    fn check_windows(&self) {
        for c in &self.chans {
            let (Some(h0), Some(h1)) = (c.handle[0], c.handle[1]) else {
                continue;
            };
            let (Ok(i0), Ok(i1)) = (self.conn[0].channel_info(h0), self.conn[1].channel_info(h1))
            else {
                continue;
            };
            if i0.state != ChannelState::Open || i1.state != ChannelState::Open {
                continue;
            }
            for (tx, itx, irx) in [(0, i0, i1), (1, i1, i0)] {
                let rx_local = irx.local.get();
                let tx_local = itx.local.get();
                let mut data = 0u64;
                for p in &self.wire[tx] {
                    match ConnectionMessage::decode(p).unwrap() {
                        ConnectionMessage::Data(d) if d.recipient == rx_local => {
                            data += d.data.len() as u64;
                        }
                        ConnectionMessage::ExtendedData(d) if d.recipient == rx_local => {
                            data += d.data.len() as u64;
                        }
                        _ => {}
                    }
                }
                let mut credit = 0u64;
                for p in &self.wire[1 - tx] {
                    if let ConnectionMessage::WindowAdjust(w) =
                        ConnectionMessage::decode(p).unwrap()
                        && w.recipient == tx_local
                    {
                        credit += u64::from(w.bytes_to_add);
                    }
                }
                assert_eq!(
                    u64::from(itx.send_window) + data + credit,
                    u64::from(irx.recv_window),
                    "window balance"
                );
            }
        }
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Open { side, accept } => {
                let kind = if side == 0 {
                    ChannelType::Session
                } else {
                    ChannelType::ForwardedTcpip {
                        address: "a".into(),
                        port: 1,
                        originator_address: "b".into(),
                        originator_port: 2,
                    }
                };
                if let Ok(h) = self.conn[side].open_channel(kind) {
                    let mut c = Chan {
                        refused: !accept,
                        ..Chan::default()
                    };
                    c.handle[side] = Some(h);
                    self.chans.push(c);
                }
            }
            Op::Write { side, ch, len } => {
                let Some(c) = self.chans.get_mut(ch) else {
                    return;
                };
                let Some(h) = c.handle[side] else { return };
                let Ok(info) = self.conn[side].channel_info(h) else {
                    return;
                };
                if info.state != ChannelState::Open || info.eof_sent {
                    return;
                }
                let data = pattern(self.counter, len);
                self.counter += len as u64;
                let n = self.conn[side].send_data(h, &data).unwrap();
                assert!(n <= data.len());
                c.sent[side].extend_from_slice(&data[..n]);
            }
            Op::Read { side, ch, len } => {
                let Some(c) = self.chans.get_mut(ch) else {
                    return;
                };
                let Some(h) = c.handle[side] else { return };
                let mut buf = vec![0; len];
                let Ok(n) = self.conn[side].read(h, &mut buf) else {
                    return;
                };
                c.got[side].extend_from_slice(&buf[..n]);
                let other = &c.sent[1 - side];
                assert!(c.got[side].len() <= other.len(), "more read than written");
                assert_eq!(&other[..c.got[side].len()], &c.got[side][..], "order");
            }
            Op::Eof { side, ch } => {
                let Some(h) = self.chans.get(ch).and_then(|c| c.handle[side]) else {
                    return;
                };
                let _ = self.conn[side].send_eof(h);
            }
            Op::Close { side, ch } => {
                let Some(h) = self.chans.get(ch).and_then(|c| c.handle[side]) else {
                    return;
                };
                self.conn[side].close(h).unwrap();
            }
            Op::Release { side, ch } => {
                let Some(c) = self.chans.get_mut(ch) else {
                    return;
                };
                let Some(h) = c.handle[side] else { return };
                if self.conn[side].release(h).is_ok() {
                    c.handle[side] = None;
                    c.released_early[side] = true;
                }
            }
            Op::Request {
                side,
                ch,
                want_reply,
                known,
            } => {
                let Some(h) = self.chans.get(ch).and_then(|c| c.handle[side]) else {
                    return;
                };
                let Ok(info) = self.conn[side].channel_info(h) else {
                    return;
                };
                if info.state != ChannelState::Open {
                    return;
                }
                // The answer travels inside the request: the signal name
                // says which reply the peer must give.
                let answer = self.request_seq.is_multiple_of(2);
                self.request_seq += 1;
                let request = if known {
                    ChannelRequestKind::Signal {
                        name: if answer { "YES".into() } else { "NO".into() },
                    }
                } else {
                    ChannelRequestKind::Unknown {
                        name: "x@example.com".into(),
                        rest: vec![],
                    }
                };
                let id = self.conn[side].channel_request(h, request, want_reply);
                match id {
                    Ok(Some(id)) => self.asked[side].push_back((h, id, known.then_some(answer))),
                    Ok(None) => assert!(!want_reply),
                    Err(ApiError::TooManyPendingRequests) => assert!(want_reply),
                    Err(e) => panic!("{e:?}"),
                }
            }
            Op::Answer { side, reverse } => {
                let mut pending = std::mem::take(&mut self.to_answer[side]);
                if reverse {
                    pending.reverse();
                }
                for (h, id, yes) in pending {
                    // The request may have been cleared by a close.
                    let _ = self.conn[side].answer_channel_request(h, id, yes);
                }
            }
            Op::Deliver { from, count } => self.deliver(from, count),
            Op::GrowWindow { side, ch, size } => {
                let Some(h) = self.chans.get(ch).and_then(|c| c.handle[side]) else {
                    return;
                };
                let _ = self.conn[side].set_receive_window(h, size);
            }
        }
        self.collect_output();
        self.handle_events();
        self.check_windows();
    }

    fn quiesce(&mut self) {
        while !self.wire[0].is_empty() || !self.wire[1].is_empty() {
            self.deliver(0, usize::MAX);
            self.deliver(1, usize::MAX);
        }
    }

    /// Reads everything on every channel until nothing moves.
    fn drain_all(&mut self) {
        loop {
            self.quiesce();
            let mut moved = false;
            for i in 0..self.chans.len() {
                for side in 0..2 {
                    let Some(h) = self.chans[i].handle[side] else {
                        continue;
                    };
                    let mut buf = vec![0; 65536];
                    while let Ok(n) = self.conn[side].read(h, &mut buf)
                        && n > 0
                    {
                        self.chans[i].got[side].extend_from_slice(&buf[..n]);
                        moved = true;
                    }
                }
            }
            self.collect_output();
            if !moved && self.wire.iter().all(VecDeque::is_empty) {
                return;
            }
        }
    }

    fn finish(mut self) {
        self.drain_all();
        self.check_windows();
        for c in &self.chans {
            for side in 0..2 {
                if !c.released_early[side] && !c.refused {
                    assert_eq!(c.got[side], c.sent[1 - side], "every byte once, in order");
                }
            }
        }

        // A stalled channel never blocks another: stall the first channel
        // open both ways, then move data on every other one.
        let open_both: Vec<usize> = (0..self.chans.len())
            .filter(|&i| {
                (0..2).all(|s| {
                    self.chans[i].handle[s]
                        .and_then(|h| self.conn[s].channel_info(h).ok())
                        .is_some_and(|info| info.state == ChannelState::Open && !info.eof_sent)
                })
            })
            .collect();
        if let Some((&stalled, others)) = open_both.split_first() {
            let h = self.chans[stalled].handle[0].unwrap();
            while self.conn[0].send_data(h, &[0xAA; 65536]).unwrap() > 0 {
                self.collect_output();
                self.quiesce();
            }
            for &i in others {
                let (tx, rx) = (
                    self.chans[i].handle[0].unwrap(),
                    self.chans[i].handle[1].unwrap(),
                );
                let want = 300_000;
                let (mut sent, mut got) = (0, 0);
                let mut rounds = 0;
                while got < want {
                    sent += self.conn[0].send_data(tx, &vec![1; want - sent]).unwrap();
                    self.collect_output();
                    self.quiesce();
                    let mut buf = vec![0; 65536];
                    while let Ok(n) = self.conn[1].read(rx, &mut buf)
                        && n > 0
                    {
                        got += n;
                    }
                    self.collect_output();
                    rounds += 1;
                    assert!(rounds < 10_000, "channel {i} blocked");
                }
            }
        }

        // Close everything; release on Closed; nothing may remain.
        for i in 0..self.chans.len() {
            for side in 0..2 {
                if let Some(h) = self.chans[i].handle[side] {
                    self.conn[side].close(h).unwrap();
                }
            }
        }
        self.collect_output();
        self.quiesce();
        for i in 0..self.chans.len() {
            for side in 0..2 {
                if let Some(h) = self.chans[i].handle[side] {
                    assert!(
                        self.chans[i].closed[side],
                        "channel {i} side {side} not closed"
                    );
                    self.conn[side].release(h).unwrap();
                }
            }
        }
        self.collect_output();
        self.quiesce();
        assert_eq!(self.conn[0].channel_count(), 0);
        assert_eq!(self.conn[1].channel_count(), 0);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_operations_keep_the_invariants(
        ops in proptest::collection::vec(op(), 1..120),
        small in any::<bool>(),
    ) {
        // Small windows and packets make windows run out often.
        let config = if small {
            Config { window: 8192, max_packet: 1024, max_queued_bytes: 20_000, ..Config::default() }
        } else {
            Config::default()
        };
        let mut m = Model::new(&config);
        for op in ops {
            m.apply(op);
        }
        m.finish();
    }
}
