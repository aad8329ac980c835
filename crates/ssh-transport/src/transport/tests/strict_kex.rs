//! Strict kex (`kex-strict-c/s-v00@openssh.com`, the Terrapin fix):
//! sequence numbers reset at every NEWKEYS, KEXINIT first, nothing else
//! during the first exchange; without it, RFC 4253's leniency.

use super::*;

#[test]
fn strict_kex_resets_sequence_numbers_and_plain_kex_does_not() {
    let mut p = Pair::default_pair();
    p.handshake();
    // After NEWKEYS both counted from zero: the client sent nothing else
    // yet, the server sent EXT_INFO (one packet).
    assert_eq!(p.c.tx.seq, 0);
    assert_eq!(p.s.tx.seq, 1);
    assert_eq!(p.c.rx.seq, 1);

    let mut c = Config::default();
    c.strict_kex = false;
    let mut p = Pair::new(c, Config::server_default(), all_host_keys());
    p.handshake();
    assert!(!p.c.strict && !p.s.strict);
    // Version-less packet count: KEXINIT, KEX_ECDH_INIT, NEWKEYS.
    assert_eq!(p.c.tx.seq, 3);
}

#[test]
fn strict_kex_rejects_a_message_before_kexinit() {
    let mut p = Pair::default_pair();
    // Inject an IGNORE packet as the client's first packet, before its
    // KEXINIT (the Terrapin shape).
    p.collect();
    let version_end = p.c_to_s.iter().position(|&b| b == b'\n').unwrap() + 1;
    let mut ignore = Vec::new();
    ssh_wire::packet::write_plain(&mut ignore, &[2, 0, 0, 0, 0], &[0; 6]);
    p.c_to_s.splice(version_end..version_end, ignore);
    let err = p.drive().unwrap_err();
    assert_eq!(err.0, Role::Server);
    assert!(err.1.to_string().contains("before KEXINIT"), "{}", err.1);
}

#[test]
fn without_strict_kex_an_ignore_before_kexinit_is_fine() {
    // RFC 4253 §11.2: IGNORE may come at any time; only strict kex (which
    // a client without it never turns on) forbids it before KEXINIT.
    let mut c = Config::default();
    c.strict_kex = false;
    let mut p = Pair::new(c, Config::server_default(), all_host_keys());
    p.collect();
    let version_end = p.c_to_s.iter().position(|&b| b == b'\n').unwrap() + 1;
    let mut ignore = Vec::new();
    ssh_wire::packet::write_plain(&mut ignore, &[2, 0, 0, 0, 0], &[0; 6]);
    p.c_to_s.splice(version_end..version_end, ignore);
    p.handshake();
    assert!(!p.c.strict && !p.s.strict);
}

#[test]
fn strict_kex_rejects_ignore_during_the_initial_exchange() {
    let mut p = Pair::default_pair();
    p.collect();
    // After the client's KEXINIT: find it and append an IGNORE right after.
    let version_end = p.c_to_s.iter().position(|&b| b == b'\n').unwrap() + 1;
    let len = u32::from_be_bytes(p.c_to_s[version_end..version_end + 4].try_into().unwrap());
    let after = version_end + 4 + len as usize;
    let mut ignore = Vec::new();
    ssh_wire::packet::write_plain(&mut ignore, &[2, 0, 0, 0, 0], &[0; 6]);
    p.c_to_s.splice(after..after, ignore);
    let err = p.drive().unwrap_err();
    assert_eq!(err.0, Role::Server);
    assert!(err.1.to_string().contains("strict"), "{}", err.1);
}

#[test]
fn without_strict_kex_an_early_ignore_is_accepted() {
    let mut c = Config::default();
    c.strict_kex = false;
    let mut s = Config::server_default();
    s.strict_kex = false;
    let mut p = Pair::new(c, s, all_host_keys());
    p.collect();
    let version_end = p.c_to_s.iter().position(|&b| b == b'\n').unwrap() + 1;
    let mut ignore = Vec::new();
    ssh_wire::packet::write_plain(&mut ignore, &[2, 0, 0, 0, 0], &[0; 6]);
    p.c_to_s.splice(version_end..version_end, ignore);
    p.handshake();
}

