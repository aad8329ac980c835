//! 100 channels at once on one connection pair, 64 KiB each way on each;
//! the server never reads one of them. Every other channel finishes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Instant;

use common::{Pair, tcpip};
use ssh_connection::{ChannelHandle, Config, Event};

const CHANNELS: usize = 100;
const EACH_WAY: usize = 64 * 1024;

struct Flow {
    c: ChannelHandle,
    s: ChannelHandle,
    /// Bytes written client->server and server->client.
    sent: [usize; 2],
    /// Bytes read by the server and by the client.
    got: [Vec<u8>; 2],
}

fn byte(ch: usize, dir: usize, i: usize) -> u8 {
    (ch * 31 + dir * 7 + i) as u8
}

#[test]
fn hundred_channels_one_stalled() {
    // A window smaller than the data, so every channel needs WINDOW_ADJUSTs.
    let config = Config {
        window: 16 * 1024,
        max_packet: 4096,
        ..Config::default()
    };
    let mut p = Pair::with_config(config);
    let start = Instant::now();
    let mut flows: Vec<Flow> = (0..CHANNELS)
        .map(|_| {
            let (c, s) = p.open(tcpip());
            Flow {
                c,
                s,
                sent: [0, 0],
                got: [Vec::new(), Vec::new()],
            }
        })
        .collect();
    const STALLED: usize = 17;
    let mut rounds = 0;
    let mut buf = vec![0u8; 8192];
    loop {
        let mut progress = false;
        for (i, f) in flows.iter_mut().enumerate() {
            for dir in 0..2 {
                let (conn, h) = if dir == 0 {
                    (&mut p.client, f.c)
                } else {
                    (&mut p.server, f.s)
                };
                if f.sent[dir] < EACH_WAY {
                    let chunk: Vec<u8> = (f.sent[dir]..EACH_WAY.min(f.sent[dir] + 10_000))
                        .map(|k| byte(i, dir, k))
                        .collect();
                    let n = conn.send_data(h, &chunk).unwrap();
                    f.sent[dir] += n;
                    progress |= n > 0;
                }
            }
        }
        p.pump();
        for (i, f) in flows.iter_mut().enumerate() {
            // The server never reads channel STALLED.
            if i != STALLED {
                loop {
                    let n = p.server.read(f.s, &mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    f.got[0].extend_from_slice(&buf[..n]);
                    progress = true;
                }
            }
            loop {
                let n = p.client.read(f.c, &mut buf).unwrap();
                if n == 0 {
                    break;
                }
                f.got[1].extend_from_slice(&buf[..n]);
                progress = true;
            }
        }
        p.pump();
        rounds += 1;
        if !progress {
            break;
        }
        assert!(rounds < 100_000);
    }
    let elapsed = start.elapsed();

    let mut moved = 0;
    for (i, f) in flows.iter().enumerate() {
        let expect = |dir| (0..EACH_WAY).map(|k| byte(i, dir, k)).collect::<Vec<u8>>();
        assert_eq!(f.got[1], expect(1), "server->client on channel {i}");
        moved += f.got[1].len();
        if i == STALLED {
            // Only one window's worth went out; the rest waits.
            assert_eq!(f.sent[0], 16 * 1024);
            assert!(f.got[0].is_empty());
            assert_eq!(p.client.send_capacity(f.c).unwrap(), 0);
        } else {
            assert_eq!(f.got[0], expect(0), "client->server on channel {i}");
            moved += f.got[0].len();
        }
    }
    // Every Writable and Readable refers to a live channel.
    for e in p.client_events.iter().chain(p.server_events.iter()) {
        assert!(matches!(
            e,
            Event::Readable { .. } | Event::Writable { .. } | Event::OpenConfirmed { .. }
        ));
    }
    let payloads = p.log.len();
    let wire: usize = p.log.iter().map(|(_, b)| b.len()).sum();
    println!(
        "{CHANNELS} channels, {moved} bytes of data delivered (channel {STALLED} \
         client->server stalled after 16 KiB), {payloads} payloads / {wire} payload \
         bytes, {rounds} rounds, {elapsed:?}"
    );
    assert_eq!(moved, (2 * CHANNELS - 1) * EACH_WAY);
}
