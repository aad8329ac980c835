//! Per-message and per-transition tests on an in-memory pair.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{Pair, read_all, tcpip};
use ssh_connection::{
    ApiError, ChannelState, Config, Connection, Error, Event, GlobalReply, ProtocolError, Role,
    WindowError,
};
use ssh_wire::Encode;
use ssh_wire::messages::channel_request::opcode;
use ssh_wire::messages::{
    ChannelClose, ChannelData, ChannelEof, ChannelExtendedData, ChannelOpen,
    ChannelOpenConfirmation, ChannelRequest, ChannelRequestKind, ChannelSuccess, ChannelType,
    ChannelWindowAdjust, ConnectionMessage, DisconnectReason, GlobalRequest, GlobalRequestKind,
    OpenFailureReason, PtyRequest, RequestSuccess, TerminalModes,
};

fn expect_protocol(r: Result<(), Error>) -> ProtocolError {
    match r {
        Err(Error::Protocol(e)) => {
            assert_eq!(e.disconnect_reason(), DisconnectReason::PROTOCOL_ERROR);
            e
        }
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

/// The error is sticky: the connection stays failed, the API refuses.
fn assert_failed(conn: &mut Connection, e: &ProtocolError) {
    let again = conn.handle_payload(&ssh_wire::messages::RequestFailure.to_bytes());
    assert_eq!(again, Err(Error::Protocol(e.clone())));
    assert_eq!(
        conn.open_channel(ChannelType::Session),
        Err(ApiError::ConnectionFailed)
    );
    assert_eq!(conn.failure(), Some(e));
}

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

#[test]
fn window_limits_sends_and_adjust_follows_consumption() {
    let config = Config {
        window: 1000,
        max_packet: 300,
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

fn pty() -> ChannelRequestKind {
    ChannelRequestKind::PtyReq(PtyRequest {
        term: "xterm-256color".into(),
        cols: 80,
        rows: 24,
        width_px: 640,
        height_px: 480,
        modes: TerminalModes {
            modes: vec![
                (opcode::IUTF8, 1),
                (opcode::VINTR, 3),
                (opcode::TTY_OP_ISPEED, 38400),
            ],
            unparsed: Vec::new(),
        },
    })
}

#[test]
fn channel_requests_are_answered_in_order() {
    let mut p = Pair::new();
    let (c, s) = p.open_session();
    let r1 = p.client.channel_request(c, pty(), true).unwrap().unwrap();
    p.client
        .channel_request(
            c,
            ChannelRequestKind::Env {
                name: "LANG".into(),
                value: b"C".to_vec(),
            },
            false,
        )
        .unwrap();
    let r2 = p
        .client
        .channel_request(c, ChannelRequestKind::Shell, true)
        .unwrap()
        .unwrap();
    p.pump();
    let mut ids = Vec::new();
    while let Some(Event::ChannelRequest {
        handle,
        id,
        request,
    }) = p.server_events.pop_front()
    {
        assert_eq!(handle, s);
        if let ChannelRequestKind::PtyReq(pr) = &request {
            assert_eq!(pr.modes.get(opcode::IUTF8), Some(1));
        }
        ids.push((id, request.name().to_owned()));
    }
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[1], (None, "env".to_owned()));
    let (Some(s1), Some(s2)) = (ids[0].0, ids[2].0) else {
        panic!()
    };
    // Answer the second first: nothing goes out until the first is answered.
    p.server.answer_channel_request(s, s2, true).unwrap();
    p.pump();
    assert!(p.client_events.is_empty());
    p.server.answer_channel_request(s, s1, false).unwrap();
    assert_eq!(
        p.server.answer_channel_request(s, s1, true),
        Err(ApiError::NoSuchRequest)
    );
    p.pump();
    assert_eq!(
        p.client_events.drain(..).collect::<Vec<_>>(),
        [
            Event::ChannelReply {
                handle: c,
                id: r1,
                success: false
            },
            Event::ChannelReply {
                handle: c,
                id: r2,
                success: true
            },
        ]
    );
}

#[test]
fn every_known_channel_request_reaches_the_application() {
    let reqs = [
        pty(),
        ChannelRequestKind::X11Req {
            single_connection: true,
            auth_protocol: "MIT-MAGIC-COOKIE-1".into(),
            auth_cookie: "00ff".into(),
            screen: 0,
        },
        ChannelRequestKind::Exec {
            command: b"ls".to_vec(),
        },
        ChannelRequestKind::Subsystem {
            name: "sftp".into(),
        },
        ChannelRequestKind::WindowChange {
            cols: 1,
            rows: 2,
            width_px: 3,
            height_px: 4,
        },
        ChannelRequestKind::XonXoff {
            client_can_do: true,
        },
        ChannelRequestKind::Signal { name: "INT".into() },
        ChannelRequestKind::ExitStatus { status: 3 },
        ChannelRequestKind::ExitSignal {
            signal: "KILL".into(),
            core_dumped: false,
            message: String::new(),
            language: String::new(),
        },
        ChannelRequestKind::Break { length_ms: 500 },
        ChannelRequestKind::AuthAgentReq,
        ChannelRequestKind::Eow,
    ];
    let mut p = Pair::new();
    let (c, s) = p.open_session();
    for r in reqs {
        p.client.channel_request(c, r.clone(), false).unwrap();
        p.pump();
        assert_eq!(
            p.server_events.pop_front(),
            Some(Event::ChannelRequest {
                handle: s,
                id: None,
                request: r
            })
        );
    }
}

#[test]
fn unknown_channel_request_gets_failure_only_when_a_reply_is_wanted() {
    let mut p = Pair::new();
    let (c, _) = p.open_session();
    let unknown = ChannelRequestKind::Unknown {
        name: "frob@example.com".into(),
        rest: vec![],
    };
    p.client.channel_request(c, unknown.clone(), false).unwrap();
    p.pump();
    assert!(p.server_events.is_empty());
    assert!(p.client_events.is_empty());
    let id = p.client.channel_request(c, unknown, true).unwrap().unwrap();
    p.pump();
    assert!(p.server_events.is_empty());
    assert_eq!(
        p.client_events.pop_front(),
        Some(Event::ChannelReply {
            handle: c,
            id,
            success: false
        })
    );
}

#[test]
fn global_requests_typed_replies_in_order() {
    let mut p = Pair::new();
    let fwd = p
        .client
        .global_request(
            GlobalRequestKind::TcpipForward {
                address: "0.0.0.0".into(),
                port: 0,
            },
            true,
        )
        .unwrap()
        .unwrap();
    let ka = p
        .client
        .global_request(GlobalRequestKind::Keepalive, true)
        .unwrap()
        .unwrap();
    let unk = p
        .client
        .global_request(
            GlobalRequestKind::Unknown {
                name: "x@example.com".into(),
                rest: vec![],
            },
            true,
        )
        .unwrap()
        .unwrap();
    let sl = p
        .client
        .global_request(
            GlobalRequestKind::StreamlocalForward {
                socket_path: "/tmp/x".into(),
            },
            true,
        )
        .unwrap()
        .unwrap();
    p.pump();
    // Only the forward requests reach the application; the automatic
    // answers wait behind the forward so replies stay in order.
    assert!(p.client_events.is_empty());
    let Some(Event::GlobalRequest {
        id: Some(s_fwd),
        request,
    }) = p.server_events.pop_front()
    else {
        panic!()
    };
    assert!(matches!(
        request,
        GlobalRequestKind::TcpipForward { port: 0, .. }
    ));
    let Some(Event::GlobalRequest { id: Some(s_sl), .. }) = p.server_events.pop_front() else {
        panic!()
    };
    p.server
        .answer_global_request(s_sl, GlobalReply::Success)
        .unwrap();
    assert_eq!(
        p.server.answer_global_request(s_fwd, GlobalReply::Success),
        Err(ApiError::WrongReply),
        "port 0 needs the bound port"
    );
    assert_eq!(
        p.server
            .answer_global_request(s_fwd, GlobalReply::HostKeySignatures(vec![])),
        Err(ApiError::WrongReply)
    );
    p.server
        .answer_global_request(s_fwd, GlobalReply::BoundPort(40022))
        .unwrap();
    p.pump();
    assert_eq!(
        p.client_events.drain(..).collect::<Vec<_>>(),
        [
            Event::GlobalReply {
                id: fwd,
                reply: GlobalReply::BoundPort(40022)
            },
            Event::GlobalReply {
                id: ka,
                reply: GlobalReply::Failure
            },
            Event::GlobalReply {
                id: unk,
                reply: GlobalReply::Failure
            },
            Event::GlobalReply {
                id: sl,
                reply: GlobalReply::Success
            },
        ]
    );
}

#[test]
fn every_known_global_request_reaches_the_application() {
    let reqs = [
        GlobalRequestKind::TcpipForward {
            address: "localhost".into(),
            port: 8022,
        },
        GlobalRequestKind::CancelTcpipForward {
            address: "localhost".into(),
            port: 8022,
        },
        GlobalRequestKind::StreamlocalForward {
            socket_path: "/tmp/a".into(),
        },
        GlobalRequestKind::CancelStreamlocalForward {
            socket_path: "/tmp/a".into(),
        },
        GlobalRequestKind::HostKeys {
            keys: vec![b"k".to_vec()],
        },
        GlobalRequestKind::HostKeysProve {
            keys: vec![b"k".to_vec()],
        },
    ];
    for r in reqs {
        let mut p = Pair::new();
        let id = p.client.global_request(r.clone(), true).unwrap().unwrap();
        p.pump();
        let Some(Event::GlobalRequest {
            id: Some(sid),
            request,
        }) = p.server_events.pop_front()
        else {
            panic!()
        };
        assert_eq!(request, r);
        p.server
            .answer_global_request(sid, GlobalReply::Failure)
            .unwrap();
        p.pump();
        assert_eq!(
            p.client_events.pop_front(),
            Some(Event::GlobalReply {
                id,
                reply: GlobalReply::Failure
            })
        );
        // Each request is answered once.
        assert_eq!(
            p.server.answer_global_request(sid, GlobalReply::Success),
            Err(ApiError::NoSuchRequest)
        );
    }
}

#[test]
fn hostkeys_and_prove() {
    let mut p = Pair::new();
    p.server
        .global_request(
            GlobalRequestKind::HostKeys {
                keys: vec![b"k1".to_vec()],
            },
            false,
        )
        .unwrap();
    let id = p
        .client
        .global_request(
            GlobalRequestKind::HostKeysProve {
                keys: vec![b"k1".to_vec(), b"k2".to_vec()],
            },
            true,
        )
        .unwrap()
        .unwrap();
    p.pump();
    assert_eq!(
        p.client_events.pop_front(),
        Some(Event::GlobalRequest {
            id: None,
            request: GlobalRequestKind::HostKeys {
                keys: vec![b"k1".to_vec()]
            }
        })
    );
    let Some(Event::GlobalRequest { id: Some(sid), .. }) = p.server_events.pop_front() else {
        panic!()
    };
    let sigs = vec![b"s1".to_vec(), b"s2".to_vec()];
    p.server
        .answer_global_request(sid, GlobalReply::HostKeySignatures(sigs.clone()))
        .unwrap();
    p.pump();
    assert_eq!(
        p.client_events.pop_front(),
        Some(Event::GlobalReply {
            id,
            reply: GlobalReply::HostKeySignatures(sigs)
        })
    );
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

// --- protocol violations -------------------------------------------------

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

#[test]
fn window_adjust_overflow_is_a_protocol_error() {
    let (mut p, local) = opened();
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
}

#[test]
fn zero_max_packet_is_a_protocol_error() {
    let mut server = Connection::new(Role::Server, Config::default());
    let open = ChannelOpen {
        sender: 0,
        initial_window: 1000,
        max_packet: 0,
        channel_type: ChannelType::Session,
    };
    let e = expect_protocol(server.handle_payload(&open.to_bytes()));
    assert_eq!(e, ProtocolError::ZeroMaxPacket);

    let mut client = Connection::new(Role::Client, Config::default());
    let h = client.open_channel(ChannelType::Session).unwrap();
    let conf = ChannelOpenConfirmation {
        recipient: h.local_id().get(),
        sender: 5,
        initial_window: 10,
        max_packet: 0,
        extra: vec![],
    };
    let e = expect_protocol(client.handle_payload(&conf.to_bytes()));
    assert_eq!(e, ProtocolError::ZeroMaxPacket);
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
    while p.client.poll_payload(&mut buf) {}
    assert_eq!(p.client.poll_event(), Some(Event::Writable { handle: c }));
}

#[test]
fn peek_and_consume_reopen_the_window() {
    let config = Config {
        window: 100,
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
