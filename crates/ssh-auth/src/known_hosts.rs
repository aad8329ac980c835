//! `known_hosts` files (`sshd(8)` SSH_KNOWN_HOSTS FILE FORMAT): plain and
//! hashed host names, `[host]:port`, wildcard patterns with negation,
//! `@cert-authority` and `@revoked` markers, and the check of a host
//! certificate against them ([`KnownHosts::check_host_certificate`]).
//!
//! The caller reads the file and passes its text; [`append_line`] returns
//! the line to append, as OpenSSH's `StrictHostKeyChecking accept-new`
//! would write it.

use base64ct::{Base64, Encoding};
use hmac::{Hmac, KeyInit, Mac};
use rand_core::CryptoRng;
use sha1::Sha1;
use ssh_keys::{PublicKey, SignatureAlgorithm, VerifyPolicy};
use subtle::ConstantTimeEq;

use crate::cert::{CertError, CertType, Certificate};
use crate::pattern::{ListMatch, match_list, wildcard_match};

/// The prefix of a hashed host name: `|1|base64(salt)|base64(hmac)`.
const HASH_MAGIC: &str = "|1|";
/// Length of a SHA-1 HMAC and of the salt OpenSSH uses.
const SHA1_LEN: usize = 20;

/// The marker at the start of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// No marker: a host key.
    None,
    /// `@cert-authority`: a CA key trusted to sign host certificates.
    CertAuthority,
    /// `@revoked`: the key must never be accepted.
    Revoked,
}

#[derive(Debug, Clone)]
enum Hosts {
    /// A comma-separated pattern list.
    Patterns(String),
    /// `|1|salt|hash`.
    Hashed { salt: Vec<u8>, hash: [u8; SHA1_LEN] },
}

/// One parsed line.
#[derive(Debug, Clone)]
pub struct Entry {
    /// 1-based line number.
    pub line: usize,
    /// The marker.
    pub marker: Marker,
    /// The key.
    pub key: PublicKey,
    /// The comment after the key, if any.
    pub comment: String,
    hosts: Hosts,
}

impl Entry {
    /// True if the entry's host field matches `name` (already in
    /// `[host]:port` form where needed).
    fn matches(&self, name: &str) -> bool {
        match &self.hosts {
            Hosts::Patterns(list) => match_list(name, list) == ListMatch::Positive,
            Hosts::Hashed { salt, hash } => {
                bool::from(hmac_sha1(salt, name.to_ascii_lowercase().as_bytes()).ct_eq(hash))
            }
        }
    }
}

/// The result of looking up a host key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The key is listed for this host on `line`.
    Known {
        /// 1-based line number.
        line: usize,
    },
    /// Nothing is known about this host.
    Unknown,
    /// The host is listed with other keys (on `lines`) and not with this
    /// one: possibly a man in the middle. Unlike OpenSSH, keys of other
    /// types count too (a server offering a new key type is a mismatch,
    /// not a new host).
    Mismatch {
        /// 1-based line numbers of the host's other keys.
        lines: Vec<usize>,
    },
    /// The key is marked `@revoked` on `line`. Takes precedence over all
    /// else.
    Revoked {
        /// 1-based line number.
        line: usize,
    },
}

/// A parsed `known_hosts` file.
#[derive(Debug, Clone, Default)]
pub struct KnownHosts {
    entries: Vec<Entry>,
    errors: Vec<(usize, String)>,
}

/// The name a host is stored under: `host` for port 22, `[host]:port`
/// otherwise.
pub fn host_port_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_ascii_lowercase()
    } else {
        format!("[{}]:{port}", host.to_ascii_lowercase())
    }
}

fn hmac_sha1(salt: &[u8], name: &[u8]) -> [u8; SHA1_LEN] {
    let mut out = [0u8; SHA1_LEN];
    if let Ok(mut mac) = <Hmac<Sha1> as KeyInit>::new_from_slice(salt) {
        mac.update(name);
        out.copy_from_slice(&mac.finalize().into_bytes());
    }
    out
}

fn parse_hashed(field: &str) -> Option<Hosts> {
    let rest = field.strip_prefix(HASH_MAGIC)?;
    let (salt, hash) = rest.split_once('|')?;
    let salt = Base64::decode_vec(salt).ok()?;
    let hash: [u8; SHA1_LEN] = Base64::decode_vec(hash).ok()?.try_into().ok()?;
    if salt.len() != SHA1_LEN {
        return None;
    }
    Some(Hosts::Hashed { salt, hash })
}

