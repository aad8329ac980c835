//! What the binaries share between their configuration files and the
//! sessions: reading configuration files from disk, and turning
//! `KexAlgorithms`-style lists into a transport configuration.

use std::path::{Path, PathBuf};

use ssh_config::{AlgoKind, AlgorithmSpec, Loader};
use ssh_transport::cipher::{CipherAlg, MacAlg};
use ssh_transport::kex::KexAlgorithm;
use ssh_wire::NameList;

/// Reads configuration files with `std::fs`; `Include` globs may have
/// `*` and `?` in the last path component.
#[derive(Debug, Default, Clone, Copy)]
pub struct FsLoader;

impl Loader for FsLoader {
    fn read(&mut self, path: &Path) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn glob(&mut self, pattern: &Path) -> std::io::Result<Vec<PathBuf>> {
        let name = pattern
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !name.contains(['*', '?']) {
            return Ok(if pattern.exists() {
                vec![pattern.to_path_buf()]
            } else {
                Vec::new()
            });
        }
        let dir = pattern.parent().unwrap_or(Path::new("/"));
        let mut out = Vec::new();
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let file = entry.file_name().to_string_lossy().into_owned();
            if ssh_auth::pattern::wildcard_match(&file, &name) {
                out.push(entry.path());
            }
        }
        out.sort();
        Ok(out)
    }
}

/// The names we implement and offer by default, per list.
pub fn algorithm_names(kind: AlgoKind, server: bool) -> (Vec<&'static str>, Vec<&'static str>) {
    let defaults = if server {
        ssh_transport::Algorithms::server_default()
    } else {
        ssh_transport::Algorithms::client_default()
    };
    // The defaults in their order, as the `'static` names of `all`.
    let ordered = |list: &NameList, all: &[&'static str]| -> Vec<&'static str> {
        list.iter()
            .filter_map(|n| all.iter().find(|a| **a == n).copied())
            .collect()
    };
    let all: Vec<&'static str> = match kind {
        AlgoKind::Kex => KexAlgorithm::ALL.iter().map(|a| a.name()).collect(),
        AlgoKind::Ciphers => CipherAlg::ALL.iter().map(|a| a.name()).collect(),
        AlgoKind::Macs => MacAlg::ALL.iter().map(|a| a.name()).collect(),
        // Host keys: the certificate algorithms too.
        AlgoKind::HostKey => ssh_transport::HostKeyAlgorithm::ALL
            .into_iter()
            .map(ssh_transport::HostKeyAlgorithm::name)
            .collect(),
        // PubkeyAcceptedAlgorithms, CASignatureAlgorithms: signatures.
        _ => ssh_keys::SignatureAlgorithm::ALL
            .into_iter()
            .map(ssh_keys::SignatureAlgorithm::name)
            .collect(),
    };
    let d = match kind {
        AlgoKind::Kex => ordered(&defaults.kex, &all),
        AlgoKind::Ciphers => ordered(&defaults.ciphers, &all),
        AlgoKind::Macs => ordered(&defaults.macs, &all),
        AlgoKind::HostKey => ssh_transport::config::default_host_key_algorithms().collect(),
        _ => ssh_transport::config::default_signature_algorithms().collect(),
    };
    (d, all)
}

/// Applies one `Ciphers`-style list to `config`; the error names the
/// keyword and the problem.
pub fn apply_algorithms(
    config: &mut ssh_transport::Config,
    kind: AlgoKind,
    spec: &AlgorithmSpec,
    server: bool,
) -> Result<(), String> {
    if spec.is_default() {
        return Ok(());
    }
    let (defaults, supported) = algorithm_names(kind, server);
    let names = spec
        .apply(&defaults, &supported)
        .map_err(|e| format!("{}: {e}", kind.keyword()))?;
    if names.is_empty() {
        return Err(format!("{}: the list is empty", kind.keyword()));
    }
    let list: NameList = names.iter().map(String::as_str).collect();
    let a = &mut config.algorithms;
    match kind {
        AlgoKind::Kex => a.kex = list,
        AlgoKind::Ciphers => a.ciphers = list,
        AlgoKind::Macs => a.macs = list,
        AlgoKind::HostKey => a.host_key = list,
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn host_key_lists_have_the_certificate_algorithms() {
        let (d, all) = algorithm_names(AlgoKind::HostKey, false);
        assert_eq!(d.first(), Some(&"ssh-ed25519-cert-v01@openssh.com"));
        assert!(d.contains(&"rsa-sha2-256-cert-v01@openssh.com"));
        assert!(d.contains(&"ssh-ed25519"));
        assert!(!d.contains(&"ssh-rsa-cert-v01@openssh.com"));
        assert!(all.contains(&"ssh-rsa-cert-v01@openssh.com"));
        let mut c = ssh_transport::Config::default();
        let spec = AlgorithmSpec::new("ssh-ed25519-cert-v01@openssh.com,ssh-ed25519");
        apply_algorithms(&mut c, AlgoKind::HostKey, &spec, false).unwrap();
        assert_eq!(
            c.algorithms.host_key.to_string(),
            "ssh-ed25519-cert-v01@openssh.com,ssh-ed25519"
        );
        // CASignatureAlgorithms: plain signature algorithms, no SHA-1.
        let (d, all) = algorithm_names(AlgoKind::CaSignature, false);
        assert!(d.iter().all(|n| !n.contains("-cert-") && *n != "ssh-rsa"));
        assert!(all.contains(&"ssh-rsa"));
    }
}
