//! What a transport offers and how it behaves: algorithm preference lists
//! (defaults as OpenSSH 10's, post-quantum first, without SHA-1 or DSA),
//! re-key limits and packet limits.

use core::time::Duration;

use ssh_keys::SignatureAlgorithm;
use ssh_wire::NameList;

use crate::cipher::{CipherAlg, MacAlg};
use crate::host_key::HostKeyAlgorithm;
use crate::kex::{KexAlgorithm, KexFamily};

/// The host key algorithms offered and accepted by default: OpenSSH 10's,
/// certificates (`*-cert-v01@openssh.com`) first, without the SHA-1 ones
/// (`ssh-rsa`, `ssh-rsa-cert-v01@openssh.com`) and without security keys
/// (not implemented). A server offers those it has a key (and for a
/// certificate algorithm, a certificate) for.
pub fn default_host_key_algorithms() -> impl Iterator<Item = &'static str> {
    HostKeyAlgorithm::ALL
        .into_iter()
        .filter(|a| !a.uses_sha1())
        .map(HostKeyAlgorithm::name)
}

/// The signature algorithms a server accepts for user keys by default (its
/// `server-sig-algs`): the plain host key algorithms.
pub fn default_signature_algorithms() -> impl Iterator<Item = &'static str> {
    SignatureAlgorithm::ALL
        .into_iter()
        .filter(|a| !a.uses_sha1())
        .map(SignatureAlgorithm::name)
}

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
    /// OpenSSH 10's defaults for a client (`ssh`): every method but the
    /// SHA-1 ones, post-quantum first; MACs without UMAC (not implemented)
    /// and SHA-1.
    pub fn client_default() -> Self {
        Self {
            kex: KexAlgorithm::DEFAULT.iter().map(|a| a.name()).collect(),
            host_key: default_host_key_algorithms().collect(),
            ciphers: CipherAlg::DEFAULT.iter().map(|a| a.name()).collect(),
            macs: MacAlg::DEFAULT.iter().map(|a| a.name()).collect(),
            compression: DEFAULT_CLIENT_COMPRESSION.iter().copied().collect(),
        }
    }

    /// OpenSSH 10's defaults for a server (`sshd`): as the client's, but
    /// without finite-field Diffie-Hellman.
    pub fn server_default() -> Self {
        Self {
            kex: KexAlgorithm::DEFAULT
                .iter()
                .filter(|a| !matches!(a.family(), KexFamily::Dh | KexFamily::GroupExchange))
                .map(|a| a.name())
                .collect(),
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
        assert_eq!(a.kex.len(), 8);
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
