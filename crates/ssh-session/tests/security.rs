//! The ordering invariants (design.md, security invariants): no
//! connection message before authentication success, no USERAUTH_SUCCESS
//! from a client, no connection message from a server before success;
//! requests after success are ignored (RFC 4252 §5.1).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{Options, Pair, Side};
use ssh_auth::AuthError;
use ssh_auth::client::ClientEvent;
use ssh_session::ServerSessionEvent;
use ssh_session::{ClientSessionEvent, Error};
use ssh_wire::Encode;
use ssh_wire::messages::userauth::{AuthMethod, UserauthRequest};
use ssh_wire::messages::{
    ChannelOpen, ChannelRequest, ChannelRequestKind, ChannelType, DisconnectReason,
};

fn channel_open() -> Vec<u8> {
    ChannelOpen {
        sender: 0,
        initial_window: 1024,
        max_packet: 1024,
        channel_type: ChannelType::Session,
    }
    .to_bytes()
}

/// The Erlang/OTP exploit's request: `exec` on channel 0.
fn channel_exec() -> Vec<u8> {
    ChannelRequest {
        recipient: 0,
        want_reply: true,
        request: ChannelRequestKind::Exec {
            command: "touch /tmp/pwned".into(),
        },
    }
    .to_bytes()
}

/// The server did nothing for the client: not authenticated, no
/// connection layer, no channel or request reached the application.
fn assert_server_did_nothing(p: &mut Pair) {
    assert!(!p.s.is_authenticated());
    assert!(p.s.connection().is_none());
    assert!(p.s.connection_mut().is_none());
    while let Some(ev) = p.s.poll_event() {
        p.s_events.push(ev);
    }
    assert!(p.s_conn.is_empty(), "{:?}", p.s_conn);
    for ev in &p.s_events {
        assert!(
            !matches!(
                ev,
                ServerSessionEvent::Connection(_)
                    | ServerSessionEvent::Authenticated
                    | ServerSessionEvent::Auth(ssh_auth::server::ServerEvent::Success { .. })
            ),
            "{ev:?}"
        );
    }
}

/// A pair stopped at the client's password prompt: keys exchanged, the
/// service accepted, authentication not done.
fn waiting_for_password() -> Pair {
    let mut p = Pair::new(Options {
        auto_auth: false,
        ..Options::default()
    });
    p.drive().unwrap();
    assert!(
        p.c_events
            .contains(&ClientSessionEvent::Auth(ClientEvent::PasswordPrompt))
    );
    assert!(!p.s.is_authenticated() && !p.c.is_authenticated());
    p
}

/// Delivers what `from` has to send to the other side; returns the
/// receiver's error.
fn deliver(p: &mut Pair, from: Side) -> Option<Error> {
    let mut buf = Vec::new();
    match from {
        Side::Server => {
            p.s.poll_transmit(&mut buf);
            p.c.handle_input(p.now, &buf).err()
        }
        Side::Client => {
            p.c.poll_transmit(&mut buf);
            p.s.handle_input(p.now, &buf).err()
        }
    }
}

fn peer_disconnected(e: &Error) -> DisconnectReason {
    match e {
        Error::Transport(ssh_transport::Error::PeerDisconnected { reason, .. }) => *reason,
        other => panic!("expected a DISCONNECT from the peer, got {other:?}"),
    }
}

#[test]
fn channel_open_before_auth_fails_the_server() {
    let mut p = waiting_for_password();
    p.c.transport_mut().send_payload(&channel_open()).unwrap();
    let (side, err) = p.drive().unwrap_err();
    assert_eq!(side, Side::Server);
    assert!(
        matches!(&err, Error::Protocol { reason, .. } if *reason == DisconnectReason::PROTOCOL_ERROR),
        "{err:?}"
    );
    assert!(err.is_protocol_violation());
    assert!(p.s.connection().is_none());
    // The failed session stays failed, and the client got the DISCONNECT.
    assert_eq!(p.s.handle_input(p.now, b"x"), Err(err.clone()));
    assert!(p.s.connection_mut().is_none());
    let cerr = deliver(&mut p, Side::Server).unwrap();
    assert_eq!(peer_disconnected(&cerr), DisconnectReason::PROTOCOL_ERROR);
}

