//! OpenSSH certificates (`ssh-keys`): arbitrary bytes as a certificate
//! blob and as a `-cert.pub` line. What parses encodes back to exactly the
//! input (one encoding per certificate), survives the one-line form, and
//! the checks run without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssh_keys::{CertType, Certificate, VerifyPolicy};

fuzz_target!(|data: &[u8]| {
    if let Ok(cert) = Certificate::from_blob(data) {
        assert_eq!(cert.blob(), data);
        assert_eq!(cert.encode(), data);
        let line = cert.to_openssh("fuzz");
        assert_eq!(
            Certificate::from_openssh(&line).expect("the one-line form must parse"),
            cert
        );
        let _ = cert.verify_signature(&VerifyPolicy::LEGACY);
        let _ = cert.check_authority(CertType::Host, "host.example", 1_800_000_000);
        let _ = cert.check_principal(|p| p.starts_with('*'));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Certificate::from_openssh(text);
    }
});
