//! Configuration files: `-F` or `~/.ssh/config`, then
//! `/etc/ssh/ssh_config`, read with `std::fs` for `ssh-config`; the
//! resolved settings mapped onto the transport's configuration (with
//! `ssh_os::config`, shared with `rsshd`).

use std::io;
use std::path::{Path, PathBuf};

use ssh_config::client::{ClientConfig, ClientEnv, ClientQuery, ClientSettings};
use ssh_config::{AlgoKind, AlgorithmSpec, ConfigError};

/// The system-wide file.
pub const SYSTEM_CONFIG: &str = "/etc/ssh/ssh_config";

/// Reads and parses the configuration files: `-F file` only (`none`: no
/// file), or else the user's file and the system's when they exist.
pub fn load(user_file: Option<&Path>, home: &Path) -> Result<Vec<ClientConfig>, String> {
    let mut loader = ssh_os::config::FsLoader;
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
        local_uid: ssh_os::user::User::current().ok().map(|u| u.uid),
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

/// The list an algorithm option gives, or why it is wrong.
pub fn algorithms(kind: AlgoKind, spec: &AlgorithmSpec) -> Result<Vec<String>, String> {
    let (defaults, supported) = ssh_os::config::algorithm_names(kind, false);
    spec.apply(&defaults, &supported)
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
    for (kind, spec) in [
        (AlgoKind::Kex, &s.kex_algorithms),
        (AlgoKind::Ciphers, &s.ciphers),
        (AlgoKind::Macs, &s.macs),
        (AlgoKind::HostKey, &s.host_key_algorithms),
    ] {
        ssh_os::config::apply_algorithms(&mut c, kind, spec, false)?;
    }
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
}
