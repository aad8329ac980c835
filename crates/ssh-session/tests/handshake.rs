//! Whole sessions: handshake, both auth methods, a `session` channel.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{Options, Pair};
use ssh_auth::client::{ClientEvent, ClientMethod};
use ssh_auth::server::ServerEvent;
use ssh_connection::Event;
use ssh_session::{ClientSessionEvent, ServerSessionEvent};
use ssh_wire::messages::{ChannelRequestKind, ChannelType};

#[test]
fn password_auth_then_exec_channel_both_ways() {
    let mut p = Pair::connected(Options::default());
    // The client saw the host key, then the password prompt, then success.
    assert!(matches!(
        p.c_events[..],
        [ClientSessionEvent::Transport(_), ..]
    ));
    assert!(
        p.c_events
            .iter()
            .any(|e| matches!(e, ClientSessionEvent::HostKey { .. }))
    );
    let prompt = p
        .c_events
        .iter()
        .position(|e| *e == ClientSessionEvent::Auth(ClientEvent::PasswordPrompt))
        .unwrap();
    let success = p
        .c_events
        .iter()
        .position(|e| *e == ClientSessionEvent::Auth(ClientEvent::Success))
        .unwrap();
    assert!(prompt < success);
    assert_eq!(
        p.c_events[success + 1],
        ClientSessionEvent::Authenticated,
        "Authenticated follows Success"
    );
    assert!(p.s_events.iter().any(|e| matches!(
        e,
        ServerSessionEvent::Auth(ServerEvent::Success { user, method, .. })
            if user == "alice" && method == "password"
    )));
    assert!(p.s_events.contains(&ServerSessionEvent::Authenticated));
    assert_eq!(p.c.transport().session_id(), p.s.transport().session_id());

    // A session channel with exec.
    let ch = p.cc().open_channel(ChannelType::Session).unwrap();
    p.drive().unwrap();
    let sh = match p.s_conn.remove(0) {
        Event::OpenRequest {
            handle,
            channel_type: ChannelType::Session,
        } => handle,
        other => panic!("{other:?}"),
    };
    p.sc().accept(sh).unwrap();
    p.drive().unwrap();
    assert_eq!(p.c_conn.remove(0), Event::OpenConfirmed { handle: ch });
    let id = p
        .cc()
        .channel_request(
            ch,
            ChannelRequestKind::Exec {
                command: b"cat".to_vec(),
            },
            true,
        )
        .unwrap()
        .unwrap();
    p.drive().unwrap();
    let sid = match p.s_conn.remove(0) {
        Event::ChannelRequest {
            handle,
            id: Some(sid),
            request: ChannelRequestKind::Exec { command },
        } if handle == sh && command == b"cat" => sid,
        other => panic!("{other:?}"),
    };
    p.sc().answer_channel_request(sh, sid, true).unwrap();
    p.drive().unwrap();
    assert_eq!(
        p.c_conn.remove(0),
        Event::ChannelReply {
            handle: ch,
            id,
            success: true
        }
    );

    // Data both ways.
    assert_eq!(p.cc().send_data(ch, b"to the server").unwrap(), 13);
    assert_eq!(p.sc().send_data(sh, b"to the client!").unwrap(), 14);
    p.drive().unwrap();
    assert_eq!(p.s_conn.remove(0), Event::Readable { handle: sh });
    assert_eq!(p.c_conn.remove(0), Event::Readable { handle: ch });
    let mut buf = [0u8; 64];
    let n = p.sc().read(sh, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"to the server");
    let n = p.cc().read(ch, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"to the client!");

    // EOF both ways, then close.
    p.cc().send_eof(ch).unwrap();
    p.sc().send_eof(sh).unwrap();
    p.drive().unwrap();
    assert_eq!(p.s_conn.remove(0), Event::Eof { handle: sh });
    assert_eq!(p.c_conn.remove(0), Event::Eof { handle: ch });
    p.sc().close(sh).unwrap();
    p.drive().unwrap();
    p.cc().close(ch).unwrap();
    p.drive().unwrap();
    assert!(
        p.c_conn.contains(&Event::Closed { handle: ch }),
        "{:?}",
        p.c_conn
    );
    assert!(
        p.s_conn.contains(&Event::Closed { handle: sh }),
        "{:?}",
        p.s_conn
    );
    p.cc().release(ch).unwrap();
    p.sc().release(sh).unwrap();
    assert_eq!(p.cc().channel_count(), 0);
    assert_eq!(p.sc().channel_count(), 0);
    assert!(p.c.error().is_none() && p.s.error().is_none());
}

