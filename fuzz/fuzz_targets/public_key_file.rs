//! Public keys: a key blob (`PublicKey::from_blob`), the one-line OpenSSH
//! form (`PublicKey::from_openssh`) and public key files in either form
//! including RFC 4716 (`ssh-auth`'s `parse_public_key_file`). A blob
//! re-encodes to exactly itself; a parsed key written in the one-line and
//! RFC 4716 forms reads back to the same key (and comment, where the form
//! keeps it unchanged).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssh_auth::keyfile::{parse_public_key_file, to_rfc4716};
use ssh_keys::PublicKey;

fn check(key: &PublicKey, comment: &str) {
    let line = key.to_openssh(comment);
    let (k, c) = PublicKey::from_openssh(&line).expect("the one-line form parses");
    assert_eq!(&k, key);
    assert_eq!(c, comment.trim());
    let file = to_rfc4716(key, comment);
    let (k, _) = parse_public_key_file(&file).expect("the RFC 4716 form parses");
    assert_eq!(&k, key);
    assert_eq!(PublicKey::from_blob(&key.to_blob()).expect("blob"), *key);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = PublicKey::from_blob(data) {
        assert_eq!(key.to_blob(), data, "a blob has one encoding");
        check(&key, "");
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok((key, comment)) = PublicKey::from_openssh(text) {
        check(&key, comment);
    }
    if let Ok((key, comment)) = parse_public_key_file(text) {
        // Comments with line breaks cannot round-trip through one line.
        if !comment.contains(['\n', '\r']) {
            check(&key, &comment);
        }
    }
});
