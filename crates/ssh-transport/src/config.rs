//! What a transport offers and how it behaves: algorithm preference lists
//! (defaults as OpenSSH 10's, post-quantum first, without SHA-1 or DSA),
//! re-key limits and packet limits.

use core::time::Duration;

use ssh_wire::NameList;

/// OpenSSH 10's `ssh` default `KexAlgorithms`.
pub const DEFAULT_KEX: &[&str] = &[
    "mlkem768x25519-sha256",
    "sntrup761x25519-sha512",
    "sntrup761x25519-sha512@openssh.com",
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "ecdh-sha2-nistp256",
    "ecdh-sha2-nistp384",
    "ecdh-sha2-nistp521",
    "diffie-hellman-group-exchange-sha256",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group18-sha512",
    "diffie-hellman-group14-sha256",
];

/// OpenSSH 10's `sshd` default `KexAlgorithms`: no finite-field DH.
pub const DEFAULT_SERVER_KEX: &[&str] = &[
    "mlkem768x25519-sha256",
    "sntrup761x25519-sha512",
    "sntrup761x25519-sha512@openssh.com",
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "ecdh-sha2-nistp256",
    "ecdh-sha2-nistp384",
    "ecdh-sha2-nistp521",
];

/// OpenSSH 10's default `HostKeyAlgorithms`, less certificates (which come
/// with the authentication layer) and security keys.
pub const DEFAULT_HOST_KEY: &[&str] = &[
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
];

/// OpenSSH 10's default `Ciphers` (AES-GCM preferred to CTR since 9.9).
pub const DEFAULT_CIPHERS: &[&str] = &[
    "chacha20-poly1305@openssh.com",
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
];

/// OpenSSH 10's default `MACs` less UMAC (not implemented) and SHA-1.
pub const DEFAULT_MACS: &[&str] = &[
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-512-etm@openssh.com",
    "hmac-sha2-256",
    "hmac-sha2-512",
];

/// A client's default compression: none, as `Compression no`.
pub const DEFAULT_CLIENT_COMPRESSION: &[&str] = &["none"];
/// A server's default compression, as sshd's `Compression yes` (delayed).
pub const DEFAULT_SERVER_COMPRESSION: &[&str] = &["none", "zlib@openssh.com"];

/// Preference lists for one side; each is offered in this order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Algorithms {
    /// Key exchange methods (markers such as `ext-info-c` are added by the
    /// transport, not listed here).
    pub kex: NameList,
    /// Host key algorithms: for a client, what it accepts; a server offers
    /// those it holds a key for.
    pub host_key: NameList,
    /// Ciphers, both directions.
    pub ciphers: NameList,
    /// MACs, both directions.
    pub macs: NameList,
    /// Compression, both directions.
    pub compression: NameList,
}

impl Algorithms {
    /// OpenSSH 10's defaults for a client.
    pub fn client_default() -> Self {
        Self {
            kex: DEFAULT_KEX.iter().copied().collect(),
            host_key: DEFAULT_HOST_KEY.iter().copied().collect(),
            ciphers: DEFAULT_CIPHERS.iter().copied().collect(),
            macs: DEFAULT_MACS.iter().copied().collect(),
            compression: DEFAULT_CLIENT_COMPRESSION.iter().copied().collect(),
        }
    }

    /// OpenSSH 10's defaults for a server.
    pub fn server_default() -> Self {
        Self {
            kex: DEFAULT_SERVER_KEX.iter().copied().collect(),
            compression: DEFAULT_SERVER_COMPRESSION.iter().copied().collect(),
            ..Self::client_default()
        }
    }
}

/// Re-key thresholds (OpenSSH's `RekeyLimit`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RekeyLimit {
    /// Bytes per direction; `None` is the cipher's default volume.
    pub bytes: Option<u64>,
    /// Time since the last exchange; `None` (the default) is no limit.
    pub interval: Option<Duration>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_free_of_sha1_and_dsa() {
        let a = Algorithms::server_default();
        assert_eq!(a.kex.len(), DEFAULT_SERVER_KEX.len(), "every name kept");
        assert_eq!(a.kex.names().first().unwrap(), "mlkem768x25519-sha256");
        for list in [&a.kex, &a.host_key, &a.ciphers, &a.macs] {
            for name in list.iter() {
                assert!(!name.contains("sha1") && !name.contains("dss"), "{name}");
                assert_ne!(name, "ssh-rsa");
            }
        }
        assert_eq!(Algorithms::client_default().compression.to_string(), "none");
        assert_eq!(a.compression.to_string(), "none,zlib@openssh.com");
    }
}