/// Found by the transport_server fuzz target: a packet with an empty
/// payload (padding_length = packet_length - 1) took its "message number"
/// from the byte after the payload (the padding), so it could be handed
/// up as an empty upper-layer payload instead of ending the connection.
#[test]
fn empty_payload_after_kex_is_fatal_and_never_handed_up() {
    let mut p = Pair::default_pair();
    p.handshake();
    p.s_got.clear();
    p.c.seal_payload(&[]).unwrap();
    let err = p.drive().unwrap_err();
    assert_eq!(err.0, Role::Server);
    assert!(
        matches!(&err.1, Error::Protocol { message, .. } if message == "empty payload"),
        "{:?}",
        err.1
    );
    assert!(p.s_got.is_empty(), "{:?}", p.s_got);
}

/// An IGNORE packet in plaintext framing, as a man in the middle injects
/// it during the first key exchange.
fn injected_ignore() -> Vec<u8> {
    let mut v = Vec::new();
    ssh_wire::packet::write_plain(&mut v, &[2, 0, 0, 0, 0], &[0; 6]);
    v
}

/// Feeds all of `data` to `t`.
fn feed(t: &mut Transport, now: Instant, data: &[u8]) -> Result<(), Error> {
    let mut at = 0;
    while at < data.len() {
        at += t.handle_input(now, &data[at..])?;
    }
    Ok(())
}

/// One round with a man in the middle on the server's bytes: what the
/// client wrote reaches the server, then `tamper` edits what the server
/// wrote before the client reads it.
fn mitm_round(p: &mut Pair, tamper: impl FnOnce(&mut Vec<u8>)) -> Result<(), (Role, Error)> {
    p.collect();
    let data = core::mem::take(&mut p.c_to_s);
    feed(&mut p.s, p.now, &data).map_err(|e| (Role::Server, e))?;
    p.pump_server().map_err(|e| (Role::Server, e))?;
    p.collect();
    tamper(&mut p.s_to_c);
    let data = core::mem::take(&mut p.s_to_c);
    feed(&mut p.c, p.now, &data).map_err(|e| (Role::Client, e))?;
    p.pump_client().map_err(|e| (Role::Client, e))
}

/// The end of the plaintext packet starting at `at`.
fn plain_packet_end(buf: &[u8], at: usize) -> usize {
    at + 4 + u32::from_be_bytes(buf[at..at + 4].try_into().unwrap()) as usize
}

/// The client received nothing from the server beyond the key exchange.
fn assert_client_got_nothing(p: &Pair) {
    assert!(!p.c.is_established());
    assert!(p.c_got.is_empty(), "{:?}", p.c_got);
    assert!(
        !p.c_events
            .iter()
            .any(|e| matches!(e, Event::KexDone { .. } | Event::ExtInfo(_))),
        "{:?}",
        p.c_events
    );
}

/// Terrapin (CVE-2023-48795) as published: with chacha20-poly1305, a man
/// in the middle adds an IGNORE behind the server's KEXINIT (the client's
/// receive sequence number moves one ahead) so that it can delete the
/// server's first encrypted packet (EXT_INFO) unseen. With strict kex the
/// IGNORE itself ends the connection: no key exchange completes, nothing
/// reaches the client.
#[test]
fn cve_2023_48795_terrapin_prefix_truncation_with_strict_kex() {
    let (c, s) = config_with(
        "curve25519-sha256",
        "ssh-ed25519",
        "chacha20-poly1305@openssh.com",
        "hmac-sha2-256-etm@openssh.com",
    );
    assert!(c.strict_kex && s.strict_kex);
    let mut p = Pair::new(c, s, vec![host_key(KeyType::Ed25519)]);
    let (side, err) = mitm_round(&mut p, |wire| wire.extend(injected_ignore())).unwrap_err();
    assert_eq!(side, Role::Client);
    assert!(
        matches!(&err, Error::Protocol { reason, .. } if *reason == DisconnectReason::PROTOCOL_ERROR),
        "{err:?}"
    );
    assert!(err.to_string().contains("strict"), "{err}");
    assert_client_got_nothing(&p);
    assert_eq!(p.c.error(), Some(&err));
}

