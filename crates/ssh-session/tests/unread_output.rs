//! A peer that never reads cannot grow our unsent output: what it sends
//! needing an answer (PINGs here), or the window credit it gives without
//! reading, stops at a bound; the session takes no more input until the
//! peer reads, and then nothing is lost.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{Options, Pair};
use ssh_connection::{Event, GlobalReply};
use ssh_session::{ClientSessionEvent, ServerSessionEvent};
use ssh_transport::Event as TransportEvent;
use ssh_wire::Encode;
use ssh_wire::messages::{ChannelWindowAdjust, GlobalRequest, GlobalRequestKind};

/// The server's `max_queued_bytes` in these tests.
const QUEUED: usize = 64 * 1024;
/// What the server's transport may hold unsent: twice the queue bound
/// (the input bound), plus the answers to one input buffer's worth.
const UNSENT_BOUND: usize = 2 * 256 * 1024 + 300 * 1024;
/// What the server's connection may hold queued: the queue bound, plus
/// the answers to one input buffer's worth of requests.
const QUEUE_BOUND: usize = QUEUED + 256 * 1024 + 2 * 1024 * 1024;

fn pair() -> Pair {
    let mut o = Options::default();
    o.conn_server.max_queued_bytes = QUEUED;
    Pair::connected(o)
}

/// Offers `wire` to the server until it takes no more; returns what it
/// took.
fn feed_server(p: &mut Pair, wire: &[u8]) -> usize {
    let mut at = 0;
    while at < wire.len() {
        let n = p.s.handle_input(p.now, &wire[at..]).unwrap();
        if n == 0 {
            break;
        }
        at += n;
    }
    at
}

#[test]
fn pings_from_a_peer_that_never_reads_stop_at_a_bound_and_all_get_answers() {
    let mut p = pair();
    assert!(p.c.transport().peer_supports_ping());
    const PINGS: usize = 40_000;
    let data = [0x50; 256];
    let mut wire = Vec::new();
    for _ in 0..PINGS {
        p.c.transport_mut().send_ping(&data).unwrap();
        p.c.poll_transmit(&mut wire);
    }
    // About 12 MiB of PINGs, whose PONGs are as large: the server takes
    // input only until its unsent output reaches the bound.
    let taken = feed_server(&mut p, &wire);
    let unsent = p.s.transport().transmit_buffer().len();
    assert!(taken < wire.len(), "took all {} bytes", wire.len());
    assert!(unsent <= UNSENT_BOUND, "{unsent} bytes unsent");
    assert_eq!(p.s.handle_input(p.now, &wire[taken..]).unwrap(), 0);
    assert!(p.s.error().is_none());

    // The client reads; the server goes on; every PING gets its PONG.
    let mut at = taken;
    let mut pongs = 0;
    loop {
        let mut out = Vec::new();
        p.s.poll_transmit(&mut out);
        let mut i = 0;
        while i < out.len() {
            i += p.c.handle_input(p.now, &out[i..]).unwrap();
        }
        while let Some(ev) = p.c.poll_event() {
            if let ClientSessionEvent::Transport(TransportEvent::Pong(d)) = ev {
                assert_eq!(d, data);
                pongs += 1;
            }
        }
        if at == wire.len() && out.is_empty() {
            break;
        }
        at += feed_server(&mut p, &wire[at..]);
        assert!(p.s.transport().transmit_buffer().len() <= UNSENT_BOUND);
    }
    assert_eq!(pongs, PINGS);
}

