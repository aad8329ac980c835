//! The server's host key at re-keys: the client asks the application once,
//! at the first key exchange, and afterwards accepts only that key by
//! itself; a different key ends the session with HOST_KEY_NOT_VERIFIABLE,
//! as OpenSSH does.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{Flow, Options, Pair, Side, app_round, host_ca, other_host_key};
use ssh_session::{ClientSessionEvent, Error};
use ssh_transport::Error as TransportError;
use ssh_wire::messages::DisconnectReason;

fn host_key_events(p: &Pair) -> usize {
    p.c_events
        .iter()
        .filter(|e| matches!(e, ClientSessionEvent::HostKey { .. }))
        .count()
}

#[test]
fn rekeys_with_the_same_host_key_ask_once() {
    let conn = ssh_connection::Config {
        window: 64 * 1024,
        ..ssh_connection::Config::default()
    };
    let mut p = Pair::connected(Options {
        conn_client: conn.clone(),
        conn_server: conn,
        ..Options::default()
    });
    assert_eq!(host_key_events(&p), 1);
    assert_eq!(p.c.host_key(), Some(&p.host_public));
    const LEN: usize = 512 * 1024;
    let handles = p.open_channels(2);
    let mut flows: Vec<Flow> = handles
        .iter()
        .enumerate()
        .map(|(i, (c, s))| Flow::new(i, *c, *s, LEN))
        .collect();
    let mut round = 0;
    loop {
        let moved = app_round(&mut p, &mut flows);
        round += 1;
        // Re-keys by each side while data is queued.
        if round == 3 {
            assert!(p.c.connection().unwrap().has_payload());
            p.c.force_rekey().unwrap();
        }
        if round == 6 {
            assert!(p.s.connection().unwrap().has_payload());
            p.s.force_rekey().unwrap();
        }
        p.drive().unwrap();
        if !moved && round > 6 && !app_round(&mut p, &mut flows) {
            break;
        }
        assert!(round < 100_000, "no end");
    }
    assert_eq!(p.c.transport().kex_count(), 3);
    for (i, f) in flows.iter().enumerate() {
        assert!(f.done(), "channel {i}");
        assert!(f.c_got == f.to_client && f.s_got == f.to_server, "{i}");
    }
    // The application was asked once, at the first exchange.
    assert_eq!(host_key_events(&p), 1);
}

fn changed_host_key_is_refused(rekey_by: Side) {
    let swap = Arc::new(AtomicBool::new(false));
    let mut p = Pair::connected(Options {
        host_key_swap: Some(swap.clone()),
        ..Options::default()
    });
    let handles = p.open_channels(1);
    p.cc().send_data(handles[0].0, b"in flight").unwrap();
    swap.store(true, Ordering::SeqCst);
    match rekey_by {
        Side::Client => p.c.force_rekey().unwrap(),
        Side::Server => p.s.force_rekey().unwrap(),
    }
    let (side, err) = p.drive().unwrap_err();
    assert_eq!(side, Side::Client);
    let Error::HostKeyChanged { expected, got } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(*expected, p.host_public.fingerprint_sha256());
    assert_eq!(*got, other_host_key().public().fingerprint_sha256());
    assert_eq!(
        err.disconnect_reason(),
        Some(DisconnectReason::HOST_KEY_NOT_VERIFIABLE)
    );
    assert_eq!(p.c.error(), Some(&err));
    assert_eq!(host_key_events(&p), 1);
    // The server reads the client's DISCONNECT.
    let mut buf = Vec::new();
    p.c.poll_transmit(&mut buf);
    assert!(!buf.is_empty());
    let e = p.s.handle_input(p.now, &buf).unwrap_err();
    let Error::Transport(TransportError::PeerDisconnected {
        reason,
        description,
    }) = e
    else {
        panic!("{e:?}");
    };
    assert_eq!(reason, DisconnectReason::HOST_KEY_NOT_VERIFIABLE);
    assert!(description.contains("host key"), "{description}");
    // A failed session stays failed.
    assert_eq!(p.c.handle_timeout(p.now), Err(err));
}

#[test]
fn changed_host_key_at_client_rekey_is_refused() {
    changed_host_key_is_refused(Side::Client);
}

#[test]
fn changed_host_key_at_server_rekey_is_refused() {
    changed_host_key_is_refused(Side::Server);
}

#[test]
fn a_host_certificate_reaches_the_application_and_rekeys_keep_it() {
    let mut p = Pair::connected(Options {
        host_certificate: true,
        ..Options::default()
    });
    let offered: Vec<_> = p
        .c_events
        .iter()
        .filter_map(|e| match e {
            ClientSessionEvent::HostKey {
                key, certificate, ..
            } => Some((key.clone(), certificate.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(offered.len(), 1);
    let (key, cert) = &offered[0];
    assert_eq!(*key, p.host_public);
    let cert = cert.as_ref().expect("the host certificate");
    assert_eq!(cert.key, p.host_public);
    assert_eq!(cert.signature_key, *host_ca().public());
    assert_eq!(
        p.c.transport().negotiated().unwrap().host_key,
        "ssh-ed25519-cert-v01@openssh.com"
    );
    // A re-key presents the same certified key: accepted without asking.
    p.c.force_rekey().unwrap();
    p.drive().unwrap();
    assert_eq!(p.c.transport().kex_count(), 2);
    assert_eq!(host_key_events(&p), 1);
}