fn parse_line(line: &str, number: usize) -> Result<Option<Entry>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let (marker, rest) = if let Some(rest) = line.strip_prefix('@') {
        let (word, rest) = rest
            .split_once(|c: char| c.is_ascii_whitespace())
            .ok_or("marker without a host field")?;
        let marker = match word {
            "cert-authority" => Marker::CertAuthority,
            "revoked" => Marker::Revoked,
            _ => return Err(format!("unknown marker @{word}")),
        };
        (marker, rest.trim_start())
    } else {
        (Marker::None, line)
    };
    let (hosts, key_text) = rest
        .split_once(|c: char| c.is_ascii_whitespace())
        .ok_or("no key after the host field")?;
    let hosts = if hosts.starts_with(HASH_MAGIC) {
        parse_hashed(hosts).ok_or("malformed hashed host name")?
    } else {
        Hosts::Patterns(hosts.to_owned())
    };
    let (key, comment) = PublicKey::from_openssh(key_text).map_err(|e| e.to_string())?;
    Ok(Some(Entry {
        line: number,
        marker,
        key,
        comment: comment.to_owned(),
        hosts,
    }))
}

impl KnownHosts {
    /// Parses the text of a `known_hosts` file. Lines that cannot be
    /// parsed (unknown key types, garbage) are skipped and listed in
    /// [`KnownHosts::errors`], as OpenSSH skips them.
    pub fn parse(text: &str) -> Self {
        let mut out = Self::default();
        for (i, line) in text.lines().enumerate() {
            match parse_line(line, i + 1) {
                Ok(Some(entry)) => out.entries.push(entry),
                Ok(None) => {}
                Err(why) => out.errors.push((i + 1, why)),
            }
        }
        out
    }

    /// The lines that were skipped, with why.
    pub fn errors(&self) -> &[(usize, String)] {
        &self.errors
    }

    /// All parsed entries.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Looks `key` up for `host` on `port`. `@revoked` wins over every
    /// other line; `@cert-authority` lines are not host keys and are not
    /// considered (see [`KnownHosts::cert_authorities`]).
    pub fn lookup(&self, host: &str, port: u16, key: &PublicKey) -> Lookup {
        let name = host_port_name(host, port);
        let matching: Vec<&Entry> = self.entries.iter().filter(|e| e.matches(&name)).collect();
        if let Some(e) = matching
            .iter()
            .find(|e| e.marker == Marker::Revoked && &e.key == key)
        {
            return Lookup::Revoked { line: e.line };
        }
        let plain = matching.iter().filter(|e| e.marker == Marker::None);
        let mut others = Vec::new();
        for e in plain {
            if &e.key == key {
                return Lookup::Known { line: e.line };
            }
            others.push(e.line);
        }
        if others.is_empty() {
            Lookup::Unknown
        } else {
            Lookup::Mismatch { lines: others }
        }
    }

    /// True if `key` is marked `@revoked` for `host`/`port` (for example a
    /// CA key, before a certificate is trusted).
    pub fn is_revoked(&self, host: &str, port: u16, key: &PublicKey) -> bool {
        let name = host_port_name(host, port);
        self.entries
            .iter()
            .any(|e| e.marker == Marker::Revoked && &e.key == key && e.matches(&name))
    }

    /// Checks a host certificate presented by `host`/`port` at `now`
    /// (seconds since the epoch), as `ssh` does with one file: neither the
    /// CA nor the certified key `@revoked` ([`CertError::Revoked`]), the
    /// CA marked `@cert-authority` for the host
    /// ([`CertError::UntrustedCa`] if not), then
    /// [`check_host_certificate_fields`]. Returns the line of the CA.
    pub fn check_host_certificate(
        &self,
        host: &str,
        port: u16,
        cert: &Certificate,
        now: u64,
        ca_algorithms: &[SignatureAlgorithm],
    ) -> Result<usize, CertError> {
        if self.certificate_revoked(host, port, cert).is_some() {
            return Err(CertError::Revoked);
        }
        let line = self
            .trusted_ca_line(host, port, &cert.signature_key)
            .ok_or(CertError::UntrustedCa)?;
        check_host_certificate_fields(cert, host, now, ca_algorithms)?;
        Ok(line)
    }

