//! A transport moved to another process mid-connection (privilege
//! separation's hand-over): the moved side goes on as if nothing happened,
//! for each cipher family, with input read but not processed, and through
//! re-keys by either side.

use super::*;

/// Moves the server side of `p` through the byte form.
fn move_server(p: &mut Pair) {
    p.collect();
    let state = p.s.export_state(p.now).unwrap();
    assert!(p.s.error().is_some(), "the old transport is done");
    let bytes = state.encode();
    let state = TransportState::decode(&bytes).unwrap();
    p.s = Transport::from_state(
        Config::server_default(),
        all_host_keys(),
        rng(77),
        state,
        p.now,
    )
    .unwrap();
}

#[test]
fn a_moved_server_goes_on_with_every_cipher() {
    for cipher in [
        "chacha20-poly1305@openssh.com",
        "aes128-gcm@openssh.com",
        "aes256-ctr",
        "aes128-ctr",
    ] {
        for mac in ["hmac-sha2-256-etm@openssh.com", "hmac-sha2-512"] {
            let (c, mut s) = config_with("curve25519-sha256", "ssh-ed25519", cipher, mac);
            s.algorithms.compression = list("zlib@openssh.com,none");
            let mut c = c;
            c.algorithms.compression = list("zlib@openssh.com,none");
            let mut p = Pair::new(c, s, all_host_keys());
            p.handshake();
            exchange_data(&mut p, 3, 1000);
            let session_id = p.s.session_id().unwrap().to_vec();
            p.collect();
            move_server(&mut p);
            assert_eq!(p.s.session_id(), Some(&session_id[..]));
            assert_eq!(p.s.negotiated().unwrap().cipher_c2s, cipher);
            // Delayed compression starts on both sides after the move.
            p.c.set_authenticated().unwrap();
            p.s.set_authenticated().unwrap();
            exchange_data(&mut p, 5, 20_000);
            // Re-keys by each side.
            p.c.force_rekey().unwrap();
            p.drive().unwrap();
            p.s.force_rekey().unwrap();
            p.drive().unwrap();
            assert_eq!(p.s.kex_count(), 3, "{cipher} {mac}");
            exchange_data(&mut p, 3, 5000);
        }
    }
}

#[test]
fn input_read_before_the_move_is_processed_after_it() {
    let mut p = Pair::default_pair();
    p.handshake();
    // Three packets from the client, the last cut short: the server takes
    // the bytes but opens none of them.
    for i in 0..3 {
        p.c.send_payload(&payload(i, 700)).unwrap();
    }
    let mut wire = Vec::new();
    p.c.poll_transmit(&mut wire);
    let cut = wire.len() - 100;
    p.s.handle_input(p.now, &wire[..cut]).unwrap();
    move_server(&mut p);
    p.s.handle_input(p.now, &wire[cut..]).unwrap();
    let mut got = Vec::new();
    while let Some(payload) = p.s.poll_incoming().unwrap() {
        got.push(payload.to_vec());
    }
    assert_eq!(got, (0..3).map(|i| payload(i, 700)).collect::<Vec<_>>());
}

#[test]
fn a_packet_whose_length_was_read_moves_too() {
    // A classic (non-EtM) CTR cipher: reading the length decrypts the
    // first block, and the keystream has moved past it.
    let (c, s) = config_with(
        "curve25519-sha256",
        "ssh-ed25519",
        "aes128-ctr",
        "hmac-sha2-256",
    );
    let mut p = Pair::new(c, s, all_host_keys());
    p.handshake();
    p.c.send_payload(&payload(1, 5000)).unwrap();
    let mut wire = Vec::new();
    p.c.poll_transmit(&mut wire);
    p.s.handle_input(p.now, &wire[..40]).unwrap();
    assert!(p.s.poll_incoming().unwrap().is_none(), "the length is read");
    move_server(&mut p);
    p.s.handle_input(p.now, &wire[40..]).unwrap();
    assert_eq!(p.s.poll_incoming().unwrap(), Some(&payload(1, 5000)[..]));
}

#[test]
fn what_cannot_move_is_refused() {
    // During a key exchange.
    let mut p = Pair::default_pair();
    p.handshake();
    p.c.set_authenticated().unwrap();
    p.s.set_authenticated().unwrap();
    p.s.force_rekey().unwrap();
    p.collect();
    assert!(matches!(p.s.export_state(p.now), Err(Error::Misuse(_))));
    // With output not taken.
    let mut p = Pair::default_pair();
    p.handshake();
    p.s.send_payload(&payload(1, 10)).unwrap();
    assert!(matches!(p.s.export_state(p.now), Err(Error::Misuse(_))));
    p.collect();
    p.s.export_state(p.now).unwrap();
    // Before the first exchange.
    let mut p = Pair::default_pair();
    assert!(matches!(p.s.export_state(p.now), Err(Error::Misuse(_))));
    // With compression in force (plain zlib, from the first NEWKEYS).
    let mut c = Config::default();
    c.algorithms.compression = list("zlib");
    let mut s = Config::server_default();
    s.algorithms.compression = list("zlib");
    let mut p = Pair::new(c, s, all_host_keys());
    p.handshake();
    p.collect();
    assert!(matches!(p.s.export_state(p.now), Err(Error::Misuse(_))));
    // A damaged byte form is refused, not misread.
    let mut p = Pair::default_pair();
    p.handshake();
    p.collect();
    let bytes = p.s.export_state(p.now).unwrap().encode();
    for cut in [0, 1, bytes.len() / 2, bytes.len() - 1] {
        assert!(TransportState::decode(&bytes[..cut]).is_err());
    }
}
