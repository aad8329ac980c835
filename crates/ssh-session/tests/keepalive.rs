//! Keepalive probes on simulated time (OpenSSH's ServerAliveInterval /
//! ServerAliveCountMax and ClientAliveInterval / ClientAliveCountMax):
//! probes after each silent interval, input postpones them, any reply
//! (success or refusal) keeps the session, and `max_missed` unanswered
//! probes end it at the next silent interval.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::time::{Duration, Instant};

use common::{Options, Pair, Side};
use ssh_connection::Event;
use ssh_session::{Error, KeepaliveConfig};

const INTERVAL: Duration = Duration::from_secs(10);

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Packets the side sealed so far (no re-key happens in these tests).
fn sent(p: &Pair, side: Side) -> u64 {
    match side {
        Side::Client => p.c.transport().counters().0.packets,
        Side::Server => p.s.transport().counters().0.packets,
    }
}

fn set(p: &mut Pair, side: Side, max_missed: u32) {
    let k = Some(KeepaliveConfig::new(INTERVAL, max_missed));
    match side {
        Side::Client => p.c.set_keepalive(k).unwrap(),
        Side::Server => p.s.set_keepalive(k).unwrap(),
    }
}

fn timeout_of(p: &Pair, side: Side) -> Option<Instant> {
    match side {
        Side::Client => p.c.poll_timeout(),
        Side::Server => p.s.poll_timeout(),
    }
}

/// Tells `side` the time `at`; returns how many packets it sent.
fn fire(p: &mut Pair, side: Side, at: Instant) -> Result<u64, Error> {
    p.now = at;
    let before = sent(p, side);
    match side {
        Side::Client => p.c.handle_timeout(at)?,
        Side::Server => p.s.handle_timeout(at)?,
    }
    Ok(sent(p, side) - before)
}

/// Throws away what `side` would send: the peer never sees it.
fn lose_output(p: &mut Pair, side: Side) {
    let mut buf = Vec::new();
    match side {
        Side::Client => p.c.poll_transmit(&mut buf),
        Side::Server => p.s.poll_transmit(&mut buf),
    }
}

fn no_global_replies(p: &Pair) {
    for e in p.c_conn.iter().chain(&p.s_conn) {
        assert!(!matches!(e, Event::GlobalReply { .. }), "{e:?}");
    }
}

fn probes_at_silent_intervals(side: Side) {
    let mut p = Pair::connected(Options::default());
    let chans = p.open_channels(1);
    let t0 = p.now;
    set(&mut p, side, 3);
    assert_eq!(timeout_of(&p, side), Some(t0 + INTERVAL));
    // Not yet due: nothing sent.
    assert_eq!(fire(&mut p, side, t0 + secs(9)).unwrap(), 0);
    // Due: one probe, answered (a refusal: REQUEST_FAILURE) by the peer.
    assert_eq!(fire(&mut p, side, t0 + secs(10)).unwrap(), 1);
    p.drive().unwrap();
    no_global_replies(&p);
    assert_eq!(timeout_of(&p, side), Some(t0 + secs(20)));
    // Input from the peer at 15 s postpones the next probe to 25 s.
    p.now = t0 + secs(15);
    match side {
        Side::Client => p.sc().send_data(chans[0].1, b"x").unwrap(),
        Side::Server => p.cc().send_data(chans[0].0, b"x").unwrap(),
    };
    p.drive().unwrap();
    assert_eq!(timeout_of(&p, side), Some(t0 + secs(25)));
    assert_eq!(fire(&mut p, side, t0 + secs(20)).unwrap(), 0);
    assert_eq!(fire(&mut p, side, t0 + secs(25)).unwrap(), 1);
    p.drive().unwrap();
    // Many intervals, each probe answered: the session stays.
    for i in 0..20u64 {
        let at = t0 + secs(35 + 10 * i);
        assert_eq!(timeout_of(&p, side), Some(at));
        assert_eq!(fire(&mut p, side, at).unwrap(), 1, "interval {i}");
        p.drive().unwrap();
    }
    no_global_replies(&p);
    assert!(p.c.error().is_none() && p.s.error().is_none());
}

#[test]
fn client_probes_at_silent_intervals() {
    probes_at_silent_intervals(Side::Client);
}

#[test]
fn server_probes_at_silent_intervals() {
    probes_at_silent_intervals(Side::Server);
}