    /// The names a certificate's lines are matched against: `[host]:port`
    /// and, on another port than 22, the bare host (`ssh` looks again
    /// "without port identifier" when nothing matched with it).
    fn cert_names(host: &str, port: u16) -> Vec<String> {
        let mut names = vec![host_port_name(host, port)];
        if port != 22 {
            names.push(host_port_name(host, 22));
        }
        names
    }

    /// The line of an `@revoked` marker for `host`/`port` naming the
    /// certificate's CA or its certified key, if any.
    pub fn certificate_revoked(&self, host: &str, port: u16, cert: &Certificate) -> Option<usize> {
        let names = Self::cert_names(host, port);
        self.entries
            .iter()
            .find(|e| {
                e.marker == Marker::Revoked
                    && (e.key == cert.signature_key || e.key == cert.key)
                    && names.iter().any(|n| e.matches(n))
            })
            .map(|e| e.line)
    }

    /// The line of the `@cert-authority` marker trusting `ca` for
    /// `host`/`port` (or the bare host), if any.
    pub fn trusted_ca_line(&self, host: &str, port: u16, ca: &PublicKey) -> Option<usize> {
        Self::cert_names(host, port).iter().find_map(|n| {
            self.entries
                .iter()
                .find(|e| e.marker == Marker::CertAuthority && &e.key == ca && e.matches(n))
                .map(|e| e.line)
        })
    }

    /// The `@cert-authority` keys trusted for `host`/`port`.
    pub fn cert_authorities(&self, host: &str, port: u16) -> Vec<&PublicKey> {
        let name = host_port_name(host, port);
        self.entries
            .iter()
            .filter(|e| e.marker == Marker::CertAuthority && e.matches(&name))
            .map(|e| &e.key)
            .collect()
    }
}

/// The checks of a host certificate from a trusted CA, in the order of
/// OpenSSH's `sshkey_cert_check_host`: a host certificate, valid at `now`,
/// a principal matching `host` (principals of host certificates are
/// wildcard patterns; a certificate without principals matches no host,
/// as in OpenSSH 10.3), no critical option at all, the CA's signature
/// algorithm in `ca_algorithms` (`CASignatureAlgorithms`), and the
/// signature valid.
pub fn check_host_certificate_fields(
    cert: &Certificate,
    host: &str,
    now: u64,
    ca_algorithms: &[SignatureAlgorithm],
) -> Result<(), CertError> {
    let name = host.to_ascii_lowercase();
    cert.check_type(CertType::Host)?;
    cert.check_validity(now)?;
    cert.check_principal(|p| wildcard_match(&name, p))?;
    if let Some((option, _)) = cert.critical_options.first() {
        return Err(CertError::UnknownCriticalOption(option.clone()));
    }
    let alg = cert.signature_algorithm()?;
    if !ca_algorithms.contains(&alg) {
        return Err(CertError::DisallowedSignatureAlgorithm(
            alg.name().to_owned(),
        ));
    }
    // The list is the policy, as for host keys: SHA-1 only when listed.
    cert.verify_signature(&VerifyPolicy {
        allow_ssh_rsa: true,
        min_rsa_bits: ssh_keys::RSA_MIN_BITS,
    })
}

/// The line (with a trailing newline) to append to `known_hosts` for
/// `host`/`port` and `key`; hashed with a fresh 20-byte salt from `rng`
/// if `hashed`, as `HashKnownHosts yes` does.
pub fn append_line<R: CryptoRng + ?Sized>(
    host: &str,
    port: u16,
    key: &PublicKey,
    hashed: bool,
    rng: &mut R,
) -> String {
    let name = host_port_name(host, port);
    // A name that could not be read back as one plain pattern (spaces,
    // commas, wildcards, `!`) is always written hashed.
    let plain_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ".-_:[]%".contains(c));
    let field = if hashed || !plain_ok {
        let mut salt = [0u8; SHA1_LEN];
        rng.fill_bytes(&mut salt);
        let hash = hmac_sha1(&salt, name.as_bytes());
        format!(
            "{HASH_MAGIC}{}|{}",
            Base64::encode_string(&salt),
            Base64::encode_string(&hash)
        )
    } else {
        name
    };
    format!("{field} {}\n", key.to_openssh(""))
}
