//! Protocol violations by the peer: each is an error that sticks.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{Pair, assert_failed, expect_protocol, tcpip};
use ssh_connection::{
    ApiError, Config, Connection, Error, Event, ProtocolError, Role, WindowError,
};
use ssh_wire::Encode;
use ssh_wire::messages::{
    ChannelClose, ChannelData, ChannelExtendedData, ChannelOpen, ChannelOpenConfirmation,
    ChannelRequest, ChannelRequestKind, ChannelSuccess, ChannelType, ChannelWindowAdjust,
    ConnectionMessage, GlobalRequest, GlobalRequestKind, OpenFailureReason, RequestSuccess,
};

fn opened() -> (Pair, u32) {
    let mut p = Pair::new();
    let (_, s) = p.open_session();
    let local = p.server.channel_info(s).unwrap().local.get();
    (p, local)
}

#[test]
fn window_overrun_is_a_protocol_error() {
    let config = Config {
        window: 100,
        ..Config::default()
    };
    let mut p = Pair::with_config(config);
    let (_, s) = p.open(tcpip());
    let local = p.server.channel_info(s).unwrap().local.get();
    p.server
        .handle_payload(
            &ChannelData {
                recipient: local,
                data: &[0; 60],
            }
            .to_bytes(),
        )
        .unwrap();
    let e = expect_protocol(
        p.server.handle_payload(
            &ChannelData {
                recipient: local,
                data: &[0; 41],
            }
            .to_bytes(),
        ),
    );
    assert!(matches!(
        e,
        ProtocolError::Window {
            error: WindowError::Overrun {
                len: 41,
                available: 40
            },
            ..
        }
    ));
    assert_failed(&mut p.server, &e);
}

#[test]
fn extended_data_counts_against_the_window() {
    let config = Config {
        window: 100,
        ..Config::default()
    };
    let mut p = Pair::with_config(config);
    let (_, s) = p.open(tcpip());
    let local = p.server.channel_info(s).unwrap().local.get();
    let ext = |n| {
        ChannelExtendedData {
            recipient: local,
            data_type: 1,
            data: &[0; 64][..n],
        }
        .to_bytes()
    };
    p.server.handle_payload(&ext(64)).unwrap();
    let e = expect_protocol(p.server.handle_payload(&ext(37)));
    assert!(matches!(e, ProtocolError::Window { .. }));
}

#[test]
fn oversized_data_packet_is_a_protocol_error() {
    let (mut p, local) = opened();
    let big = vec![0; 32 * 1024 + 1];
    let e = expect_protocol(
        p.server.handle_payload(
            &ChannelData {
                recipient: local,
                data: &big,
            }
            .to_bytes(),
        ),
    );
    assert!(matches!(
        e,
        ProtocolError::PacketTooLarge {
            len: 32769,
            max: 32768,
            ..
        }
    ));
}

/// russh's window-adjust overflow (GHSA-cqvm-j2r2-hwpg class): a
/// WINDOW_ADJUST that takes the send window past 2^32 - 1 is a protocol
/// error, never a wrapped (small) or panicking window, and nothing is sent
/// or delivered for it.
#[test]
fn russh_window_adjust_overflow() {
    let mut p = Pair::new();
    let (_, s) = p.open_session();
    let local = p.server.channel_info(s).unwrap().local.get();
    let adj = |n| {
        ChannelWindowAdjust {
            recipient: local,
            bytes_to_add: n,
        }
        .to_bytes()
    };
    // 2 MiB + (2^32 - 1 - 2 MiB) = 2^32 - 1: allowed.
    p.server
        .handle_payload(&adj(u32::MAX - 2 * 1024 * 1024))
        .unwrap();
    p.pump();
    p.server_events.clear();
    let e = expect_protocol(p.server.handle_payload(&adj(1)));
    assert!(matches!(
        e,
        ProtocolError::Window {
            error: WindowError::Overflow {
                window: u32::MAX,
                add: 1
            },
            ..
        }
    ));
    assert_failed(&mut p.server, &e);
    assert_nothing_done(&mut p.server);
    // The refused adjust left the window as it was.
    assert_eq!(p.server.channel_info(s).unwrap().send_window, u32::MAX);
}

