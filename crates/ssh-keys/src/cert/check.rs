//! What a verifier checks: the CA signature, and the certificate's type,
//! validity window and principals, in OpenSSH's order
//! (`sshkey_cert_check_authority`), so that a certificate wrong in several
//! ways is refused with the reason OpenSSH gives.

use super::{CertError, CertType, Certificate, KNOWN_CRITICAL_OPTIONS};
use crate::{PublicKey, VerifyPolicy};

impl Certificate {
    /// Verifies the CA signature (over everything up to and including the
    /// signature key) under `policy`, with the algorithm named in the
    /// signature.
    pub fn verify_signature(&self, policy: &VerifyPolicy) -> Result<(), CertError> {
        let alg = self.signature_algorithm()?;
        crate::verify_with_policy(
            &self.signature_key,
            alg,
            self.signed_bytes()?,
            &self.signature,
            policy,
        )
        .map_err(CertError::BadSignature)
    }

    /// The type is `expected`.
    pub fn check_type(&self, expected: CertType) -> Result<(), CertError> {
        if self.cert_type == expected {
            Ok(())
        } else {
            Err(CertError::WrongType(expected))
        }
    }

    /// `now` (seconds since the epoch) is inside the validity window:
    /// `valid_after <= now < valid_before`.
    pub fn check_validity(&self, now: u64) -> Result<(), CertError> {
        if now < self.valid_after {
            return Err(CertError::NotYetValid);
        }
        if now >= self.valid_before {
            return Err(CertError::Expired);
        }
        Ok(())
    }

    /// Some principal satisfies `matches`. A certificate without
    /// principals matches nothing (OpenSSH 10.3: "Certificate lacks
    /// principal list"; older releases took it as valid for everyone).
    pub fn check_principal(&self, matches: impl Fn(&str) -> bool) -> Result<(), CertError> {
        if self.principals.is_empty() {
            return Err(CertError::NoPrincipals);
        }
        if self.principals.iter().any(|p| matches(p)) {
            Ok(())
        } else {
            Err(CertError::PrincipalNotListed)
        }
    }

    /// Type, validity at `now` and principal, in OpenSSH's order;
    /// `principal` is compared exactly (user certificates).
    pub fn check_authority(
        &self,
        expected: CertType,
        principal: &str,
        now: u64,
    ) -> Result<(), CertError> {
        self.check_type(expected)?;
        self.check_validity(now)?;
        self.check_principal(|p| p == principal)
    }

    /// The full check of a user certificate: the CA is one of `trusted`,
    /// the signature verifies, the type is `expected`, `now` (seconds
    /// since the epoch) is inside the window, `principal` is listed, and
    /// every critical option is understood.
    pub fn validate(
        &self,
        expected: CertType,
        principal: &str,
        now: u64,
        trusted: &[PublicKey],
        policy: &VerifyPolicy,
    ) -> Result<(), CertError> {
        if !trusted.contains(&self.signature_key) {
            return Err(CertError::UntrustedCa);
        }
        self.verify_signature(policy)?;
        self.check_authority(expected, principal, now)?;
        if let Some((name, _)) = self
            .critical_options
            .iter()
            .find(|(n, _)| !KNOWN_CRITICAL_OPTIONS.contains(&n.as_str()))
        {
            return Err(CertError::UnknownCriticalOption(name.clone()));
        }
        Ok(())
    }
}
