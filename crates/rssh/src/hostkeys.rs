//! The server's host key against the `known_hosts` files, with
//! `StrictHostKeyChecking` and OpenSSH's messages.

use std::io::Write;
use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use ssh_auth::known_hosts::{self, KnownHosts, Lookup};
use ssh_config::client::StrictHostKeyChecking;
use ssh_keys::{KeyType, PublicKey};

use crate::config::io_message;
use crate::prompt::Prompter;

/// The key type as OpenSSH names it in messages (`ED25519`, `ECDSA`,
/// `RSA`).
pub fn type_label(key: &PublicKey) -> &'static str {
    match key.key_type() {
        KeyType::Ed25519 => "ED25519",
        KeyType::Ecdsa(_) => "ECDSA",
        KeyType::Rsa => "RSA",
        _ => "UNKNOWN",
    }
}

/// Everything the check needs.
#[derive(Debug, Clone)]
pub struct HostKeyPolicy {
    /// The name keys are stored under (HostKeyAlias or HostName).
    pub host: String,
    /// The port.
    pub port: u16,
    /// The address connected to, for messages.
    pub address: String,
    /// `UserKnownHostsFile` (the first one gets new keys).
    pub user_files: Vec<PathBuf>,
    /// `GlobalKnownHostsFile`.
    pub global_files: Vec<PathBuf>,
    /// `StrictHostKeyChecking`.
    pub mode: StrictHostKeyChecking,
    /// `HashKnownHosts`.
    pub hash: bool,
    /// How to ask.
    pub prompter: Prompter,
    /// `host` is a `HostKeyAlias` (certificates: looked up without the
    /// port, as `ssh` does).
    pub alias: bool,
    /// `CASignatureAlgorithms`: what a host certificate's CA may sign with.
    pub ca_algorithms: Vec<ssh_keys::SignatureAlgorithm>,
}

/// What was found in the files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The key is listed in `file` on `line`.
    Known(PathBuf, usize),
    /// Revoked in `file` on `line`.
    Revoked(PathBuf, usize),
    /// The host has other keys: the first one of the same type (else the
    /// first) in `file` on `line`, with its type label.
    Changed(PathBuf, usize, &'static str),
    /// Nothing known.
    Unknown,
}

/// Looks `key` up in every file, as OpenSSH: a revocation anywhere wins,
/// then a match anywhere, then another key for the host.
pub fn lookup(files: &[PathBuf], host: &str, port: u16, key: &PublicKey) -> Found {
    let mut known = None;
    let mut changed: Option<(PathBuf, usize, &'static str, bool)> = None;
    for file in files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let kh = KnownHosts::parse(&text);
        match kh.lookup(host, port, key) {
            Lookup::Revoked { line } => return Found::Revoked(file.clone(), line),
            Lookup::Known { line } => {
                if known.is_none() {
                    known = Some(Found::Known(file.clone(), line));
                }
            }
            Lookup::Mismatch { lines } => {
                for line in lines {
                    let Some(e) = kh.entries().iter().find(|e| e.line == line) else {
                        continue;
                    };
                    let same = e.key.key_type() == key.key_type();
                    let better = match &changed {
                        None => true,
                        Some((_, _, _, was_same)) => same && !was_same,
                    };
                    if better {
                        changed = Some((file.clone(), line, type_label(&e.key), same));
                    }
                }
            }
            Lookup::Unknown => {}
        }
    }
    if let Some(k) = known {
        return k;
    }
    match changed {
        Some((f, l, t, _)) => Found::Changed(f, l, t),
        None => Found::Unknown,
    }
}

/// The key types the files list for `host`/`port` (plain entries), in
/// file order.
pub fn known_key_types(files: &[PathBuf], host: &str, port: u16) -> Vec<KeyType> {
    // A key no file can hold: every entry for the host is "another key".
    let probe = ssh_keys::PrivateKey::from_ed25519_seed(&[0x5a; 32]);
    let mut types = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let kh = KnownHosts::parse(&text);
        let lines = match kh.lookup(host, port, probe.public()) {
            Lookup::Mismatch { lines } => lines,
            Lookup::Known { line } => vec![line],
            _ => Vec::new(),
        };
        for e in kh.entries().iter().filter(|e| lines.contains(&e.line)) {
            if !types.contains(&e.key.key_type()) {
                types.push(e.key.key_type());
            }
        }
    }
    types
}

/// The `[host]:port` (or `host`) form used in messages, without control
/// characters: a name can come from anywhere (`HostKeyAlias`, a DNS
/// answer) and is printed to the terminal.
pub fn display_name(host: &str, port: u16) -> String {
    known_hosts::host_port_name(host, port)
        .chars()
        .filter(|c| !c.is_control())
        .collect()
}