/// A peer's maximum packet size of 0 (in CHANNEL_OPEN or its
/// confirmation) would make every send an endless loop of empty packets:
/// a protocol error, no channel opened, no confirmation sent, no event.
#[test]
fn channel_max_packet_zero() {
    let mut server = Connection::new(Role::Server, Config::default());
    let open = ChannelOpen {
        sender: 0,
        initial_window: 1000,
        max_packet: 0,
        channel_type: ChannelType::Session,
    };
    let e = expect_protocol(server.handle_payload(&open.to_bytes()));
    assert_eq!(e, ProtocolError::ZeroMaxPacket);
    assert_failed(&mut server, &e);
    assert_nothing_done(&mut server);

    let mut client = Connection::new(Role::Client, Config::default());
    let h = client.open_channel(ChannelType::Session).unwrap();
    let mut buf = Vec::new();
    assert!(client.poll_outgoing(&mut buf), "the CHANNEL_OPEN");
    let conf = ChannelOpenConfirmation {
        recipient: h.local_id().get(),
        sender: 5,
        initial_window: 10,
        max_packet: 0,
        extra: vec![],
    };
    let e = expect_protocol(client.handle_payload(&conf.to_bytes()));
    assert_eq!(e, ProtocolError::ZeroMaxPacket);
    assert_nothing_done(&mut client);
    assert!(!client.is_open(h), "the channel never opened");
    assert!(client.send_data(h, b"x").is_err());
}

/// Nothing was queued for the peer and nothing delivered to the
/// application.
fn assert_nothing_done(conn: &mut Connection) {
    let mut buf = Vec::new();
    assert!(!conn.poll_outgoing(&mut buf), "queued {buf:?}");
    assert_eq!(conn.poll_event(), None);
}

#[test]
fn confirmation_for_a_channel_we_did_not_open() {
    let (mut p, local) = opened();
    let conf = ChannelOpenConfirmation {
        recipient: local,
        sender: 9,
        initial_window: 10,
        max_packet: 10,
        extra: vec![],
    };
    // The server accepted this channel; it did not open it.
    let e = expect_protocol(p.server.handle_payload(&conf.to_bytes()));
    assert!(matches!(e, ProtocolError::UnexpectedOpenReply(_)));
    let mut fresh = Connection::new(Role::Client, Config::default());
    let e = expect_protocol(fresh.handle_payload(&conf.to_bytes()));
    assert!(matches!(e, ProtocolError::UnknownChannel(_)));
}

#[test]
fn replies_with_nothing_pending_are_protocol_errors() {
    let (mut p, local) = opened();
    let e = expect_protocol(
        p.server
            .handle_payload(&ChannelSuccess { recipient: local }.to_bytes()),
    );
    assert!(matches!(e, ProtocolError::UnexpectedReply(Some(_))));
    let mut c = Connection::new(Role::Client, Config::default());
    let e = expect_protocol(c.handle_payload(&RequestSuccess::default().to_bytes()));
    assert_eq!(e, ProtocolError::UnexpectedReply(None));
}

#[test]
fn anything_after_the_peers_close_is_a_protocol_error() {
    let (mut p, local) = opened();
    p.server
        .handle_payload(&ChannelClose { recipient: local }.to_bytes())
        .unwrap();
    let e = expect_protocol(
        p.server.handle_payload(
            &ChannelData {
                recipient: local,
                data: b"x",
            }
            .to_bytes(),
        ),
    );
    assert!(matches!(e, ProtocolError::AfterClose { .. }));
}

#[test]
fn messages_to_a_pending_channel_are_protocol_errors() {
    let mut server = Connection::new(Role::Server, Config::default());
    let open = ChannelOpen {
        sender: 3,
        initial_window: 1000,
        max_packet: 100,
        channel_type: ChannelType::Session,
    };
    server.handle_payload(&open.to_bytes()).unwrap();
    let Some(Event::OpenRequest { handle, .. }) = server.poll_event() else {
        panic!()
    };
    let e = expect_protocol(
        server.handle_payload(
            &ChannelData {
                recipient: handle.local_id().get(),
                data: b"x",
            }
            .to_bytes(),
        ),
    );
    assert!(matches!(e, ProtocolError::NotOpen { .. }));
}

