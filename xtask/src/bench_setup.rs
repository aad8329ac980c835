//! `cargo xtask bench`'s setting up: the release builds and their
//! installation in the image, the bench account, the scratch directory,
//! keys and the configurations both servers and both clients get.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::peer::{Backend, Rootfs};
use crate::util::{self, Context, Result};

/// Files of one run inside the image: keys and configurations. Removed
/// on drop.
pub(crate) struct Scratch {
    pub(crate) host: PathBuf,
    pub(crate) peer: String,
}

impl Scratch {
    pub(crate) fn create(root: &Path) -> Result<Self> {
        // Under /var/tmp, not /root: the servers read the authorized keys
        // as the bench account.
        let name = format!("var/tmp/xtask-bench-{}", std::process::id());
        let host = root.join(&name);
        if host.exists() {
            fs::remove_dir_all(&host).context(format_args!("removing {}", host.display()))?;
        }
        fs::create_dir_all(&host).context(format_args!("creating {}", host.display()))?;
        Ok(Self {
            host,
            peer: format!("/{name}"),
        })
    }

    pub(crate) fn write(&self, name: &str, text: &str) -> Result<String> {
        let path = self.host.join(name);
        fs::write(&path, text).context(format_args!("writing {}", path.display()))?;
        Ok(format!("{}/{name}", self.peer))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.host);
    }
}

/// The account the clients log in to.
pub(crate) const BENCH_USER: &str = "xbench";
/// Its uid and gid.
pub(crate) const BENCH_UID: u32 = 4250;
/// Its login shell: no rc file runs around the remote command.
pub(crate) const BENCH_SHELL: &str = "/bin/sh";

/// Creates (or refreshes) the bench account in the image: `/bin/sh`,
/// a home directory, no password (`*`: not locked, no password login).
pub(crate) fn bench_account(backend: &Rootfs) -> Result<()> {
    // Written directly: newer minimal images lack useradd.
    let (u, id, sh) = (BENCH_USER, BENCH_UID, BENCH_SHELL);
    let script = format!(
        "set -e; \
         sed -i '/^{u}:/d' /etc/passwd; echo '{u}:x:{id}:{id}:{u}:/home/{u}:{sh}' >> /etc/passwd; \
         grep -q '^{u}:' /etc/group || echo '{u}:x:{id}:' >> /etc/group; \
         sed -i '/^{u}:/d' /etc/shadow; echo '{u}:*:20000:0:99999:7:::' >> /etc/shadow; \
         mkdir -p /home/{u}; chown {id}:{id} /home/{u}; chmod 755 /home/{u}"
    );
    util::checked_output(&mut backend.command("sh", &["-c", &script]))?;
    Ok(())
}

/// The `sshd_config` both servers get; `extra` holds what must differ.
pub(crate) fn server_config(dir: &str, extra: &[&str]) -> String {
    let mut s = format!(
        "# Written by cargo xtask bench.\n\
         ListenAddress 127.0.0.1\n\
         HostKey {dir}/host_ed25519_key\n\
         PidFile none\n\
         UsePAM no\n\
         StrictModes no\n\
         PermitRootLogin no\n\
         PubkeyAuthentication yes\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         AuthorizedKeysFile {dir}/authorized_keys\n\
         Compression no\n\
         LogLevel INFO\n"
    );
    for line in extra {
        s.push_str(line);
        s.push('\n');
    }
    s
}

/// The `ssh_config` both clients get.
pub(crate) fn client_config(dir: &str) -> String {
    format!(
        "# Written by cargo xtask bench.\n\
         Host *\n\
         \x20 User {BENCH_USER}\n\
         \x20 IdentityFile {dir}/id_ed25519\n\
         \x20 IdentitiesOnly yes\n\
         \x20 StrictHostKeyChecking no\n\
         \x20 UserKnownHostsFile /dev/null\n\
         \x20 GlobalKnownHostsFile /dev/null\n\
         \x20 BatchMode yes\n\
         \x20 Compression no\n\
         \x20 LogLevel ERROR\n"
    )
}

/// The cargo target directory the release binaries are built in.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => util::workspace_target(),
    }
}

/// Builds `package` in release mode with `features`; its binary, or why
/// not.
pub(crate) fn build_release(
    package: &str,
    features: &[&str],
) -> std::result::Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut args = vec!["build", "--release", "-p", package];
    let features = features.join(",");
    if !features.is_empty() {
        args.extend(["--features", &features]);
    }
    eprintln!("bench: cargo {}", args.join(" "));
    let status = Command::new(cargo)
        .current_dir(util::workspace_root())
        .args(&args)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let bin = target_dir().join("release").join(package);
    if !status.success() {
        return Err(format!(
            "cargo build --release -p {package} failed ({status})"
        ));
    }
    if !bin.is_file() {
        return Err(format!("{} missing after the build", bin.display()));
    }
    Ok(bin)
}

/// Copies `bin` to `/usr/local/bin/<name>` in the image; the path inside.
pub(crate) fn install(root: &Path, bin: &Path, name: &str) -> Result<String> {
    let dir = root.join("usr/local/bin");
    fs::create_dir_all(&dir).context(format_args!("creating {}", dir.display()))?;
    let tmp = dir.join(format!(".{name}.xtask-bench"));
    fs::copy(bin, &tmp).context(format_args!("copying {} into the image", bin.display()))?;
    let dest = dir.join(name);
    fs::rename(&tmp, &dest).context(format_args!("installing {}", dest.display()))?;
    Ok(format!("/usr/local/bin/{name}"))
}

/// Generates an ed25519 key at `path` (inside the image) with the image's
/// `ssh-keygen`.
pub(crate) fn keygen(backend: &Rootfs, path: &str) -> Result<()> {
    util::checked_output(&mut backend.command(
        "ssh-keygen",
        &[
            "-q",
            "-N",
            "",
            "-t",
            "ed25519",
            "-C",
            "xtask-bench",
            "-f",
            path,
        ],
    ))?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn configs_pick_the_bench_account_by_publickey_and_no_compression() {
        let s = server_config("/d", &[]);
        assert!(s.contains("LogLevel INFO\n"));
        assert!(s.contains("Compression no\n"));
        assert!(s.contains("AuthorizedKeysFile /d/authorized_keys\n"));
        assert!(!s.contains("DEBUG"));
        let c = client_config("/d");
        assert!(c.contains("IdentityFile /d/id_ed25519\n"));
        assert!(c.contains("User xbench\n"));
        assert!(s.contains("PermitRootLogin no\n"));
    }
}
