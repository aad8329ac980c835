//! A host key held by another process (privilege separation): the server
//! asks for the exchange hash's signature as an event, and the holder
//! signs only an exchange hash it computed itself.

use ssh_keys::RemoteKey;

use super::*;

fn ed25519() -> PrivateKey {
    PrivateKey::from_ed25519_seed(&[7; 32])
}

/// A server whose only host key is ed25519, held "elsewhere".
fn remote_pair() -> Pair {
    let remote = RemoteKey::new(ed25519().public_key().clone(), None);
    Pair::new(
        Config::default(),
        Config::server_default(),
        vec![Box::new(remote) as HostKey],
    )
}

/// Drives until the server asks for the signature.
fn until_sign_request(p: &mut Pair) {
    p.drive().unwrap();
    assert_eq!(p.s_events.last(), Some(&Event::SignExchangeHash));
    assert!(p.s.exchange_hash_request().is_some());
}

#[test]
fn the_holder_signs_the_exchange_hash_it_computed() {
    let mut p = remote_pair();
    until_sign_request(&mut p);
    assert!(!p.s.is_established() && !p.c.is_established());
    let request = p.s.exchange_hash_request().unwrap();
    assert!(request.first());
    assert_eq!(request.host_key(), ed25519().public_key().to_blob());
    let h = request.exchange_hash();
    let signature = request.sign(&ed25519(), &mut *rng(9)).unwrap();
    p.s.answer_exchange_hash_signature(signature).unwrap();
    assert!(p.s.exchange_hash_request().is_none());
    p.handshake();
    assert_eq!(p.s.session_id(), Some(&h[..]), "H is the session id");
    exchange_data(&mut p, 3, 100);
    // A re-key asks again, for an exchange hash that is not the first.
    p.c.set_authenticated().unwrap();
    p.s.set_authenticated().unwrap();
    p.c.force_rekey().unwrap();
    until_sign_request(&mut p);
    let request = p.s.exchange_hash_request().unwrap();
    assert!(!request.first());
    assert_ne!(request.exchange_hash(), h);
    let signature = request.sign(&ed25519(), &mut *rng(10)).unwrap();
    p.s.answer_exchange_hash_signature(signature).unwrap();
    p.drive().unwrap();
    assert_eq!(p.s.kex_count(), 2);
    exchange_data(&mut p, 2, 100);
}

#[test]
fn the_holder_refuses_an_exchange_naming_another_key() {
    let mut p = remote_pair();
    until_sign_request(&mut p);
    let request = p.s.exchange_hash_request().unwrap();
    let other = PrivateKey::from_ed25519_seed(&[8; 32]);
    let err = request.sign(&other, &mut *rng(9)).unwrap_err();
    assert!(err.to_string().contains("another host key"), "{err}");
}

#[test]
fn a_signature_over_anything_else_is_not_sent() {
    let mut p = remote_pair();
    until_sign_request(&mut p);
    // The right key, over other bytes than this exchange's H.
    let wrong = ed25519()
        .sign(
            ssh_keys::SignatureAlgorithm::Ed25519,
            b"not the exchange hash",
            &mut *rng(9),
        )
        .unwrap();
    let err = p.s.answer_exchange_hash_signature(wrong).unwrap_err();
    assert!(
        matches!(&err, Error::Protocol { reason, message }
            if *reason == DisconnectReason::KEY_EXCHANGE_FAILED
                && message.contains("holder's signature")),
        "{err:?}"
    );
    assert!(p.s.error().is_some());
    // Nothing of the exchange went out: the only packet is the DISCONNECT.
    let mut out = Vec::new();
    p.s.poll_transmit(&mut out);
    let numbers = plain_message_numbers(&out);
    assert_eq!(numbers, [1], "{numbers:?}");
}

/// The message numbers of unencrypted packets back to back.
fn plain_message_numbers(mut wire: &[u8]) -> Vec<u8> {
    let mut numbers = Vec::new();
    while wire.len() >= 6 {
        let len = u32::from_be_bytes(wire[..4].try_into().unwrap()) as usize;
        numbers.push(wire[5]);
        wire = &wire[4 + len..];
    }
    assert!(wire.is_empty(), "a partial packet");
    numbers
}

#[test]
fn an_answer_nobody_asked_for_is_misuse() {
    let mut p = Pair::default_pair();
    let err =
        p.s.answer_exchange_hash_signature(vec![1, 2, 3])
            .unwrap_err();
    assert!(matches!(err, Error::Misuse(_)), "{err:?}");
    assert!(p.s.error().is_none(), "misuse does not end the connection");
    assert!(p.s.exchange_hash_request().is_none());
    p.handshake();
}

/// The request crosses a process boundary in its encoded form: what is
/// decoded there gives the same `H`, and a signature made from it
/// completes the exchange, for each family of methods.
#[test]
fn the_encoded_request_gives_the_same_exchange_hash() {
    for kex in [
        "mlkem768x25519-sha256",
        "curve25519-sha256",
        "ecdh-sha2-nistp384",
        "diffie-hellman-group14-sha256",
        "diffie-hellman-group-exchange-sha256",
    ] {
        let (c, s) = config_with(
            kex,
            "ssh-ed25519",
            "aes128-gcm@openssh.com",
            "hmac-sha2-256",
        );
        let remote = RemoteKey::new(ed25519().public_key().clone(), None);
        let mut p = Pair::new(c, s, vec![Box::new(remote) as HostKey]);
        until_sign_request(&mut p);
        let request = p.s.exchange_hash_request().unwrap();
        let bytes = request.encode();
        let decoded = crate::kex::ExchangeHashRequest::decode(&bytes).unwrap();
        assert_eq!(decoded.kex().name(), kex);
        assert_eq!(decoded.exchange_hash(), request.exchange_hash(), "{kex}");
        assert_eq!(decoded.host_key(), request.host_key());
        assert!(decoded.first());
        // Damaged forms are refused, not misread.
        for cut in [0, 1, bytes.len() / 2, bytes.len() - 1] {
            assert!(crate::kex::ExchangeHashRequest::decode(&bytes[..cut]).is_err());
        }
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert!(crate::kex::ExchangeHashRequest::decode(&longer).is_err());
        let signature = decoded.sign(&ed25519(), &mut *rng(9)).unwrap();
        p.s.answer_exchange_hash_signature(signature).unwrap();
        p.handshake();
        assert_eq!(p.s.session_id(), Some(&decoded.exchange_hash()[..]));
    }
}