#[test]
fn bad_bound_port_reply_is_a_protocol_error() {
    let mut c = Connection::new(Role::Client, Config::default());
    c.global_request(
        GlobalRequestKind::TcpipForward {
            address: String::new(),
            port: 0,
        },
        true,
    )
    .unwrap();
    let e = expect_protocol(c.handle_payload(&RequestSuccess { data: vec![1, 2] }.to_bytes()));
    assert!(matches!(e, ProtocolError::BadReplyData(_)));
}

#[test]
fn malformed_and_unknown_payloads() {
    let mut c = Connection::new(Role::Client, Config::default());
    assert_eq!(
        c.handle_payload(&[101]),
        Err(Error::Unimplemented { number: 101 })
    );
    assert!(
        c.failure().is_none(),
        "unimplemented numbers do not fail the connection"
    );
    let e = expect_protocol(c.handle_payload(&[94, 0, 0]));
    assert!(matches!(e, ProtocolError::Decode(_)));
}

#[test]
fn too_many_pending_peer_requests() {
    let config = Config {
        max_pending_requests: 4,
        ..Config::default()
    };
    let mut s = Connection::new(Role::Server, config);
    let req = GlobalRequest {
        want_reply: true,
        request: GlobalRequestKind::TcpipForward {
            address: String::new(),
            port: 1,
        },
    }
    .to_bytes();
    for _ in 0..4 {
        s.handle_payload(&req).unwrap();
    }
    let e = expect_protocol(s.handle_payload(&req));
    assert_eq!(e, ProtocolError::TooManyPendingRequests);
}

#[test]
fn our_pending_requests_are_bounded() {
    let config = Config {
        max_pending_requests: 2,
        ..Config::default()
    };
    let mut p = Pair::with_config(config);
    let (c, _) = p.open_session();
    p.client
        .channel_request(c, ChannelRequestKind::Shell, true)
        .unwrap();
    p.client
        .channel_request(c, ChannelRequestKind::Shell, true)
        .unwrap();
    assert_eq!(
        p.client.channel_request(c, ChannelRequestKind::Shell, true),
        Err(ApiError::TooManyPendingRequests)
    );
    // Without a reply, no limit applies.
    p.client
        .channel_request(c, ChannelRequestKind::Shell, false)
        .unwrap();
    let _ = ChannelRequest {
        recipient: 0,
        want_reply: false,
        request: ChannelRequestKind::Shell,
    };
}

#[test]
fn poll_transmit_drains_in_order() {
    let mut c = Connection::new(Role::Client, Config::default());
    let h = c.open_channel(ChannelType::Session).unwrap();
    c.global_request(GlobalRequestKind::Keepalive, false)
        .unwrap();
    let mut got = Vec::new();
    c.poll_transmit(|p| got.push(p.to_vec()));
    assert_eq!(got.len(), 2);
    assert!(matches!(ConnectionMessage::decode(&got[0]).unwrap(),
        ConnectionMessage::ChannelOpen(o) if o.sender == h.local_id().get()));
    assert!(matches!(ConnectionMessage::decode(&got[1]).unwrap(),
        ConnectionMessage::GlobalRequest(g) if !g.want_reply));
    assert!(!c.has_payload());
}

#[test]
fn output_queue_is_bounded_and_drain_wakes_writers() {
    let config = Config {
        max_queued_bytes: 10_000,
        ..Config::default()
    };
    let mut p = Pair::with_config(config);
    let (c, _) = p.open(tcpip());
    let n = p.client.send_data(c, &[0; 50_000]).unwrap();
    assert!(n <= 10_000 && n > 9_000, "{n}");
    assert_eq!(p.client.send_data(c, &[0; 10]).unwrap(), 0);
    let mut buf = Vec::new();
    while p.client.poll_outgoing(&mut buf) {}
    assert_eq!(p.client.poll_event(), Some(Event::Writable { handle: c }));
}

