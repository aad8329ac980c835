//! Configuration files: `-F` or `~/.ssh/config`, then
//! `/etc/ssh/ssh_config`, read with `std::fs` for `ssh-config`; the
//! resolved settings mapped onto the transport's configuration.

use std::io;
use std::path::{Path, PathBuf};

use ssh_auth::pattern::wildcard_match;
use ssh_config::client::{ClientConfig, ClientEnv, ClientQuery, ClientSettings};
use ssh_config::{AlgoKind, AlgorithmSpec, ConfigError, Loader};
use ssh_keys::SignatureAlgorithm;
use ssh_transport::Algorithms;
use ssh_transport::cipher::{CipherAlg, MacAlg};
use ssh_transport::kex::KexAlgorithm;

/// The system-wide file.
pub const SYSTEM_CONFIG: &str = "/etc/ssh/ssh_config";

/// Reads files and expands globs with `std::fs`.
#[derive(Debug, Default)]
pub struct FsLoader;

impl Loader for FsLoader {
    fn read(&mut self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn glob(&mut self, pattern: &Path) -> io::Result<Vec<PathBuf>> {
        Ok(glob(pattern))
    }
}

/// Paths matching `pattern` (wildcards `*` and `?` in any component),
/// sorted; hidden files only when the component starts with a dot.
pub fn glob(pattern: &Path) -> Vec<PathBuf> {
    let mut found = vec![PathBuf::new()];
    for comp in pattern.components() {
        let part = comp.as_os_str().to_string_lossy().into_owned();
        let wild = part.contains(['*', '?']);
        let mut next = Vec::new();
        for base in &found {
            if !wild {
                next.push(base.join(&part));
                continue;
            }
            let dir = if base.as_os_str().is_empty() {
                Path::new(".")
            } else {
                base.as_path()
            };
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| {
                    (!n.starts_with('.') || part.starts_with('.')) && wildcard_match(n, &part)
                })
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|n| base.join(n)));
        }
        found = next;
    }
    found.retain(|p| !p.as_os_str().is_empty() && p.exists());
    found.sort();
    found
}

/// Reads and parses the configuration files: `-F file` only (`none`: no
/// file), or else the user's file and the system's when they exist.
pub fn load(user_file: Option<&Path>, home: &Path) -> Result<Vec<ClientConfig>, String> {
    let mut loader = FsLoader;
    let mut files: Vec<(PathBuf, bool)> = Vec::new();
    match user_file {
        Some(p) if p == Path::new("none") => {}
        Some(p) => files.push((p.to_path_buf(), true)),
        None => {
            files.push((home.join(".ssh/config"), false));
            files.push((PathBuf::from(SYSTEM_CONFIG), false));
        }
    }
    let mut out = Vec::new();
    for (path, required) in files {
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if !required && e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(format!(
                    "Can't open user config file {}: {}",
                    path.display(),
                    io_message(&e)
                ));
            }
        };
        let cfg = ClientConfig::parse(&text, &path, &mut loader).map_err(|e| config_error(&e))?;
        for w in cfg.warnings() {
            tracing::debug!("{w}");
        }
        out.push(cfg);
    }
    Ok(out)
}

/// An error as OpenSSH reports it: `file line N: message`, then that the
/// file is bad.
pub fn config_error(e: &ConfigError) -> String {
    if e.file == Path::new("command-line") {
        format!("command-line line {}: {}", e.line, e.message)
    } else {
        format!(
            "{} line {}: {}\n{}: terminating, 1 bad configuration options",
            e.file.display(),
            e.line,
            e.message,
            e.file.display()
        )
    }
}

/// The text of an I/O error without Rust's " (os error N)".
pub fn io_message(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s.get(..i).unwrap_or(&s).to_owned(),
        None => s,
    }
}

/// Resolves the settings for `query`.
pub fn resolve(
    configs: &[ClientConfig],
    overrides: &[String],
    query: &ClientQuery,
) -> Result<ClientSettings, String> {
    let env = ClientEnv {
        local_hostname: local_hostname(),
        local_uid: ssh_async::os::user::User::current().ok().map(|u| u.uid),
    };
    ssh_config::client::resolve_with_env(configs, overrides, query, &env)
        .map_err(|e| config_error(&e))
}