#[test]
fn publickey_auth_ed25519_end_to_end() {
    let key = common::user_key().public().clone();
    let mut p = Pair::connected(Options {
        client_methods: vec![ClientMethod::PublicKey(key.clone())],
        ..Options::default()
    });
    // Query, then a signed request: two VerifyPublicKey events.
    let verifies: Vec<bool> = p
        .s_events
        .iter()
        .filter_map(|e| match e {
            ServerSessionEvent::Auth(ServerEvent::VerifyPublicKey {
                key: k, query_only, ..
            }) => {
                assert_eq!(*k, key);
                Some(*query_only)
            }
            _ => None,
        })
        .collect();
    assert_eq!(verifies, [true, false]);
    assert!(p.s_events.iter().any(|e| matches!(
        e,
        ServerSessionEvent::Auth(ServerEvent::Success { method, .. }) if method == "publickey"
    )));
    assert!(p.c_events.iter().any(|e| matches!(
        e,
        ClientSessionEvent::Auth(ClientEvent::NeedSignature { .. })
    )));
    // The connection works.
    let ch = p.cc().open_channel(ChannelType::Session).unwrap();
    p.drive().unwrap();
    assert!(matches!(p.s_conn[0], Event::OpenRequest { .. }));
    let _ = ch;
}

#[test]
fn wrong_key_is_not_authenticated() {
    // A key the server does not accept: the client runs out of methods.
    let other = ssh_keys::PrivateKey::from_ed25519_seed(&[1; 32])
        .public()
        .clone();
    let mut p = Pair::new(Options {
        client_methods: vec![ClientMethod::PublicKey(other)],
        ..Options::default()
    });
    // The server holds its FAILURE back by the failure delay: the pair
    // goes quiet, and the merged deadline says when to go on.
    p.drive().unwrap();
    let start = p.now;
    let deadline = p.s.poll_timeout().unwrap();
    assert!(deadline > start);
    assert!(deadline - start <= std::time::Duration::from_millis(100));
    assert!(p.advance().unwrap());
    assert_eq!(p.now, deadline);
    let (side, err) = p.drive().unwrap_err();
    assert_eq!(side, common::Side::Client);
    assert_eq!(
        err,
        ssh_session::Error::Auth(ssh_auth::AuthError::NoMoreMethods)
    );
    assert!(!p.s.is_authenticated());
    assert!(p.s.connection().is_none());
}

#[test]
fn misuse_is_refused_without_failing_the_session() {
    let mut p = Pair::new(Options {
        auto_auth: false,
        ..Options::default()
    });
    // Nothing asked yet: answers are refused, the session goes on.
    assert_eq!(
        p.c.password("x"),
        Err(ssh_session::Error::Misuse("authentication has not started"))
    );
    assert!(p.c.connection_mut().is_none());
    assert!(p.s.connection_mut().is_none());
    p.drive().unwrap();
    assert!(
        p.c.signature(vec![1, 2, 3])
            .is_err_and(|e| !e.is_fatal() && matches!(e, ssh_session::Error::Auth(_)))
    );
    assert!(p.c.error().is_none());
    let now = p.now;
    assert!(
        p.s.answer_public_key(now, true)
            .is_err_and(|e| !e.is_fatal())
    );
    assert!(p.s.error().is_none());
    // The real answer still works.
    p.c.password(common::PASSWORD).unwrap();
    p.drive().unwrap();
    let verify = p.s_events.iter().any(|e| {
        matches!(
            e,
            ServerSessionEvent::Auth(ServerEvent::VerifyPassword { .. })
        )
    });
    assert!(verify);
    p.s.answer_password(now, ssh_auth::server::PasswordVerdict::Accept)
        .unwrap();
    p.drive().unwrap();
    assert!(p.c.is_authenticated() && p.s.is_authenticated());
}

