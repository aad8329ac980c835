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

fn transfer(p: &mut Pair, channels: usize, len: usize) {
    let handles = p.open_channels(channels);
    let mut flows: Vec<Flow> = handles
        .iter()
        .enumerate()
        .map(|(i, (c, s))| Flow::new(i, *c, *s, len))
        .collect();
    for round in 0.. {
        let moved = app_round(p, &mut flows);
        p.drive().unwrap();
        if !moved && !app_round(p, &mut flows) {
            break;
        }
        assert!(round < 100_000, "no end");
    }
    for (i, f) in flows.iter().enumerate() {
        assert!(
            f.c_got == f.to_client,
            "channel {i}: bytes to the client differ"
        );
        assert!(
            f.s_got == f.to_server,
            "channel {i}: bytes to the server differ"
        );
    }
}

#[test]
fn volume_limit_rekeys_during_transfer() {
    let limit = ssh_transport::RekeyLimit {
        bytes: Some(256 * 1024),
        interval: None,
    };
    let tc = ssh_transport::Config {
        rekey: limit.clone(),
        ..ssh_transport::Config::default()
    };
    // Small windows: data flows in many small bursts, not one (a burst
    // past the limit is held during one exchange and sealed after it).
    let conn = ssh_connection::Config {
        window: 64 * 1024,
        ..ssh_connection::Config::default()
    };
    let mut p = Pair::connected(Options {
        transport_client: tc,
        conn_client: conn.clone(),
        conn_server: conn,
        ..Options::default()
    });
    assert_eq!(p.c.transport().kex_count(), 1);
    transfer(&mut p, 2, 1024 * 1024);
    // 2 MiB each way over a 256 KiB limit: several re-keys, all of them
    // invisible to the channels.
    let n = p.c.transport().kex_count();
    assert!(n >= 6, "only {n} key exchanges");
    assert_eq!(p.s.transport().kex_count(), n);
    assert!(p.c.error().is_none() && p.s.error().is_none());
}

#[test]
fn time_limit_rekeys_through_the_session_deadline() {
    let ts = ssh_transport::Config {
        rekey: ssh_transport::RekeyLimit {
            bytes: None,
            interval: Some(std::time::Duration::from_secs(60)),
        },
        ..ssh_transport::Config::server_default()
    };
    let mut p = Pair::connected(Options {
        transport_server: ts,
        ..Options::default()
    });
    let start = p.now;
    let due = p.s.poll_timeout().unwrap();
    assert!(due > start && due <= start + std::time::Duration::from_secs(60));
    assert!(p.advance().unwrap());
    p.drive().unwrap();
    assert_eq!(p.s.transport().kex_count(), 2);
    assert_eq!(p.c.transport().kex_count(), 2);
    transfer(&mut p, 1, 64 * 1024);
}

#[test]
fn delayed_compression_starts_at_authentication() {
    // zlib@openssh.com switches on right after USERAUTH_SUCCESS on both
    // sides: the session must call set_authenticated at exactly that
    // point, or the next packet does not decompress.
    let mut tc = ssh_transport::Config::default();
    tc.algorithms.compression = ssh_wire::NameList::parse("zlib@openssh.com,none").unwrap();
    let mut p = Pair::connected(Options {
        transport_client: tc,
        ..Options::default()
    });
    let neg = p.c.transport().negotiated().unwrap();
    let text = format!("{neg:?}");
    assert!(
        text.contains("zlib@openssh.com") || text.contains("Zlib"),
        "{text}"
    );
    transfer(&mut p, 3, 200 * 1024);
    // Compression really runs: 1 MiB of zeros each way takes far fewer
    // bytes on the wire.
    let (c0, s0) = (p.bytes_c2s, p.bytes_s2c);
    let zeros = vec![0u8; 1024 * 1024];
    let ch = p.open_channels(1)[0];
    let mut flow = Flow::new(0, ch.0, ch.1, 0);
    flow.to_server.clone_from(&zeros);
    flow.to_client.clone_from(&zeros);
    let mut flows = [flow];
    for _ in 0..1000 {
        let moved = app_round(&mut p, &mut flows);
        p.drive().unwrap();
        if !moved && flows[0].done() {
            break;
        }
    }
    assert!(flows[0].c_got == zeros && flows[0].s_got == zeros);
    let (c2s, s2c) = (p.bytes_c2s - c0, p.bytes_s2c - s0);
    assert!(c2s < 128 * 1024 && s2c < 128 * 1024, "{c2s} / {s2c} bytes");
    assert!(p.c.error().is_none() && p.s.error().is_none());
}
