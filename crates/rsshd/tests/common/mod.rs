//! Shared by rsshd's binary tests: scratch directories and host keys.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use ssh_async::ssh_keys::{KeyType, PublicKey};

/// A fresh directory `<tmp>/<prefix>-<name>-<pid>`.
pub fn temp_dir(prefix: &str, name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("{prefix}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Writes a new ed25519 host key file; its path and public key.
pub fn host_key(dir: &Path) -> (PathBuf, PublicKey) {
    use ssh_async::ssh_auth::keyfile::{Encryption, KeyPair};
    let path = dir.join("host_key");
    let mut rng: rand::rngs::StdRng = rand::make_rng();
    let pair = KeyPair::generate(KeyType::Ed25519, None, "host", &mut rng).unwrap();
    let text = pair.to_openssh(&Encryption::None, &mut rng).unwrap();
    std::fs::write(&path, text).unwrap();
    (path, pair.public_key().clone())
}
