//! LoginGraceTime covers the whole connection from the accept until
//! authentication succeeds, not only the authentication exchange: a
//! client that says nothing, or finishes the key exchange and never asks
//! for a service, is dropped at the deadline like one that fails to log
//! in (sshd's grace alarm is armed at accept).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::{Duration, Instant};

use common::{Options, Pair, host_key};
use rand::SeedableRng;
use rand::rngs::StdRng;
use ssh_auth::AuthError;
use ssh_auth::server::ServerConfig;
use ssh_session::{Error, ServerSession};
use ssh_transport::{Event as TransportEvent, Transport};
use ssh_wire::messages::DisconnectReason;

const GRACE: Duration = Duration::from_secs(10);

fn server(now: Instant) -> ServerSession {
    let auth = ServerConfig {
        deadline: GRACE,
        ..ServerConfig::default()
    };
    ServerSession::new(
        now,
        ssh_transport::Config::server_default(),
        vec![Box::new(host_key())],
        auth,
        ssh_connection::Config::default(),
        Box::new(StdRng::seed_from_u64(2)),
    )
    .unwrap()
}

fn timed_out(r: Result<(), Error>) {
    assert_eq!(r, Err(Error::Auth(AuthError::Timeout)));
}

/// Not one byte from the client: the session still wants to be woken at
/// the deadline, and ends there.
#[test]
fn a_silent_client_is_dropped_at_the_grace_deadline() {
    let t0 = Instant::now();
    let mut s = server(t0);
    let mut out = Vec::new();
    s.poll_transmit(&mut out);
    assert!(out.starts_with(b"SSH-2.0-"), "the server speaks first");
    assert_eq!(s.poll_timeout(), Some(t0 + GRACE));
    s.handle_timeout(t0 + GRACE - Duration::from_millis(1))
        .unwrap();
    timed_out(s.handle_timeout(t0 + GRACE));
    assert_eq!(s.poll_timeout(), None, "a failed session wants no timer");
    timed_out(s.handle_input(t0 + GRACE, b"SSH-2.0-late\r\n").map(drop));
}

/// A client that completes the key exchange and then stops, never asking
/// for `ssh-userauth`: the deadline counted from the accept ends it, with
/// a DISCONNECT the client can read.
#[test]
fn a_client_that_never_asks_for_a_service_is_dropped_at_the_deadline() {
    let t0 = Instant::now();
    let mut s = server(t0);
    let mut c = Transport::client(
        ssh_transport::Config::default(),
        Box::new(StdRng::seed_from_u64(1)),
    )
    .unwrap();
    let now = t0 + Duration::from_secs(3);
    let mut kex_done = false;
    for _ in 0..100 {
        let mut buf = Vec::new();
        c.poll_transmit(&mut buf);
        let mut at = 0;
        while at < buf.len() {
            at += s.handle_input(now, &buf[at..]).unwrap();
        }
        let mut back = Vec::new();
        s.poll_transmit(&mut back);
        let mut at = 0;
        while at < back.len() {
            at += c.handle_input(now, &back[at..]).unwrap();
            // Packets are processed as payloads are asked for.
            assert!(c.poll_incoming().unwrap().is_none());
        }
        let mut had_event = false;
        while let Some(ev) = c.poll_event() {
            had_event = true;
            match ev {
                TransportEvent::HostKey { .. } => {
                    c.accept_host_key().unwrap();
                    assert!(c.poll_incoming().unwrap().is_none());
                }
                TransportEvent::KexDone { .. } => kex_done = true,
                _ => {}
            }
        }
        if buf.is_empty() && back.is_empty() && !had_event {
            break;
        }
    }
    assert!(kex_done, "the key exchange completed");
    assert!(!s.is_authenticated());
    // Idle after the key exchange: the deadline is still the accept's.
    assert!(s.poll_timeout().is_some_and(|t| t <= t0 + GRACE));
    timed_out(s.handle_timeout(t0 + GRACE));
    let mut back = Vec::new();
    s.poll_transmit(&mut back);
    assert!(!back.is_empty(), "a DISCONNECT went out");
    c.handle_input(t0 + GRACE, &back).unwrap();
    let r = c.poll_incoming().map(|p| p.map(<[u8]>::to_vec));
    assert!(
        matches!(&r, Err(ssh_transport::Error::PeerDisconnected { reason, .. })
            if *reason == DisconnectReason::NO_MORE_AUTH_METHODS_AVAILABLE),
        "{r:?}"
    );
}

/// Authentication started late gets only what is left of the grace time,
/// and a login that succeeds in time is no longer subject to it.
#[test]
fn authentication_gets_what_is_left_and_success_lifts_the_deadline() {
    let mut p = Pair::new(Options {
        auto_auth: false,
        ..Options::default()
    });
    let t0 = p.now;
    p.tick(Duration::from_secs(100));
    p.drive().unwrap();
    // ServerConfig's default deadline is 120 s: 20 s remain for the
    // password prompt, not a fresh 120.
    assert_eq!(p.s.poll_timeout(), Some(t0 + Duration::from_secs(120)));
    timed_out(p.s.handle_timeout(t0 + Duration::from_secs(120)));

    let mut p = Pair::new(Options::default());
    let t0 = p.now;
    p.drive().unwrap();
    assert!(p.s.is_authenticated());
    assert_eq!(
        p.s.poll_timeout()
            .filter(|t| *t <= t0 + Duration::from_secs(120)),
        None
    );
    p.s.handle_timeout(t0 + Duration::from_secs(121)).unwrap();
}
