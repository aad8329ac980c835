//! A libssh client against `rsshd` (`libssh>rsshd:*`), validated against
//! the image's `sshd` (`libssh>sshd:*`). Debian ships no libssh command
//! line client, so `peer_libssh_client.c` (beside this file) is built here
//! with `cc` against `libssh-dev` (`-lssh`) into `target/xtask-libssh/` and
//! copied into each image, where it runs with that release's `libssh-4`
//! (`libssh.so.4` keeps its ABI: 0.10 in bookworm, 0.11 in trixie and sid).
//!
//! It checks the server's key against a known hosts file of the case,
//! authenticates with an OpenSSH key file or a password, runs one command
//! with stdin, stdout and stderr, and exits with the command's status. It
//! chooses algorithms with libssh's options (`-x`, `-h`, `-c`, `-m`;
//! the rows use `-x` and `-c`).

use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use crate::binaries;
use crate::binary_setup::{Setup, USER};
use crate::interop::{Case, Ctx};
use crate::peer_clients::{self as pc, COMMON, Client, Kind, Run};
use crate::util::{self, Context, Result};

/// The C source of the client.
const SOURCE: &str = include_str!("peer_libssh_client.c");

/// The libssh client.
pub(crate) struct Libssh;

/// The one instance.
pub(crate) static LIBSSH: Libssh = Libssh;

/// Builds the client once per run (again only when the source changed);
/// returns its path here.
fn build() -> Result<PathBuf> {
    static BUILT: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = util::workspace_target().join("xtask-libssh");
            fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
            let src = dir.join("libssh-client.c");
            let bin = dir.join("libssh-client");
            let same = fs::read_to_string(&src).is_ok_and(|s| s == SOURCE);
            if same && bin.is_file() {
                return Ok(bin);
            }
            fs::write(&src, SOURCE).map_err(|e| format!("writing {}: {e}", src.display()))?;
            // No -Werror: libssh 0.11 deprecates ssh_channel_get_exit_status,
            // which 0.10 (bookworm) has alone.
            let mut cc = Command::new("cc");
            cc.args(["-O2", "-Wall", "-o"])
                .arg(&bin)
                .arg(&src)
                .arg("-lssh");
            util::checked_output(&mut cc).map_err(|e| {
                format!("{} (the libssh rows need a C compiler and libssh-dev)", e.0)
            })?;
            Ok(bin)
        })
        .clone()
        .map_err(util::Error)
}

impl Client for Libssh {
    fn name(&self) -> &'static str {
        "libssh"
    }

    fn command(&self, ctx: &Ctx<'_>, setup: &Setup, port: u16, run: &Run) -> Result<Command> {
        let program =
            binaries::copy_into_peer(&build()?, &setup.scratch_host, &setup.scratch_peer)?;
        let mut kh = String::new();
        for line in pc::host_key_lines(setup)? {
            let _ = writeln!(kh, "[127.0.0.1]:{port} {line}");
        }
        let known = format!("libssh_known_hosts.{port}");
        fs::write(setup.host(&known), kh).context("writing libssh's known hosts")?;
        let mut args: Vec<String> = vec![
            "-p".into(),
            port.to_string(),
            "-u".into(),
            USER.into(),
            "-k".into(),
            setup.peer(&known),
        ];
        match &run.key {
            Some(k) => args.extend(["-i".into(), k.clone()]),
            None => args.extend(["-w".into(), pc::password_file(setup)?]),
        }
        if run.pty {
            args.push("-t".into());
        }
        args.extend(run.opts.iter().cloned());
        args.extend(["127.0.0.1".into(), run.remote.clone()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut cmd = ctx.backend.command(&program, &args);
        cmd.env("HOME", &setup.peer_dir);
        cmd.env_remove("SSH_AUTH_SOCK");
        Ok(cmd)
    }

    fn convert_key(&self, _ctx: &Ctx<'_>, setup: &Setup, name: &str) -> Result<String> {
        // libssh reads OpenSSH's key files.
        Ok(setup.peer(name))
    }

    fn choose(&self, kind: Kind, name: &str) -> Vec<String> {
        let flag = match kind {
            Kind::Kex => "-x",
            Kind::HostKey => "-h",
            Kind::Cipher => "-c",
        };
        vec![flag.into(), name.into()]
    }

    fn pty_needs_terminal(&self) -> bool {
        false
    }
}

/// Every libssh row, in table order.
pub fn cases() -> Vec<Case> {
    pc::rows("libssh", COMMON)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_built_from_its_source() {
        assert!(SOURCE.contains("ssh_userauth_publickey"));
        assert!(SOURCE.contains("ssh_channel_get_exit_status"));
        let cases = cases();
        assert!(cases.iter().any(|c| c.name == "libssh>rsshd:exec"));
        assert!(cases.iter().any(|c| c.name == "libssh>sshd:exec"));
    }
}
