//! OpenSSH certificates (`*-cert-v01@openssh.com`, OpenSSH
//! `PROTOCOL.certkeys`). They live in `ssh-keys` (host certificates are
//! the transport's business too); this module re-exports them for the
//! authentication code and adds what needs this crate's patterns: the
//! `source-address` critical option.

use crate::authorized_keys::KeyOptions;

pub use ssh_keys::cert::{
    CERT_SUFFIX, CertError, CertType, Certificate, CertificateBuilder, CertifiedKey,
    KNOWN_CRITICAL_OPTIONS, MAX_OPTIONS, MAX_PRINCIPALS, cert_algorithm_name, cert_key_type,
    cert_signature_algorithm,
};

/// What a user certificate's critical options mean to a server.
pub trait CertificateExt {
    /// The `source-address` critical option applied to the client's
    /// address: true if the option is absent or lists a matching CIDR
    /// network or address (PROTOCOL.certkeys: "Comma-separated list of
    /// source addresses from which this certificate is accepted").
    fn source_address_allows(&self, address: &str) -> bool;

    /// A user certificate presented from `address`: [`Certificate::validate`]
    /// (CA, signature, type, principal, time, critical options known),
    /// then the `source-address` critical option, which `validate` cannot
    /// check without the address. A server checks user certificates with
    /// this, not with `validate` alone.
    ///
    /// # Errors
    /// The reason, as `validate`'s, or
    /// [`CertError::SourceAddressNotAllowed`].
    fn validate_user(
        &self,
        principal: &str,
        now: u64,
        trusted: &[ssh_keys::PublicKey],
        policy: &ssh_keys::VerifyPolicy,
        address: &str,
    ) -> Result<(), CertError>;

    /// The options a session authenticated by this user certificate gets:
    /// `options` (the `authorized_keys` line's, or the default for a CA
    /// from `TrustedUserCAKeys`) merged with the certificate's own as
    /// sshd merges them (`sshauthopt_from_cert`, `sshauthopt_merge`): a
    /// permission only if both grant it (the certificate through its
    /// `permit-*` extensions), the `force-command` critical option as the
    /// command. `None` (refuse the key) when both force a command and the
    /// commands differ, or the certificate's is not UTF-8.
    fn restrict_options(&self, options: &KeyOptions) -> Option<KeyOptions>;
}

impl CertificateExt for Certificate {
    fn source_address_allows(&self, address: &str) -> bool {
        let Some(list) = self.critical_option("source-address") else {
            return true;
        };
        let Ok(list) = core::str::from_utf8(list) else {
            return false;
        };
        list.split(',')
            .any(|cidr| crate::pattern::cidr_match(address, cidr.trim()) == Some(true))
    }

    fn validate_user(
        &self,
        principal: &str,
        now: u64,
        trusted: &[ssh_keys::PublicKey],
        policy: &ssh_keys::VerifyPolicy,
        address: &str,
    ) -> Result<(), CertError> {
        self.validate(CertType::User, principal, now, trusted, policy)?;
        if !self.source_address_allows(address) {
            return Err(CertError::SourceAddressNotAllowed);
        }
        Ok(())
    }

    fn restrict_options(&self, options: &KeyOptions) -> Option<KeyOptions> {
        let has = |name: &str| self.extensions.iter().any(|(n, _)| n == name);
        let mut merged = options.clone();
        merged.pty &= has("permit-pty");
        merged.port_forwarding &= has("permit-port-forwarding");
        merged.agent_forwarding &= has("permit-agent-forwarding");
        merged.x11_forwarding &= has("permit-X11-forwarding");
        merged.user_rc &= has("permit-user-rc");
        if let Some(forced) = self.critical_option("force-command") {
            let forced = core::str::from_utf8(forced).ok()?;
            match &options.command {
                Some(c) if c != forced => return None,
                _ => merged.command = Some(forced.to_owned()),
            }
        }
        Some(merged)
    }
}
