//! Peers whose KEXINIT name-lists end with a comma (issue 13, item 1).
//!
//! libssh 0.10.6 (Debian bookworm) sends its cipher lists as
//! `...,aes192-ctr,aes128-ctr,`. OpenSSH accepts that (its `match_list`
//! stops at the first empty name), so we do too, on both sides; and the
//! exchange hash still covers the KEXINIT exactly as received. The libssh
//! bytes are `ssh-wire/tests/data/libssh/bookworm/` (see its README).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;
use ssh_keys::{PrivateKey, SignatureAlgorithm, Signer, VerifyPolicy};
use ssh_transport::kex::{
    ClientKex, ExchangeHashInput, KexAlgorithm, ServerKex, exchange_hash, sign_exchange_hash,
    verify_exchange_hash,
};
use ssh_transport::{Config, Error, Event, HostKey, Transport};
use ssh_wire::codec::{put_string, put_u32};
use ssh_wire::messages::transport::TransportMessage;
use ssh_wire::packet::{MAX_PACKET_LEN, PlainPacket, read_plain};
use ssh_wire::{Encode, Reader};

fn libssh(file: &str) -> Vec<u8> {
    let path = format!(
        "{}/../ssh-wire/tests/data/libssh/bookworm/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// RFC 4253 §6 before NEWKEYS: no MAC, block size 8, at least 4 bytes of
/// padding.
fn plain_packet(payload: &[u8]) -> Vec<u8> {
    let mut pad = 8 - (5 + payload.len()) % 8;
    if pad < 4 {
        pad += 8;
    }
    let mut out = Vec::new();
    put_u32(&mut out, (1 + payload.len() + pad) as u32);
    out.push(pad as u8);
    out.extend_from_slice(payload);
    out.extend(std::iter::repeat_n(0u8, pad));
    out
}

/// Feeds all of `data` and processes it; the first error is returned.
/// No upper-layer payload is expected.
fn feed(t: &mut Transport, now: Instant, data: &[u8]) -> Result<(), Error> {
    let mut at = 0;
    while at < data.len() {
        let n = t.handle_input(now, &data[at..])?;
        at += n;
        if let Some(p) = t.poll_incoming()? {
            panic!("unexpected payload {p:?}");
        }
        assert!(n > 0, "no progress");
    }
    Ok(())
}

/// Splits what a transport sent into its version line (without CR LF) and
/// the payloads of its plain packets, up to NEWKEYS.
fn version_and_packets(out: &[u8], with_version: bool) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut rest = out;
    let mut version = Vec::new();
    if with_version {
        let end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
        version = rest[..end].to_vec();
        rest = &rest[end + 2..];
    }
    let mut packets = Vec::new();
    while !rest.is_empty() {
        let PlainPacket::Complete { payload, len } = read_plain(rest, MAX_PACKET_LEN).unwrap()
        else {
            panic!("incomplete packet");
        };
        let newkeys = rest[payload.clone()] == [21];
        packets.push(rest[payload].to_vec());
        rest = &rest[len..];
        if newkeys {
            // What follows is encrypted (the server's EXT_INFO).
            break;
        }
    }
    (version, packets)
}

fn server() -> Transport {
    let key: HostKey = Box::new(PrivateKey::from_ed25519_seed(&[7; 32]));
    Transport::server(
        Config::server_default(),
        vec![key],
        Box::new(StdRng::seed_from_u64(2)),
    )
    .unwrap()
}

#[test]
fn server_negotiates_with_libssh_0_10_6_and_hashes_its_kexinit_as_received() {
    let now = Instant::now();
    let version_line = libssh("client-version-line.bin");
    let packet = libssh("client-kexinit-packet.bin");
    let PlainPacket::Complete { payload, .. } = read_plain(&packet, MAX_PACKET_LEN).unwrap() else {
        panic!("incomplete packet");
    };
    let i_c = packet[payload].to_vec();

    let mut s = server();
    feed(&mut s, now, &version_line).unwrap();
    if let Err(e) = feed(&mut s, now, &packet) {
        panic!("libssh 0.10.6's KEXINIT refused: {e}");
    }
    let mut out = Vec::new();
    s.poll_transmit(&mut out);
    let (v_s, packets) = version_and_packets(&out, true);
    let [i_s] = packets.as_slice() else {
        panic!(
            "expected the server's KEXINIT only, got {} packets",
            packets.len()
        );
    };
    assert_eq!(i_s[0], 20);

    // Play libssh's part of curve25519-sha256 (RFC 8731).
    let alg = KexAlgorithm::from_name("curve25519-sha256").unwrap();
    let (client, q_c) = ClientKex::start(alg, &mut StdRng::seed_from_u64(5)).unwrap();
    let mut init = vec![30u8];
    put_string(&mut init, &q_c);
    feed(&mut s, now, &plain_packet(&init)).unwrap();
    out.clear();
    s.poll_transmit(&mut out);
    let (_, packets) = version_and_packets(&out, false);
    let reply = packets.first().expect("KEX_ECDH_REPLY");
    assert_eq!(reply[0], 31);
    let mut r = Reader::new(&reply[1..]);
    let k_s = r.string("K_S").unwrap().to_vec();
    let q_s = r.string("Q_S").unwrap().to_vec();
    let signature = r.string("signature").unwrap().to_vec();
    r.finish("reply").unwrap();
    let k = client.finish(&q_s).unwrap();

    let hash_with = |i_c: &[u8]| {
        let input = ExchangeHashInput {
            client_version: b"SSH-2.0-libssh_0.10.6",
            server_version: &v_s,
            client_kexinit: i_c,
            server_kexinit: i_s,
            host_key: &k_s,
            gex: None,
            client_public: &q_c,
            server_public: &q_s,
        };
        exchange_hash(alg, &input, &k)
    };
    let policy = VerifyPolicy::default();
    // RFC 4253 §8: H covers I_C, "the payload of the client's
    // SSH_MSG_KEXINIT", as libssh sent it, trailing commas included.
    let h = hash_with(&i_c);
    verify_exchange_hash(SignatureAlgorithm::Ed25519, &k_s, &h, &signature, &policy)
        .unwrap_or_else(|e| panic!("the server's H is not over libssh's bytes: {e}"));
    // The strict re-encoding (no trailing commas) is another I_C: a server
    // that hashed it would fail against libssh.
    let reencoded = match TransportMessage::decode(&i_c, None).unwrap() {
        TransportMessage::KexInit(k) => k.to_bytes(),
        other => panic!("{other:?}"),
    };
    assert_ne!(reencoded, i_c);
    let wrong = hash_with(&reencoded);
    assert!(
        verify_exchange_hash(
            SignatureAlgorithm::Ed25519,
            &k_s,
            &wrong,
            &signature,
            &policy
        )
        .is_err()
    );

    // The server sent NEWKEYS after its reply; ours ends the exchange.
    assert_eq!(packets.get(1).map(Vec::as_slice), Some(&[21u8][..]));
    feed(&mut s, now, &plain_packet(&[21])).unwrap();
    let neg = std::iter::from_fn(|| s.poll_event())
        .find_map(|e| match e {
            Event::KexDone { negotiated, first } => {
                assert!(first);
                Some(negotiated)
            }
            _ => None,
        })
        .expect("KexDone");
    assert_eq!(neg.kex, "curve25519-sha256");
    assert_eq!(neg.host_key, "ssh-ed25519");
    assert_eq!(neg.cipher_c2s, "chacha20-poly1305@openssh.com");
    assert_eq!(neg.cipher_s2c, "chacha20-poly1305@openssh.com");
    assert_eq!((neg.mac_c2s.clone(), neg.mac_s2c.clone()), (None, None));
    assert_eq!(
        (neg.comp_c2s.as_str(), neg.comp_s2c.as_str()),
        ("none", "none")
    );
    assert!(neg.strict_kex, "libssh 0.10.6 offers kex-strict-c");
    assert!(neg.peer_ext_info);
    assert_eq!(s.negotiated(), Some(&neg));
}

/// A KEXINIT payload with these ten lists.
fn kexinit(lists: [&str; 10]) -> Vec<u8> {
    let mut p = vec![20u8];
    p.extend([3u8; 16]);
    for l in lists {
        put_string(&mut p, l.as_bytes());
    }
    p.push(0);
    put_u32(&mut p, 0);
    p
}

#[test]
fn client_accepts_a_server_kexinit_with_trailing_commas() {
    let now = Instant::now();
    let mut rng = StdRng::seed_from_u64(9);
    let mut c = Transport::client(Config::default(), Box::new(StdRng::seed_from_u64(1))).unwrap();
    let v_s = b"SSH-2.0-OpenSSH_9.2p1";
    let i_s = kexinit([
        "curve25519-sha256,ext-info-s,kex-strict-s-v00@openssh.com,",
        "ssh-ed25519,",
        "aes128-ctr,",
        "aes256-ctr,",
        "hmac-sha2-256,",
        "hmac-sha2-512,",
        "none,",
        "none,",
        "",
        "",
    ]);
    let mut input = v_s.to_vec();
    input.extend(b"\r\n");
    input.extend(plain_packet(&i_s));
    if let Err(e) = feed(&mut c, now, &input) {
        panic!("a server KEXINIT with trailing commas refused: {e}");
    }
    // The client went on: version, its KEXINIT, KEX_ECDH_INIT.
    let mut out = Vec::new();
    c.poll_transmit(&mut out);
    let (v_c, packets) = version_and_packets(&out, true);
    let [i_c, init] = packets.as_slice() else {
        panic!(
            "expected KEXINIT and ECDH_INIT, got {} packets",
            packets.len()
        );
    };
    // Our own KEXINIT stays strict: re-encoded it is the same bytes.
    let ours = match TransportMessage::decode(i_c, None).unwrap() {
        TransportMessage::KexInit(k) => k,
        other => panic!("{other:?}"),
    };
    assert_eq!(&ours.to_bytes(), i_c);
    assert_eq!(init[0], 30);
    let mut r = Reader::new(&init[1..]);
    let q_c = r.string("Q_C").unwrap().to_vec();
    r.finish("init").unwrap();

    // Play the server: H over I_S exactly as sent, trailing commas
    // included; the client verifies our signature over its own H.
    let alg = KexAlgorithm::from_name("curve25519-sha256").unwrap();
    let reply = ServerKex::respond(alg, &q_c, &mut rng).unwrap();
    let key = PrivateKey::from_ed25519_seed(&[7; 32]);
    let k_s = key.public_key().to_blob();
    let input = ExchangeHashInput {
        client_version: &v_c,
        server_version: v_s,
        client_kexinit: i_c,
        server_kexinit: &i_s,
        host_key: &k_s,
        gex: None,
        client_public: &q_c,
        server_public: &reply.public,
    };
    let h = exchange_hash(alg, &input, &reply.secret);
    let signature = sign_exchange_hash(&key, SignatureAlgorithm::Ed25519, &h, &mut rng).unwrap();
    let mut p = vec![31u8];
    put_string(&mut p, &k_s);
    put_string(&mut p, &reply.public);
    put_string(&mut p, &signature);
    let mut input = plain_packet(&p);
    input.extend(plain_packet(&[21]));
    feed(&mut c, now, &input).unwrap();
    let host_key = std::iter::from_fn(|| c.poll_event()).find_map(|e| match e {
        Event::HostKey { key, .. } => Some(key),
        _ => None,
    });
    assert_eq!(host_key.as_ref(), Some(key.public_key()));
    c.accept_host_key().unwrap();
    assert!(c.poll_incoming().unwrap().is_none());
    let neg = std::iter::from_fn(|| c.poll_event())
        .find_map(|e| match e {
            Event::KexDone { negotiated, .. } => Some(negotiated),
            _ => None,
        })
        .expect("KexDone");
    assert_eq!(neg.kex, "curve25519-sha256");
    assert_eq!(neg.host_key, "ssh-ed25519");
    assert_eq!(neg.cipher_c2s, "aes128-ctr");
    assert_eq!(neg.cipher_s2c, "aes256-ctr");
    assert_eq!(neg.mac_c2s.as_deref(), Some("hmac-sha2-256"));
    assert_eq!(neg.mac_s2c.as_deref(), Some("hmac-sha2-512"));
    assert_eq!(
        (neg.comp_c2s.as_str(), neg.comp_s2c.as_str()),
        ("none", "none")
    );
    assert!(neg.strict_kex);
    assert!(neg.peer_ext_info);
}

#[test]
fn a_list_of_only_commas_matches_nothing() {
    let now = Instant::now();
    let mut s = server();
    // As OpenSSH: no names, so "no matching cipher".
    let i_c = kexinit([
        "curve25519-sha256",
        "ssh-ed25519",
        ",,",
        "aes128-ctr",
        "hmac-sha2-256",
        "hmac-sha2-256",
        "none",
        "none",
        "",
        "",
    ]);
    let mut input = b"SSH-2.0-libssh_0.10.6\r\n".to_vec();
    input.extend(plain_packet(&i_c));
    let err = feed(&mut s, now, &input).expect_err("no cipher to agree on");
    match &err {
        Error::Incompatible(e) => {
            assert!(e.client.is_empty());
            assert!(
                e.to_string()
                    .contains("no matching cipher (client to server)"),
                "{e}"
            );
        }
        other => panic!("expected no matching cipher, got {other}"),
    }
}