/// OpenSSH's question for an unknown key.
pub fn unknown_question(host: &str, address: &str, port: u16, key: &PublicKey) -> String {
    format!(
        "The authenticity of host '{} ({})' can't be established.\n\
         {} key fingerprint is {}.\n\
         This key is not known by any other names.\n\
         Are you sure you want to continue connecting (yes/no/[fingerprint])? ",
        display_name(host, port),
        display_name(address, port),
        type_label(key),
        key.fingerprint_sha256()
    )
}

/// OpenSSH's warning for a changed key (without the last line).
pub fn changed_warning(
    key: &PublicKey,
    file: &Path,
    line: usize,
    offending_type: &str,
    first_user_file: &Path,
) -> String {
    format!(
        "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n\
         @    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n\
         @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n\
         IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\n\
         Someone could be eavesdropping on you right now (man-in-the-middle attack)!\n\
         It is also possible that a host key has just been changed.\n\
         The fingerprint for the {} key sent by the remote host is\n\
         {}.\n\
         Please contact your system administrator.\n\
         Add correct host key in {} to get rid of this message.\n\
         Offending {} key in {}:{}",
        type_label(key),
        key.fingerprint_sha256(),
        first_user_file.display(),
        offending_type,
        file.display(),
        line
    )
}

fn say(msg: &str) {
    tracing::error!("{msg}");
}

impl HostKeyPolicy {
    /// The user files, then the global ones.
    pub fn all_files(&self) -> Vec<PathBuf> {
        self.files()
    }

    fn files(&self) -> Vec<PathBuf> {
        self.user_files
            .iter()
            .chain(&self.global_files)
            .cloned()
            .collect()
    }

    /// Decides on `key`; messages as OpenSSH's. True to go on.
    pub fn check(&self, key: &PublicKey) -> bool {
        let name = display_name(&self.host, self.port);
        tracing::debug!(
            "Server host key: {} {}",
            key.key_type().name(),
            key.fingerprint_sha256()
        );
        match lookup(&self.files(), &self.host, self.port, key) {
            Found::Known(file, line) => {
                tracing::debug!(
                    "Host '{name}' is known and matches the {} host key.",
                    type_label(key)
                );
                tracing::debug!("Found key in {}:{line}", file.display());
                true
            }
            Found::Revoked(file, line) => {
                say(&format!(
                    "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n\
                     @       WARNING: REVOKED HOST KEY DETECTED!               @\n\
                     @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n\
                     The {} host key for {name} is marked as revoked.\n\
                     This could mean that a stolen key is being used to\n\
                     impersonate this host.\n\
                     Revoked key in {}:{line}",
                    type_label(key),
                    file.display()
                ));
                say("Host key verification failed.");
                false
            }
            Found::Changed(file, line, t) => {
                let first = self
                    .user_files
                    .first()
                    .cloned()
                    .unwrap_or_else(|| file.clone());
                say(&changed_warning(key, &file, line, t, &first));
                if self.mode == StrictHostKeyChecking::No {
                    say("Host key for this host has changed: refusing to connect \
                         (StrictHostKeyChecking no does not override a changed key in rssh).");
                } else {
                    say(&format!(
                        "Host key for {name} has changed and you have requested strict checking."
                    ));
                }
                say("Host key verification failed.");
                false
            }
            Found::Unknown => self.unknown(key, &name),
        }
    }

    fn unknown(&self, key: &PublicKey, name: &str) -> bool {
        match self.mode {
            StrictHostKeyChecking::Yes => {
                say(&format!(
                    "No {} host key is known for {name} and you have requested strict checking.",
                    type_label(key)
                ));
                say("Host key verification failed.");
                return false;
            }
            StrictHostKeyChecking::Ask => {
                let mut prompt = unknown_question(&self.host, &self.address, self.port, key);
                loop {
                    let Some(answer) = self.prompter.ask(&prompt, true) else {
                        say("Host key verification failed.");
                        return false;
                    };
                    let a = answer.trim();
                    if a.eq_ignore_ascii_case("yes") || a == key.fingerprint_sha256() {
                        break;
                    }
                    if a.eq_ignore_ascii_case("no") {
                        say("Host key verification failed.");
                        return false;
                    }
                    prompt = "Please type 'yes', 'no' or the fingerprint: ".to_owned();
                }
            }
            StrictHostKeyChecking::AcceptNew | StrictHostKeyChecking::No => {}
        }
        self.add(key, name);
        true
    }

    /// Appends the key to the first user file.
    fn add(&self, key: &PublicKey, name: &str) {
        let Some(file) = self.user_files.first() else {
            return;
        };
        let mut rng: StdRng = rand::make_rng();
        let line = known_hosts::append_line(&self.host, self.port, key, self.hash, &mut rng);
        match append(file, &line) {
            Ok(()) => tracing::info!(
                "Warning: Permanently added '{name}' ({}) to the list of known hosts.",
                type_label(key)
            ),
            Err(e) => tracing::info!(
                "Failed to add the host to the list of known hosts ({}): {}",
                file.display(),
                io_message(&e)
            ),
        }
    }
}

