//! A server whose host key is held by another process (privilege
//! separation): every key exchange, the first and each re-key, pauses for
//! the holder's signature, and a session over it carries data as any
//! other. The pair plays the holder (see `common::Pair::server_events`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{Flow, Options, Pair, app_round};
use ssh_session::ServerSessionEvent;
use ssh_transport::Event as TransportEvent;

fn sign_requests(p: &Pair) -> usize {
    p.s_events
        .iter()
        .filter(|e| {
            matches!(
                e,
                ServerSessionEvent::Transport(TransportEvent::SignExchangeHash)
            )
        })
        .count()
}

fn session_with_rekeys(host_certificate: bool) {
    let mut p = Pair::connected(Options {
        remote_host_key: true,
        host_certificate,
        ..Options::default()
    });
    assert_eq!(sign_requests(&p), 1);
    assert_eq!(p.c.host_key(), Some(&p.host_public));
    let handles = p.open_channels(1);
    let (c, s) = handles[0];
    let mut flows = vec![Flow::new(0, c, s, 256 * 1024)];
    let mut round = 0;
    loop {
        let moved = app_round(&mut p, &mut flows);
        round += 1;
        if round == 3 {
            p.c.force_rekey().unwrap();
        }
        if round == 6 {
            p.s.force_rekey().unwrap();
        }
        p.drive().unwrap();
        if !moved && round > 6 && !app_round(&mut p, &mut flows) {
            break;
        }
        assert!(round < 100_000, "no end");
    }
    assert!(flows[0].done());
    assert!(flows[0].c_got == flows[0].to_client && flows[0].s_got == flows[0].to_server);
    assert_eq!(p.s.transport().kex_count(), 3);
    assert_eq!(sign_requests(&p), 3, "one signature per key exchange");
}

#[test]
fn a_remote_host_key_signs_every_key_exchange() {
    session_with_rekeys(false);
}

#[test]
fn a_remote_host_key_presents_its_certificate() {
    session_with_rekeys(true);
}
