//! Private key files (`ssh-auth`'s `KeyPair::from_file_text`):
//! openssh-key-v1 (plain and encrypted; bcrypt rounds are capped at 2
//! under `cfg(fuzzing)`), PEM PKCS#1, SEC1 and PKCS#8. The first byte
//! picks whether a passphrase is given. What parses writes back as an
//! unencrypted openssh-key-v1 file that reads back to the same public
//! key and comment, and whose own re-encoding is identical (canonical
//! form); `openssh_public_key` agrees with the full parse.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;
use rand::rngs::StdRng;
use ssh_auth::keyfile::{Encryption, KeyPair, openssh_public_key};

fn write(pair: &KeyPair) -> String {
    pair.to_openssh(&Encryption::None, &mut StdRng::seed_from_u64(1))
        .expect("a key read writes back")
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    // Encrypted PKCS#8 takes its KDF cost (PBKDF2 iterations, scrypt
    // parameters) from the file: only decrypted without that label.
    let passphrase = (first & 1 == 1 && !text.contains("ENCRYPTED")).then_some(&b"fuzz"[..]);
    let Ok(pair) = KeyPair::from_file_text(text, passphrase) else {
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
