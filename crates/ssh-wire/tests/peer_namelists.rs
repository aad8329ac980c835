//! Name-lists from peers that are not RFC 4251's (issue 13, item 1): a
//! trailing comma or an empty name, as libssh 0.10.6 sends in its cipher
//! lists. They are accepted as OpenSSH accepts them (its `match_list` stops
//! at the first empty name), where OpenSSH accepts them: KEXINIT, the
//! methods of USERAUTH_FAILURE, the ext-info `server-sig-algs` value (and
//! `delay-compression`). Our own encoding stays strict.
//!
//! The libssh bytes are `data/libssh/bookworm/` (see its README).

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use ssh_wire::messages::transport::{KexInit, TransportMessage};
use ssh_wire::messages::userauth::{AuthContext, UserauthMessage};
use ssh_wire::packet::{MAX_PACKET_LEN, PlainPacket, read_plain};
use ssh_wire::version::{Peer, VersionEvent, VersionReader};
use ssh_wire::{Decode, Encode, NameList};

fn libssh(file: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/data/libssh/bookworm/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A `string` field.
fn s(out: &mut Vec<u8>, v: &[u8]) {
    out.extend_from_slice(&(v.len() as u32).to_be_bytes());
    out.extend_from_slice(v);
}

const LIBSSH_CIPHERS: [&str; 6] = [
    "chacha20-poly1305@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-gcm@openssh.com",
    "aes256-ctr",
    "aes192-ctr",
    "aes128-ctr",
];

#[test]
fn libssh_0_10_6_version_line() {
    let raw = libssh("client-version-line.bin");
    match VersionReader::new(Peer::Client).read(&raw).unwrap() {
        VersionEvent::Version { version, consumed } => {
            assert_eq!(consumed, raw.len());
            assert_eq!(version.as_str(), "SSH-2.0-libssh_0.10.6");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn libssh_0_10_6_kexinit_decodes() {
    let raw = libssh("client-kexinit-packet.bin");
    let PlainPacket::Complete { payload, len } = read_plain(&raw, MAX_PACKET_LEN).unwrap() else {
        panic!("incomplete packet");
    };
    assert_eq!(len, raw.len());
    let payload = &raw[payload];
    // The bytes really have the trailing comma this test is about.
    let text = String::from_utf8_lossy(payload);
    assert!(text.contains("aes192-ctr,aes128-ctr,\0"), "{text}");
    let k = match TransportMessage::decode(payload, None) {
        Ok(TransportMessage::KexInit(k)) => k,
        other => panic!("libssh's KEXINIT: {other:?}"),
    };
    assert_eq!(k.encryption_client_to_server.names(), LIBSSH_CIPHERS);
    assert_eq!(k.encryption_server_to_client.names(), LIBSSH_CIPHERS);
    assert_eq!(
        k.kex_algorithms.names().first().map(String::as_str),
        Some("curve25519-sha256")
    );
    assert!(k.kex_algorithms.contains("ext-info-c"));
    assert!(k.kex_algorithms.contains("kex-strict-c-v00@openssh.com"));
    assert_eq!(k.server_host_key_algorithms.len(), 8);
    assert_eq!(
        k.mac_client_to_server.to_string(),
        "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha2-256,hmac-sha2-512"
    );
    assert_eq!(
        k.compression_client_to_server.to_string(),
        "none,zlib@openssh.com"
    );
    assert!(k.languages_client_to_server.is_empty());
    assert!(!k.first_kex_packet_follows);
    // Re-encoded, it is strict: no empty name goes out, so the re-encoding
    // differs from what libssh sent (the exchange hash must use the
    // received bytes, which the transport's tests check).
    let again = k.to_bytes();
    assert_ne!(again, payload);
    assert_eq!(again.len() + 2, payload.len(), "two trailing commas fewer");
    assert_eq!(KexInit::decode_exact(&again).unwrap(), k);
}

/// A KEXINIT payload with these ten lists.
fn kexinit(lists: [&str; 10]) -> Vec<u8> {
    let mut p = vec![20u8];
    p.extend([9u8; 16]);
    for l in lists {
        s(&mut p, l.as_bytes());
    }
    p.push(0);
    p.extend([0u8; 4]);
    p
}

#[test]
fn kexinit_empty_names_end_each_list_as_in_openssh() {
    let p = kexinit([
        "curve25519-sha256,,diffie-hellman-group14-sha256",
        ",ssh-ed25519",
        "aes128-ctr,",
        ",,,",
        "hmac-sha2-256,",
        "hmac-sha2-256",
        "none,",
        "none",
        ",",
        "",
    ]);
    let Ok(TransportMessage::KexInit(k)) = TransportMessage::decode(&p, None) else {
        panic!("not accepted");
    };
    // OpenSSH's match_list stops at the first empty name: what follows it
    // is never matched.
    assert_eq!(k.kex_algorithms.names(), ["curve25519-sha256"]);
    assert!(k.server_host_key_algorithms.is_empty());
    assert_eq!(k.encryption_client_to_server.names(), ["aes128-ctr"]);
    // Only commas: no names (negotiation then fails with "no matching").
    assert!(k.encryption_server_to_client.is_empty());
    assert_eq!(k.mac_client_to_server.names(), ["hmac-sha2-256"]);
    assert_eq!(k.compression_client_to_server.names(), ["none"]);
    assert!(k.languages_client_to_server.is_empty());
}

#[test]
fn kexinit_bounds_still_hold_for_lenient_lists() {
    // A bad character after the empty name is still refused: every entry
    // is checked, only the matching stops.
    for bad in ["aes128-ctr,,a b", "aes128-ctr,\u{e9}", "aes128-ctr,,x\n"] {
        let p = kexinit(["k", "h", bad, "c", "m", "m", "n", "n", "", ""]);
        assert!(TransportMessage::decode(&p, None).is_err(), "{bad:?}");
    }
    // A name longer than the bound.
    let long = format!("{},", "a".repeat(ssh_wire::namelist::MAX_NAME_LEN + 1));
    let p = kexinit(["k", "h", &long, "c", "m", "m", "n", "n", "", ""]);
    assert!(TransportMessage::decode(&p, None).is_err());
    // More entries than the bound, empty ones counted.
    let many = ",".repeat(ssh_wire::namelist::MAX_NAMES);
    let p = kexinit(["k", "h", &many, "c", "m", "m", "n", "n", "", ""]);
    assert!(TransportMessage::decode(&p, None).is_err());
    // The list length bound.
    let huge = "a,".repeat(ssh_wire::namelist::MAX_NAME_LIST_LEN / 2 + 1);
    let p = kexinit(["k", "h", &huge, "c", "m", "m", "n", "n", "", ""]);
    assert!(TransportMessage::decode(&p, None).is_err());
}

#[test]
fn userauth_failure_with_a_trailing_comma() {
    let mut p = vec![51u8];
    s(&mut p, b"publickey,password,");
    p.push(1);
    let msg = UserauthMessage::decode(&p, AuthContext::None);
    let Ok(UserauthMessage::Failure(f)) = msg else {
        panic!("USERAUTH_FAILURE with a trailing comma: {msg:?}");
    };
    assert_eq!(f.methods.names(), ["publickey", "password"]);
    assert!(f.partial_success);
}

#[test]
fn server_sig_algs_with_an_empty_entry() {
    let mut p = vec![7u8];
    p.extend(2u32.to_be_bytes());
    s(&mut p, b"server-sig-algs");
    s(&mut p, b"ssh-ed25519,rsa-sha2-512,,rsa-sha2-256");
    s(&mut p, b"delay-compression");
    let mut dc = Vec::new();
    s(&mut dc, b"zlib@openssh.com,none,");
    s(&mut dc, b",");
    s(&mut p, &dc);
    let TransportMessage::ExtInfo(e) = TransportMessage::decode(&p, None).unwrap() else {
        panic!("not EXT_INFO");
    };
    let algs = e.server_sig_algs().unwrap();
    // As OpenSSH's match_list: nothing after the empty name.
    assert_eq!(
        algs.map(|l| l.names().to_vec()),
        Ok(vec!["ssh-ed25519".to_owned(), "rsa-sha2-512".to_owned()])
    );
    let (c2s, s2c) = e.delay_compression().unwrap().unwrap();
    assert_eq!(c2s.names(), ["zlib@openssh.com", "none"]);
    assert!(s2c.is_empty());
}

#[test]
fn our_own_name_lists_stay_strict() {
    // RFC 4251 §5: names "MUST NOT be empty"; we never build or send one.
    for bad in [",", "a,,b", "a,", ",a"] {
        assert!(NameList::parse(bad).is_err(), "{bad:?}");
    }
    assert!(NameList::from_names(["aes128-ctr", ""]).is_err());
    let mut wire = Vec::new();
    s(&mut wire, b"aes128-ctr,");
    assert!(NameList::decode_exact(&wire).is_err());
}
