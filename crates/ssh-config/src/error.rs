//! The one error type of this crate: where (file, line) and what.

use std::fmt;
use std::path::PathBuf;

/// A configuration error, displayed as OpenSSH does:
/// `/etc/ssh/sshd_config line 12: PasswordAuthentication: Bad yes/no argument: maybe`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigError {
    /// The file (`command-line` for `-o` options).
    pub file: PathBuf,
    /// 1-based line number (for `-o` options: their 1-based position).
    pub line: usize,
    /// What is wrong; names the keyword where there is one.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(file: impl Into<PathBuf>, line: usize, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} line {}: {}",
            self.file.display(),
            self.line,
            self.message
        )
    }
}

impl std::error::Error for ConfigError {}