/// libssh CVE-2018-10933: a client that sends USERAUTH_SUCCESS instead
/// of a request is not authenticated; the server disconnects with
/// PROTOCOL_ERROR, and no connection layer exists.
#[test]
fn cve_2018_10933_client_sent_userauth_success() {
    let mut p = waiting_for_password();
    p.c.transport_mut().send_payload(&[52]).unwrap();
    // A channel right behind it, as the exploit does.
    p.c.transport_mut().send_payload(&channel_open()).unwrap();
    let (side, err) = p.drive().unwrap_err();
    assert_eq!(side, Side::Server);
    assert!(
        matches!(&err, Error::Auth(AuthError::Protocol { .. })),
        "{err:?}"
    );
    assert_eq!(
        err.disconnect_reason(),
        Some(DisconnectReason::PROTOCOL_ERROR)
    );
    assert_server_did_nothing(&mut p);
    // The only thing the client gets is the DISCONNECT.
    let cerr = deliver(&mut p, Side::Server).unwrap();
    assert_eq!(peer_disconnected(&cerr), DisconnectReason::PROTOCOL_ERROR);
    assert!(!p.c.is_authenticated());
}

/// Erlang/OTP CVE-2025-32433: connection-layer messages (CHANNEL_OPEN,
/// then CHANNEL_REQUEST `exec`) sent before authentication, both once the
/// service is accepted and in plaintext straight behind the client's
/// KEXINIT. Each ends the connection; no channel, no request, nothing
/// executed.
#[test]
fn cve_2025_32433_erlang_exec_before_auth() {
    // Waiting for the password: the messages are encrypted and well
    // formed, but unauthenticated.
    let mut p = waiting_for_password();
    p.c.transport_mut().send_payload(&channel_open()).unwrap();
    p.c.transport_mut().send_payload(&channel_exec()).unwrap();
    let (side, err) = p.drive().unwrap_err();
    assert_eq!(side, Side::Server);
    assert_eq!(
        err.disconnect_reason(),
        Some(DisconnectReason::PROTOCOL_ERROR),
        "{err:?}"
    );
    assert_server_did_nothing(&mut p);
    let cerr = deliver(&mut p, Side::Server).unwrap();
    assert_eq!(peer_disconnected(&cerr), DisconnectReason::PROTOCOL_ERROR);

    // The exploit's shape: plaintext packets during the first key
    // exchange, with and without strict kex.
    for strict in [true, false] {
        let mut o = Options {
            auto_auth: false,
            ..Options::default()
        };
        o.transport_client.strict_kex = strict;
        o.transport_server.strict_kex = strict;
        let mut p = Pair::new(o);
        let mut wire = Vec::new();
        p.c.poll_transmit(&mut wire);
        for payload in [channel_open(), channel_exec()] {
            // RFC 4253 §6: length + padding length + payload + padding a
            // multiple of 8, at least 4 bytes of padding.
            let mut pad = 8 - (5 + payload.len()) % 8;
            if pad < 4 {
                pad += 8;
            }
            ssh_wire::packet::write_plain(&mut wire, &payload, &vec![0; pad]);
        }
        // Whatever the server answers first (its version and KEXINIT),
        // the injected packets end the connection.
        let r = p.s.handle_input(p.now, &wire);
        let err = r.err().or_else(|| p.s.error().cloned());
        let err = err.unwrap_or_else(|| panic!("strict {strict}: accepted"));
        assert_eq!(
            err.disconnect_reason(),
            Some(DisconnectReason::PROTOCOL_ERROR),
            "strict {strict}: {err:?}"
        );
        assert!(
            err.to_string()
                .contains("CHANNEL_OPEN before the first key exchange finished"),
            "{err}"
        );
        assert_server_did_nothing(&mut p);
    }
}

