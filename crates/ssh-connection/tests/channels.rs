//! Per-message and per-transition tests on an in-memory pair: opening, data, windows, EOF, close.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{Pair, assert_failed, expect_protocol, read_all, tcpip};
use ssh_connection::{ApiError, ChannelState, Config, Event, ProtocolError};
use ssh_wire::Encode;
use ssh_wire::messages::{
    ChannelData, ChannelEof, ChannelType, ConnectionMessage, GlobalRequestKind, OpenFailureReason,
};

#[test]
fn open_confirm_sets_windows_and_numbers() {
    let mut p = Pair::new();
    let (c, s) = p.open_session();
    let ci = p.client.channel_info(c).unwrap();
    let si = p.server.channel_info(s).unwrap();
    assert_eq!(ci.state, ChannelState::Open);
    assert_eq!(si.state, ChannelState::Open);
    assert_eq!(ci.remote.unwrap().get(), si.local.get());
    assert_eq!(si.remote.unwrap().get(), ci.local.get());
    assert_eq!(ci.send_window, 2 * 1024 * 1024);
    assert_eq!(ci.send_max_packet, 32 * 1024);
    assert_eq!(si.recv_window, 2 * 1024 * 1024);
    let msgs = p.messages(true);
    assert!(matches!(&msgs[0], ConnectionMessage::ChannelOpen(o)
        if o.channel_type == ChannelType::Session && o.initial_window == 2 * 1024 * 1024
            && o.max_packet == 32 * 1024));
    assert!(matches!(
        &p.messages(false)[0],
        ConnectionMessage::OpenConfirmation(_)
    ));
}

