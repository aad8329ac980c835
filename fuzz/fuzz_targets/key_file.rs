//! Private key files (`ssh-auth`'s `KeyPair::from_file_text`):
//! openssh-key-v1 (plain and encrypted; bcrypt rounds are capped at 2
//! under `cfg(fuzzing)`), PEM PKCS#1, SEC1 and PKCS#8. The passphrase
//! `pass` (the fixtures') is given when one is asked for. What parses writes back as an
//! unencrypted openssh-key-v1 file that reads back to the same public
//! key and comment, and whose own re-encoding is identical (canonical
//! form); `openssh_public_key` agrees with the full parse.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;
use rand::rngs::StdRng;
use ssh_auth::keyfile::{Encryption, KeyFileError, KeyPair, openssh_public_key};

fn write(pair: &KeyPair) -> String {
    pair.to_openssh(&Encryption::None, &mut StdRng::seed_from_u64(1))
        .expect("a key read writes back")
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Encrypted PKCS#8 takes its KDF cost (PBKDF2 iterations, scrypt
    // parameters) from the file: it is given no passphrase.
    let pair = match KeyPair::from_file_text(text, None) {
        Err(KeyFileError::PassphraseRequired) if !text.contains("ENCRYPTED") => {
            KeyPair::from_file_text(text, Some(b"pass"))
        }
        other => other,
    };
    let Ok(pair) = pair else {
        return;
    };
    if let Ok((public, _encrypted)) = openssh_public_key(text) {
        assert_eq!(&public, pair.public_key());
    }
    let written = write(&pair);
    let again = KeyPair::from_file_text(&written, None).expect("what we write reads back");
    assert_eq!(again.public_key(), pair.public_key());
    assert_eq!(again.comment(), pair.comment());
    assert_eq!(write(&again), written, "the written form is canonical");
    let line = pair.public_key_line();
    let (key, _) = ssh_keys::PublicKey::from_openssh(&line).expect("the .pub line parses");
    assert_eq!(&key, pair.public_key());
});
