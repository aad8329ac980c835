//! SSH public keys, signatures and in-memory private keys, shared by the
//! transport (host keys) and authentication (user keys).
//!
//! - [`PublicKey`]: parse and validate key blobs (RFC 4253 §6.6, RFC 5656
//!   §3.1, RFC 8709 §4), encode them, [`PublicKey::fingerprint_sha256`] and
//!   the OpenSSH one-line text form.
//! - [`verify`]: check a signature blob against a key and the negotiated
//!   [`SignatureAlgorithm`], under a [`VerifyPolicy`] (`ssh-rsa`/SHA-1 off
//!   by default, minimum RSA size).
//! - [`PrivateKey`] and the [`Signer`] trait: generate keys and sign.
//! - [`Certificate`] (module `cert`): OpenSSH certificates
//!   (`*-cert-v01@openssh.com`, `PROTOCOL.certkeys`): parsed, encoded,
//!   checked (CA signature, type, validity, principals) and made
//!   ([`CertificateBuilder`]); a [`CertifiedKey`] is a signer that
//!   presents its certificate ([`Signer::certificate`]). Here rather than
//!   in `ssh-auth` because host certificates are the transport's `K_S`.
//!
//! Supported: `ssh-ed25519`, `ecdsa-sha2-nistp256/384/521`, `ssh-rsa` keys
//! and their certificates; `rsa-sha2-256`, `rsa-sha2-512` and (verify-only
//! by default) `ssh-rsa` signatures.
//!
//! Key *files* (OpenSSH `openssh-key-v1`, PEM/PKCS#8) are parsed in
//! `ssh-auth`, which builds [`PrivateKey`] through its `from_*`
//! constructors.
//!
//! Architecture invariant: sans-IO. No files, no clock, no OS randomness:
//! every operation that needs randomness takes an RNG. It depends on
//! `ssh-wire` and RustCrypto only, so both `ssh-transport` and `ssh-auth`
//! can use it without depending on each other.

mod algorithm;
pub mod cert;
mod ecdsa;
mod error;
mod private;
mod public;
mod rsa;
mod signature;

pub use algorithm::{EcdsaCurve, KeyType, SignatureAlgorithm};
pub use cert::{CertError, CertType, Certificate, CertificateBuilder, CertifiedKey};
pub use error::Error;
pub use private::{PrivateKey, RemoteKey, Signer};
pub use public::{MAX_OPENSSH_LINE, PublicKey};
pub use rsa::{RSA_DEFAULT_BITS, RSA_MAX_BITS, RSA_MIN_BITS, RSA_MIN_BITS_NEW};
pub use signature::{
    VerifyPolicy, encode_signature_blob, parse_signature_blob, verify, verify_with_policy,
};