/// Terrapin without strict kex (a peer that does not offer it). With
/// chacha20-poly1305 or an EtM MAC nothing can see the truncation then:
/// only strict kex protects those, which is why it is on by default. What
/// still holds: (1) a man in the middle cannot take strict kex away, as
/// both KEXINITs are in the exchange hash the server signs; (2) with
/// AES-GCM, whose nonce counts packets rather than taking the sequence
/// number, the deleted packet is noticed at the next one.
#[test]
fn cve_2023_48795_terrapin_prefix_truncation_without_strict_kex() {
    // (1) The server's strict kex marker renamed on the way (same length,
    // so the plaintext packet stays well framed): the client thinks strict
    // kex is off, the server that it is on; the exchange hashes differ and
    // the server's signature does not verify.
    let mut p = Pair::new(Config::default(), Config::server_default(), all_host_keys());
    let marker = crate::negotiate::KEX_STRICT_SERVER.as_bytes();
    let err = mitm_round(&mut p, |wire| {
        let at = wire
            .windows(marker.len())
            .position(|w| w == marker)
            .expect("the server offers strict kex");
        wire[at..at + marker.len()].copy_from_slice(b"kex-strict-x-v00@openssh.com");
    })
    .and_then(|()| p.drive())
    .unwrap_err();
    assert_eq!(err.0, Role::Client, "{:?}", err.1);
    assert!(
        err.1.to_string().contains("signature does not verify"),
        "{}",
        err.1
    );
    assert!(
        !p.c_events
            .iter()
            .any(|e| matches!(e, Event::HostKey { .. })),
        "the host key was never offered to the caller"
    );
    assert_client_got_nothing(&p);

    // (2) No strict kex anywhere, AES-GCM: the IGNORE is let through
    // (RFC 4253 §11.2), the first encrypted packet deleted, and the next
    // one fails to open.
    let (mut c, mut s) = config_with(
        "curve25519-sha256",
        "ssh-ed25519",
        "aes256-gcm@openssh.com",
        "hmac-sha2-256",
    );
    c.strict_kex = false;
    s.strict_kex = false;
    let mut p = Pair::new(c, s, vec![host_key(KeyType::Ed25519)]);
    mitm_round(&mut p, |wire| wire.extend(injected_ignore())).unwrap();
    let mut deleted = false;
    mitm_round(&mut p, |wire| {
        // KEX_ECDH_REPLY, NEWKEYS in plaintext, then the first encrypted
        // packet (EXT_INFO): length in clear, 16-byte tag.
        let mut at = 0;
        while at < wire.len() && !deleted {
            let end = plain_packet_end(wire, at);
            if wire[at + 5] == 21 {
                let len = u32::from_be_bytes(wire[end..end + 4].try_into().unwrap()) as usize;
                wire.drain(end..end + 4 + len + 16);
                deleted = true;
            }
            at = end;
        }
    })
    .unwrap();
    assert!(deleted, "no encrypted packet behind NEWKEYS");
    assert!(!p.c.strict && !p.s.strict);
    p.s.seal_message(&ssh_wire::messages::transport::Ignore { data: vec![1] })
        .unwrap();
    p.s.seal_payload(&payload(1, 10)).unwrap();
    let (side, err) = p.drive().unwrap_err();
    assert_eq!(side, Role::Client);
    assert_eq!(
        err.disconnect_reason(),
        Some(DisconnectReason::MAC_ERROR),
        "{err:?}"
    );
    assert!(p.c_got.is_empty(), "{:?}", p.c_got);
    assert!(
        !p.c_events.iter().any(|e| matches!(e, Event::ExtInfo(_))),
        "{:?}",
        p.c_events
    );
}