#[test]
fn wrong_password_then_right_one() {
    // Password twice: the first attempt is refused (after the failure
    // delay, a deadline of the server session), the second succeeds.
    let mut p = Pair::new(Options {
        client_methods: vec![ClientMethod::Password, ClientMethod::Password],
        auto_auth: false,
        ..Options::default()
    });
    p.drive().unwrap();
    p.c.password("wrong").unwrap();
    p.drive().unwrap();
    let now = p.now;
    p.s.answer_password(now, ssh_auth::server::PasswordVerdict::Reject)
        .unwrap();
    p.drive().unwrap();
    let failures = |p: &Pair| {
        p.c_events
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    ClientSessionEvent::Auth(ClientEvent::Failure {
                        partial_success: false,
                        ..
                    })
                )
            })
            .count()
    };
    // Only the answer to `none` so far: the refusal is held back.
    assert_eq!(failures(&p), 1);
    assert!(p.advance().unwrap());
    p.drive().unwrap();
    assert_eq!(failures(&p), 2);
    p.c.password(common::PASSWORD).unwrap();
    p.drive().unwrap();
    let now = p.now;
    p.s.answer_password(now, ssh_auth::server::PasswordVerdict::Accept)
        .unwrap();
    p.drive().unwrap();
    assert!(p.c.is_authenticated() && p.s.is_authenticated());
}

#[test]
fn keyboard_interactive_through_the_session() {
    use ssh_auth::server::KeyboardInteractiveAnswer;
    use ssh_wire::messages::userauth::InfoPrompt;
    let mut p = Pair::new(Options {
        client_methods: vec![ClientMethod::KeyboardInteractive {
            submethods: String::new(),
        }],
        auto_auth: false,
        ..Options::default()
    });
    p.drive().unwrap();
    assert!(p.s_events.iter().any(|e| matches!(
        e,
        ServerSessionEvent::Auth(ServerEvent::KeyboardInteractive { user, .. }) if user == "alice"
    )));
    let now = p.now;
    p.s.answer_keyboard_interactive(
        now,
        KeyboardInteractiveAnswer::Prompts {
            name: String::new(),
            instruction: String::new(),
            prompts: vec![InfoPrompt {
                prompt: "Code: ".into(),
                echo: true,
            }],
        },
    )
    .unwrap();
    p.drive().unwrap();
    let asked = p.c_events.iter().any(|e| {
        matches!(
            e,
            ClientSessionEvent::Auth(ClientEvent::InfoRequest { prompts, .. })
                if prompts.len() == 1 && prompts[0].prompt == "Code: "
        )
    });
    assert!(asked);
    // One response per prompt, or the answer is refused (not fatal).
    assert!(p.c.info_response(vec![]).is_err_and(|e| !e.is_fatal()));
    p.c.info_response(vec!["42".into()]).unwrap();
    p.drive().unwrap();
    let got = p.s_events.iter().any(|e| matches!(
        e,
        ServerSessionEvent::Auth(ServerEvent::InfoResponse { responses, .. }) if responses == &["42"]
    ));
    assert!(got);
    p.s.answer_keyboard_interactive(now, KeyboardInteractiveAnswer::Accept)
        .unwrap();
    p.drive().unwrap();
    assert!(p.c.is_authenticated() && p.s.is_authenticated());
    assert!(p.s_events.iter().any(|e| matches!(
        e,
        ServerSessionEvent::Auth(ServerEvent::Success { method, .. }) if method == "keyboard-interactive"
    )));
}