/// The machine's host name.
fn local_hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn names(l: &ssh_wire::NameList) -> Vec<String> {
    l.iter().map(str::to_owned).collect()
}

/// The default and the supported names for an algorithm option.
fn lists(kind: AlgoKind) -> (Vec<String>, Vec<String>) {
    let d = Algorithms::client_default();
    let sig_all = || {
        SignatureAlgorithm::ALL
            .iter()
            .map(|a| a.name().to_owned())
            .collect::<Vec<_>>()
    };
    match kind {
        AlgoKind::Kex => (
            names(&d.kex),
            KexAlgorithm::ALL
                .iter()
                .map(|a| a.name().to_owned())
                .collect(),
        ),
        AlgoKind::Ciphers => (
            names(&d.ciphers),
            CipherAlg::ALL.iter().map(|a| a.name().to_owned()).collect(),
        ),
        AlgoKind::Macs => (
            names(&d.macs),
            MacAlg::ALL.iter().map(|a| a.name().to_owned()).collect(),
        ),
        _ => (names(&d.host_key), sig_all()),
    }
}

/// The list an algorithm option gives, or why it is wrong.
pub fn algorithms(kind: AlgoKind, spec: &AlgorithmSpec) -> Result<Vec<String>, String> {
    let (defaults, supported) = lists(kind);
    let d: Vec<&str> = defaults.iter().map(String::as_str).collect();
    let s: Vec<&str> = supported.iter().map(String::as_str).collect();
    spec.apply(&d, &s)
        .map_err(|e| format!("Bad {} list: {e}", kind.keyword()))
}

/// The `-G` output.
pub fn dump(s: &ClientSettings) -> String {
    s.dump(&|kind, spec| match algorithms(kind, spec) {
        Ok(list) => list.join(","),
        Err(_) => spec.as_str().to_owned(),
    })
}

/// The transport configuration the settings ask for.
pub fn transport_config(s: &ClientSettings) -> Result<ssh_transport::Config, String> {
    let mut c = ssh_transport::Config::default();
    let list = |kind, spec| -> Result<ssh_wire::NameList, String> {
        Ok(algorithms(kind, spec)?.iter().map(String::as_str).collect())
    };
    c.algorithms.kex = list(AlgoKind::Kex, &s.kex_algorithms)?;
    c.algorithms.ciphers = list(AlgoKind::Ciphers, &s.ciphers)?;
    c.algorithms.macs = list(AlgoKind::Macs, &s.macs)?;
    c.algorithms.host_key = list(AlgoKind::HostKey, &s.host_key_algorithms)?;
    if s.compression {
        c.algorithms.compression = ["zlib@openssh.com", "none"].into_iter().collect();
    }
    c.rekey = ssh_transport::RekeyLimit {
        bytes: s.rekey_limit.bytes,
        interval: s.rekey_limit.time,
    };
    Ok(c)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_lists_apply_to_our_defaults() {
        let plus = algorithms(AlgoKind::Ciphers, &AlgorithmSpec::new("-aes*")).unwrap();
        assert!(!plus.is_empty());
        assert!(plus.iter().all(|c| !c.starts_with("aes")), "{plus:?}");
        let only = algorithms(AlgoKind::Macs, &AlgorithmSpec::new("hmac-sha2-256")).unwrap();
        assert_eq!(only, vec!["hmac-sha2-256"]);
        assert!(algorithms(AlgoKind::Kex, &AlgorithmSpec::new("no-such-kex")).is_err());
    }

    #[test]
    fn glob_lists_matching_files_sorted() {
        let dir = std::env::temp_dir().join(format!("rssh-glob-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("d")).unwrap();
        for f in ["b.conf", "a.conf", "c.txt", ".h.conf"] {
            std::fs::write(dir.join("d").join(f), "").unwrap();
        }
        let got = glob(&dir.join("d/*.conf"));
        assert_eq!(got, vec![dir.join("d/a.conf"), dir.join("d/b.conf")]);
        assert_eq!(glob(&dir.join("d/none*")), Vec::<PathBuf>::new());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
