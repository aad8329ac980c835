//! The server's host certificate against the `@cert-authority` and
//! `@revoked` lines of the `known_hosts` files, as `ssh` judges it
//! (`sshconnect.c`): a certificate from a CA trusted for the host, valid
//! now and naming the host, is accepted without a line for the key
//! itself; a revoked CA (or key) ends the connection; otherwise `ssh`
//! says why (OpenSSH's reasons: `Certificate invalid: expired`, ...) and
//! checks the certified key as a plain key.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use ssh_auth::known_hosts::{KnownHosts, check_host_certificate_fields};
use ssh_config::client::StrictHostKeyChecking;
use ssh_keys::{Certificate, KeyType, PublicKey, SignatureAlgorithm};

use crate::hostkeys::{HostKeyPolicy, display_name};

/// The certificate's type as OpenSSH names it in messages
/// (`ED25519-CERT`).
pub fn cert_type_label(cert: &Certificate) -> &'static str {
    match cert.key.key_type() {
        KeyType::Ed25519 => "ED25519-CERT",
        KeyType::Ecdsa(_) => "ECDSA-CERT",
        KeyType::Rsa => "RSA-CERT",
        _ => "UNKNOWN-CERT",
    }
}

/// The validity window as `ssh -v` shows it.
fn validity(cert: &Certificate) -> String {
    match (cert.valid_after, cert.valid_before) {
        (0, u64::MAX) => "forever".to_owned(),
        (0, to) => format!("before {to}"),
        (from, u64::MAX) => format!("after {from}"),
        (from, to) => format!("from {from} to {to}"),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What the files say about a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaFound {
    /// The CA or the certified key is `@revoked` (file, line).
    Revoked(PathBuf, usize),
    /// The CA is trusted for the host (file, line).
    Trusted(PathBuf, usize),
    /// No `@cert-authority` line for this CA and host.
    None,
}

/// Looks the certificate's CA up in every file: a revocation anywhere
/// wins, then the first `@cert-authority` line.
pub fn find_ca(files: &[PathBuf], host: &str, port: u16, cert: &Certificate) -> CaFound {
    let mut trusted = None;
    for file in files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let kh = KnownHosts::parse(&text);
        if let Some(line) = kh.certificate_revoked(host, port, cert) {
            return CaFound::Revoked(file.clone(), line);
        }
        if trusted.is_none()
            && let Some(line) = kh.trusted_ca_line(host, port, &cert.signature_key)
        {
            trusted = Some(CaFound::Trusted(file.clone(), line));
        }
    }
    trusted.unwrap_or(CaFound::None)
}

/// True when some file has an `@cert-authority` line for the host (then
/// `ssh` prefers the certificate algorithms).
pub fn has_cert_authority(files: &[PathBuf], host: &str, port: u16) -> bool {
    files.iter().any(|file| {
        std::fs::read_to_string(file).is_ok_and(|text| {
            !KnownHosts::parse(&text)
                .cert_authorities(host, port)
                .is_empty()
        })
    })
}

/// The host key algorithms in `ssh`'s order for this host when
/// `HostKeyAlgorithms` is not set (`order_hostkeyalgs`): the list as is
/// when the host has a key of its first algorithm's type; otherwise the
/// certificate algorithms first if a CA is trusted for the host, and the
/// algorithms of key types the host is known by, the rest after.
pub fn order_host_key_algorithms(
    list: &ssh_wire::NameList,
    known: &[KeyType],
    has_ca: bool,
) -> ssh_wire::NameList {
    let plain_type = |name: &str| {
        ssh_transport::HostKeyAlgorithm::from_name(name).map(|a| a.signature().key_type())
    };
    let first_known = list
        .iter()
        .next()
        .and_then(plain_type)
        .is_some_and(|t| known.contains(&t));
    if first_known {
        return list.clone();
    }
    let preferred = |name: &str| {
        (has_ca && name.ends_with(ssh_keys::cert::CERT_SUFFIX))
            || plain_type(name).is_some_and(|t| known.contains(&t))
    };
    list.iter()
        .filter(|n| preferred(n))
        .chain(list.iter().filter(|n| !preferred(n)))
        .collect()
}

fn say(msg: &str) {
    tracing::error!("{msg}");
}

impl HostKeyPolicy {
    /// Decides on a host certificate for `key`, with `ssh`'s messages;
    /// falls back to [`HostKeyPolicy::check`] on the plain key when no CA
    /// matches or the certificate is invalid. True to go on.
    pub fn check_certificate(&self, key: &PublicKey, cert: &Certificate) -> bool {
        self.check_certificate_at(key, cert, now())
    }

    /// [`HostKeyPolicy::check_certificate`] at `now` (seconds since the
    /// epoch).
    pub fn check_certificate_at(&self, key: &PublicKey, cert: &Certificate, now: u64) -> bool {
        let name = display_name(&self.host, self.lookup_port());
        tracing::debug!(
            "Server host certificate: {} {}, serial {} ID \"{}\" CA {} {} valid {}",
            cert.type_name(),
            key.fingerprint_sha256(),
            cert.serial,
            cert.key_id,
            cert.signature_key.key_type().name(),
            cert.signature_key.fingerprint_sha256(),
            validity(cert)
        );
        for p in &cert.principals {
            tracing::trace!("Server host certificate hostname: {p}");
        }
        let label = cert_type_label(cert);
        match find_ca(&self.all_files(), &self.host, self.lookup_port(), cert) {
            CaFound::Revoked(..) => {
                say(&format!(
                    "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n\
                     @       WARNING: REVOKED HOST KEY DETECTED!               @\n\
                     @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n\
                     The {label} host key for {name} is marked as revoked.\n\
                     This could mean that a stolen key is being used to\n\
                     impersonate this host."
                ));
                if self.mode != StrictHostKeyChecking::No {
                    say(&format!(
                        "{label} host key for {name} was revoked and you have requested strict checking."
                    ));
                }
                say("Host key verification failed.");
                false
            }
            CaFound::Trusted(file, line) => {
                tracing::debug!("Host '{name}' is known and matches the {label} host certificate.");
                tracing::debug!("Found CA key in {}:{line}", file.display());
                match check_host_certificate_fields(cert, &self.host, now, &self.ca_algorithms) {
                    Ok(()) => true,
                    Err(e) => {
                        say(&e.to_string());
                        tracing::debug!("No matching CA found. Retry with plain key");
                        self.check(key)
                    }
                }
            }
            CaFound::None => {
                tracing::debug!("No matching CA found. Retry with plain key");
                self.check(key)
            }
        }
    }

    /// The port of `known_hosts` names: none (22) under `HostKeyAlias`,
    /// as `ssh` stores an alias without a port.
    fn lookup_port(&self) -> u16 {
        if self.alias { 22 } else { self.port }
    }
}

/// `CASignatureAlgorithms` as signature algorithms.
pub fn ca_algorithms(names: &[String]) -> Vec<SignatureAlgorithm> {
    names
        .iter()
        .filter_map(|n| SignatureAlgorithm::from_name(n).ok())
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::prompt::Prompter;
    use rand::SeedableRng;
    use ssh_keys::{CertType, CertificateBuilder, PrivateKey};

    const NOW: u64 = 1_800_000_000;

    fn ca() -> PrivateKey {
        PrivateKey::from_ed25519_seed(&[0xca; 32])
    }

    fn host() -> PrivateKey {
        PrivateKey::from_ed25519_seed(&[0x11; 32])
    }

    fn cert(principal: &str, valid: (u64, u64)) -> Certificate {
        CertificateBuilder::new(host().public().clone(), CertType::Host)
            .principal(principal)
            .valid(valid.0, valid.1)
            .sign(&ca(), None, &mut rand::rngs::StdRng::seed_from_u64(1))
            .unwrap()
    }

    struct Files(PathBuf);

    impl Drop for Files {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn policy(name: &str, known_hosts: &str) -> (HostKeyPolicy, Files) {
        let dir = std::env::temp_dir().join(format!("rssh-hc-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("known_hosts");
        std::fs::write(&file, known_hosts).unwrap();
        let p = HostKeyPolicy {
            host: "host.example".into(),
            port: 2222,
            address: "10.0.0.1".into(),
            user_files: vec![file],
            global_files: Vec::new(),
            mode: StrictHostKeyChecking::Yes,
            hash: false,
            prompter: Prompter { batch: true },
            alias: false,
            ca_algorithms: vec![SignatureAlgorithm::Ed25519],
        };
        (p, Files(dir))
    }

    fn ca_line() -> String {
        format!("@cert-authority * {}\n", ca().public().to_openssh(""))
    }

    fn plain_line() -> String {
        format!("[host.example]:2222 {}\n", host().public().to_openssh(""))
    }

    const VALID: (u64, u64) = (NOW - 10, NOW + 10);

    #[test]
    fn a_valid_certificate_from_a_trusted_ca_needs_no_key_line() {
        let (p, _f) = policy("ok", &ca_line());
        assert!(p.check_certificate_at(host().public(), &cert("host.example", VALID), NOW));
        assert_eq!(
            find_ca(
                &p.all_files(),
                "host.example",
                2222,
                &cert("host.example", VALID)
            ),
            CaFound::Trusted(p.user_files[0].clone(), 1)
        );
    }

    #[test]
    fn an_invalid_certificate_falls_back_to_the_plain_key() {
        // Expired, or not naming the host: the plain key decides.
        let expired = cert("host.example", (NOW - 10, NOW));
        let stranger = cert("other.example", VALID);
        let (p, _f) = policy("fallback-known", &(ca_line() + &plain_line()));
        assert!(p.check_certificate_at(host().public(), &expired, NOW));
        assert!(p.check_certificate_at(host().public(), &stranger, NOW));
        let (p, _f) = policy("fallback-unknown", &ca_line());
        assert!(!p.check_certificate_at(host().public(), &expired, NOW));
        assert!(!p.check_certificate_at(host().public(), &stranger, NOW));
        // A CA algorithm outside CASignatureAlgorithms: invalid too.
        let (mut p, _f) = policy("ca-alg", &ca_line());
        p.ca_algorithms = vec![SignatureAlgorithm::RsaSha512];
        assert!(!p.check_certificate_at(host().public(), &cert("host.example", VALID), NOW));
    }

    #[test]
    fn an_untrusted_ca_falls_back_to_the_plain_key() {
        let c = cert("host.example", VALID);
        let (p, _f) = policy("no-ca", &plain_line());
        assert_eq!(
            find_ca(&p.all_files(), "host.example", 2222, &c),
            CaFound::None
        );
        assert!(p.check_certificate_at(host().public(), &c, NOW));
        let (p, _f) = policy("no-ca-no-key", "");
        assert!(!p.check_certificate_at(host().public(), &c, NOW));
    }

    #[test]
    fn a_revoked_ca_is_refused_even_with_a_known_key() {
        let c = cert("host.example", VALID);
        let revoked = format!(
            "{}{}@revoked * {}\n",
            ca_line(),
            plain_line(),
            ca().public().to_openssh("")
        );
        let (p, _f) = policy("revoked", &revoked);
        assert_eq!(
            find_ca(&p.all_files(), "host.example", 2222, &c),
            CaFound::Revoked(p.user_files[0].clone(), 3)
        );
        assert!(!p.check_certificate_at(host().public(), &c, NOW));
    }

    #[test]
    fn under_an_alias_the_names_have_no_port() {
        let c = cert("alias.example", VALID);
        let (mut p, _f) = policy(
            "alias",
            &format!(
                "@cert-authority alias.example {}\n",
                ca().public().to_openssh("")
            ),
        );
        p.host = "alias.example".into();
        p.alias = true;
        assert!(p.check_certificate_at(host().public(), &c, NOW));
    }

    #[test]
    fn certificate_algorithms_first_when_a_ca_is_trusted() {
        let list: ssh_wire::NameList = [
            "ssh-ed25519-cert-v01@openssh.com",
            "rsa-sha2-512-cert-v01@openssh.com",
            "ssh-ed25519",
            "rsa-sha2-512",
        ]
        .into_iter()
        .collect();
        // The first algorithm's key type is known: as is.
        assert_eq!(
            order_host_key_algorithms(&list, &[KeyType::Ed25519], false),
            list
        );
        // Known RSA: its algorithms (certificate and plain) first.
        assert_eq!(
            order_host_key_algorithms(&list, &[KeyType::Rsa], false).to_string(),
            "rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-512,\
             ssh-ed25519-cert-v01@openssh.com,ssh-ed25519"
        );
        // A CA: every certificate algorithm first.
        let plain_first: ssh_wire::NameList = ["ssh-ed25519", "ssh-ed25519-cert-v01@openssh.com"]
            .into_iter()
            .collect();
        assert_eq!(
            order_host_key_algorithms(&plain_first, &[], true).to_string(),
            "ssh-ed25519-cert-v01@openssh.com,ssh-ed25519"
        );
        let (p, _f) = policy("has-ca", &ca_line());
        assert!(has_cert_authority(&p.all_files(), "host.example", 2222));
        let (p, _f) = policy("no-has-ca", &plain_line());
        assert!(!has_cert_authority(&p.all_files(), "host.example", 2222));
    }

    #[test]
    fn labels_are_openssh_s() {
        assert_eq!(cert_type_label(&cert("h", VALID)), "ED25519-CERT");
    }
}
