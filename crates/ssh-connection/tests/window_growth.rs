//! Receive windows grown from round-trip samples (`window_sample`): a
//! channel whose application consumed two thirds of its window or more
//! within one round trip doubles it, within a per-channel maximum and a
//! per-connection budget returned when the channel goes.
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

/// The client sends all its window allows; the server reads it; the
/// credits go back. The sample: what arrived in that round.
fn round(p: &mut Pair, c: ChannelHandle, s: ChannelHandle) -> u64 {
    let before = p.server.channel_info(s).unwrap().received;
    let cap = p.client.send_capacity(c).unwrap();
    assert_eq!(p.client.send_data(c, &vec![7; cap]).unwrap(), cap);
    p.pump();
    let mut buf = vec![0; cap + 1];
    let mut got = 0;
    while got < cap {
        got += p.server.read(s, &mut buf).unwrap();
    }
    p.pump();
    p.server.channel_info(s).unwrap().received - before
}

fn target(p: &Pair, s: ChannelHandle) -> u32 {
    p.server.channel_info(s).unwrap().recv_target
}

#[test]
fn a_window_bound_sample_doubles_the_window_up_to_max_window() {
    let mut p = Pair::with_config(config(1000, 6000, 1 << 20));
    let (c, s) = p.open(tcpip());
    let mut caps = Vec::new();
    for _ in 0..5 {
        let bytes = round(&mut p, c, s);
        caps.push(bytes);
        p.server.window_sample(s, bytes);
        p.pump();
    }
    assert_eq!(caps, [1000, 2000, 4000, 6000, 6000]);
    assert_eq!(target(&p, s), 6000);
    assert_eq!(
        p.client.send_capacity(c).unwrap(),
        6000,
        "announced at once"
    );
}

#[test]
fn a_sample_below_two_thirds_of_the_window_changes_nothing() {
    let mut p = Pair::with_config(config(1000, 1 << 20, 1 << 20));
    let (_, s) = p.open(tcpip());
    assert_eq!(p.server.window_sample(s, 666), None);
    assert_eq!(target(&p, s), 1000);
    assert_eq!(p.server.window_sample(s, 667), Some(2000));
    assert_eq!(target(&p, s), 2000);
}

#[test]
fn without_headroom_the_window_stays() {
    let mut p = Pair::with_config(config(1000, 1000, 1 << 20));
    let (_, s) = p.open(tcpip());
    assert_eq!(p.server.window_sample(s, 10_000), None);
    assert_eq!(target(&p, s), 1000);
}

#[test]
fn growth_is_shared_within_the_budget_and_returned_when_a_channel_goes() {
    let mut p = Pair::with_config(config(1000, 1 << 20, 3000));
    let (c1, s1) = p.open(tcpip());
    let (_, s2) = p.open(tcpip());
    // The first channel takes the whole budget: 1000 -> 2000 -> 4000.
    assert_eq!(p.server.window_sample(s1, 1000), Some(2000));
    assert_eq!(p.server.window_sample(s1, 2000), Some(4000));
    assert_eq!(p.server.window_sample(s1, 4000), None, "budget spent");
    // The second finds none left.
    assert_eq!(p.server.window_sample(s2, 1000), None);
    // Once the first channel is gone, its growth is free again.
    p.client.close(c1).unwrap();
    p.pump();
    p.server.close(s1).unwrap();
    p.pump();
    p.client.release(c1).unwrap();
    p.server.release(s1).unwrap();
    p.pump();
    assert_eq!(p.server.window_sample(s2, 1000), Some(2000));
}