/// Appends `line` to `file`, creating it (and a missing `~/.ssh`, mode
/// 0700) if needed; a file not ending in a newline gets one first.
fn append(file: &Path, line: &str) -> std::io::Result<()> {
    if let Some(dir) = file.parent()
        && !dir.as_os_str().is_empty()
        && !dir.exists()
    {
        std::fs::create_dir_all(dir)?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let needs_newline = std::fs::read(file)
        .map(|b| b.last().is_some_and(|c| *c != b'\n'))
        .unwrap_or(false);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)?;
    if needs_newline {
        f.write_all(b"\n")?;
    }
    f.write_all(line.as_bytes())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ssh_keys::PrivateKey;

    /// Terminal escape sequences in host names printed to the user (a
    /// name from the command line, `HostKeyAlias`, a canonicalized DNS
    /// name): the questions and warnings show them without control
    /// characters, so that no name rewrites the terminal or forges a line
    /// of the question.
    #[test]
    fn terminal_escapes_in_host_names_are_sanitized() {
        let k = PrivateKey::from_ed25519_seed(&[1; 32]).public().clone();
        let host = "evil\x1b]0;pwned\x07\x1b[2K\rgood.example\nAre you sure";
        let name = display_name(host, 22);
        assert!(!name.chars().any(char::is_control), "{name:?}");
        assert_eq!(name, "evil]0;pwned[2kgood.exampleare you sure");
        let q = unknown_question(host, "192.0.2.1", 22, &k);
        assert!(!q.chars().any(|c| c.is_control() && c != '\n'), "{q:?}");
        // The question keeps its own four lines only.
        assert_eq!(q.lines().count(), 4, "{q}");
        assert!(display_name(host, 2222).starts_with("[evil]0;pwned"));
    }

    #[test]
    fn lookup_across_files_and_messages() {
        let dir = std::env::temp_dir().join(format!("rssh-kh-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let k1 = PrivateKey::from_ed25519_seed(&[1; 32]).public().clone();
        let k2 = PrivateKey::from_ed25519_seed(&[2; 32]).public().clone();
        let a = dir.join("a");
        let b = dir.join("b");
        std::fs::write(&a, format!("# c\nother {}\n", k1.to_openssh(""))).unwrap();
        std::fs::write(&b, format!("[h]:2222 {}\n", k1.to_openssh(""))).unwrap();
        let files = vec![a.clone(), dir.join("missing"), b.clone()];
        assert_eq!(lookup(&files, "h", 2222, &k1), Found::Known(b.clone(), 1));
        assert_eq!(
            lookup(&files, "h", 2222, &k2),
            Found::Changed(b.clone(), 1, "ED25519")
        );
        assert_eq!(lookup(&files, "h", 22, &k1), Found::Unknown);
        std::fs::write(&a, format!("@revoked * {}\n", k1.to_openssh(""))).unwrap();
        assert_eq!(lookup(&files, "h", 2222, &k1), Found::Revoked(a.clone(), 1));

        let q = unknown_question("127.0.0.1", "127.0.0.1", 2222, &k1);
        assert!(q.starts_with(
            "The authenticity of host '[127.0.0.1]:2222 ([127.0.0.1]:2222)' can't be established.\n\
             ED25519 key fingerprint is SHA256:"
        ));
        assert!(q.ends_with("(yes/no/[fingerprint])? "));
        let w = changed_warning(&k2, &b, 3, "ED25519", &a);
        assert!(w.ends_with(&format!("Offending ED25519 key in {}:3", b.display())));

        // Known types go first in the host key algorithms.
        std::fs::write(&a, format!("[h]:2222 {}\n", k1.to_openssh(""))).unwrap();
        let rsa = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDDfakefakefakefakefakefakefakefakefakefakefakefakefakefakefakefakefakefakefakefakefakefakefakefakefakefakefakefakefakefakefakefakefakefakefakefakefakefakefakefakefakefakefakefakefakefakefakefakef";
        let _ = rsa;
        assert_eq!(known_key_types(&files, "h", 2222), vec![KeyType::Ed25519]);
        assert_eq!(known_key_types(&files, "other", 22), vec![]);
        let list: ssh_wire::NameList = ["rsa-sha2-512", "ecdsa-sha2-nistp256", "ssh-ed25519"]
            .into_iter()
            .collect();
        assert_eq!(
            crate::hostcerts::order_host_key_algorithms(&list, &[KeyType::Ed25519], false)
                .to_string(),
            "ssh-ed25519,rsa-sha2-512,ecdsa-sha2-nistp256"
        );

        // Appending to a file without a final newline keeps lines apart.
        let c = dir.join("sub/known");
        append(&c, "x y\n").unwrap();
        std::fs::write(&c, "x y").unwrap();
        append(&c, "z w\n").unwrap();
        assert_eq!(std::fs::read_to_string(&c).unwrap(), "x y\nz w\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