#[test]
fn peek_and_consume_reopen_the_window() {
    let config = Config {
        window: 100,
        max_window: 100,
        window_divisor: 2,
        ..Config::default()
    };
    let mut p = Pair::with_config(config);
    let (c, s) = p.open(tcpip());
    assert_eq!(p.client.send_data(c, &[5; 100]).unwrap(), 100);
    p.pump();
    let (a, b) = p.server.peek(s).unwrap();
    assert_eq!(a.len() + b.len(), 100);
    p.server.consume(s, 30).unwrap();
    p.pump();
    assert_eq!(p.client.send_capacity(c).unwrap(), 0, "30 < half of 100");
    p.server.consume(s, 1000).unwrap(); // clamped to the 70 buffered
    p.pump();
    assert_eq!(p.client.send_capacity(c).unwrap(), 100);
    assert_eq!(p.server.channel_info(s).unwrap().buffered, 0);
}

/// Data moved out whole (the zero-copy read) keeps its window share until
/// the reader says it used it; the buffer handed back is reused; readiness
/// is re-armed because the buffer is empty again.
#[test]
fn taken_data_holds_the_window_until_consumed() {
    let config = Config {
        window: 100,
        window_divisor: 2,
        ..Config::default()
    };
    let mut p = Pair::with_config(config);
    let (c, s) = p.open(tcpip());
    assert_eq!(p.client.send_data(c, &[5; 60]).unwrap(), 60);
    p.pump();
    p.server_events.clear();
    let spare = Vec::with_capacity(512);
    let taken = p.server.take_data(s, spare).unwrap();
    assert_eq!(taken, vec![5; 60]);
    p.pump();
    assert_eq!(
        p.client.send_capacity(c).unwrap(),
        40,
        "taken is not consumed"
    );
    // The channel is empty: new data is announced again.
    assert_eq!(p.client.send_data(c, &[6; 40]).unwrap(), 40);
    p.pump();
    assert_eq!(
        p.server_events.pop_front(),
        Some(Event::Readable { handle: s })
    );
    let again = p.server.take_data(s, Vec::new()).unwrap();
    assert_eq!(again, vec![6; 40]);
    assert_eq!(p.client.send_capacity(c).unwrap(), 0);
    p.server.consume_taken(s, 60).unwrap();
    p.pump();
    assert_eq!(p.client.send_capacity(c).unwrap(), 60);
    p.server.consume_taken(s, 1000).unwrap(); // clamped to the 40 still out
    p.pump();
    // 40 is under half the window: no adjust yet, but nothing is held.
    assert_eq!(p.client.send_capacity(c).unwrap(), 60);
    assert_eq!(p.server.channel_info(s).unwrap().buffered, 0);
    // A reader that goes away with bytes in hand puts them back, in order
    // and announced.
    p.client.send_data(c, b"world").unwrap();
    p.pump();
    p.server_events.clear();
    let mut taken = p.server.take_data(s, Vec::new()).unwrap();
    taken.splice(0..0, *b"hello ");
    p.server.put_back(s, false, &taken).unwrap(); // clamped to the 5 out
    p.pump();
    assert_eq!(
        p.server_events.pop_front(),
        Some(Event::Readable { handle: s })
    );
    p.server.put_back(s, false, b"xy").unwrap(); // nothing out: ignored
    assert_eq!(p.server.take_data(s, Vec::new()).unwrap(), b"world");
    p.server.consume_taken(s, 5).unwrap();
    // Nothing buffered: the spare comes back, emptied, with its capacity.
    let capacity = taken.capacity();
    let spare = p.server.take_data(s, taken).unwrap();
    assert!(spare.is_empty() && spare.capacity() == capacity);
}

#[test]
fn released_sessions_free_their_slot_in_the_session_limit() {
    let config = Config {
        max_sessions: 1,
        ..Config::default()
    };
    let mut p = Pair::with_config(config);
    let (c, s) = p.open_session();
    p.client.close(c).unwrap();
    p.pump();
    p.client_events.clear();
    p.server_events.clear();
    // Closed but not released on the server: still counted.
    p.client.release(c).unwrap();
    p.client.open_channel(ChannelType::Session).unwrap();
    p.pump();
    assert!(matches!(p.client_events.pop_front(),
        Some(Event::OpenFailed { reason, .. }) if reason == OpenFailureReason::RESOURCE_SHORTAGE));
    p.server.release(s).unwrap();
    p.open_session();
}
