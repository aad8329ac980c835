//! The environment of a session's programs: what the client may set
//! (`AcceptEnv`, bounded in count and size as sshd bounds it) and the
//! order in which the policy's, the client's and the forwardings'
//! variables apply.

use std::ffi::OsString;

use super::{SessionPolicy, Setup};

/// Variables a client may set per session (sshd's limit).
const MAX_ENV_VARS: usize = 128;
/// Bytes of names and values a client may set per session: one largest
/// packet's worth.
const MAX_ENV_BYTES: usize = 256 * 1024;

/// Whether setting `name` (replacing an earlier value of it) keeps the
/// client's environment within [`MAX_ENV_VARS`] and [`MAX_ENV_BYTES`].
pub(super) fn env_fits(env: &[(String, String)], name: &str, value: &str) -> bool {
    let others = env.iter().filter(|(k, _)| k != name);
    let count = others.clone().count();
    let bytes: usize = others.map(|(k, v)| k.len() + v.len()).sum();
    count < MAX_ENV_VARS && bytes + name.len() + value.len() <= MAX_ENV_BYTES
}

/// `AcceptEnv` patterns (`*`, `?`), as sshd matches them.
pub(super) fn accepts(patterns: &[String], name: &str) -> bool {
    patterns
        .iter()
        .flat_map(|p| p.split_whitespace())
        .any(|p| ssh_auth::pattern::wildcard_match(name, p))
}

pub(super) fn is_env_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('=') && !name.contains('\0')
}

pub(super) fn set_var(env: &mut Vec<(String, String)>, name: &str, value: &str) {
    env.retain(|(k, _)| k != name);
    env.push((name.to_owned(), value.to_owned()));
}

/// The environment of the session's programs before `TERM`, `SSH_TTY`
/// and `SSH_ORIGINAL_COMMAND`: the policy's, the client's, then the
/// forwardings' variables.
pub(super) fn base_env(policy: &SessionPolicy, setup: &Setup) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = policy
        .env
        .iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    for (k, v) in setup.env.iter().chain(&setup.forwarded_env) {
        env.retain(|(ek, _)| ek != k.as_str());
        env.push((k.into(), v.into()));
    }
    env
}
