//! `rssh` against the in-process server: passwords through
//! SSH_ASKPASS, public keys (plain and passphrase-protected),
//! keyboard-interactive, certificates, the agent.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::*;

#[test]
fn wrong_passwords_are_denied_after_three_prompts() {
    let srv = server(&["password"], Vec::new());
    let dir = scratch("denied");
    std::fs::write(dir.join("known_hosts"), known_line(srv.addr.port())).unwrap();
    let ask = askpass(&dir, "wrong");
    let r = rssh(
        &with(base_args(&srv, &dir, "yes"), &["127.0.0.1", "true"]),
        &password_env(&ask),
        b"",
    );
    assert_eq!(r.code, 255);
    assert!(
        r.stderr
            .contains("alice@127.0.0.1: Permission denied (password)."),
        "{}",
        r.stderr
    );
    assert_eq!(prompts(&dir).len(), 3);
    // BatchMode: no prompt at all.
    let dir2 = scratch("batch");
    let ask2 = askpass(&dir2, PASSWORD);
    std::fs::write(dir2.join("known_hosts"), known_line(srv.addr.port())).unwrap();
    let r = rssh(
        &with(
            base_args(&srv, &dir2, "yes"),
            &["-o", "BatchMode=yes", "127.0.0.1", "true"],
        ),
        &password_env(&ask2),
        b"",
    );
    assert_eq!(r.code, 255);
    assert!(prompts(&dir2).is_empty());
}

#[test]
fn publickey_with_plain_and_encrypted_key_files() {
    let dir = scratch("pubkey");
    let (plain, plain_pub) = keygen(&dir, "id_plain", "");
    let (enc, enc_pub) = keygen(&dir, "id_enc", "pass phrase");
    // The .pub files go: the public half comes from the key files.
    std::fs::remove_file(enc.with_extension("pub")).unwrap();
    let srv = server(&["publickey"], vec![plain_pub, enc_pub]);
    std::fs::write(dir.join("known_hosts"), known_line(srv.addr.port())).unwrap();
    let ask = askpass(&dir, "pass phrase");
    let env = password_env(&ask);
    let r = rssh(
        &with(
            base_args(&srv, &dir, "yes"),
            &["-i", plain.to_str().unwrap(), "127.0.0.1", "hello"],
        ),
        &env,
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, b"hello\n");
    assert!(prompts(&dir).is_empty());

    let r = rssh(
        &with(
            base_args(&srv, &dir, "yes"),
            &["-i", enc.to_str().unwrap(), "127.0.0.1", "hello"],
        ),
        &env,
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        prompts(&dir),
        vec![format!("Enter passphrase for key '{}': ", enc.display())]
    );

    // A key the server does not know: denied, naming the methods.
    let (other, _) = keygen(&dir, "id_other", "");
    let r = rssh(
        &with(
            base_args(&srv, &dir, "yes"),
            &["-i", other.to_str().unwrap(), "127.0.0.1", "hello"],
        ),
        &env,
        b"",
    );
    assert_eq!(r.code, 255);
    assert!(
        r.stderr.contains("Permission denied (publickey)."),
        "{}",
        r.stderr
    );
}

#[test]
fn keyboard_interactive_prompts_go_to_askpass() {
    let srv = server(&["keyboard-interactive"], Vec::new());
    let dir = scratch("kbdint");
    std::fs::write(dir.join("known_hosts"), known_line(srv.addr.port())).unwrap();
    let ask = askpass(&dir, PASSWORD);
    let r = rssh(
        &with(base_args(&srv, &dir, "yes"), &["127.0.0.1", "kbd"]),
        &password_env(&ask),
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, b"kbd\n");
    assert_eq!(prompts(&dir), vec!["Code: ", "Secret: "]);
    assert!(r.stderr.contains("Test login"), "{}", r.stderr);
}

#[test]
fn a_certificate_next_to_the_key_is_offered() {
    let dir = scratch("cert");
    let (ca, ca_pub) = keygen(&dir, "ca", "");
    let (user, _user_pub) = keygen(&dir, "id_user", "");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-s"])
        .arg(&ca)
        .args(["-I", "test", "-n", "alice"])
        .arg(user.with_extension("pub"))
        .status()
        .unwrap();
    assert!(st.success());
    assert!(dir.join("id_user-cert.pub").exists());
    // The server knows only the CA, not the key.
    let srv = server_with_cas(&["publickey"], Vec::new(), vec![ca_pub]);
    std::fs::write(dir.join("known_hosts"), known_line(srv.addr.port())).unwrap();
    let r = rssh(
        &with(
            base_args(&srv, &dir, "yes"),
            &["-i", user.to_str().unwrap(), "127.0.0.1", "certified"],
        ),
        &[],
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, b"certified\n");
    // Without the certificate the key alone is refused.
    std::fs::remove_file(dir.join("id_user-cert.pub")).unwrap();
    let r = rssh(
        &with(
            base_args(&srv, &dir, "yes"),
            &["-i", user.to_str().unwrap(), "127.0.0.1", "certified"],
        ),
        &[],
        b"",
    );
    assert_eq!(r.code, 255, "{}", r.stderr);
}

#[test]
fn agent_keys_are_used_and_identities_only_limits_them() {
    let dir = scratch("agent");
    let (key, key_pub) = keygen(&dir, "id_agent", "");
    let sock = dir.join("agent.sock");
    let mut agent = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&sock)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !sock.exists() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let st = Command::new("ssh-add")
        .arg(&key)
        .env("SSH_AUTH_SOCK", &sock)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    // The key file is gone: only the agent can sign.
    std::fs::remove_file(&key).unwrap();
    let srv = server(&["publickey"], vec![key_pub]);
    std::fs::write(dir.join("known_hosts"), known_line(srv.addr.port())).unwrap();
    let args = base_args(&srv, &dir, "yes");
    let r = rssh(
        &with(args.clone(), &["127.0.0.1", "via-agent"]),
        &[("SSH_AUTH_SOCK", &sock)],
        b"",
    );
    let r2 = rssh(
        &with(
            args,
            &["-o", "IdentitiesOnly=yes", "127.0.0.1", "via-agent"],
        ),
        &[("SSH_AUTH_SOCK", &sock)],
        b"",
    );
    let _ = agent.kill();
    let _ = agent.wait();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, b"via-agent\n");
    assert_eq!(r2.code, 255, "IdentitiesOnly without files: {}", r2.stderr);
}
