//! Host keys: loaded from files, or created on first start for a server
//! run by an ordinary user.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use std::sync::Arc;

use ssh_async::ssh_auth::keyfile::{Encryption, KeyPair};
use ssh_async::ssh_keys::{EcdsaCurve, KeyType, PrivateKey, PublicKey};

/// A loaded host key and where it came from.
pub struct Loaded {
    pub path: PathBuf,
    pub public: PublicKey,
    pub key: Arc<PrivateKey>,
}

/// Reads an unencrypted private key file.
pub fn load(path: &Path) -> Result<Loaded, String> {
    let text = fs::read_to_string(path)
        .map_err(|e| format!("could not load host key {}: {e}", path.display()))?;
    let pair = KeyPair::from_file_text(&text, None)
        .map_err(|e| format!("could not load host key {}: {e}", path.display()))?;
    let public = pair.public_key().clone();
    Ok(Loaded {
        path: path.to_path_buf(),
        public,
        key: Arc::new(pair.into_private_key()),
    })
}

/// The three key files of a state directory (ed25519, ecdsa, rsa).
pub fn state_key_paths(dir: &Path) -> Vec<(KeyType, PathBuf)> {
    vec![
        (KeyType::Ed25519, dir.join("ssh_host_ed25519_key")),
        (
            KeyType::Ecdsa(EcdsaCurve::NistP256),
            dir.join("ssh_host_ecdsa_key"),
        ),
        (KeyType::Rsa, dir.join("ssh_host_rsa_key")),
    ]
}

/// Creates the key files of `dir` that are missing (mode 0600, `.pub`
/// beside); returns the paths created.
pub fn create_missing(dir: &Path, comment: &str) -> Result<Vec<PathBuf>, String> {
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut made = Vec::new();
    let mut rng: StdRng = rand::make_rng();
    for (kt, path) in state_key_paths(dir) {
        if path.exists() {
            continue;
        }
        let pair = KeyPair::generate(kt, None, comment, &mut rng)
            .map_err(|e| format!("cannot generate a {} key: {e}", kt.name()))?;
        let text = pair
            .to_openssh(&Encryption::None, &mut rng)
            .map_err(|e| format!("cannot encode a {} key: {e}", kt.name()))?;
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        f.write_all(text.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        let mut pub_path = path.clone().into_os_string();
        pub_path.push(".pub");
        fs::write(&pub_path, format!("{}\n", pair.public_key_line()))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        made.push(path);
    }
    Ok(made)
}
