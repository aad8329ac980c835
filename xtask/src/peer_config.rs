//! What an OpenSSH peer's `sshd` is started with: host key types and the
//! configuration file of [`crate::peer::Backend::start_sshd`].

/// A host key type `sshd` is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HostKeyType {
    /// `ssh-ed25519`.
    Ed25519,
    /// `ecdsa-sha2-nistp256`.
    EcdsaP256,
    /// `ecdsa-sha2-nistp384`.
    EcdsaP384,
    /// `ecdsa-sha2-nistp521`.
    EcdsaP521,
    /// RSA, 3072 bits (offered as `rsa-sha2-512`, `rsa-sha2-256`).
    Rsa,
}

impl HostKeyType {
    /// Every type, in the order host keys are listed in the configuration.
    pub const ALL: [Self; 5] = [
        Self::Ed25519,
        Self::EcdsaP256,
        Self::EcdsaP384,
        Self::EcdsaP521,
        Self::Rsa,
    ];

    /// The file name of the private key.
    pub const fn file_name(self) -> &'static str {
        match self {
            Self::Ed25519 => "ssh_host_ed25519_key",
            Self::EcdsaP256 => "ssh_host_ecdsa_key",
            Self::EcdsaP384 => "ssh_host_ecdsa384_key",
            Self::EcdsaP521 => "ssh_host_ecdsa521_key",
            Self::Rsa => "ssh_host_rsa_key",
        }
    }

    /// The `ssh-keygen` arguments choosing the type.
    pub const fn keygen_args(self) -> [&'static str; 4] {
        match self {
            Self::Ed25519 => ["-t", "ed25519", "-C", "xtask"],
            Self::EcdsaP256 => ["-t", "ecdsa", "-b", "256"],
            Self::EcdsaP384 => ["-t", "ecdsa", "-b", "384"],
            Self::EcdsaP521 => ["-t", "ecdsa", "-b", "521"],
            Self::Rsa => ["-t", "rsa", "-b", "3072"],
        }
    }

    /// The host key algorithms `sshd` offers for a key of this type.
    pub const fn algorithms(self) -> &'static [&'static str] {
        match self {
            Self::Ed25519 => &["ssh-ed25519"],
            Self::EcdsaP256 => &["ecdsa-sha2-nistp256"],
            Self::EcdsaP384 => &["ecdsa-sha2-nistp384"],
            Self::EcdsaP521 => &["ecdsa-sha2-nistp521"],
            Self::Rsa => &["rsa-sha2-512", "rsa-sha2-256"],
        }
    }
}

/// What an `sshd` is started with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshdConfig {
    /// The host keys it gets (generated once per backend).
    pub host_keys: Vec<HostKeyType>,
    /// `-ddd`: serve one connection, then exit, logging everything. Without
    /// it `sshd -D -e` serves any number of connections (still logging at
    /// `LogLevel DEBUG3` to stderr).
    pub single_connection: bool,
    /// Further `sshd_config` lines (`KexAlgorithms ...`, `PasswordAuthentication yes`).
    pub extra: Vec<String>,
}

impl Default for SshdConfig {
    fn default() -> Self {
        Self {
            host_keys: HostKeyType::ALL.to_vec(),
            single_connection: true,
            extra: Vec::new(),
        }
    }
}

impl SshdConfig {
    /// The `sshd_config` text, with host keys and other files in `dir` (a
    /// path as the peer sees it).
    pub fn render(&self, dir: &str) -> String {
        let mut s = String::new();
        s.push_str("# Written by cargo xtask for one interop test.\n");
        s.push_str("ListenAddress 127.0.0.1\n");
        for key in &self.host_keys {
            s.push_str(&format!("HostKey {dir}/{}\n", key.file_name()));
        }
        s.push_str("PidFile none\n");
        s.push_str("UsePAM no\n");
        s.push_str("StrictModes no\n");
        s.push_str(&format!("AuthorizedKeysFile {dir}/authorized_keys\n"));
        s.push_str("LogLevel DEBUG3\n");
        for line in &self.extra {
            s.push_str(line);
            s.push('\n');
        }
        s
    }

    /// The `sshd` arguments after the program name.
    pub fn args(&self, config_path: &str, port: u16) -> Vec<String> {
        let mut args = vec!["-D".to_owned(), "-e".to_owned()];
        if self.single_connection {
            args.push("-ddd".to_owned());
        }
        args.extend([
            "-f".to_owned(),
            config_path.to_owned(),
            "-p".to_owned(),
            port.to_string(),
        ]);
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_lists_host_keys_and_extra_lines() {
        let cfg = SshdConfig {
            host_keys: vec![HostKeyType::Ed25519, HostKeyType::Rsa],
            single_connection: false,
            extra: vec!["KexAlgorithms curve25519-sha256".to_owned()],
        };
        let text = cfg.render("/tmp/x");
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.contains(&"HostKey /tmp/x/ssh_host_ed25519_key"));
        assert!(lines.contains(&"HostKey /tmp/x/ssh_host_rsa_key"));
        assert!(!text.contains("ecdsa"));
        assert!(lines.contains(&"AuthorizedKeysFile /tmp/x/authorized_keys"));
        assert_eq!(lines.last(), Some(&"KexAlgorithms curve25519-sha256"));
        assert!(lines.contains(&"ListenAddress 127.0.0.1"));
    }

    #[test]
    fn single_connection_adds_ddd() {
        let mut cfg = SshdConfig::default();
        assert_eq!(
            cfg.args("/c", 2222),
            ["-D", "-e", "-ddd", "-f", "/c", "-p", "2222"]
        );
        cfg.single_connection = false;
        assert_eq!(cfg.args("/c", 22), ["-D", "-e", "-f", "/c", "-p", "22"]);
    }
}
