//! Privilege separation's hand-over: the server session runs to
//! USERAUTH_SUCCESS in one "process", its transport moves, and a session
//! made from it serves the connection, with what the client pipelined
//! behind SUCCESS and through re-keys.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{Flow, Options, Pair, flows_with_rekeys, host_key};
use rand::SeedableRng;
use rand::rngs::StdRng;
use ssh_session::{ServerSession, ServerSessionEvent};
use ssh_transport::TransportState;

/// The session process's side: a session from the moved state.
fn take_over(p: &mut Pair, o: &Options) {
    let mut out = Vec::new();
    p.s.poll_transmit(&mut out);
    assert!(out.is_empty(), "the pair took every output");
    let state = p.s.export_state(p.now).unwrap();
    assert!(p.s.error().is_some(), "the worker's session is done");
    let state = TransportState::decode(&state.encode()).unwrap();
    p.s = ServerSession::from_state(
        p.now,
        o.transport_server.clone(),
        vec![Box::new(host_key())],
        o.conn_server.clone(),
        Box::new(StdRng::seed_from_u64(9)),
        state,
    )
    .unwrap();
    assert!(p.s.is_authenticated());
}

#[test]
fn a_session_moved_at_success_serves_the_connection() {
    let o = Options {
        transport_client: {
            let mut t = ssh_transport::Config::default();
            t.algorithms.compression = ssh_wire::NameList::parse("zlib@openssh.com,none").unwrap();
            t
        },
        transport_server: {
            let mut t = ssh_transport::Config::server_default();
            t.algorithms.compression = ssh_wire::NameList::parse("zlib@openssh.com,none").unwrap();
            t
        },
        ..Options::default()
    };
    let mut p = Pair::new(Options {
        transport_client: o.transport_client.clone(),
        transport_server: o.transport_server.clone(),
        ..Options::default()
    });
    p.s.set_hand_over(true);
    p.drive().unwrap();
    assert!(p.c.is_authenticated());
    assert!(p.s.ready_to_hand_over() && !p.s.is_authenticated());
    assert!(
        p.s_events
            .iter()
            .any(|e| matches!(e, ServerSessionEvent::Authenticated))
    );
    // The client opens a channel at once: its CHANNEL_OPEN reaches the
    // worker, which reads nothing more; it moves with the state.
    let early = p
        .cc()
        .open_channel(ssh_wire::messages::ChannelType::Session)
        .unwrap();
    let mut wire = Vec::new();
    p.c.poll_transmit(&mut wire);
    assert!(!wire.is_empty());
    let mut at = 0;
    while at < wire.len() {
        at += p.s.handle_input(p.now, &wire[at..]).unwrap();
    }
    assert!(p.s_conn.is_empty());
    take_over(&mut p, &o);
    p.drive().unwrap();
    let opened: Vec<_> = core::mem::take(&mut p.s_conn)
        .into_iter()
        .filter_map(|e| match e {
            ssh_connection::Event::OpenRequest { handle, .. } => Some(handle),
            _ => None,
        })
        .collect();
    assert_eq!(opened.len(), 1, "the pipelined open arrived");
    p.sc().accept(opened[0]).unwrap();
    p.drive().unwrap();
    let mut flows = vec![Flow::new(0, early, opened[0], 300 * 1024)];
    flows_with_rekeys(&mut p, &mut flows);
    assert_eq!(p.s.transport().kex_count(), 3);
    assert_eq!(
        p.s.transport().negotiated().unwrap().comp_c2s,
        "zlib@openssh.com"
    );
}

#[test]
fn no_hand_over_before_success() {
    let mut p = Pair::new(Options::default());
    p.s.set_hand_over(true);
    assert!(matches!(
        p.s.export_state(p.now),
        Err(ssh_session::Error::Misuse(_))
    ));
}