#[test]
fn server_connection_message_before_auth_fails_the_client() {
    let mut p = waiting_for_password();
    p.s.transport_mut().send_payload(&channel_open()).unwrap();
    let (side, err) = p.drive().unwrap_err();
    assert_eq!(side, Side::Client);
    assert!(
        matches!(&err, Error::Protocol { reason, .. } if *reason == DisconnectReason::PROTOCOL_ERROR),
        "{err:?}"
    );
    assert!(p.c.connection().is_none());
    let serr = deliver(&mut p, Side::Client).unwrap();
    assert_eq!(peer_disconnected(&serr), DisconnectReason::PROTOCOL_ERROR);
}

#[test]
fn server_success_without_request_fails_the_client() {
    // Waiting for the user's password, no request outstanding: a
    // USERAUTH_SUCCESS now is not an answer to anything.
    let mut p = waiting_for_password();
    p.s.transport_mut().send_payload(&[52]).unwrap();
    let (side, err) = p.drive().unwrap_err();
    assert_eq!(side, Side::Client);
    assert!(err.is_protocol_violation(), "{err:?}");
    assert!(!p.c.is_authenticated());
}

/// A password request sent after the connection authenticated.
fn password_request_after_success() -> Vec<u8> {
    UserauthRequest {
        user: "root".into(),
        service: "ssh-connection".into(),
        method: AuthMethod::Password {
            password: "guess".into(),
            new_password: None,
        },
    }
    .to_bytes()
}

#[test]
fn userauth_request_after_success_is_ignored() {
    let mut p = Pair::connected(Options::default());
    let again = password_request_after_success();
    p.c.transport_mut().send_payload(&again).unwrap();
    p.drive().unwrap();
    // No new question to the application, and the session goes on.
    assert!(
        !p.s_events
            .iter()
            .filter(|e| matches!(
                e,
                ssh_session::ServerSessionEvent::Auth(
                    ssh_auth::server::ServerEvent::VerifyPassword { user, .. }
                ) if user == "root"
            ))
            .any(|_| true)
    );
    assert_eq!(p.open_channels(1).len(), 1);
}

/// An idle session gives its buffers back and, after success, its auth
/// machine: requests are still ignored and a client's SUCCESS still ends
/// the connection, as before.
#[test]
fn after_release_requests_are_still_ignored_and_a_client_success_refused() {
    let mut p = Pair::connected(Options::default());
    p.s.release_buffers();
    p.c.release_buffers();
    let again = password_request_after_success();
    p.c.transport_mut().send_payload(&again).unwrap();
    p.drive().unwrap();
    assert_eq!(p.open_channels(1).len(), 1);
    p.s.release_buffers();
    p.c.transport_mut().send_payload(&[52]).unwrap();
    let (side, err) = p.drive().unwrap_err();
    assert_eq!(side, Side::Server);
    assert_eq!(
        err.disconnect_reason(),
        Some(DisconnectReason::PROTOCOL_ERROR)
    );
}

#[test]
fn service_other_than_userauth_is_refused() {
    // The client asks for a second service after the first: refused with
    // SERVICE_NOT_AVAILABLE.
    let mut p = waiting_for_password();
    p.c.transport_mut()
        .request_service("ssh-connection")
        .unwrap();
    let (side, err) = p.drive().unwrap_err();
    assert_eq!(side, Side::Server);
    assert_eq!(
        err.disconnect_reason(),
        Some(DisconnectReason::SERVICE_NOT_AVAILABLE)
    );
    let cerr = deliver(&mut p, Side::Server).unwrap();
    assert_eq!(
        peer_disconnected(&cerr),
        DisconnectReason::SERVICE_NOT_AVAILABLE
    );
}

