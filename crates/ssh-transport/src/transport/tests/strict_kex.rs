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
