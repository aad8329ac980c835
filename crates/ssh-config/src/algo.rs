//! Algorithm lists as written in `Ciphers`, `KexAlgorithms`, `MACs`,
//! `HostKeyAlgorithms`, `PubkeyAcceptedAlgorithms`, `CASignatureAlgorithms`.
//!
//! The text is kept as written: which names exist is the transport's
//! business, so [`AlgorithmSpec::apply`] is given the default and the
//! supported lists when the list is needed.

use ssh_auth::pattern::wildcard_match;

/// Which option an [`AlgorithmSpec`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AlgoKind {
    /// `KexAlgorithms`.
    Kex,
    /// `Ciphers`.
    Ciphers,
    /// `MACs`.
    Macs,
    /// `HostKeyAlgorithms`.
    HostKey,
    /// `PubkeyAcceptedAlgorithms` (formerly `PubkeyAcceptedKeyTypes`).
    PubkeyAccepted,
    /// `CASignatureAlgorithms`.
    CaSignature,
}

impl AlgoKind {
    /// The lowercase keyword, as `ssh -G` and `sshd -T` print it.
    pub fn keyword(self) -> &'static str {
        match self {
            Self::Kex => "kexalgorithms",
            Self::Ciphers => "ciphers",
            Self::Macs => "macs",
            Self::HostKey => "hostkeyalgorithms",
            Self::PubkeyAccepted => "pubkeyacceptedalgorithms",
            Self::CaSignature => "casignaturealgorithms",
        }
    }
}

/// An algorithm list as written: empty means the defaults.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlgorithmSpec {
    raw: String,
}

impl AlgorithmSpec {
    /// A list as written in a configuration file (`aes128-ctr,aes256-ctr`,
    /// `+ssh-rsa`, `-*-cbc`, `^chacha20-poly1305@openssh.com`).
    pub fn new(raw: impl Into<String>) -> Self {
        Self { raw: raw.into() }
    }

    /// The text as written (empty when the option was not given).
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// True when the option was not given: [`apply`](Self::apply) returns
    /// the defaults.
    pub fn is_default(&self) -> bool {
        self.raw.is_empty()
    }

    /// The resulting list, as OpenSSH's `kex_assemble_names`:
    /// - a plain list replaces the defaults; wildcards (`*`, `?`) expand
    ///   against `supported` (in its order); every other name must be
    ///   supported;
    /// - `+list` appends to the defaults, `^list` puts in front of them
    ///   (names already present are not repeated);
    /// - `-list` removes from the defaults every name that matches one of
    ///   its patterns (wildcards allowed, unknown names harmless).
    ///
    /// Errors name the unsupported algorithm, or say the list came out
    /// empty.
    pub fn apply(&self, defaults: &[&str], supported: &[&str]) -> Result<Vec<String>, String> {
        if self.raw.is_empty() {
            return Ok(defaults.iter().map(|s| s.to_string()).collect());
        }
        let (op, body) = match self.raw.chars().next() {
            Some(c @ ('+' | '-' | '^')) => (Some(c), self.raw.get(1..).unwrap_or("")),
            _ => (None, self.raw.as_str()),
        };
        let names: Vec<&str> = body.split(',').collect();
        if names.iter().any(|n| n.is_empty()) {
            return Err(format!("empty algorithm name in '{}'", self.raw));
        }
        let mut out: Vec<String> = Vec::new();
        let push = |out: &mut Vec<String>, name: &str| {
            if !out.iter().any(|n| n == name) {
                out.push(name.to_string());
            }
        };
        let expand = |out: &mut Vec<String>| -> Result<(), String> {
            for name in &names {
                if name.contains(['*', '?']) {
                    for s in supported.iter().filter(|s| wildcard_match(s, name)) {
                        push(out, s);
                    }
                } else if supported.contains(name) {
                    push(out, name);
                } else {
                    return Err(format!("unsupported algorithm '{name}'"));
                }
            }
            Ok(())
        };
        match op {
            None => expand(&mut out)?,
            Some('+') => {
                for d in defaults {
                    push(&mut out, d);
                }
                expand(&mut out)?;
            }
            Some('^') => {
                expand(&mut out)?;
                for d in defaults {
                    push(&mut out, d);
                }
            }
            _ => {
                for d in defaults {
                    if !names.iter().any(|p| wildcard_match(d, p)) {
                        push(&mut out, d);
                    }
                }
            }
        }
        if out.is_empty() {
            return Err(format!("no algorithms left from '{}'", self.raw));
        }
        Ok(out)
    }
}