#[test]
fn auth_message_before_service_accept_fails_the_client() {
    // The server queues a USERAUTH_FAILURE from the start: the transport
    // holds it until its NEWKEYS, so it arrives before the client even
    // asked for the service.
    let mut p = Pair::new(Options::default());
    p.s.transport_mut().send_payload(&[51]).unwrap();
    let mut failure = None;
    for _ in 0..20 {
        failure = deliver(&mut p, Side::Server);
        // The host key question is answered here; processing resumes
        // inside the answer.
        while failure.is_none()
            && let Some(ev) = p.c.poll_event()
        {
            if let ClientSessionEvent::HostKey { .. } = ev {
                failure = p.c.accept_host_key().err();
            }
        }
        if failure.is_some() {
            break;
        }
        assert!(deliver(&mut p, Side::Client).is_none());
    }
    let e = failure.expect("the client never failed");
    assert!(
        matches!(&e, Error::Protocol { reason, message }
            if *reason == DisconnectReason::PROTOCOL_ERROR
                && message.contains("before the ssh-userauth service")),
        "{e:?}"
    );
    assert!(!p.c.is_authenticated());
    assert_eq!(p.c.error(), Some(&e));
}

#[test]
fn login_deadline_fails_the_server() {
    let mut p = waiting_for_password();
    let deadline = p.s.poll_timeout().unwrap();
    assert!(deadline >= p.now + std::time::Duration::from_secs(120));
    assert_eq!(p.c.poll_timeout(), None);
    p.now = deadline;
    let err = p.s.handle_timeout(p.now).unwrap_err();
    assert_eq!(err, Error::Auth(AuthError::Timeout));
    assert_eq!(p.s.poll_timeout(), None);
    let cerr = deliver(&mut p, Side::Server).unwrap();
    assert_eq!(
        peer_disconnected(&cerr),
        DisconnectReason::NO_MORE_AUTH_METHODS_AVAILABLE
    );
}

/// A CHANNEL_OPEN pipelined right behind an authentication request waits
/// for the request's verdict, as in sshd (which decides each request
/// before it reads the next): accepted once the password is, instead of
/// refused as "before authentication" while the application decides.
#[test]
fn channel_open_pipelined_behind_the_request_waits_for_the_verdict() {
    let mut p = waiting_for_password();
    p.c.password(common::PASSWORD).unwrap();
    p.c.transport_mut().send_payload(&channel_open()).unwrap();
    assert_eq!(deliver(&mut p, Side::Client), None);
    assert!(p.s.error().is_none(), "{:?}", p.s.error());
    assert!(!p.s.is_authenticated());
    let mut asked = false;
    while let Some(ev) = p.s.poll_event() {
        asked |= matches!(
            ev,
            ssh_session::ServerSessionEvent::Auth(
                ssh_auth::server::ServerEvent::VerifyPassword { .. }
            )
        );
    }
    assert!(asked);
    p.s.answer_password(p.now, ssh_auth::server::PasswordVerdict::Accept)
        .unwrap();
    assert!(p.s.is_authenticated());
    let mut opened = false;
    while let Some(ev) = p.s.poll_event() {
        opened |= matches!(
            ev,
            ssh_session::ServerSessionEvent::Connection(ssh_connection::Event::OpenRequest { .. })
        );
    }
    assert!(opened, "the pipelined CHANNEL_OPEN was not handled");
}

/// Refused, the same pipelined CHANNEL_OPEN is a violation again.
#[test]
fn channel_open_pipelined_behind_a_refused_request_fails_the_server() {
    let mut p = waiting_for_password();
    p.c.password("wrong").unwrap();
    p.c.transport_mut().send_payload(&channel_open()).unwrap();
    assert_eq!(deliver(&mut p, Side::Client), None);
    while p.s.poll_event().is_some() {}
    let r =
        p.s.answer_password(p.now, ssh_auth::server::PasswordVerdict::Reject);
    assert!(r.is_err(), "a CHANNEL_OPEN before success must fail");
    assert!(!p.s.is_authenticated());
}