fn unanswered_probes_end_the_session(side: Side, max_missed: u32) {
    let mut p = Pair::connected(Options::default());
    let t0 = p.now;
    set(&mut p, side, max_missed);
    for i in 1..=u64::from(max_missed) {
        let at = t0 + INTERVAL * u32::try_from(i).unwrap();
        assert_eq!(timeout_of(&p, side), Some(at));
        assert_eq!(fire(&mut p, side, at).unwrap(), 1, "probe {i}");
        lose_output(&mut p, side);
    }
    let end = t0 + INTERVAL * (max_missed + 1);
    assert_eq!(timeout_of(&p, side), Some(end));
    let e = fire(&mut p, side, end).unwrap_err();
    assert_eq!(e, Error::KeepaliveTimeout { missed: max_missed });
    assert_eq!(
        e.to_string(),
        format!("Timeout: no answer to {max_missed} keepalive probes")
    );
    assert!(e.is_fatal());
    // No DISCONNECT (the peer is presumed gone, as OpenSSH), no more
    // deadlines, and the session stays failed.
    let mut buf = Vec::new();
    match side {
        Side::Client => {
            p.c.poll_transmit(&mut buf);
            assert_eq!(p.c.poll_timeout(), None);
            assert_eq!(p.c.error(), Some(&e));
            assert_eq!(p.c.handle_timeout(end + INTERVAL), Err(e));
        }
        Side::Server => {
            p.s.poll_transmit(&mut buf);
            assert_eq!(p.s.poll_timeout(), None);
            assert_eq!(p.s.error(), Some(&e));
            assert_eq!(p.s.handle_timeout(end + INTERVAL), Err(e));
        }
    }
    assert!(buf.is_empty());
}

#[test]
fn client_ends_after_three_unanswered_probes() {
    unanswered_probes_end_the_session(Side::Client, 3);
}

#[test]
fn server_ends_after_three_unanswered_probes() {
    unanswered_probes_end_the_session(Side::Server, 3);
}

#[test]
fn zero_max_missed_ends_after_one_silent_interval() {
    let mut p = Pair::connected(Options::default());
    let t0 = p.now;
    set(&mut p, Side::Client, 0);
    let e = fire(&mut p, Side::Client, t0 + INTERVAL).unwrap_err();
    assert_eq!(e, Error::KeepaliveTimeout { missed: 0 });
}

/// The client's probe is lost; the server sends a reply of its own
/// (`number`: 81 REQUEST_SUCCESS or 82 REQUEST_FAILURE). The reply counts
/// as an answer and is not reported.
fn a_reply_counts_as_an_answer(number: u8) {
    let mut p = Pair::connected(Options::default());
    let t0 = p.now;
    set(&mut p, Side::Client, 1);
    assert_eq!(fire(&mut p, Side::Client, t0 + secs(10)).unwrap(), 1);
    lose_output(&mut p, Side::Client);
    p.now = t0 + secs(15);
    p.s.transport_mut().send_payload(&[number]).unwrap();
    p.drive().unwrap();
    no_global_replies(&p);
    // Without the reply the session would end at 20 s (one missed of
    // one); the reply reset the count and the silence since 15 s.
    assert_eq!(p.c.poll_timeout(), Some(t0 + secs(25)));
    assert_eq!(fire(&mut p, Side::Client, t0 + secs(20)).unwrap(), 0);
    assert_eq!(fire(&mut p, Side::Client, t0 + secs(25)).unwrap(), 1);
    lose_output(&mut p, Side::Client);
    // This one stays unanswered: the end.
    let e = fire(&mut p, Side::Client, t0 + secs(35)).unwrap_err();
    assert_eq!(e, Error::KeepaliveTimeout { missed: 1 });
}

#[test]
fn a_success_reply_counts_as_an_answer() {
    a_reply_counts_as_an_answer(ssh_wire::msg::SSH_MSG_REQUEST_SUCCESS);
}

#[test]
fn a_refusal_counts_as_an_answer() {
    a_reply_counts_as_an_answer(ssh_wire::msg::SSH_MSG_REQUEST_FAILURE);
}

#[test]
fn no_probes_before_authentication() {
    let mut p = Pair::new(Options::default());
    let t0 = p.now;
    set(&mut p, Side::Client, 3);
    set(&mut p, Side::Server, 3);
    assert_eq!(p.c.poll_timeout(), None);
    // Silence before the handshake, longer than the probes would allow
    // but inside the server's 120 s login grace: no probe, no end.
    p.now = t0 + secs(100);
    p.c.handle_timeout(p.now).unwrap();
    p.s.handle_timeout(p.now).unwrap();
    p.drive().unwrap();
    assert!(p.c.is_authenticated() && p.s.is_authenticated());
    // Counted from authentication.
    assert_eq!(p.c.poll_timeout(), Some(p.now + INTERVAL));
    assert!(p.s.poll_timeout().is_some_and(|t| t <= p.now + INTERVAL));
}

#[test]
fn zero_interval_is_refused() {
    let mut p = Pair::connected(Options::default());
    let e =
        p.c.set_keepalive(Some(KeepaliveConfig::new(Duration::ZERO, 3)))
            .unwrap_err();
    assert!(matches!(e, Error::Misuse(_)), "{e:?}");
    assert!(p.c.error().is_none());
}
