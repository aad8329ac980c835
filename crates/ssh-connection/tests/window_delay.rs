//! A window-limited sender over a link with delay: how much of the receive
//! window it can keep in flight. The credit a receiver withholds (consumed
//! bytes not yet announced, below the WINDOW_ADJUST threshold) is window
//! the sender cannot use. With the credit announced only at half the
//! window, a sender whose bursts were half a window moved half a window
//! per round trip for good, and the session's tuner, which grows windows
//! whose samples fill two thirds of them, never grew it (rsftp put through
//! a 100 ms path: 14 s for 128 MiB in about one run of three).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::VecDeque;

use common::Pair;
use ssh_connection::Config;

const WINDOW: u32 = 2 * 1024 * 1024;
/// One-way delay in ticks; a round trip is twice this.
const DELAY: u64 = 50;
/// An SFTP WRITE of 32 KiB with its header (channel packets carry 32 KiB).
const REQUEST: usize = 32 * 1024 + 66;

/// Bytes delivered per round trip once steady, for a sender that sends
/// half a window and one request per round trip for its first `slow`
/// round trips (a pipeline of requests a little over half the window,
/// filling as replies come), then all the window allows each tick, in
/// whole requests; the receiver reads each packet as it arrives.
fn steady_per_round_trip(config: Config, slow: u64) -> u64 {
    let mut p = Pair::with_config(config);
    let (c, s) = p.open_session();
    // In flight: (tick of delivery, to the server?, payload).
    let mut link: VecDeque<(u64, bool, Vec<u8>)> = VecDeque::new();
    let data = vec![7u8; REQUEST];
    let mut buf = vec![0u8; 64 * 1024];
    let rtt = 2 * DELAY;
    let mut delivered_at = Vec::new();
    for tick in 0..(slow + 40) * rtt {
        let budget = if tick < slow * rtt {
            if tick % rtt == 0 {
                WINDOW as usize / 2 + REQUEST
            } else {
                0
            }
        } else {
            usize::MAX
        };
        let mut sent = 0;
        while sent + REQUEST <= budget.max(REQUEST) && sent < budget {
            if p.client.send_capacity(c).unwrap() < REQUEST {
                break;
            }
            assert_eq!(p.client.send_data(c, &data).unwrap(), REQUEST);
            sent += REQUEST;
        }
        let mut out = Vec::new();
        while p.client.poll_outgoing(&mut out) {
            link.push_back((tick + DELAY, true, out.clone()));
        }
        while p.server.poll_outgoing(&mut out) {
            link.push_back((tick + DELAY, false, out.clone()));
        }
        while link.front().is_some_and(|(at, ..)| *at <= tick) {
            let (_, to_server, payload) = link.pop_front().unwrap();
            if to_server {
                p.server.handle_payload(&payload).unwrap();
                // The reader keeps up: each packet is read as it comes.
                loop {
                    let n = p.server.read(s, &mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    delivered_at.push((tick, n as u64));
                }
            } else {
                p.client.handle_payload(&payload).unwrap();
            }
        }
        while p.client.poll_event().is_some() {}
        while p.server.poll_event().is_some() {}
    }
    // The last 10 round trips.
    let from = (slow + 30) * rtt;
    delivered_at
        .iter()
        .filter(|(t, _)| *t >= from)
        .map(|(_, n)| n)
        .sum::<u64>()
        / 10
}

#[test]
fn a_window_limited_sender_keeps_most_of_the_window_in_flight() {
    let config = Config {
        window: WINDOW,
        max_window: WINDOW,
        ..Config::default()
    };
    for slow in [0, 4, 40] {
        let per_rtt = steady_per_round_trip(config.clone(), slow);
        // The tuner grows windows whose samples reach two thirds: a steady
        // sender must get there.
        assert!(
            per_rtt * 3 >= u64::from(WINDOW) * 2,
            "slow start of {slow} round trips: {per_rtt} bytes per round trip of a {WINDOW} window"
        );
    }
}
