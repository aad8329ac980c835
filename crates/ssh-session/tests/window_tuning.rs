//! The session's window tuner: while data flows, a probe measures a
//! round trip, and a channel whose reader consumed its window in it
//! grows; a reader that is behind, or no room to grow, grows nothing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::time::Duration;

use common::{Options, Pair};

const WINDOW: u32 = 64 * 1024;
const LEN: usize = 4 * 1024 * 1024;

/// The client sends LEN on one channel; the server reads as data comes
/// when `reader` is true. The server side's window target at the end.
fn transfer(max_window: u32, reader: bool) -> (u32, usize) {
    let conn = ssh_connection::Config {
        window: WINDOW,
        max_window,
        ..ssh_connection::Config::default()
    };
    let mut p = Pair::connected(Options {
        conn_client: conn.clone(),
        conn_server: conn,
        ..Options::default()
    });
    let (c, s) = p.open_channels(1)[0];
    if reader {
        p.server_reads.push((s, Vec::new()));
    }
    let data: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
    let mut sent = 0;
    for _ in 0..100_000 {
        sent += p.cc().send_data(c, &data[sent..]).unwrap();
        p.drive().unwrap();
        p.tick(Duration::from_millis(20));
        if sent == LEN || !reader && p.cc().send_capacity(c).unwrap() == 0 {
            break;
        }
    }
    p.drive().unwrap();
    if reader {
        assert_eq!(sent, LEN);
        assert!(p.server_reads[0].1 == data, "every byte, in order");
    }
    let info = p.s.connection().unwrap().channel_info(s).unwrap();
    (info.recv_target, sent)
}

#[test]
fn a_window_consumed_in_a_round_trip_grows() {
    let (target, _) = transfer(1024 * 1024, true);
    assert!(target > WINDOW, "grew: {target}");
    assert!(target <= 1024 * 1024, "within max_window: {target}");
}

#[test]
fn a_reader_that_reads_nothing_grows_nothing() {
    let (target, sent) = transfer(1024 * 1024, false);
    assert_eq!(target, WINDOW);
    assert_eq!(sent, WINDOW as usize, "one window and no more");
}

#[test]
fn without_room_to_grow_the_window_stays() {
    let (target, _) = transfer(WINDOW, true);
    assert_eq!(target, WINDOW);
}
