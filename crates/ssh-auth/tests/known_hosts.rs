//! known_hosts lookups, including a file hashed by the real `ssh-keygen -H`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;

use rand::SeedableRng;
use rand::rngs::StdRng;
use ssh_auth::known_hosts::{KnownHosts, Lookup, append_line};
use ssh_keys::PublicKey;

fn fixture(path: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(path),
    )
    .unwrap()
}

fn key(name: &str) -> PublicKey {
    PublicKey::from_openssh(&fixture(&format!("test-keys-DO-NOT-USE/{name}.pub")))
        .unwrap()
        .0
}

fn check_fixture_hosts(kh: &KnownHosts) {
    let (ed, ec, rsa) = (key("ed25519"), key("ecdsa256"), key("rsa2048"));
    assert!(kh.errors().is_empty(), "{:?}", kh.errors());
    assert!(matches!(
        kh.lookup("example.com", 22, &ed),
        Lookup::Known { .. }
    ));
    assert!(matches!(
        kh.lookup("EXAMPLE.com", 22, &ed),
        Lookup::Known { .. }
    ));
    assert!(matches!(
        kh.lookup("example.com", 2222, &ec),
        Lookup::Known { .. }
    ));
    assert!(matches!(
        kh.lookup("10.0.0.1", 22, &rsa),
        Lookup::Known { .. }
    ));
    assert!(matches!(
        kh.lookup("host.example", 22, &rsa),
        Lookup::Known { .. }
    ));
    // The port matters: example.com:22 has the ed25519 key only.
    assert_eq!(
        kh.lookup("example.com", 22, &ec),
        Lookup::Mismatch { lines: vec![1] }
    );
    assert_eq!(
        kh.lookup("example.com", 2222, &ed),
        Lookup::Mismatch { lines: vec![2] }
    );
    assert_eq!(kh.lookup("example.org", 22, &ed), Lookup::Unknown);
    assert_eq!(kh.lookup("example.com", 2200, &ed), Lookup::Unknown);
}

#[test]
fn plain_and_ssh_keygen_hashed_files() {
    check_fixture_hosts(&KnownHosts::parse(&fixture(
        "known_hosts/known_hosts.plain",
    )));
    let hashed = fixture("known_hosts/known_hosts.hashed");
    assert!(hashed.lines().all(|l| l.starts_with("|1|")));
    let kh = KnownHosts::parse(&hashed);
    assert_eq!(kh.entries().len(), 4);
    check_fixture_hosts(&kh);
    assert_eq!(
        kh.lookup("host.example", 22, &key("rsa2048")),
        Lookup::Known { line: 4 }
    );
}

#[test]
fn patterns_markers_comments_and_bad_lines() {
    let (ed, ec, rsa) = (key("ed25519"), key("ecdsa256"), key("rsa2048"));
    let text = format!(
        "# comment\n\
         \n\
         *.example.org,!bad.example.org {ed}\n\
         h?.example.net {ec}\n\
         multi.example {ed}\n\
         multi.example {ec} second key\n\
         @revoked * {rsa}\n\
         rsa.example {rsa}\n\
         @cert-authority *.ca.example {ec}\n\
         garbage line here\n\
         @bogus host {ed}\n\
         ",
        ed = ed.to_openssh(""),
        ec = ec.to_openssh(""),
        rsa = rsa.to_openssh(""),
    );
    let kh = KnownHosts::parse(&text);
    assert_eq!(
        kh.errors().iter().map(|e| e.0).collect::<Vec<_>>(),
        vec![10, 11]
    );
    assert_eq!(
        kh.lookup("www.example.org", 22, &ed),
        Lookup::Known { line: 3 }
    );
    assert_eq!(kh.lookup("bad.example.org", 22, &ed), Lookup::Unknown);
    assert_eq!(
        kh.lookup("h1.example.net", 22, &ec),
        Lookup::Known { line: 4 }
    );
    assert_eq!(kh.lookup("h12.example.net", 22, &ec), Lookup::Unknown);
    assert_eq!(
        kh.lookup("multi.example", 22, &ed),
        Lookup::Known { line: 5 }
    );
    assert_eq!(
        kh.lookup("multi.example", 22, &ec),
        Lookup::Known { line: 6 }
    );
    assert_eq!(
        kh.lookup("multi.example", 22, &rsa),
        Lookup::Revoked { line: 7 }
    );
    // Revoked wins even where the key is also listed as known.
    assert_eq!(
        kh.lookup("rsa.example", 22, &rsa),
        Lookup::Revoked { line: 7 }
    );
    assert!(kh.is_revoked("anything", 22, &rsa));
    assert!(!kh.is_revoked("anything", 22, &ed));
    // CA keys are not host keys.
    assert_eq!(kh.lookup("x.ca.example", 22, &ec), Lookup::Unknown);
    assert_eq!(kh.cert_authorities("x.ca.example", 22), vec![&ec]);
    assert!(kh.cert_authorities("x.other", 22).is_empty());
}

#[test]
fn appended_lines_are_found() {
    let mut rng = StdRng::seed_from_u64(1);
    let ed = key("ed25519");
    for hashed in [false, true] {
        for (host, port) in [("New.Example", 22), ("new.example", 2022)] {
            let line = append_line(host, port, &ed, hashed, &mut rng);
            assert!(line.ends_with('\n'));
            assert_eq!(line.starts_with("|1|"), hashed);
            if !hashed && port != 22 {
                assert!(
                    line.starts_with("[new.example]:2022 ssh-ed25519 "),
                    "{line}"
                );
            }
            let kh = KnownHosts::parse(&line);
            assert_eq!(kh.lookup(host, port, &ed), Lookup::Known { line: 1 });
            assert_eq!(kh.lookup(host, port.wrapping_add(1), &ed), Lookup::Unknown);
        }
    }
    // A host name that is not a plain pattern is written hashed.
    let line = append_line("a,b", 22, &ed, false, &mut rng);
    assert!(line.starts_with("|1|"));
    assert_eq!(
        KnownHosts::parse(&line).lookup("a", 22, &ed),
        Lookup::Unknown
    );
}

/// `ssh-keygen -F` finds the hashed line we wrote.
#[test]
fn ssh_keygen_finds_our_hashed_lines() {
    let found = std::process::Command::new("which")
        .arg("ssh-keygen")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if std::env::var_os("CI").is_some() {
        assert!(found, "ssh-keygen must be installed when CI is set");
    }
    if !found {
        eprintln!("NOTE: ssh-keygen not on PATH: test skipped");
        return;
    }
    let mut rng = StdRng::seed_from_u64(2);
    let ed = key("ed25519");
    let text = append_line("find.example", 2222, &ed, true, &mut rng);
    let path = std::env::temp_dir().join(format!("ssh-auth-kh-{}", std::process::id()));
    std::fs::write(&path, &text).unwrap();
    let out = std::process::Command::new("ssh-keygen")
        .args(["-F", "[find.example]:2222", "-f"])
        .arg(&path)
        .output()
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(text.trim()));
}
