//! Issue 5's acceptance test: 100 channels at once through the whole
//! stack (transport + auth + connection), 64 KiB each way per channel,
//! one channel never read by its receiver; every other channel finishes
//! with exact bytes in order.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{Flow, Options, Pair, app_round};

const CHANNELS: usize = 100;
const LEN: usize = 64 * 1024;
const WINDOW: u32 = 32 * 1024;
const STALLED: usize = 37;

#[test]
fn hundred_channels_one_stalled_the_others_finish() {
    let started = std::time::Instant::now();
    let conn = ssh_connection::Config {
        // Smaller than the transfer, so the stalled channel really stalls.
        window: WINDOW,
        max_packet: 16 * 1024,
        max_sessions: 128,
        ..ssh_connection::Config::default()
    };
    let mut p = Pair::connected(Options {
        conn_client: conn.clone(),
        conn_server: conn,
        ..Options::default()
    });
    let (c0, s0) = (p.bytes_c2s, p.bytes_s2c);
    let handles = p.open_channels(CHANNELS);
    let mut flows: Vec<Flow> = handles
        .iter()
        .enumerate()
        .map(|(i, (c, s))| Flow::new(i, *c, *s, LEN))
        .collect();
    flows[STALLED].server_stalled = true;
    let mut rounds = 0;
    loop {
        let moved = app_round(&mut p, &mut flows);
        p.drive().unwrap();
        rounds += 1;
        if !moved && !app_round(&mut p, &mut flows) {
            break;
        }
        assert!(rounds < 10_000, "no end");
    }
    for (i, f) in flows.iter().enumerate() {
        if i == STALLED {
            continue;
        }
        assert!(
            f.done(),
            "channel {i}: {} / {}",
            f.c_got.len(),
            f.s_got.len()
        );
        assert!(
            f.c_got == f.to_client,
            "channel {i}: bytes to the client differ"
        );
        assert!(
            f.s_got == f.to_server,
            "channel {i}: bytes to the server differ"
        );
    }
    // The stalled channel: the server read nothing; the client could send
    // exactly one window and no more; its other direction finished.
    let f = &flows[STALLED];
    assert!(f.s_got.is_empty());
    assert_eq!(f.c_sent, WINDOW as usize);
    assert_eq!(f.c_got, f.to_client);
    let info = p.s.connection().unwrap().channel_info(f.s).unwrap();
    assert_eq!(info.buffered, WINDOW);
    assert_eq!(p.cc().send_capacity(f.c).unwrap(), 0);
    // Reading it now lets it finish too: nothing was lost.
    flows[STALLED].server_stalled = false;
    for _ in 0..100 {
        let moved = app_round(&mut p, &mut flows);
        p.drive().unwrap();
        if !moved {
            break;
        }
    }
    assert_eq!(flows[STALLED].s_got, flows[STALLED].to_server);
    let (c_tx, s_tx) = p.c.transport().counters();
    let payload = (CHANNELS * LEN * 2) as u64;
    eprintln!(
        "many_channels: {CHANNELS} channels x {LEN} B each way (1 stalled until the end): \
         {payload} B of channel data; wire {} B client->server, {} B server->client after auth; \
         client sent {} packets, server sent {} packets under the current keys; {rounds} application rounds; {:?} wall time",
        p.bytes_c2s - c0,
        p.bytes_s2c - s0,
        c_tx.packets,
        s_tx.packets,
        started.elapsed()
    );
    assert!(p.c.error().is_none() && p.s.error().is_none());
}
