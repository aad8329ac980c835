//! Channel and global requests on an in-memory pair: typed requests, replies in order.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::Pair;
use ssh_connection::{ApiError, Event, GlobalReply};
use ssh_wire::messages::channel_request::opcode;
use ssh_wire::messages::{ChannelRequestKind, GlobalRequestKind, PtyRequest, TerminalModes};

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