#[test]
fn window_credit_from_a_peer_that_never_reads_does_not_grow_our_output() {
    let mut p = pair();
    let (c, s) = p.open_channels(1)[0];
    // The client opens the server's send window wide and never reads.
    let recipient = p.cc().channel_info(c).unwrap().remote.unwrap().get();
    let adjust = ChannelWindowAdjust {
        recipient,
        bytes_to_add: u32::MAX / 2,
    }
    .to_bytes();
    p.c.transport_mut().send_payload(&adjust).unwrap();
    let mut wire = Vec::new();
    p.c.poll_transmit(&mut wire);
    assert_eq!(feed_server(&mut p, &wire), wire.len());
    let chunk = vec![0x44; 32 * 1024];
    let mut written = 0usize;
    for _ in 0..2_000 {
        // The application writes what it may...
        while let Ok(n) = p.sc().send_data(s, &chunk) {
            if n == 0 {
                break;
            }
            written += n;
        }
        // ...and the client sends something small that makes the server
        // process input (one more byte of window).
        let nudge = ChannelWindowAdjust {
            recipient,
            bytes_to_add: 1,
        }
        .to_bytes();
        p.c.transport_mut().send_payload(&nudge).unwrap();
        let mut wire = Vec::new();
        p.c.poll_transmit(&mut wire);
        feed_server(&mut p, &wire);
        // The transport takes the queue's payloads up to QUEUED unsent,
        // plus the one that crosses it.
        let unsent = p.s.transport().transmit_buffer().len();
        assert!(unsent <= QUEUED + 34 * 1024, "{unsent} bytes unsent");
    }
    assert!(written <= 2 * QUEUED + 34 * 1024, "{written} bytes taken");
}

/// Offers `wire` to the server in pieces, answering each global request
/// the application is asked (with FAILURE, as ssh-async answers a
/// keepalive), until the server takes no more; returns what it took.
fn feed_server_answering(p: &mut Pair, wire: &[u8]) -> usize {
    let mut at = 0;
    while at < wire.len() {
        let end = (at + 4096).min(wire.len());
        let n = p.s.handle_input(p.now, &wire[at..end]).unwrap();
        while let Some(ev) = p.s.poll_event() {
            if let ServerSessionEvent::Connection(Event::GlobalRequest { id: Some(id), .. }) = ev {
                p.sc()
                    .answer_global_request(id, GlobalReply::Failure)
                    .unwrap();
            }
        }
        p.s.flush().unwrap();
        if n == 0 {
            break;
        }
        at += n;
    }
    at
}

/// The server's answers to the client, opened by the client's transport
/// alone (the client's connection never asked, so it is left out):
/// how many REQUEST_FAILUREs came.
fn replies_to_client(p: &mut Pair) -> usize {
    let mut out = Vec::new();
    p.s.poll_transmit(&mut out);
    let t = p.c.transport_mut();
    let mut i = 0;
    let mut replies = 0;
    while i < out.len() {
        i += t.handle_input(p.now, &out[i..]).unwrap();
        while let Some(payload) = t.poll_incoming().unwrap() {
            if payload.first() == Some(&ssh_wire::msg::SSH_MSG_REQUEST_FAILURE) {
                replies += 1;
            }
        }
    }
    replies
}

/// Requests wanting a reply (keepalives, answered through the connection
/// layer) from a peer that never reads: the answers waiting in the
/// connection's queue count too. Before, the transport stopped taking
/// them at `max_queued_bytes` and the connection's queue took all the
/// rest, one small vector per answer, without end.
#[test]
fn requests_from_a_peer_that_never_reads_stop_at_a_bound_and_all_get_answers() {
    let mut p = pair();
    const REQUESTS: usize = 150_000;
    let request = GlobalRequest {
        want_reply: true,
        request: GlobalRequestKind::Keepalive,
    }
    .to_bytes();
    let mut wire = Vec::new();
    for _ in 0..REQUESTS {
        p.c.transport_mut().send_payload(&request).unwrap();
        p.c.transport_mut().poll_transmit(&mut wire);
    }
    let taken = feed_server_answering(&mut p, &wire);
    assert!(taken < wire.len(), "took all {} bytes", wire.len());
    let unsent = p.s.transport().transmit_buffer().len();
    assert!(unsent <= UNSENT_BOUND, "{unsent} bytes unsent");
    let queued = p.sc().queued_memory();
    assert!(queued <= QUEUE_BOUND, "{queued} bytes queued");
    assert!(p.s.error().is_none());

    // The client reads; the server goes on; every request is answered.
    let mut at = taken;
    let mut replies = 0;
    loop {
        let got = replies_to_client(&mut p);
        replies += got;
        if at == wire.len() && got == 0 {
            break;
        }
        at += feed_server_answering(&mut p, &wire[at..]);
        assert!(p.sc().queued_memory() <= QUEUE_BOUND);
    }
    assert_eq!(replies, REQUESTS);
}
