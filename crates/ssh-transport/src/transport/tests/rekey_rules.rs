//! OpenSSH 10.3/10.4's re-key rules: the keys of the first exchange carry
//! at most the cipher's own volume before authentication (nobody re-keys
//! then, so the connection ends instead), and a peer that sent KEXINIT may
//! send nothing but key exchange messages until its NEWKEYS.

use ssh_wire::messages::transport::{ExtInfo, ServiceRequest};

use super::*;

/// Delivers what the failed side wrote (its DISCONNECT) to the other side
/// and returns the other side's error.
fn disconnect_reaches(p: &mut Pair, failed: Role) -> Error {
    p.collect();
    match failed {
        Role::Server => {
            let data = core::mem::take(&mut p.s_to_c);
            let _ = p.c.handle_input(p.now, &data);
            p.pump_client().unwrap_err()
        }
        Role::Client => {
            let data = core::mem::take(&mut p.c_to_s);
            let _ = p.s.handle_input(p.now, &data);
            p.pump_server().unwrap_err()
        }
    }
}

#[test]
fn a_service_request_after_the_peers_kexinit_ends_the_connection() {
    let mut p = Pair::default_pair();
    p.handshake();
    p.c.force_rekey().unwrap();
    // Sealed straight behind the client's KEXINIT, as a peer breaking
    // RFC 4253 §7.1 would.
    let msg = ServiceRequest {
        service: "ssh-userauth".into(),
    };
    p.c.seal_message(&msg).unwrap();
    let (side, err) = p.drive().unwrap_err();
    assert_eq!(side, Role::Server);
    assert!(err.to_string().contains("during a key exchange"), "{err}");
    let peer = disconnect_reaches(&mut p, Role::Server);
    assert!(
        matches!(peer, Error::PeerDisconnected { reason, .. } if reason == DisconnectReason::PROTOCOL_ERROR),
        "{peer:?}"
    );
}

#[test]
fn ext_info_after_the_peers_kexinit_ends_the_connection() {
    let mut p = Pair::default_pair();
    p.handshake();
    p.s.force_rekey().unwrap();
    let mut info = ExtInfo::new();
    info.push("server-sig-algs", "ssh-ed25519");
    p.s.seal_message(&info).unwrap();
    let (side, err) = p.drive().unwrap_err();
    assert_eq!(side, Role::Client);
    assert!(err.to_string().contains("during a key exchange"), "{err}");
    let peer = disconnect_reaches(&mut p, Role::Client);
    assert!(
        matches!(peer, Error::PeerDisconnected { reason, .. } if reason == DisconnectReason::PROTOCOL_ERROR),
        "{peer:?}"
    );
}

#[test]
fn channel_data_after_the_peers_kexinit_gets_a_disconnect() {
    let mut p = Pair::default_pair();
    p.handshake();
    p.c.force_rekey().unwrap();
    p.c.seal_payload(&payload(1, 10)).unwrap();
    let (side, err) = p.drive().unwrap_err();
    assert_eq!(side, Role::Server);
    assert!(err.to_string().contains("the peer had started"), "{err}");
    assert!(p.s_got.is_empty(), "the payload is never handed up");
    let peer = disconnect_reaches(&mut p, Role::Server);
    assert!(
        matches!(peer, Error::PeerDisconnected { reason, .. } if reason == DisconnectReason::PROTOCOL_ERROR),
        "{peer:?}"
    );
}

#[test]
fn ignore_and_ping_during_a_rekey_are_fine() {
    // RFC 4253 §7.1 lets transport messages through; OpenSSH 10.4 handles
    // IGNORE, DEBUG, PING and PONG before its check.
    let mut p = Pair::default_pair();
    p.handshake();
    p.c.force_rekey().unwrap();
    p.c.seal_message(&ssh_wire::messages::transport::Ignore { data: vec![1, 2] })
        .unwrap();
    p.drive().unwrap();
    assert_eq!(p.s.kex_count(), 2);
    exchange_data(&mut p, 2, 10);
}

#[test]
fn before_authentication_the_ciphers_own_limit_ends_the_connection() {
    let mut p = Pair::default_pair();
    p.handshake();
    // The cipher's own limit (1 GiB or more) made small enough to reach.
    p.c.hard_max_blocks = Some(256);
    exchange_data(&mut p, 2, 100);
    assert!(p.c.error().is_none());
    p.c.send_payload(&payload(0, 5000)).unwrap_err();
    let err = p.c.error().unwrap().clone();
    assert!(
        err.to_string()
            .contains("RekeyLimit exceeded before authentication completed"),
        "{err}"
    );
    assert_eq!(p.c.kex_count(), 1, "no re-key before authentication");
    let peer = disconnect_reaches(&mut p, Role::Client);
    assert!(
        matches!(peer, Error::PeerDisconnected { ref description, .. } if description.contains("RekeyLimit exceeded")),
        "{peer:?}"
    );
}

#[test]
fn before_authentication_the_limit_counts_inbound_volume_too() {
    let mut p = Pair::default_pair();
    p.handshake();
    p.s.hard_max_blocks = Some(256);
    p.c.send_payload(&payload(0, 5000)).unwrap();
    let (side, err) = p.drive().unwrap_err();
    assert_eq!(side, Role::Server);
    assert!(err.to_string().contains("RekeyLimit exceeded"), "{err}");
}

