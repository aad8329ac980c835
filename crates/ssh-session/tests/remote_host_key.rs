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

use common::{Flow, Options, Pair, flows_with_rekeys};
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
    flows_with_rekeys(&mut p, &mut flows);
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
