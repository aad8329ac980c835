//! Why a key file could not be read or written.

use core::fmt;

use ssh_wire::DecodeError;

/// Why a key file was rejected. Wrong passphrases, corrupt files and
/// unsupported formats are told apart so that a user interface can say
/// which.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The text is not a key file of any format this crate knows (no PEM
    /// armour, unknown label, not `openssh-key-v1`).
    NotAKeyFile(&'static str),
    /// The file has the right format but its contents are damaged
    /// (truncated, bad padding, bad base64, inconsistent key).
    Corrupt(&'static str),
    /// A field of the SSH encoding inside the file is malformed.
    Decode(DecodeError),
    /// The file is encrypted and no passphrase was given.
    PassphraseRequired,
    /// The passphrase does not decrypt the file (check integers differ or
    /// the authentication tag does not verify).
    WrongPassphrase,
    /// The file is encrypted with a cipher this crate does not implement.
    UnsupportedCipher(String),
    /// The file's key derivation function is not `none` or `bcrypt`.
    UnsupportedKdf(String),
    /// The key type (from the file or asked for) is not supported.
    UnsupportedKeyType(String),
    /// The container format is recognised but not supported.
    UnsupportedFormat(&'static str),
    /// The key itself is invalid (ssh-keys rejected it).
    Key(ssh_keys::Error),
    /// A parameter given by the caller is not acceptable (zero bcrypt
    /// rounds, an empty passphrase, an RSA size out of range, ...).
    InvalidParameter(&'static str),
}

impl From<DecodeError> for KeyFileError {
    fn from(e: DecodeError) -> Self {
        Self::Decode(e)
    }
}

impl From<ssh_keys::Error> for KeyFileError {
    fn from(e: ssh_keys::Error) -> Self {
        Self::Key(e)
    }
}

impl fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAKeyFile(why) => write!(f, "not a key file: {why}"),
            Self::Corrupt(why) => write!(f, "corrupt key file: {why}"),
            Self::Decode(e) => write!(f, "corrupt key file: {e}"),
            Self::PassphraseRequired => {
                f.write_str("the key file is encrypted: passphrase required")
            }
            Self::WrongPassphrase => f.write_str("incorrect passphrase"),
            Self::UnsupportedCipher(name) => write!(f, "unsupported key file cipher {name:?}"),
            Self::UnsupportedKdf(name) => write!(f, "unsupported key file KDF {name:?}"),
            Self::UnsupportedKeyType(name) => write!(f, "unsupported key type {name:?}"),
            Self::UnsupportedFormat(what) => write!(f, "unsupported key file format: {what}"),
            Self::Key(e) => write!(f, "invalid key: {e}"),
            Self::InvalidParameter(why) => write!(f, "invalid parameter: {why}"),
        }
    }
}

impl std::error::Error for KeyFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Decode(e) => Some(e),
            Self::Key(e) => Some(e),
            _ => None,
        }
    }
}
