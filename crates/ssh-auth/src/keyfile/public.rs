//! Public key files: the OpenSSH one-line form (`ssh-ed25519 AAAA...
//! comment`) and the RFC 4716 SSH2 public key file format.

use base64ct::{Base64, Encoding};
use ssh_keys::PublicKey;

use super::KeyFileError;
use super::pem::MAX_KEY_FILE;

const BEGIN: &str = "---- BEGIN SSH2 PUBLIC KEY ----";
const END: &str = "---- END SSH2 PUBLIC KEY ----";

/// Parses a public key file in either form and returns the key and its
/// comment (the RFC 4716 `Comment:` header, unquoted).
pub fn parse_public_key_file(text: &str) -> Result<(PublicKey, String), KeyFileError> {
    if text.len() > MAX_KEY_FILE {
        return Err(KeyFileError::NotAKeyFile("file too large"));
    }
    let trimmed = text.trim_start();
    if trimmed.starts_with(BEGIN) {
        return parse_rfc4716(trimmed);
    }
    let line = trimmed
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or(KeyFileError::NotAKeyFile("empty public key file"))?;
    let (key, comment) = PublicKey::from_openssh(line)?;
    Ok((key, comment.to_owned()))
}

/// RFC 4716 §3: begin marker, headers (`Tag: value`, continued by a
/// trailing backslash), base64 body, end marker.
fn parse_rfc4716(text: &str) -> Result<(PublicKey, String), KeyFileError> {
    let mut lines = text.lines().map(str::trim_end);
    lines.next();
    let mut comment = String::new();
    let mut body = String::new();
    let mut continued: Option<(String, String)> = None;
    let mut ended = false;
    for line in lines {
        if line == END {
            ended = true;
            break;
        }
        if let Some((tag, mut value)) = continued.take() {
            let more = line.strip_suffix('\\');
            value.push_str(more.unwrap_or(line));
            if more.is_some() {
                continued = Some((tag, value));
            } else {
                header(&tag, &value, &mut comment);
            }
            continue;
        }
        if body.is_empty()
            && let Some((tag, value)) = line.split_once(':')
        {
            // RFC 4716 §3.3: a header tag has no spaces; the value follows
            // ": ".
            let value = value.trim_start();
            if let Some(v) = value.strip_suffix('\\') {
                continued = Some((tag.to_owned(), v.to_owned()));
            } else {
                header(tag, value, &mut comment);
            }
            continue;
        }
        body.push_str(line.trim());
    }
    if !ended {
        return Err(KeyFileError::Corrupt(
            "no ---- END SSH2 PUBLIC KEY ---- line",
        ));
    }
    let blob = Base64::decode_vec(&body).map_err(|_| KeyFileError::Corrupt("invalid base64"))?;
    Ok((PublicKey::from_blob(&blob)?, comment))
}

fn header(tag: &str, value: &str, comment: &mut String) {
    // RFC 4716 §3.3.2: the Comment value may be quoted.
    if tag.eq_ignore_ascii_case("Comment") {
        let v = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        v.clone_into(comment);
    }
}

/// Writes `key` in the RFC 4716 format, as `ssh-keygen -e` does.
pub fn to_rfc4716(key: &PublicKey, comment: &str) -> String {
    let mut out = format!("{BEGIN}\n");
    if !comment.is_empty() {
        // A header is one logical line: quotes and line breaks in the
        // comment cannot be written (RFC 4716 §3.3).
        let comment: String = comment
            .chars()
            .map(|c| match c {
                '"' => '\'',
                '\r' | '\n' => ' ',
                c => c,
            })
            .collect();
        let mut header = format!("Comment: \"{comment}\"");
        // Lines are at most 72 bytes (RFC 4716 §3): continue long ones.
        while header.len() > 70 {
            let mut cut = 70;
            while !header.is_char_boundary(cut) {
                cut -= 1;
            }
            let rest = header.split_off(cut);
            out.push_str(&header);
            out.push_str("\\\n");
            header = rest;
        }
        out.push_str(&header);
        out.push('\n');
    }
    let b64 = Base64::encode_string(&key.to_blob());
    let mut rest: &str = &b64;
    while !rest.is_empty() {
        let (line, tail) = rest.split_at(rest.len().min(70));
        out.push_str(line);
        out.push('\n');
        rest = tail;
    }
    out.push_str(END);
    out.push('\n');
    out
}
