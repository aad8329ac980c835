//! Key files made by the real `ssh-keygen` (fixtures), and files we write
//! read back by it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use rand::SeedableRng;
use rand::rngs::StdRng;
use ssh_auth::keyfile::{
    Encryption, KeyFileError, KeyPair, openssh_public_key, parse_public_key_file, to_rfc4716,
};
use ssh_keys::{EcdsaCurve, KeyType, PublicKey, Signer};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/test-keys-DO-NOT-USE")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(fixtures().join(name)).unwrap()
}

fn rng() -> StdRng {
    StdRng::seed_from_u64(7)
}

/// (file, passphrase, has comment in file)
const PRIVATE: &[(&str, Option<&str>, bool)] = &[
    ("ed25519", None, true),
    ("ed25519-enc", Some("pass"), true),
    ("ed25519-gcm", Some("pass"), true),
    ("ecdsa256", None, true),
    ("ecdsa384", None, true),
    ("ecdsa521", None, true),
    ("ecdsa256-enc", Some("pass"), true),
    ("rsa2048", None, true),
    ("rsa2048-enc", Some("pass"), true),
    ("rsa2048-pkcs1", None, false),
    ("ecdsa256-sec1", None, false),
    ("ecdsa384-sec1", None, false),
    ("rsa2048-pkcs8", None, false),
    ("ecdsa256-pkcs8", None, false),
    ("ecdsa521-pkcs8", None, false),
    ("ed25519-pkcs8", None, false),
];

fn fingerprint_of(name: &str) -> String {
    read("fingerprints.txt")
        .lines()
        .find_map(|l| {
            let (file, fp) = l.split_once(' ')?;
            (file == name).then(|| fp.to_owned())
        })
        .unwrap_or_else(|| panic!("no fingerprint recorded for {name}"))
}

#[test]
fn every_fixture_parses_and_matches_ssh_keygen() {
    let mut rng = rng();
    for &(name, pass, has_comment) in PRIVATE {
        let pair = KeyPair::from_file_text(&read(name), pass.map(str::as_bytes))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let (public, comment) = parse_public_key_file(&read(&format!("{name}.pub"))).unwrap();
        assert_eq!(pair.public_key(), &public, "{name}");
        assert_eq!(
            pair.public_key().fingerprint_sha256(),
            fingerprint_of(name),
            "{name}"
        );
        if has_comment {
            assert_eq!(pair.comment(), comment, "{name}");
            assert!(!comment.is_empty());
        }
        // The key signs and the signature verifies.
        let alg = pair.public_key().key_type().signature_algorithms()[0];
        let sig = pair.private_key().sign(alg, b"data", &mut rng).unwrap();
        public.verify(alg, b"data", &sig).unwrap();
        assert!(public.verify(alg, b"other", &sig).is_err());
    }
}

#[test]
fn passphrase_errors_are_told_apart() {
    for name in ["ed25519-enc", "ecdsa256-enc", "rsa2048-enc", "ed25519-gcm"] {
        let text = read(name);
        assert_eq!(
            KeyPair::from_file_text(&text, None).unwrap_err(),
            KeyFileError::PassphraseRequired,
            "{name}"
        );
        assert_eq!(
            KeyPair::from_file_text(&text, Some(b"wrong")).unwrap_err(),
            KeyFileError::WrongPassphrase,
            "{name}"
        );
        let (public, encrypted) = openssh_public_key(&text).unwrap();
        assert!(encrypted);
        assert_eq!(public.fingerprint_sha256(), fingerprint_of(name));
    }
    let (_, encrypted) = openssh_public_key(&read("ed25519")).unwrap();
    assert!(!encrypted);
}

#[test]
fn encrypted_pkcs8() {
    let text = read("rsa2048-pkcs8-enc");
    let pair = KeyPair::from_file_text(&text, Some(b"password")).unwrap();
    assert_eq!(
        pair.public_key().fingerprint_sha256(),
        fingerprint_of("rsa2048-pkcs8-enc")
    );
    assert_eq!(
        KeyPair::from_file_text(&text, None).unwrap_err(),
        KeyFileError::PassphraseRequired
    );
    assert_eq!(
        KeyPair::from_file_text(&text, Some(b"wrong")).unwrap_err(),
        KeyFileError::WrongPassphrase
    );
}

fn reencode(text: &str, f: impl FnOnce(&mut Vec<u8>)) -> String {
    use base64ct::{Base64, Encoding};
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    let mut data = Base64::decode_vec(&body).unwrap();
    f(&mut data);
    format!(
        "-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----\n",
        Base64::encode_string(&data)
    )
}

