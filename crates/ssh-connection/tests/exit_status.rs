//! Exit status per channel (RFC 4254 §6.10) and the channel state getters
//! an application needs instead of keeping its own copy.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::Pair;
use ssh_connection::{ChannelState, Event, ExitStatus};
use ssh_wire::messages::{ChannelRequestKind, ChannelType, ConnectionMessage, OpenFailureReason};

fn exit_signal() -> ChannelRequestKind {
    ChannelRequestKind::ExitSignal {
        signal: "SEGV".into(),
        core_dumped: true,
        message: "Segmentation fault".into(),
        language: String::new(),
    }
}

#[test]
fn exit_status_is_recorded_and_reported_without_an_id() {
    let mut p = Pair::new();
    let (c, s) = p.open_session();
    assert_eq!(p.client.exit_status(c), None);
    let req = ChannelRequestKind::ExitStatus { status: 3 };
    assert_eq!(p.server.channel_request(s, req.clone(), false), Ok(None));
    p.pump();
    assert_eq!(p.client.exit_status(c), Some(&ExitStatus::Code(3)));
    assert_eq!(
        p.client_events.pop_front(),
        Some(Event::ChannelRequest {
            handle: c,
            id: None,
            request: req
        })
    );
    // No reply went back.
    assert!(p.messages(true).iter().all(|m| !matches!(
        m,
        ConnectionMessage::Success(_) | ConnectionMessage::Failure(_)
    )));
}

#[test]
fn exit_signal_is_recorded() {
    let mut p = Pair::new();
    let (c, s) = p.open_session();
    p.server.channel_request(s, exit_signal(), false).unwrap();
    p.pump();
    assert_eq!(
        p.client.exit_status(c),
        Some(&ExitStatus::Signal {
            name: "SEGV".into(),
            core_dumped: true,
            message: "Segmentation fault".into(),
        })
    );
    assert!(matches!(
        p.client_events.pop_front(),
        Some(Event::ChannelRequest { id: None, .. })
    ));
}

#[test]
fn exit_request_wanting_a_reply_is_refused_by_the_connection() {
    // RFC 4254 §6.10: "want reply" is FALSE for both; a peer that sets it
    // gets FAILURE, and the status is recorded all the same.
    for req in [ChannelRequestKind::ExitStatus { status: 0 }, exit_signal()] {
        let mut p = Pair::new();
        let (c, s) = p.open_session();
        let id = p.server.channel_request(s, req.clone(), true).unwrap();
        let id = id.unwrap();
        p.pump();
        assert_eq!(
            p.client_events.pop_front(),
            Some(Event::ChannelRequest {
                handle: c,
                id: None,
                request: req.clone()
            })
        );
        assert!(p.client.exit_status(c).is_some());
        assert_eq!(
            p.server_events.pop_front(),
            Some(Event::ChannelReply {
                handle: s,
                id,
                success: false
            })
        );
    }
}

#[test]
fn exit_status_stays_until_release() {
    let mut p = Pair::new();
    let (c, s) = p.open_session();
    p.server
        .channel_request(s, ChannelRequestKind::ExitStatus { status: 1 }, false)
        .unwrap();
    p.server
        .channel_request(s, ChannelRequestKind::ExitStatus { status: 2 }, false)
        .unwrap();
    p.server.send_eof(s).unwrap();
    p.server.close(s).unwrap();
    p.pump();
    // The latest one counts.
    assert!(p.client.is_closed(c));
    assert_eq!(p.client.exit_status(c), Some(&ExitStatus::Code(2)));
    p.client.release(c).unwrap();
    assert_eq!(p.client.exit_status(c), None);
}

#[test]
fn channel_state_getters_follow_the_life_of_a_channel() {
    let mut p = Pair::new();
    let c = p.client.open_channel(ChannelType::Session).unwrap();
    assert!(p.client.is_opening(c));
    assert!(!p.client.is_open(c));
    assert_eq!(p.client.channel_state(c), Some(ChannelState::Opening));
    p.pump();
    let Some(Event::OpenRequest { handle: s, .. }) = p.server_events.pop_front() else {
        panic!()
    };
    assert_eq!(p.server.channel_state(s), Some(ChannelState::PendingAccept));
    p.server.accept(s).unwrap();
    p.pump();
    assert!(p.client.is_open(c) && !p.client.is_opening(c));
    assert!(!p.client.eof_received(c));
    p.server.send_eof(s).unwrap();
    p.pump();
    assert!(p.client.eof_received(c));
    assert!(p.client.is_open(c), "EOF is a flag, not a state");
    assert!(!p.client.is_closed(c));
    p.client.close(c).unwrap();
    assert_eq!(p.client.channel_state(c), Some(ChannelState::CloseSent));
    assert!(!p.client.is_open(c) && !p.client.is_closed(c));
    p.pump();
    assert!(p.client.is_closed(c) && p.server.is_closed(s));
    p.client.release(c).unwrap();
    assert_eq!(p.client.channel_state(c), None);
    assert!(!p.client.is_closed(c) && !p.client.eof_received(c));
    assert_eq!(p.client.open_failure(c), None);
}

#[test]
fn open_failure_is_remembered_for_the_stale_handle() {
    let mut p = Pair::new();
    let c = p.client.open_channel(common::tcpip()).unwrap();
    p.pump();
    let Some(Event::OpenRequest { handle: s, .. }) = p.server_events.pop_front() else {
        panic!()
    };
    p.server
        .reject(s, OpenFailureReason::CONNECT_FAILED, "connection refused")
        .unwrap();
    p.pump();
    assert!(matches!(
        p.client_events.pop_front(),
        Some(Event::OpenFailed { .. })
    ));
    assert_eq!(p.client.channel_state(c), None);
    assert!(!p.client.is_opening(c) && !p.client.is_open(c));
    assert_eq!(
        p.client.open_failure(c),
        Some((OpenFailureReason::CONNECT_FAILED, "connection refused"))
    );
    // The number is reused by the next open, with a new handle that has
    // no failure.
    let c2 = p.client.open_channel(common::tcpip()).unwrap();
    assert_ne!(c2, c);
    assert_eq!(p.client.open_failure(c2), None);
    assert!(p.client.open_failure(c).is_some());
}

#[test]
fn remembered_open_failures_are_bounded() {
    let mut p = Pair::new();
    let mut handles = Vec::new();
    for i in 0..100 {
        let c = p.client.open_channel(common::tcpip()).unwrap();
        p.pump();
        let Some(Event::OpenRequest { handle: s, .. }) = p.server_events.pop_front() else {
            panic!()
        };
        p.server
            .reject(s, OpenFailureReason::CONNECT_FAILED, &format!("no {i}"))
            .unwrap();
        p.pump();
        handles.push(c);
    }
    assert_eq!(p.client.open_failure(handles[0]), None);
    assert_eq!(
        p.client.open_failure(handles[99]),
        Some((OpenFailureReason::CONNECT_FAILED, "no 99"))
    );
    let remembered = handles
        .iter()
        .filter(|h| p.client.open_failure(**h).is_some())
        .count();
    assert!((1..=64).contains(&remembered), "{remembered}");
}
