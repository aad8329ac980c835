//! Forced re-keys, first by the client then by the server, with channel
//! data in flight both ways: nothing lost or reordered.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{Flow, Options, Pair, app_round};

#[test]
fn forced_rekeys_with_data_in_flight() {
    // A small hold limit during the key exchange, so the session's
    // WouldBlock path (payloads waiting in the session and the connection)
    // is taken.
    let tc = ssh_transport::Config {
        max_held_bytes: 20_000,
        ..ssh_transport::Config::default()
    };
    let ts = ssh_transport::Config {
        max_held_bytes: 20_000,
        ..ssh_transport::Config::server_default()
    };
    // Windows smaller than the transfer: it takes many rounds, so both
    // re-keys happen in the middle of it.
    let conn = ssh_connection::Config {
        window: 64 * 1024,
        ..ssh_connection::Config::default()
    };
    let mut p = Pair::connected(Options {
        transport_client: tc,
        transport_server: ts,
        conn_client: conn.clone(),
        conn_server: conn,
        ..Options::default()
    });
    assert_eq!(p.c.transport().kex_count(), 1);
    const LEN: usize = 1024 * 1024;
    let handles = p.open_channels(4);
    let mut flows: Vec<Flow> = handles
        .iter()
        .enumerate()
        .map(|(i, (c, s))| Flow::new(i, *c, *s, LEN))
        .collect();
    let mut round = 0;
    let mut rekeyed_with_data = [false; 2];
    loop {
        let moved = app_round(&mut p, &mut flows);
        round += 1;
        // Data just queued in both connections; start a re-key before it
        // moves.
        if round == 3 {
            assert!(p.c.connection().unwrap().has_payload());
            assert!(p.s.connection().unwrap().has_payload());
            p.c.force_rekey().unwrap();
            rekeyed_with_data[0] = true;
        }
        if round == 8 {
            assert!(p.c.connection().unwrap().has_payload());
            assert!(p.s.connection().unwrap().has_payload());
            p.s.force_rekey().unwrap();
            rekeyed_with_data[1] = true;
        }
        p.drive().unwrap();
        if !moved && round > 8 && !app_round(&mut p, &mut flows) {
            break;
        }
        assert!(round < 100_000, "no end");
    }
    assert_eq!(rekeyed_with_data, [true, true]);
    assert_eq!(p.c.transport().kex_count(), 3);
    assert_eq!(p.s.transport().kex_count(), 3);
    for (i, f) in flows.iter().enumerate() {
        assert!(f.done(), "channel {i}");
        assert!(
            f.c_got == f.to_client,
            "channel {i}: bytes to the client differ"
        );
        assert!(
            f.s_got == f.to_server,
            "channel {i}: bytes to the server differ"
        );
    }
    // The session still works after the re-keys.
    let more = p.open_channels(1);
    assert_eq!(more.len(), 1);
    assert!(p.c.error().is_none() && p.s.error().is_none());
}
