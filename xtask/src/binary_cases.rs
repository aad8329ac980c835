//! Interop cases for our binaries, both directions, in each peer:
//!
//! - `rssh>sshd:*`: our `rssh`, run here, against the peer's `sshd` (run as
//!   root in the container, so that it authenticates a real account);
//! - `ssh>rsshd:*`: the peer's `ssh`, `sftp` and `scp` against our `rsshd`,
//!   copied into the container and run there as root;
//! - `lib>sshd:sessions-10`: ten sessions at once on one connection of the
//!   library (`ssh_async::Client`) against `sshd` (`rssh` has no
//!   multiplexing).
//!
//! The account is `xbin` (uid 4243) with a real password (a SHA-512 crypt
//! hash in the container's `/etc/shadow`) and `~/.ssh/authorized_keys`;
//! it is not the password-less `xtask` of the transport cases. Keys, known
//! hosts files, askpass scripts and agents live in a directory per case
//! inside the backend's scratch directory, seen by the client at its own
//! path (here for `rssh`, inside the peer for `ssh`).
//!
//! To check the harness with OpenSSH in both places:
//! `XTASK_RSSH=/usr/bin/ssh XTASK_RSSHD=peer:/usr/sbin/sshd cargo xtask interop`
//! (see [`crate::binaries`]).

use crate::binary_auth::*;
use crate::binary_session::*;

use crate::interop::{Case, Ctx};
use crate::util::Result;

