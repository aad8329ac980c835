//! PEM-style armour (RFC 7468 and the older OpenSSL form with headers):
//! `-----BEGIN LABEL-----`, base64 lines, `-----END LABEL-----`.

use base64ct::{Base64, Encoding};
use zeroize::Zeroizing;

use super::KeyFileError;

/// The largest key file accepted, in bytes of text (an RSA 16384-bit key
/// in any format is well below this).
pub(crate) const MAX_KEY_FILE: usize = 64 * 1024;

/// One armoured block.
pub(crate) struct Block<'a> {
    pub(crate) label: &'a str,
    /// The decoded body (secret: zeroized on drop).
    pub(crate) data: Zeroizing<Vec<u8>>,
    /// True if an OpenSSL `Proc-Type: 4,ENCRYPTED` header was present.
    pub(crate) encrypted_legacy: bool,
}

impl<'a> Block<'a> {
    /// Parses the first armoured block of `text`; text before it is
    /// ignored, as OpenSSL does.
    pub(crate) fn parse(text: &'a str) -> Result<Self, KeyFileError> {
        if text.len() > MAX_KEY_FILE {
            return Err(KeyFileError::NotAKeyFile("file too large"));
        }
        let mut lines = text.lines().map(str::trim);
        let label = loop {
            let line = lines
                .next()
                .ok_or(KeyFileError::NotAKeyFile("no -----BEGIN line"))?;
            if let Some(rest) = line.strip_prefix("-----BEGIN ") {
                break rest
                    .strip_suffix("-----")
                    .ok_or(KeyFileError::NotAKeyFile("malformed -----BEGIN line"))?;
            }
        };
        let mut body = Zeroizing::new(String::new());
        let mut encrypted_legacy = false;
        let mut ended = false;
        for line in lines.by_ref() {
            if let Some(rest) = line.strip_prefix("-----END ") {
                if rest.strip_suffix("-----") != Some(label) {
                    return Err(KeyFileError::Corrupt(
                        "-----END line does not match -----BEGIN",
                    ));
                }
                ended = true;
                break;
            }
            if line.contains(':') {
                if line.starts_with("Proc-Type:") && line.contains("ENCRYPTED") {
                    encrypted_legacy = true;
                }
                continue;
            }
            body.push_str(line);
        }
        if !ended {
            return Err(KeyFileError::Corrupt("no -----END line"));
        }
        let data = Zeroizing::new(
            Base64::decode_vec(&body).map_err(|_| KeyFileError::Corrupt("invalid base64"))?,
        );
        Ok(Self {
            label,
            data,
            encrypted_legacy,
        })
    }
}

/// Armours `data` with `label`, 70 characters a line as `ssh-keygen` does.
pub(crate) fn armour(label: &str, data: &[u8]) -> String {
    let b64 = Zeroizing::new(Base64::encode_string(data));
    let mut out = format!("-----BEGIN {label}-----\n");
    let mut rest: &str = &b64;
    while !rest.is_empty() {
        let (line, tail) = rest.split_at(rest.len().min(70));
        out.push_str(line);
        out.push('\n');
        rest = tail;
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
