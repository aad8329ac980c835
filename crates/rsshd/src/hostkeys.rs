//! Host keys: loaded from files, or created on first start for a server
//! run by an ordinary user; their certificates (`HostCertificate`, `-c`),
//! each matched to its key.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use std::sync::Arc;

use ssh_async::ssh_auth::keyfile::{Encryption, KeyPair};
use ssh_async::ssh_keys::{Certificate, CertifiedKey, EcdsaCurve, KeyType, PrivateKey, PublicKey};

/// A loaded host key and where it came from.
pub struct Loaded {
    pub path: PathBuf,
    pub public: PublicKey,
    pub key: Arc<PrivateKey>,
    /// The key with its `HostCertificate`, if one was given.
    pub certified: Option<(PathBuf, Arc<CertifiedKey<Arc<PrivateKey>>>)>,
}

impl Loaded {
    /// The key as the transport uses it: presenting its certificate, if
    /// it has one.
    pub fn host_key(&self) -> ssh_async::HostKey {
        match &self.certified {
            Some((_, c)) => Box::new(c.clone()),
            None => Box::new(self.key.clone()),
        }
    }
}

/// Reads a certificate file (`ssh-keygen -s ... -h`'s `-cert.pub`): its
/// first line that is neither empty nor a comment.
pub fn load_certificate(path: &Path) -> Result<Certificate, String> {
    let fail = |e: &dyn std::fmt::Display| {
        format!(
            "Could not load host certificate \"{}\": {e}",
            path.display()
        )
    };
    let text = fs::read_to_string(path).map_err(|e| fail(&e))?;
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or_else(|| fail(&"empty file"))?;
    Certificate::from_openssh(line).map_err(|e| fail(&e))
}

/// Gives each certificate of `paths` to the host key it certifies (the
/// same public key; a later one replaces an earlier one for that key, as
/// in sshd). A certificate that certifies none of `keys` is an error:
/// the server would silently not present it.
pub fn attach_certificates(keys: &mut [Loaded], paths: &[PathBuf]) -> Result<(), String> {
    for path in paths {
        let cert = load_certificate(path)?;
        let Some(k) = keys.iter_mut().find(|k| k.public == cert.key) else {
            return Err(format!(
                "No matching private key for certificate: {}",
                path.display()
            ));
        };
        let certified = CertifiedKey::new(k.key.clone(), cert)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        k.certified = Some((path.clone(), Arc::new(certified)));
    }
    Ok(())
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
        certified: None,
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