#[test]
fn corrupt_and_unsupported_files_are_rejected() {
    let text = read("ed25519");
    // ciphername "none" -> "nonx": an unknown cipher.
    let bad_cipher = reencode(&text, |d| d[15 + 4 + 3] = b'x');
    assert_eq!(
        KeyPair::from_file_text(&bad_cipher, None).unwrap_err(),
        KeyFileError::UnsupportedCipher("nonx".into())
    );
    // Check integers of an unencrypted file differ: corrupt, not passphrase.
    let data_len = {
        use base64ct::{Base64, Encoding};
        let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
        Base64::decode_vec(&body).unwrap().len()
    };
    // Flip every bit 0 in turn: nothing panics, and nothing parses to a
    // different key (only the comment may change).
    let good = KeyPair::from_file_text(&text, None).unwrap();
    for i in 0..data_len {
        let t = reencode(&text, |d| d[i] ^= 0x01);
        if let Ok(p) = KeyPair::from_file_text(&t, None) {
            assert_eq!(p.public_key(), good.public_key(), "byte {i}");
            assert_ne!(p.comment(), good.comment(), "byte {i}");
        }
    }
    // Truncation at every length.
    for n in 0..data_len {
        let t = reencode(&text, |d| d.truncate(n));
        assert!(KeyPair::from_file_text(&t, None).is_err(), "length {n}");
    }
    assert!(matches!(
        KeyPair::from_file_text("hello", None),
        Err(KeyFileError::NotAKeyFile(_))
    ));
    assert!(matches!(
        KeyPair::from_file_text(
            "-----BEGIN DSA PRIVATE KEY-----\nAAAA\n-----END DSA PRIVATE KEY-----\n",
            None
        ),
        Err(KeyFileError::NotAKeyFile(_))
    ));
}

#[test]
fn rfc4716_public_keys() {
    for name in ["ed25519", "rsa2048"] {
        let (a, _) = parse_public_key_file(&read(&format!("{name}.rfc4716.pub"))).unwrap();
        let (b, comment) = parse_public_key_file(&read(&format!("{name}.pub"))).unwrap();
        assert_eq!(a, b);
        let text = to_rfc4716(&b, &comment);
        let (c, comment2) = parse_public_key_file(&text).unwrap();
        assert_eq!(c, b);
        assert_eq!(comment2, comment);
    }
    let (_, comment) = parse_public_key_file(&read("ed25519.rfc4716.pub")).unwrap();
    assert_eq!(
        comment,
        "256-bit ED25519, converted by root@vm from OpenSSH"
    );
    // A long comment is continued over several lines and read back whole.
    let (key, _) = parse_public_key_file(&read("ed25519.pub")).unwrap();
    let long = "x".repeat(200);
    let text = to_rfc4716(&key, &long);
    assert!(text.lines().all(|l| l.len() <= 72));
    assert_eq!(parse_public_key_file(&text).unwrap().1, long);
}

/// Found by the `public_key_file` fuzz target: a comment holding a line
/// break (a key file's comment can) ended the `Comment:` header early and
/// the rest was read as the base64 body, so the file did not read back.
#[test]
fn rfc4716_comment_with_line_breaks_reads_back() {
    let (key, _) = parse_public_key_file(&read("ed25519.pub")).unwrap();
    for comment in [
        "two\nlines",
        "cr\rlf\r\n",
        "\n",
        &format!("{}\nend", "y".repeat(80)),
    ] {
        let text = to_rfc4716(&key, comment);
        let (back, read_comment) = parse_public_key_file(&text)
            .unwrap_or_else(|e| panic!("{comment:?} gave an unreadable file ({e}):\n{text}"));
        assert_eq!(back, key);
        assert!(!read_comment.contains(['\r', '\n']), "{read_comment:?}");
    }
}