#[test]
fn after_authentication_the_ciphers_limit_re_keys_instead() {
    let mut p = Pair::default_pair();
    p.handshake();
    p.c.set_authenticated().unwrap();
    p.s.set_authenticated().unwrap();
    p.c.hard_max_blocks = Some(256);
    p.s.hard_max_blocks = Some(256);
    exchange_data(&mut p, 10, 5000);
    assert!(p.c.error().is_none() && p.s.error().is_none());
    assert!(p.c.kex_count() >= 3, "re-keyed {} times", p.c.kex_count());
}

#[test]
fn rekey_limits_count_from_the_first_newkeys() {
    // RekeyLimit's volume and time both start at the first NEWKEYS; the
    // re-key they ask for waits for authentication and starts with it.
    let mut c = Config::default();
    c.rekey.bytes = Some(16 * 1024);
    c.rekey.interval = Some(Duration::from_secs(60));
    let mut p = Pair::new(c, Config::server_default(), all_host_keys());
    p.handshake();
    exchange_data(&mut p, 4, 8000);
    p.now += Duration::from_secs(120);
    assert_eq!(p.c.poll_timeout(), None, "no re-key timer before auth");
    p.c.handle_timeout(p.now).unwrap();
    assert!(!p.c.in_kex());
    assert_eq!(p.c.kex_count(), 1);
    p.c.set_authenticated().unwrap();
    assert!(p.c.in_kex(), "due since before authentication");
    p.drive().unwrap();
    assert_eq!(p.c.kex_count(), 2);
}

/// OpenSSH CVE-2025-26466: PINGs (or anything needing an answer) sent
/// while a key exchange is running had their replies queued until it
/// finished, without limit. Here a flood during a re-key after
/// authentication (when PING is otherwise answered) queues nothing: PING
/// is dropped, IGNORE needs nothing, and an unknown message gets its one
/// UNIMPLEMENTED written out at once (allowed during a key exchange), never
/// into the queue held until NEWKEYS; no PONG ever follows.
#[test]
fn cve_2025_26466_ping_flood_during_kex_bounded() {
    use ssh_wire::messages::transport::{Ignore, Ping};

    const FLOOD: usize = 5_000;
    let mut p = Pair::default_pair();
    p.handshake();
    p.c.set_authenticated().unwrap();
    p.s.set_authenticated().unwrap();
    // The server re-keys; the client (the attacker) floods before it
    // answers with its own KEXINIT.
    p.s.force_rekey().unwrap();
    p.collect();
    for _ in 0..FLOOD {
        p.c.seal_message(&Ping {
            data: vec![0x50; 64],
        })
        .unwrap();
        p.c.seal_message(&Ignore {
            data: vec![0x49; 64],
        })
        .unwrap();
    }
    let flood = core::mem::take(&mut p.c_to_s);
    let mut flood_wire = Vec::new();
    p.c.poll_transmit(&mut flood_wire);
    let flood = [flood, flood_wire].concat();
    let mut at = 0;
    while at < flood.len() {
        at += p.s.handle_input(p.now, &flood[at..]).unwrap();
        p.pump_server().unwrap();
    }
    assert!(p.s.in_kex());
    assert!(p.s.tx.buf.is_empty(), "{} bytes queued", p.s.tx.buf.len());
    assert!(p.s.tx.held.is_empty() && p.s.tx.held_bytes == 0);
    assert!(p.s_got.is_empty());

    // Unknown messages, each answered by one UNIMPLEMENTED written at
    // once: as much as came in, nothing held.
    for _ in 0..FLOOD {
        p.c.seal_payload(&[15, 0, 0, 0, 0]).unwrap();
    }
    let mut wire = Vec::new();
    p.c.poll_transmit(&mut wire);
    let mut at = 0;
    while at < wire.len() {
        at += p.s.handle_input(p.now, &wire[at..]).unwrap();
        p.pump_server().unwrap();
    }
    assert!(p.s.tx.held.is_empty() && p.s.tx.held_bytes == 0);
    assert!(
        p.s.tx.buf.len() <= wire.len(),
        "{} bytes of replies for {} bytes of input",
        p.s.tx.buf.len(),
        wire.len()
    );

    // The re-key completes; not one PONG reached the client, only the
    // UNIMPLEMENTED answers.
    p.drive().unwrap();
    assert_eq!(p.s.kex_count(), 2);
    assert!(
        !p.c_events.iter().any(|e| matches!(e, Event::Pong(_))),
        "a ping of the flood was answered"
    );
    assert_eq!(
        p.c_events
            .iter()
            .filter(|e| matches!(e, Event::Unimplemented(_)))
            .count(),
        FLOOD
    );
    // Outside a key exchange a ping is answered: the drop above was the
    // key exchange's doing.
    p.c.seal_message(&Ping { data: vec![1] }).unwrap();
    p.drive().unwrap();
    assert_eq!(
        p.c_events
            .iter()
            .filter(|e| matches!(e, Event::Pong(_)))
            .count(),
        1
    );
}