/// The function of a case.
type CaseFn = fn(&mut Ctx<'_>) -> Result<()>;

/// Rows in both directions: (name, about, function, detail).
const BOTH: &[(&str, &str, CaseFn, &str)] = &[
    (
        "exec-100MiB",
        "`cat` echoes 100 MiB sent on stdin; SHA-256 of what comes back",
        exec_cat,
        "",
    ),
    (
        "exec-zeros-100MiB",
        "`head -c 104857600 /dev/zero`: 100 MiB of output, all zero",
        exec_zeros,
        "",
    ),
    (
        "exec-stderr",
        "stdout and stderr (extended data) stay apart",
        exec_stderr,
        "",
    ),
    (
        "exit-code",
        "`exit 42` makes the client exit 42",
        exit_code,
        "",
    ),
    (
        "exit-signal",
        "`kill -TERM $$` (exit-signal) makes the client exit 255, as ssh",
        exit_signal,
        "",
    ),
    (
        "pty",
        "-tt under a 33x101 terminal: remote `stty size` and `tty`",
        pty,
        "",
    ),
    (
        "pty-resize",
        "-tt, then the local terminal becomes 50x120: window-change reaches the remote pty",
        pty_resize,
        "",
    ),
    (
        "pubkey-ed25519",
        "publickey with an ed25519 key file",
        pubkey,
        "ed25519",
    ),
    (
        "pubkey-ecdsa256",
        "publickey with an ecdsa-sha2-nistp256 key file",
        pubkey,
        "ecdsa256",
    ),
    (
        "pubkey-ecdsa384",
        "publickey with an ecdsa-sha2-nistp384 key file",
        pubkey,
        "ecdsa384",
    ),
    (
        "pubkey-ecdsa521",
        "publickey with an ecdsa-sha2-nistp521 key file",
        pubkey,
        "ecdsa521",
    ),
    (
        "pubkey-rsa-sha2-256",
        "publickey with an RSA key file, signed with rsa-sha2-256 only",
        pubkey,
        "rsa-sha2-256",
    ),
    (
        "pubkey-rsa-sha2-512",
        "publickey with an RSA key file, signed with rsa-sha2-512 only",
        pubkey,
        "rsa-sha2-512",
    ),
    (
        "agent-ed25519",
        "publickey with an ed25519 key held by ssh-agent (SSH_AUTH_SOCK)",
        agent,
        "ed25519",
    ),
    (
        "agent-ecdsa256",
        "publickey with an ecdsa-sha2-nistp256 key held by ssh-agent",
        agent,
        "ecdsa256",
    ),
    (
        "agent-ecdsa384",
        "publickey with an ecdsa-sha2-nistp384 key held by ssh-agent",
        agent,
        "ecdsa384",
    ),
    (
        "agent-ecdsa521",
        "publickey with an ecdsa-sha2-nistp521 key held by ssh-agent",
        agent,
        "ecdsa521",
    ),
    (
        "agent-rsa-sha2-256",
        "publickey with an RSA key held by ssh-agent, rsa-sha2-256 only",
        agent,
        "rsa-sha2-256",
    ),
    (
        "agent-rsa-sha2-512",
        "publickey with an RSA key held by ssh-agent, rsa-sha2-512 only",
        agent,
        "rsa-sha2-512",
    ),
    (
        "pubkey-encrypted-askpass",
        "an encrypted key file, its passphrase from SSH_ASKPASS (SSH_ASKPASS_REQUIRE=force)",
        encrypted_key,
        "",
    ),
    (
        "cert",
        "a user certificate (ssh-keygen -s) accepted through TrustedUserCAKeys",
        cert,
        "",
    ),
    (
        "password",
        "password authentication, the password from SSH_ASKPASS",
        password,
        "",
    ),
    (
        "kbd-interactive",
        "keyboard-interactive through PAM, the answer from SSH_ASKPASS",
        kbd_interactive,
        "",
    ),
    (
        "compression",
        "-C: zlib@openssh.com negotiated, 20 MiB of text echoed intact",
        compression,
        "",
    ),
    (
        "rekey-1M-100MiB",
        "RekeyLimit 1M during 100 MiB of output: more than 30 re-keys (1 MiB + what is in flight), data intact",
        rekey,
        "",
    ),
];

/// Every row, in table order.
pub fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let mut push = |name: String, about: &'static str, run: CaseFn, param: String| {
        out.push(Case {
            name: Box::leak(name.into_boxed_str()),
            about,
            run,
            param: Box::leak(param.into_boxed_str()),
        });
    };
    for (name, about, run) in [
        (
            "hostkey-unknown-strict",
            "an unknown host key with StrictHostKeyChecking=yes: exit 255, \"Host key verification failed.\"",
            hostkey_unknown as CaseFn,
        ),
        (
            "hostkey-accept-new",
            "StrictHostKeyChecking=accept-new adds the key to known_hosts; a strict second run passes",
            hostkey_accept_new,
        ),
        (
            "hostkey-mismatch",
            "a different key in known_hosts: exit 255, the message names file:line",
            hostkey_mismatch,
        ),
        (
            "agent-destination",
            "a key added with ssh-add -h: the client binds its agent to the session (session-bind@openssh.com) and logs in; constrained to another host, refused",
            agent_destination,
        ),
        (
            "refuse-connection-config",
            "RefuseConnection in ssh_config (ssh 10.1): exit 255 before connecting, \"FILE line N: RefuseConnection: TEXT\"",
            refuse_connection_config,
        ),
    ] {
        push(format!("rssh>sshd:{name}"), about, run, "a".to_owned());
    }
    for (name, about, run) in crate::binary_sftp_client::ROWS {
        push(format!("rssh>sshd:{name}"), about, *run, "a".to_owned());
    }
    for (name, about, run, detail) in BOTH {
        push(
            format!("rssh>sshd:{name}"),
            about,
            *run,
            format!("a:{detail}"),
        );
    }
    push(
        "lib>sshd:sessions-10".to_owned(),
        "ssh_async::Client: 10 concurrent `exec`s on one connection to sshd",
        sessions_lib,
        "a".to_owned(),
    );
    for (name, about, run, detail) in BOTH {
        push(
            format!("ssh>rsshd:{name}"),
            about,
            *run,
            format!("b:{detail}"),
        );
    }
    push(
        "ssh>rsshd:sftp".to_owned(),
        "sftp -b: put and get 5 MiB through the sftp subsystem, SHA-256 equal",
        sftp,
        "b".to_owned(),
    );
    push(
        "ssh>rsshd:scp".to_owned(),
        "scp (SFTP protocol) up and down 5 MiB, SHA-256 equal",
        scp,
        "b".to_owned(),
    );
    push(
        "ssh>rsshd:sessions-10".to_owned(),
        "ControlMaster: 10 `ssh -S ctl` sessions at once on one connection",
        sessions_mux,
        "b".to_owned(),
    );
    for (name, about, run) in crate::binary_account::ROWS
        .iter()
        .chain(crate::binary_pwchange::ROWS)
        .chain(crate::binary_admin::ROWS)
        .chain(crate::binary_lastlog::ROWS)
        .chain(crate::binary_wtmpdb::ROWS)
        .chain(crate::binary_sftp::ROWS)
    {
        push(format!("ssh>rsshd:{name}"), about, *run, "b".to_owned());
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::binary_setup::Way;

    #[test]
    fn rows_come_in_both_directions() {
        let cases = cases();
        let names: Vec<&str> = cases.iter().map(|c| c.name).collect();
        for (name, ..) in BOTH {
            assert!(names.contains(&format!("rssh>sshd:{name}").as_str()));
            assert!(names.contains(&format!("ssh>rsshd:{name}").as_str()));
        }
        for c in &cases {
            let want = if c.name.starts_with("ssh>") {
                Way::Rsshd
            } else {
                Way::Rssh
            };
            assert_eq!(Way::from_param(c.param), want, "{}", c.name);
        }
    }
}