#[test]
fn every_channel_type_reaches_the_application() {
    let kinds = [
        ChannelType::Session,
        tcpip(),
        ChannelType::ForwardedTcpip {
            address: "0.0.0.0".into(),
            port: 8080,
            originator_address: "10.0.0.1".into(),
            originator_port: 4000,
        },
        ChannelType::X11 {
            originator_address: "192.168.7.38".into(),
            originator_port: 6000,
        },
        ChannelType::AuthAgent,
        ChannelType::DirectStreamlocal {
            socket_path: "/tmp/s".into(),
        },
        ChannelType::ForwardedStreamlocal {
            socket_path: "/tmp/f".into(),
        },
    ];
    for kind in kinds {
        let mut p = Pair::new();
        p.client.open_channel(kind.clone()).unwrap();
        p.pump();
        match p.server_events.pop_front() {
            Some(Event::OpenRequest { channel_type, .. }) => assert_eq!(channel_type, kind),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn reject_sends_reason_and_makes_handle_stale() {
    let mut p = Pair::new();
    let c = p.client.open_channel(tcpip()).unwrap();
    p.pump();
    let Some(Event::OpenRequest { handle: s, .. }) = p.server_events.pop_front() else {
        panic!()
    };
    p.server
        .reject(s, OpenFailureReason::CONNECT_FAILED, "refused")
        .unwrap();
    p.pump();
    assert_eq!(
        p.client_events.pop_front(),
        Some(Event::OpenFailed {
            handle: c,
            reason: OpenFailureReason::CONNECT_FAILED,
            description: "refused".into()
        })
    );
    assert_eq!(p.client.send_data(c, b"x"), Err(ApiError::StaleHandle));
    assert_eq!(p.server.accept(s), Err(ApiError::StaleHandle));
    assert_eq!(p.client.channel_count(), 0);
    assert_eq!(p.server.channel_count(), 0);
}

#[test]
fn unknown_channel_type_is_refused_automatically() {
    let mut p = Pair::new();
    let c = p
        .client
        .open_channel(ChannelType::Unknown {
            name: "frob@example.com".into(),
            rest: vec![1, 2],
        })
        .unwrap();
    p.pump();
    assert!(p.server_events.is_empty());
    assert!(matches!(p.client_events.pop_front(),
        Some(Event::OpenFailed { handle, reason, .. })
            if handle == c && reason == OpenFailureReason::UNKNOWN_CHANNEL_TYPE));
}

#[test]
fn client_refuses_session_from_server() {
    let mut p = Pair::new();
    let s = p.server.open_channel(ChannelType::Session).unwrap();
    p.pump();
    assert!(p.client_events.is_empty());
    assert!(matches!(p.server_events.pop_front(),
        Some(Event::OpenFailed { handle, reason, .. })
            if handle == s && reason == OpenFailureReason::ADMINISTRATIVELY_PROHIBITED));
}

#[test]
fn no_more_sessions_refuses_later_sessions_only() {
    let mut p = Pair::new();
    p.open_session();
    assert_eq!(
        p.client
            .global_request(GlobalRequestKind::NoMoreSessions, false)
            .unwrap(),
        None
    );
    p.pump();
    assert!(p.server_events.is_empty());
    p.client.open_channel(ChannelType::Session).unwrap();
    p.pump();
    assert!(matches!(p.client_events.pop_front(),
        Some(Event::OpenFailed { reason, .. })
            if reason == OpenFailureReason::ADMINISTRATIVELY_PROHIBITED));
    p.open(tcpip());
}

#[test]
fn max_sessions_and_max_channels() {
    let mut p = Pair::new();
    for _ in 0..10 {
        p.open_session();
    }
    p.client.open_channel(ChannelType::Session).unwrap();
    p.pump();
    assert!(matches!(p.client_events.pop_front(),
        Some(Event::OpenFailed { reason, .. }) if reason == OpenFailureReason::RESOURCE_SHORTAGE));

    let config = Config {
        max_channels: 2,
        ..Config::default()
    };
    let mut p = Pair::with_config(config);
    p.open(tcpip());
    p.open(tcpip());
    assert_eq!(
        p.client.open_channel(tcpip()),
        Err(ApiError::TooManyChannels)
    );
    p.server.open_channel(tcpip()).unwrap_err();
}

#[test]
fn data_round_trip_respects_max_packet() {
    let mut p = Pair::new();
    let (c, s) = p.open_session();
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(p.client.send_data(c, &data).unwrap(), data.len());
    p.pump();
    assert_eq!(
        p.server_events.pop_front(),
        Some(Event::Readable { handle: s })
    );
    assert!(
        p.server_events.is_empty(),
        "one Readable per empty->non-empty"
    );
    for m in p.messages(true) {
        if let ConnectionMessage::Data(d) = m {
            assert!(d.data.len() <= 32 * 1024);
        }
    }
    assert_eq!(read_all(&mut p.server, s), data);
}

/// Readiness per stream: stderr that nobody reads must not keep stdout's
/// reader from hearing of new data (a reader of stdout alone would wait
/// forever).
#[test]
fn readable_is_per_stream_while_the_other_buffer_sits_unread() {
    let mut p = Pair::new();
    let (c, s) = p.open_session();
    p.server.send_extended_data(s, 1, b"warning").unwrap();
    p.server.send_data(s, b"first").unwrap();
    p.pump();
    let events: Vec<Event> = p.client_events.drain(..).collect();
    assert_eq!(
        events,
        vec![
            Event::ReadableExtended { handle: c },
            Event::Readable { handle: c }
        ]
    );
    // stdout read empty; stderr left alone.
    assert_eq!(read_all(&mut p.client, c), b"first");
    p.server.send_data(s, b"second").unwrap();
    p.pump();
    assert_eq!(
        p.client_events.pop_front(),
        Some(Event::Readable { handle: c }),
        "new stdout data while stderr is unread"
    );
    assert!(p.client_events.is_empty(), "{:?}", p.client_events);
    // More stderr while stderr is unread: nothing new to say.
    p.server.send_extended_data(s, 1, b" again").unwrap();
    p.pump();
    assert!(p.client_events.is_empty(), "{:?}", p.client_events);
    let mut buf = [0u8; 64];
    let n = p.client.read_extended(c, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"warning again");
}

#[test]
fn window_limits_sends_and_adjust_follows_consumption() {
    let config = Config {
        window: 1000,
        max_packet: 300,
        window_divisor: 2,
        ..Config::default()
    };
    let mut p = Pair::with_config(config);
    let (c, s) = p.open(tcpip());
    let data = vec![7u8; 5000];
    assert_eq!(p.client.send_data(c, &data).unwrap(), 1000);
    assert_eq!(p.client.send_capacity(c).unwrap(), 0);
    assert_eq!(p.client.send_data(c, &data).unwrap(), 0);
    p.pump();
    let sizes: Vec<usize> = p
        .messages(true)
        .iter()
        .filter_map(|m| match m {
            ConnectionMessage::Data(d) => Some(d.data.len()),
            _ => None,
        })
        .collect();
    assert_eq!(sizes, [300, 300, 300, 100]);
    assert_eq!(p.server.channel_info(s).unwrap().recv_window, 0);
    assert_eq!(p.server.channel_info(s).unwrap().buffered, 1000);

    // 499 bytes consumed: below half the window, no adjust.
    let mut buf = [0u8; 499];
    assert_eq!(p.server.read(s, &mut buf).unwrap(), 499);
    p.pump();
    assert!(
        !p.messages(false)
            .iter()
            .any(|m| matches!(m, ConnectionMessage::WindowAdjust(_)))
    );
    assert!(
        !p.client_events
            .iter()
            .any(|e| matches!(e, Event::Writable { .. }))
    );

    // One more byte: WINDOW_ADJUST of 500, Writable on the client.
    assert_eq!(p.server.read(s, &mut buf[..1]).unwrap(), 1);
    p.pump();
    assert!(p.messages(false).iter().any(|m| matches!(m,
        ConnectionMessage::WindowAdjust(w) if w.bytes_to_add == 500)));
    assert_eq!(
        p.client_events.pop_back(),
        Some(Event::Writable { handle: c })
    );
    assert_eq!(p.client.send_capacity(c).unwrap(), 500);
}

#[test]
fn extended_data_is_buffered_apart() {
    let mut p = Pair::new();
    let (c, s) = p.open_session();
    p.server.send_data(s, b"out").unwrap();
    p.server.send_extended_data(s, 1, b"err").unwrap();
    p.pump();
    let mut buf = [0u8; 16];
    assert_eq!(p.client.read_extended(c, &mut buf).unwrap(), 3);
    assert_eq!(&buf[..3], b"err");
    assert_eq!(read_all(&mut p.client, c), b"out");
    // Unknown type codes are dropped and their window given back.
    p.server.send_extended_data(s, 9, b"zz").unwrap();
    p.pump();
    assert_eq!(p.client.channel_info(c).unwrap().buffered, 0);
}

#[test]
fn eof_then_data_is_refused_both_ways() {
    let mut p = Pair::new();
    let (c, s) = p.open_session();
    p.client.send_eof(c).unwrap();
    assert_eq!(p.client.send_data(c, b"x"), Err(ApiError::EofSent));
    assert_eq!(p.client.send_eof(c), Err(ApiError::EofSent));
    p.pump();
    assert_eq!(p.server_events.pop_front(), Some(Event::Eof { handle: s }));
    assert!(p.server.channel_info(s).unwrap().eof_received);
    // The other direction still flows.
    p.server.send_data(s, b"reply").unwrap();
    p.pump();
    assert_eq!(read_all(&mut p.client, c), b"reply");
    // A peer sending data after its EOF is a protocol error.
    let local = p.server.channel_info(s).unwrap().local.get();
    let e = expect_protocol(
        p.server.handle_payload(
            &ChannelData {
                recipient: local,
                data: b"late",
            }
            .to_bytes(),
        ),
    );
    assert!(matches!(e, ProtocolError::DataAfterEof(_)));
    assert_failed(&mut p.server, &e);
}

#[test]
fn duplicate_eof_is_a_protocol_error() {
    let mut p = Pair::new();
    let (_, s) = p.open_session();
    let local = p.server.channel_info(s).unwrap().local.get();
    let eof = ChannelEof { recipient: local }.to_bytes();
    p.server.handle_payload(&eof).unwrap();
    let e = expect_protocol(p.server.handle_payload(&eof));
    assert!(matches!(e, ProtocolError::DuplicateEof(_)));
}

#[test]
fn close_both_ways_then_release_reuses_number_with_new_generation() {
    let mut p = Pair::new();
    let (c, s) = p.open_session();
    p.server.send_data(s, b"bye").unwrap();
    p.client.close(c).unwrap();
    assert_eq!(
        p.client.channel_info(c).unwrap().state,
        ChannelState::CloseSent
    );
    p.client.close(c).unwrap(); // idempotent
    p.pump();
    assert!(p.server_events.contains(&Event::Closed { handle: s }));
    assert!(p.client_events.contains(&Event::Closed { handle: c }));
    // Exactly one CLOSE each way.
    let closes = |from_client| {
        p.messages(from_client)
            .iter()
            .filter(|m| matches!(m, ConnectionMessage::Close(_)))
            .count()
    };
    assert_eq!((closes(true), closes(false)), (1, 1));
    assert_eq!(
        p.client.channel_info(c).unwrap().state,
        ChannelState::Closed
    );
    // Data that arrived before the close can still be read.
    assert_eq!(read_all(&mut p.client, c), b"bye");
    assert!(matches!(
        p.client.send_data(c, b"x"),
        Err(ApiError::InvalidState { .. })
    ));

    p.client_events.clear();
    p.server_events.clear();
    // Not reused before release.
    let (c2, _) = p.open_session();
    assert_ne!(c2.local_id(), c.local_id());
    p.client.release(c).unwrap();
    p.server.release(s).unwrap();
    assert_eq!(p.client.read(c, &mut [0; 4]), Err(ApiError::StaleHandle));
    // After release the number comes back, under a new generation.
    let (c3, _) = p.open_session();
    assert_eq!(c3.local_id(), c.local_id());
    assert_ne!(c3, c);
    assert_eq!(p.client.send_data(c, b"x"), Err(ApiError::StaleHandle));
    assert!(p.client.send_data(c3, b"x").is_ok());
}

#[test]
fn release_before_close_closes_and_frees_on_peer_close() {
    let mut p = Pair::new();
    let (c, s) = p.open_session();
    p.server.send_data(s, b"unread").unwrap();
    p.pump();
    p.client.release(c).unwrap();
    assert_eq!(p.client.channel_info(c), Err(ApiError::StaleHandle));
    assert_eq!(p.client.channel_count(), 1, "kept until the peer's CLOSE");
    p.pump();
    assert_eq!(p.client.channel_count(), 0);
    assert!(
        !p.client_events
            .iter()
            .any(|e| matches!(e, Event::Closed { .. }))
    );
    assert!(p.server_events.contains(&Event::Closed { handle: s }));
    p.server.release(s).unwrap();
    assert_eq!(p.server.channel_count(), 0);
}

#[test]
fn close_while_opening_waits_for_confirmation() {
    let mut p = Pair::new();
    let c = p.client.open_channel(tcpip()).unwrap();
    p.client.close(c).unwrap();
    p.pump();
    let Some(Event::OpenRequest { handle: s, .. }) = p.server_events.pop_front() else {
        panic!()
    };
    p.server.accept(s).unwrap();
    p.pump();
    assert!(p.server_events.contains(&Event::Closed { handle: s }));
    assert!(p.client_events.contains(&Event::Closed { handle: c }));
}

#[test]
fn set_receive_window_grows_at_once() {
    let mut p = Pair::new();
    let (c, s) = p.open_session();
    p.server.set_receive_window(s, 8 * 1024 * 1024).unwrap();
    p.pump();
    assert_eq!(
        p.client.channel_info(c).unwrap().send_window,
        8 * 1024 * 1024
    );
    assert_eq!(
        p.server.channel_info(s).unwrap().recv_window,
        8 * 1024 * 1024
    );
}

#[test]
fn stalled_channel_does_not_block_another() {
    let config = Config {
        window: 4096,
        ..Config::default()
    };
    let mut p = Pair::with_config(config);
    let (c1, _s1) = p.open(tcpip());
    let (c2, s2) = p.open(tcpip());
    // Fill channel 1; its reader never reads.
    assert_eq!(p.client.send_data(c1, &[1; 10_000]).unwrap(), 4096);
    p.pump();
    // Channel 2 moves 100 KiB through the same connection.
    let total = 100 * 1024;
    let (mut sent, mut got) = (0, Vec::new());
    while got.len() < total {
        sent += p.client.send_data(c2, &vec![2; total - sent]).unwrap();
        p.pump();
        got.extend(read_all(&mut p.server, s2));
        p.pump();
    }
    assert_eq!(got, vec![2; total]);
    assert_eq!(p.client.send_capacity(c1).unwrap(), 0);
}
