//! `known_hosts` files (`ssh-auth`'s `KnownHosts::parse`). Every line is
//! an entry, an error or a comment; each entry's key, written again in
//! the one-line form, parses back to the same key and comment; a host
//! listed by a plain (single, literal) name is found with its key, and a
//! key on a `@revoked` line for it is reported revoked; lookups of other
//! names and certificate-authority queries never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssh_auth::known_hosts::{KnownHosts, Lookup, Marker};
use ssh_keys::PublicKey;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let file = KnownHosts::parse(text);
    let lines: Vec<&str> = text.lines().collect();
    assert!(file.entries().len() + file.errors().len() <= lines.len());
    for e in file.entries() {
        let written = e.key.to_openssh(&e.comment);
        let (key, comment) = PublicKey::from_openssh(&written).expect("the key writes back");
        assert_eq!(key, e.key);
        assert_eq!(comment, e.comment);
        // The host field of the entry's line, when it is one plain name.
        let line = lines[e.line - 1].trim();
        let line = match e.marker {
            Marker::None => line,
            _ => line
                .split_once(|c: char| c.is_ascii_whitespace())
                .map_or("", |(_, r)| r.trim_start()),
        };
        let host = line
            .split(|c: char| c.is_ascii_whitespace())
            .next()
            .unwrap_or("");
        let plain = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        let lookup = file.lookup(host, 22, &e.key);
        if plain {
            match e.marker {
                Marker::Revoked => assert!(matches!(lookup, Lookup::Revoked { .. })),
                Marker::None => assert!(
                    matches!(lookup, Lookup::Known { .. } | Lookup::Revoked { .. }),
                    "{host} with its key: {lookup:?}"
                ),
                Marker::CertAuthority => {
                    assert!(file.cert_authorities(host, 22).contains(&&e.key));
                }
            }
        }
        let _ = file.is_revoked("other.example", 2222, &e.key);
    }
    let _ = file.cert_authorities("host.example", 22);
});
