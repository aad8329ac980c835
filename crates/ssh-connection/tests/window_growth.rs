//! Receive windows that grow by themselves when the window, not the peer
//! or the reader, sets the pace, within a per-channel maximum and a
//! per-connection budget.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{Pair, tcpip};
use ssh_connection::{ChannelHandle, Config};

fn config(window: u32, max_window: u32, budget: u32) -> Config {
    Config {
        window,
        max_window,
        window_growth_budget: budget,
        ..Config::default()
    }
}

/// The client sends all its window allows, the server reads all of it: one
/// round trip of a sender that is always waiting for window.
fn round(p: &mut Pair, c: ChannelHandle, s: ChannelHandle) -> u32 {
    let cap = p.client.send_capacity(c).unwrap();
    let n = p.client.send_data(c, &vec![7; cap]).unwrap();
    assert_eq!(n, cap);
    p.pump();
    let mut buf = vec![0; cap + 1];
    let mut got = 0;
    while got < cap {
        let k = p.server.read(s, &mut buf).unwrap();
        assert!(k > 0);
        got += k;
    }
    p.pump();
    u32::try_from(cap).unwrap()
}

#[test]
fn a_window_bound_sender_doubles_the_window_up_to_max_window() {
    let mut p = Pair::with_config(config(1000, 6000, 1 << 20));
    let (c, s) = p.open(tcpip());
    let caps: Vec<u32> = (0..6).map(|_| round(&mut p, c, s)).collect();
    assert_eq!(caps, [1000, 2000, 4000, 6000, 6000, 6000]);
    assert_eq!(p.server.channel_info(s).unwrap().recv_window, 6000);
}

#[test]
fn without_headroom_the_window_stays() {
    let mut p = Pair::with_config(config(1000, 1000, 1 << 20));
    let (c, s) = p.open(tcpip());
    let caps: Vec<u32> = (0..4).map(|_| round(&mut p, c, s)).collect();
    assert_eq!(caps, [1000; 4]);
}

#[test]
fn a_slow_reader_does_not_grow_its_window() {
    let mut p = Pair::with_config(config(1000, 1 << 20, 1 << 20));
    let (c, s) = p.open(tcpip());
    for _ in 0..8 {
        // The peer fills the window; the reader takes only what gives a
        // credit, and leaves more than an eighth of the window unread.
        let cap = p.client.send_capacity(c).unwrap();
        p.client.send_data(c, &vec![1; cap]).unwrap();
        p.pump();
        let mut buf = vec![0; 500];
        assert_eq!(p.server.read(s, &mut buf).unwrap(), 500);
        p.pump();
        let info = p.server.channel_info(s).unwrap();
        assert!(
            info.recv_window + info.buffered <= 1000,
            "the buffer stays within the window: {info:?}"
        );
    }
}

#[test]
fn growth_is_shared_within_the_budget_and_returned_when_a_channel_goes() {
    let mut p = Pair::with_config(config(1000, 1 << 20, 3000));
    let (c1, s1) = p.open(tcpip());
    let (c2, s2) = p.open(tcpip());
    // The first channel takes the whole budget: 1000 -> 2000 -> 4000.
    let caps: Vec<u32> = (0..4).map(|_| round(&mut p, c1, s1)).collect();
    assert_eq!(caps, [1000, 2000, 4000, 4000]);
    // The second finds none left.
    let caps: Vec<u32> = (0..3).map(|_| round(&mut p, c2, s2)).collect();
    assert_eq!(caps, [1000; 3]);
    // Once the first channel is gone, its growth is free again.
    p.client.close(c1).unwrap();
    p.pump();
    p.server.close(s1).unwrap();
    p.pump();
    p.client.release(c1).unwrap();
    p.server.release(s1).unwrap();
    p.pump();
    let caps: Vec<u32> = (0..3).map(|_| round(&mut p, c2, s2)).collect();
    assert_eq!(caps, [1000, 2000, 4000]);
}
