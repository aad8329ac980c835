//! `rssh` against the in-process server: known_hosts in every
//! `StrictHostKeyChecking` mode, revoked and changed keys.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use ssh_async::ssh_keys::PrivateKey;

mod common;

use common::*;

#[test]
fn unknown_host_with_strict_checking_fails() {
    let srv = server(&["password"], Vec::new());
    let dir = scratch("strict");
    let ask = askpass(&dir, PASSWORD);
    let r = rssh(
        &with(base_args(&srv, &dir, "yes"), &["127.0.0.1", "true"]),
        &password_env(&ask),
        b"",
    );
    assert_eq!(r.code, 255);
    let port = srv.addr.port();
    assert!(
        r.stderr.contains(&format!(
            "No ED25519 host key is known for [127.0.0.1]:{port} and you have requested strict checking.\n\
             Host key verification failed."
        )),
        "{}",
        r.stderr
    );
    assert!(prompts(&dir).is_empty(), "no password asked");
    assert!(!dir.join("known_hosts").exists());
}

#[test]
fn accept_new_adds_the_key_and_the_next_run_knows_it() {
    let srv = server(&["password"], Vec::new());
    let dir = scratch("acceptnew");
    let ask = askpass(&dir, PASSWORD);
    let env = password_env(&ask);
    let port = srv.addr.port();
    let r = rssh(
        &with(base_args(&srv, &dir, "accept-new"), &["127.0.0.1", "one"]),
        &env,
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "Warning: Permanently added '[127.0.0.1]:{port}' (ED25519) to the list of known hosts."
        )),
        "{}",
        r.stderr
    );
    let kh = std::fs::read_to_string(dir.join("known_hosts")).unwrap();
    assert_eq!(kh, known_line(port));
    let r = rssh(
        &with(base_args(&srv, &dir, "yes"), &["127.0.0.1", "two"]),
        &env,
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, b"two\n");
    assert!(!r.stderr.contains("Warning"), "{}", r.stderr);

    // HashKnownHosts: a hashed line, found again.
    let dir = scratch("hashed");
    let ask = askpass(&dir, PASSWORD);
    let env = password_env(&ask);
    let r = rssh(
        &with(
            base_args(&srv, &dir, "accept-new"),
            &["-o", "HashKnownHosts=yes", "127.0.0.1", "one"],
        ),
        &env,
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let kh = std::fs::read_to_string(dir.join("known_hosts")).unwrap();
    assert!(kh.starts_with("|1|"), "{kh}");
    assert!(!kh.contains("127.0.0.1"));
    let r = rssh(
        &with(base_args(&srv, &dir, "yes"), &["127.0.0.1", "two"]),
        &env,
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn ask_mode_takes_yes_from_askpass() {
    let srv = server(&["password"], Vec::new());
    let dir = scratch("ask");
    // The same script answers the host key question and the password:
    // "yes" is not the password, so the answer is per prompt.
    let p = dir.join("askpass.sh");
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\ncase \"$1\" in *authenticity*) echo yes;; *) echo {PASSWORD};; esac\n",
            dir.join("prompts").display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    let r = rssh(
        &with(base_args(&srv, &dir, "ask"), &["127.0.0.1", "ok"]),
        &password_env(&p),
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let all = std::fs::read_to_string(dir.join("prompts")).unwrap();
    let port = srv.addr.port();
    assert!(
        all.starts_with(&format!(
            "The authenticity of host '[127.0.0.1]:{port} ([127.0.0.1]:{port})' can't be established.\n\
             ED25519 key fingerprint is {}.\n",
            host_key().public().fingerprint_sha256()
        )),
        "{all}"
    );
    assert!(all.contains("Are you sure you want to continue connecting (yes/no/[fingerprint])? "));
    assert_eq!(
        std::fs::read_to_string(dir.join("known_hosts")).unwrap(),
        known_line(port)
    );
}

#[test]
fn ask_mode_takes_the_fingerprint_and_refuses_no() {
    let srv = server(&["password"], Vec::new());
    let fp = host_key().public().fingerprint_sha256();
    for (answer, code) in [(fp.as_str(), 0), ("no", 255)] {
        let dir = scratch(&format!("ask-{code}"));
        let p = dir.join("askpass.sh");
        std::fs::write(
            &p,
            format!(
                "#!/bin/sh\ncase \"$1\" in *authenticity*) echo '{answer}';; *) echo {PASSWORD};; esac\n"
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        let r = rssh(
            &with(base_args(&srv, &dir, "ask"), &["127.0.0.1", "ok"]),
            &password_env(&p),
            b"",
        );
        assert_eq!(r.code, code, "{answer}: {}", r.stderr);
        assert_eq!(dir.join("known_hosts").exists(), code == 0);
        if code == 255 {
            assert!(r.stderr.contains("Host key verification failed."));
        }
    }
}

#[test]
fn a_revoked_key_is_refused() {
    let srv = server(&["password"], Vec::new());
    let dir = scratch("revoked");
    let kh = dir.join("known_hosts");
    std::fs::write(
        &kh,
        format!(
            "{}@revoked * {}\n",
            known_line(srv.addr.port()),
            host_key().public().to_openssh("")
        ),
    )
    .unwrap();
    let ask = askpass(&dir, PASSWORD);
    let r = rssh(
        &with(base_args(&srv, &dir, "no"), &["127.0.0.1", "true"]),
        &password_env(&ask),
        b"",
    );
    assert_eq!(r.code, 255);
    assert!(
        r.stderr.contains("WARNING: REVOKED HOST KEY DETECTED!"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains(&format!("Revoked key in {}:2", kh.display()))
    );
    assert!(prompts(&dir).is_empty());
}

#[test]
fn a_changed_key_is_refused_naming_file_and_line() {
    let srv = server(&["password"], Vec::new());
    let port = srv.addr.port();
    let other = PrivateKey::from_ed25519_seed(&[1; 32]);
    for mode in ["yes", "accept-new", "ask", "no"] {
        let dir = scratch(&format!("changed-{mode}"));
        let kh = dir.join("known_hosts");
        std::fs::write(
            &kh,
            format!(
                "# first\nexample.com {}\n[127.0.0.1]:{port} {}\n",
                other.public().to_openssh(""),
                other.public().to_openssh("")
            ),
        )
        .unwrap();
        let ask = askpass(&dir, PASSWORD);
        let r = rssh(
            &with(base_args(&srv, &dir, mode), &["127.0.0.1", "true"]),
            &password_env(&ask),
            b"",
        );
        assert_eq!(r.code, 255, "{mode}");
        assert!(
            r.stderr
                .contains("@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @"),
            "{}",
            r.stderr
        );
        assert!(
            r.stderr
                .contains(&format!("Offending ED25519 key in {}:3\n", kh.display())),
            "{}",
            r.stderr
        );
        assert!(r.stderr.ends_with("Host key verification failed.\n"));
        assert!(prompts(&dir).is_empty(), "{mode}: nothing asked");
    }
}
