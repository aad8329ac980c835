//! `send_channel_data`: channel data sealed straight from the
//! application's bytes. It must keep the order of anything queued before
//! it, survive re-keys and compression, and keep the transport's output
//! bounded as the connection's queue is.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{Flow, Options, Pair, flows_with_rekeys};

fn read_all(p: &mut Pair, h: ssh_connection::ChannelHandle) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = p.sc().read(h, &mut buf).unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    got
}

#[test]
fn direct_sends_survive_rekeys_and_held_payloads() {
    // A small hold limit: during each exchange the direct path must give
    // way to the queue (payloads held, then WouldBlock).
    let tc = ssh_transport::Config {
        max_held_bytes: 20_000,
        ..ssh_transport::Config::default()
    };
    let ts = ssh_transport::Config {
        max_held_bytes: 20_000,
        ..ssh_transport::Config::server_default()
    };
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
    p.direct = true;
    let mut flows: Vec<Flow> = p
        .open_channels(4)
        .iter()
        .enumerate()
        .map(|(i, (c, s))| Flow::new(i, *c, *s, 1024 * 1024))
        .collect();
    flows_with_rekeys(&mut p, &mut flows);
    assert!(p.c.transport().kex_count() >= 3);
}

#[test]
fn direct_sends_are_compressed() {
    let mut tc = ssh_transport::Config::default();
    tc.algorithms.compression = ssh_wire::NameList::parse("zlib@openssh.com,none").unwrap();
    let mut p = Pair::connected(Options {
        transport_client: tc,
        ..Options::default()
    });
    p.direct = true;
    let (c, s) = p.open_channels(1)[0];
    let before = p.bytes_c2s;
    let zeros = vec![0u8; 512 * 1024];
    let mut sent = 0;
    let mut got = Vec::new();
    while got.len() < zeros.len() {
        sent += p.c.send_channel_data(c, None, &zeros[sent..]).unwrap();
        p.drive().unwrap();
        got.extend(read_all(&mut p, s));
    }
    assert!(got == zeros);
    assert!(p.bytes_c2s - before < 64 * 1024, "{}", p.bytes_c2s - before);
}

/// Data queued in the connection (not yet in the transport) goes before
/// data sent afterwards the direct way.
#[test]
fn a_direct_send_comes_after_what_was_queued_before_it() {
    let mut p = Pair::connected(Options::default());
    let (c, s) = p.open_channels(1)[0];
    assert_eq!(p.cc().send_data(c, b"first ").unwrap(), 6);
    assert_eq!(p.c.send_channel_data(c, None, b"second").unwrap(), 6);
    assert_eq!(p.c.send_channel_data(c, Some(1), b"!").unwrap(), 1);
    p.drive().unwrap();
    assert_eq!(read_all(&mut p, s), b"first second");
    // With nothing queued, the data goes straight into the transport.
    assert_eq!(p.c.send_channel_data(c, None, b"third").unwrap(), 5);
    assert!(!p.c.connection().unwrap().has_payload());
    assert!(!p.c.transport().transmit_buffer().is_empty());
    p.drive().unwrap();
    assert_eq!(read_all(&mut p, s), b"third");
}

/// A window far larger than the queue bound: what the transport holds
/// unsent stays near `max_queued_bytes` (the direct path), plus at most
/// one queue's worth in the connection, however much the application
/// offers; every byte still arrives in order.
#[test]
fn the_transport_output_stays_bounded_by_the_queue_limit() {
    const QUEUE: usize = 256 * 1024;
    let big = ssh_connection::Config {
        window: 16 * 1024 * 1024,
        max_queued_bytes: QUEUE,
        ..ssh_connection::Config::default()
    };
    let mut p = Pair::connected(Options {
        conn_client: big.clone(),
        conn_server: big,
        ..Options::default()
    });
    let (c, s) = p.open_channels(1)[0];
    let data = common::pattern(0, 0, 8 * 1024 * 1024);
    let mut sent = 0;
    for _ in 0..10 {
        sent += p.c.send_channel_data(c, None, &data[sent..]).unwrap();
        let unsent = p.c.transport().transmit_buffer().len();
        assert!(unsent <= QUEUE + 8 * 1024, "{unsent} bytes unsent");
    }
    assert!((QUEUE..=2 * QUEUE).contains(&sent), "{sent} taken");
    let mut got = Vec::new();
    while got.len() < data.len() {
        sent += p.c.send_channel_data(c, None, &data[sent..]).unwrap();
        p.drive().unwrap();
        got.extend(read_all(&mut p, s));
    }
    assert!(got == data);
}

/// A re-key that starts in the middle of one direct send (its volume
/// limit reached by the first packets), with a hold limit far below the
/// rest: the rest waits in the session and goes after the exchange. No
/// byte is lost and the write is no error.
#[test]
fn a_rekey_starting_inside_one_direct_send_loses_nothing() {
    let tc = ssh_transport::Config {
        rekey: ssh_transport::RekeyLimit {
            bytes: Some(64 * 1024),
            interval: None,
        },
        max_held_bytes: 10_000,
        ..ssh_transport::Config::default()
    };
    let big = ssh_connection::Config {
        window: 4 * 1024 * 1024,
        ..ssh_connection::Config::default()
    };
    let mut p = Pair::connected(Options {
        transport_client: tc,
        conn_client: big.clone(),
        conn_server: big,
        ..Options::default()
    });
    let (c, s) = p.open_channels(1)[0];
    let kex_before = p.c.transport().kex_count();
    let data = common::pattern(0, 0, 1024 * 1024);
    let mut sent = 0;
    let mut got = Vec::new();
    while got.len() < data.len() {
        if sent < data.len() {
            sent += p.c.send_channel_data(c, None, &data[sent..]).unwrap();
        }
        p.drive().unwrap();
        got.extend(read_all(&mut p, s));
    }
    assert!(got == data, "every byte, in order");
    assert!(p.c.transport().kex_count() > kex_before, "a re-key ran");
}
