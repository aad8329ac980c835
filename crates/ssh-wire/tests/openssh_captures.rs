//! Real bytes from OpenSSH 9.2, 10.0 and 10.6 (see `data/openssh/README.md`):
//! version lines and KEXINIT packets decode, and say what those versions
//! are known to offer.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use ssh_wire::messages::transport::{KexInit, TransportMessage};
use ssh_wire::packet::{MAX_PACKET_LEN, PlainPacket, read_plain};
use ssh_wire::version::{Peer, VersionEvent, VersionReader};

fn data(release: &str, file: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/data/openssh/{release}/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn version(release: &str, side: &str) -> String {
    let raw = data(release, &format!("{side}-version-line.bin"));
    // Read as the other side would: a client reads the server's line.
    let peer = if side == "server" {
        Peer::Server
    } else {
        Peer::Client
    };
    match VersionReader::new(peer).read(&raw).unwrap() {
        VersionEvent::Version { version, consumed } => {
            assert_eq!(consumed, raw.len(), "one line, CR LF included");
            assert!(raw.ends_with(b"\r\n"));
            version.as_str().to_owned()
        }
        other => panic!("{other:?}"),
    }
}

fn kexinit(release: &str, side: &str) -> KexInit {
    let raw = data(release, &format!("{side}-kexinit-packet.bin"));
    let PlainPacket::Complete { payload, len } = read_plain(&raw, MAX_PACKET_LEN).unwrap() else {
        panic!("incomplete packet");
    };
    assert_eq!(len, raw.len());
    match TransportMessage::decode(&raw[payload], None).unwrap() {
        TransportMessage::KexInit(k) => k,
        other => panic!("{other:?}"),
    }
}

#[test]
fn version_lines() {
    for (release, software) in [
        ("bookworm", "OpenSSH_9.2p1"),
        ("trixie", "OpenSSH_10.0p2"),
        ("sid", "OpenSSH_10.6p1"),
    ] {
        for side in ["client", "server"] {
            let v = version(release, side);
            assert!(v.starts_with(&format!("SSH-2.0-{software}")), "{v}");
        }
    }
}

#[test]
fn kexinit_packets_decode_with_markers_on_the_right_side() {
    for release in ["bookworm", "trixie", "sid"] {
        let client = kexinit(release, "client");
        let server = kexinit(release, "server");
        assert!(client.kex_algorithms.contains("ext-info-c"), "{release}");
        assert!(
            client
                .kex_algorithms
                .contains("kex-strict-c-v00@openssh.com")
        );
        assert!(
            server
                .kex_algorithms
                .contains("kex-strict-s-v00@openssh.com")
        );
        assert!(!server.kex_algorithms.contains("ext-info-c"));
        assert!(!client.first_kex_packet_follows && !server.first_kex_packet_follows);
        assert_eq!(client.reserved, 0);
        for k in [&client, &server] {
            assert!(
                k.encryption_client_to_server
                    .contains("chacha20-poly1305@openssh.com")
            );
            assert!(
                k.mac_client_to_server
                    .contains("hmac-sha2-256-etm@openssh.com")
            );
            assert!(k.compression_client_to_server.contains("none"));
            assert!(k.languages_client_to_server.is_empty());
        }
        assert_eq!(
            server.server_host_key_algorithms.to_string(),
            "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,\
             rsa-sha2-512,rsa-sha2-256"
        );
    }
}

#[test]
fn post_quantum_first_from_openssh_10() {
    let first = |r: &str, side: &str| kexinit(r, side).kex_algorithms.names()[0].clone();
    assert_eq!(first("bookworm", "client"), "sntrup761x25519-sha512");
    assert!(
        !kexinit("bookworm", "server")
            .kex_algorithms
            .contains("mlkem768x25519-sha256")
    );
    for r in ["trixie", "sid"] {
        assert_eq!(first(r, "client"), "mlkem768x25519-sha256");
        assert_eq!(first(r, "server"), "mlkem768x25519-sha256");
        // OpenSSH 10's sshd offers no finite-field DH by default.
        assert!(
            !kexinit(r, "server")
                .kex_algorithms
                .iter()
                .any(|n| n.starts_with("diffie-hellman"))
        );
    }
    // AES-GCM moved before AES-CTR in 9.9.
    assert!(
        kexinit("bookworm", "client")
            .encryption_client_to_server
            .to_string()
            .starts_with("chacha20-poly1305@openssh.com,aes128-ctr")
    );
    assert!(
        kexinit("trixie", "client")
            .encryption_client_to_server
            .to_string()
            .starts_with("chacha20-poly1305@openssh.com,aes128-gcm@openssh.com")
    );
}
