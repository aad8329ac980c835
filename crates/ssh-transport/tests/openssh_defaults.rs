//! Our default algorithm lists are OpenSSH 10's, less what we do not
//! implement (UMAC) or leave off by default (SHA-1): checked against the
//! KEXINITs OpenSSH 10.0 sent, captured in ssh-wire's test data.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use ssh_transport::config::Algorithms;
use ssh_transport::negotiate::is_kex_marker;
use ssh_wire::NameList;
use ssh_wire::messages::transport::{KexInit, TransportMessage};
use ssh_wire::packet::{MAX_PACKET_LEN, PlainPacket, read_plain};

fn captured(side: &str) -> KexInit {
    let path = format!(
        "{}/../ssh-wire/tests/data/openssh/trixie/{side}-kexinit-packet.bin",
        env!("CARGO_MANIFEST_DIR")
    );
    let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let PlainPacket::Complete { payload, .. } = read_plain(&raw, MAX_PACKET_LEN).unwrap() else {
        panic!("incomplete");
    };
    match TransportMessage::decode(&raw[payload], None).unwrap() {
        TransportMessage::KexInit(k) => k,
        other => panic!("{other:?}"),
    }
}

/// The names of `list` that `keep` keeps.
fn names(list: &NameList, keep: impl Fn(&str) -> bool) -> Vec<String> {
    list.iter().filter(|n| keep(n)).map(str::to_owned).collect()
}

fn not_umac_or_sha1(n: &str) -> bool {
    !n.starts_with("umac-") && !n.contains("sha1")
}

#[test]
fn client_defaults_are_openssh_10s() {
    let k = captured("client");
    let a = Algorithms::client_default();
    assert_eq!(
        names(&a.kex, |_| true),
        names(&k.kex_algorithms, |n| !is_kex_marker(n))
    );
    assert_eq!(a.ciphers, k.encryption_client_to_server);
    assert_eq!(
        names(&a.macs, |_| true),
        names(&k.mac_client_to_server, not_umac_or_sha1)
    );
    // Host keys: OpenSSH's, certificates first, without security keys.
    assert_eq!(
        names(&a.host_key, |_| true),
        names(&k.server_host_key_algorithms, |n| {
            !n.starts_with("sk-") && !n.contains("webauthn")
        })
    );
}

#[test]
fn server_defaults_are_sshd_10s() {
    let k = captured("server");
    let a = Algorithms::server_default();
    assert_eq!(
        names(&a.kex, |_| true),
        names(&k.kex_algorithms, |n| !is_kex_marker(n))
    );
    assert_eq!(a.ciphers, k.encryption_server_to_client);
    assert_eq!(a.compression, k.compression_server_to_client);
    // sshd offers the algorithms of the keys it has: no certificates here.
    assert_eq!(
        names(&a.host_key, |n| !n.contains("-cert-")),
        names(&k.server_host_key_algorithms, |_| true)
    );
}