/// `ssh-keygen` if it is on PATH; under CI it must be.
fn ssh_keygen() -> Option<&'static str> {
    let found = Command::new("which")
        .arg("ssh-keygen")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if std::env::var_os("CI").is_some() {
        assert!(found, "ssh-keygen must be installed when CI is set");
    }
    if !found {
        eprintln!("NOTE: ssh-keygen not on PATH: interop half of this test skipped");
    }
    found.then_some("ssh-keygen")
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("ssh-auth-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

#[test]
fn generated_keys_round_trip_and_ssh_keygen_reads_them() {
    let mut rng = rng();
    let keygen = ssh_keygen();
    let types = [
        KeyType::Ed25519,
        KeyType::Ecdsa(EcdsaCurve::NistP256),
        KeyType::Ecdsa(EcdsaCurve::NistP384),
        KeyType::Ecdsa(EcdsaCurve::NistP521),
        KeyType::Rsa,
    ];
    for key_type in types {
        let pair = KeyPair::generate(key_type, Some(2048), "made@test", &mut rng).unwrap();
        assert_eq!(pair.public_key().key_type(), key_type);
        for (label, enc) in [
            ("plain", Encryption::None),
            (
                "ctr",
                Encryption::Aes256Ctr {
                    passphrase: b"secret",
                    rounds: 4,
                },
            ),
            (
                "gcm",
                Encryption::Aes256Gcm {
                    passphrase: b"secret",
                    rounds: 4,
                },
            ),
        ] {
            let text = pair.to_openssh(&enc, &mut rng).unwrap();
            let pass = (label != "plain").then_some(&b"secret"[..]);
            let back = KeyPair::from_file_text(&text, pass).unwrap();
            assert_eq!(back.public_key(), pair.public_key());
            assert_eq!(back.comment(), "made@test");
            if label != "plain" {
                assert_eq!(
                    KeyPair::from_file_text(&text, Some(b"nope")).unwrap_err(),
                    KeyFileError::WrongPassphrase
                );
            }
            // Written again, the key gives the same public line.
            assert_eq!(back.public_key_line(), pair.public_key_line());
            if let Some(keygen) = keygen {
                let file = temp_file(&format!("{}-{label}", key_type.name()), &text);
                let out = Command::new(keygen)
                    .arg("-y")
                    .args(["-P", if pass.is_some() { "secret" } else { "" }])
                    .arg("-f")
                    .arg(&file)
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "ssh-keygen -y rejected our {label} {} key: {}",
                    key_type.name(),
                    String::from_utf8_lossy(&out.stderr)
                );
                let (theirs, _) =
                    PublicKey::from_openssh(String::from_utf8(out.stdout).unwrap().trim()).unwrap();
                assert_eq!(&theirs, pair.public_key());
                std::fs::remove_file(&file).unwrap();
            }
        }
        // The Signer trait works on the generated key.
        let alg = key_type.signature_algorithms()[0];
        let sig = Signer::sign(pair.private_key(), alg, b"m", &mut rng).unwrap();
        pair.public_key().verify(alg, b"m", &sig).unwrap();
    }
    assert!(matches!(
        KeyPair::generate(KeyType::Rsa, Some(1024), "", &mut rng),
        Err(KeyFileError::InvalidParameter(_))
    ));
}

#[test]
fn writing_rejects_bad_parameters() {
    let mut rng = rng();
    let pair = KeyPair::generate(KeyType::Ed25519, None, "", &mut rng).unwrap();
    assert!(
        pair.to_openssh(
            &Encryption::Aes256Ctr {
                passphrase: b"",
                rounds: 16
            },
            &mut rng
        )
        .is_err()
    );
    assert!(
        pair.to_openssh(
            &Encryption::Aes256Ctr {
                passphrase: b"x",
                rounds: 0
            },
            &mut rng
        )
        .is_err()
    );
}

/// OpenSSL checks every RSA component (including iqmp, which `ssh-keygen
/// -y` ignores) of a key we generated and wrote: ssh-keygen converts our
/// file to PKCS#1, `openssl rsa -check` validates it.
#[test]
fn generated_rsa_components_pass_openssl_check() {
    let Some(keygen) = ssh_keygen() else {
        return;
    };
    let openssl = Command::new("which")
        .arg("openssl")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !openssl {
        eprintln!("NOTE: openssl not on PATH: test skipped");
        return;
    }
    let mut rng = rng();
    let pair = KeyPair::generate(KeyType::Rsa, Some(2048), "rsa@test", &mut rng).unwrap();
    let file = temp_file(
        "rsa-openssl-check",
        &pair.to_openssh(&Encryption::None, &mut rng).unwrap(),
    );
    let out = Command::new(keygen)
        .args(["-p", "-m", "PEM", "-N", "", "-P", "", "-f"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("openssl")
        .args(["rsa", "-check", "-noout", "-in"])
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("RSA key ok"),
        "{text}"
    );
    // And the converted PKCS#1 file reads back as the same key.
    let back = KeyPair::from_file_text(&std::fs::read_to_string(&file).unwrap(), None).unwrap();
    assert_eq!(back.public_key(), pair.public_key());
    std::fs::remove_file(&file).unwrap();
}
