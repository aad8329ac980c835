//! The `tokio example` stage of `cargo xtask test`: `examples/tokio-client`
//! (ssh-async on Tokio alone) against our own `rsshd`.
//!
//! 1. `cargo tree -p tokio-client -e normal`: no async-std,
//!    async-global-executor or smol (the library is runtime-neutral);
//! 2. `cargo build -p tokio-client`, then `cargo build -p rsshd` (apart, so
//!    that ssh-async is built for the example with the `tokio` feature
//!    alone), in the workspace's target directory (`CARGO_TARGET_DIR` if
//!    set, as cargo itself);
//! 3. a scratch directory with an ed25519 host key and user key, an
//!    `authorized_keys` and a configuration; `rsshd -D -e` on a free port
//!    as the current user (root in CI: it then serves root, which
//!    `PermitRootLogin prohibit-password` admits with a key);
//! 4. `tokio-client PORT USER KEY HOSTKEY.pub 'cat; echo err >&2; exit 3'`
//!    with some input: stdout is the input, stderr `err`, status 3.
//!
//! A failure shows rsshd's log.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ssh_async::ssh_auth::keyfile::{Encryption, KeyPair};
use ssh_async::ssh_keys::KeyType;

use serde_json::Value;

use crate::bail;
use crate::peer::{self, RunningSshd};
use crate::tidy_runtime::{self, cargo, forbidden_in_tree, metadata, tree_crates};
use crate::util::{self, Context, Result};

/// Crates that must not be in the example's tree.
pub const NOT_IN_TOKIO_TREE: [&str; 3] = ["async-std", "async-global-executor", "smol"];

/// The command the client runs.
const COMMAND: &str = "cat; echo err >&2; exit 3";

/// How long the client may take.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// The stage; a failure is printed whole (the summary shows its first
/// line).
pub fn run() -> Result<()> {
    let result = stage();
    if let Err(e) = &result {
        println!("tokio example failed: {e}");
    }
    result
}

fn stage() -> Result<()> {
    let root = util::workspace_root();
    let tree = tidy_runtime::cargo_tree(&root, "tokio-client")?;
    let bad = forbidden_in_tree(&tree, |n| NOT_IN_TOKIO_TREE.contains(&n));
    if !bad.is_empty() {
        bail!(
            "tokio-client's dependency tree has {} (ssh-async must build on Tokio alone)",
            bad.join(", ")
        );
    }
    println!(
        "tokio-client: {} crates in its tree, none of {}",
        tree_crates(&tree).len(),
        NOT_IN_TOKIO_TREE.join(", ")
    );
    for package in ["tokio-client", "rsshd"] {
        let mut cmd = cargo(&root);
        cmd.args(["build", "-p", package]);
        println!("{}", util::describe(&cmd));
        let status = cmd
            .status()
            .context(format_args!("cannot run {}", util::describe(&cmd)))?;
        if !status.success() {
            bail!("{} failed ({status})", util::describe(&cmd));
        }
    }
    let debug = target_dir(&root)?.join("debug");
    let dir = std::env::temp_dir().join(format!("xtask-tokio-example-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).context(format_args!("creating {}", dir.display()))?;
    let result = session(&debug, &dir);
    match result {
        Ok(()) => {
            let _ = fs::remove_dir_all(&dir);
            Ok(())
        }
        Err(e) => Err(util::Error(format!(
            "{e}\n(files kept in {})",
            dir.display()
        ))),
    }
}

/// The target directory cargo builds into here (`CARGO_TARGET_DIR`,
/// `build.target-dir` or the workspace's `target/`).
fn target_dir(root: &Path) -> Result<PathBuf> {
    let meta = metadata(root)?;
    match meta.get("target_directory").and_then(Value::as_str) {
        Some(dir) => Ok(PathBuf::from(dir)),
        None => bail!("cargo metadata names no target directory"),
    }
}

/// Writes `text` to a new file of mode `mode`.
fn write_file(path: &Path, text: &str, mode: u32) -> Result<()> {
    let what = format!("writing {}", path.display());
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .context(&what)?;
    file.write_all(text.as_bytes()).context(&what)
}

/// A new ed25519 key: its private key file (mode 0600) at `path` and its
/// public key line at `path.pub`; the public line.
fn new_key(path: &Path, comment: &str) -> Result<String> {
    let mut rng: rand::rngs::StdRng = rand::make_rng();
    let pair = KeyPair::generate(KeyType::Ed25519, None, comment, &mut rng)
        .context("generating an ed25519 key")?;
    let private = pair
        .to_openssh(&Encryption::None, &mut rng)
        .context("encoding a key")?;
    write_file(path, &private, 0o600)?;
    let public = format!("{}\n", pair.public_key_line());
    write_file(&path.with_extension("pub"), &public, 0o644)?;
    Ok(public)
}

/// The name of the user running this task (`id -un`: `USER` may be unset,
/// as for root in a container).
fn current_user() -> Result<String> {
    let out = util::checked_output(Command::new("id").arg("-un"))?;
    let name = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if name.is_empty() {
        bail!("id -un printed no name");
    }
    Ok(name)
}

/// The configuration of the rsshd of this stage.
fn config(dir: &Path) -> String {
    format!(
        "HostKey {dir}/host_key\n\
         ListenAddress 127.0.0.1\n\
         AuthorizedKeysFile {dir}/authorized_keys\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         PermitRootLogin prohibit-password\n\
         PidFile none\n",
        dir = dir.display()
    )
}

/// Starts `rsshd` on a free port (another one if the port was taken).
fn start_rsshd(rsshd: &Path, cfg: &Path) -> Result<RunningSshd> {
    for _ in 0..3 {
        let port = peer::free_port()?;
        let mut cmd = Command::new(rsshd);
        cmd.args(["-D", "-e", "-f"])
            .arg(cfg)
            .args(["-p", &port.to_string()]);
        if let Some(running) = peer::spawn_sshd(cmd, port)? {
            return Ok(running);
        }
    }
    bail!("rsshd found no free port in 3 tries")
}

fn session(debug: &Path, dir: &Path) -> Result<()> {
    new_key(&dir.join("host_key"), "host")?;
    let user_public = new_key(&dir.join("user_key"), "user")?;
    write_file(&dir.join("authorized_keys"), &user_public, 0o600)?;
    let cfg = dir.join("rsshd_config");
    write_file(&cfg, &config(dir), 0o644)?;
    let user = current_user()?;
    let server = start_rsshd(&debug.join("rsshd"), &cfg)?;
    println!("rsshd listening on port {} (user {user})", server.port());
    let input: Vec<u8> = (0..20_000u32)
        .flat_map(|i| format!("line {i} of the input\n").into_bytes())
        .collect();
    let mut client = Command::new(debug.join("tokio-client"));
    client
        .arg(server.port().to_string())
        .arg(&user)
        .arg(dir.join("user_key"))
        .arg(dir.join("host_key.pub"))
        .arg(COMMAND);
    let what = util::describe(&client);
    let checked = peer::run_with_timeout(client, &input, CLIENT_TIMEOUT).and_then(|out| {
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.code() != Some(3) {
            bail!(
                "{what}: {}, not exit status 3; stderr:\n{stderr}",
                out.status
            );
        }
        if stderr != "err\n" {
            bail!("{what}: stderr {stderr:?}, not \"err\\n\"");
        }
        if out.stdout != input {
            bail!(
                "{what}: stdout is {} bytes, not the {} bytes of stdin{}",
                out.stdout.len(),
                input.len(),
                if out.stdout.len() == input.len() {
                    " (same length, other bytes)"
                } else {
                    ""
                }
            );
        }
        println!(
            "{what}: {} bytes echoed, stderr \"err\", exit status 3",
            out.stdout.len()
        );
        Ok(())
    });
    let log = server.stop();
    checked.map_err(|e| util::Error(format!("{e}\nrsshd's log:\n{log}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_names_the_scratch_files_and_allows_root_by_key_only() {
        let cfg = config(Path::new("/tmp/x"));
        assert!(cfg.contains("HostKey /tmp/x/host_key\n"));
        assert!(cfg.contains("AuthorizedKeysFile /tmp/x/authorized_keys\n"));
        assert!(cfg.contains("PermitRootLogin prohibit-password\n"));
        assert!(cfg.contains("PasswordAuthentication no\n"));
    }

    #[test]
    fn tree_check_finds_async_std_and_its_executor() {
        let tree =
            "tokio v1.54.1\nasync-std v1.13.2\nasync-global-executor v2.4.1\nsmol-str v0.1.0\n";
        assert_eq!(
            forbidden_in_tree(tree, |n| NOT_IN_TOKIO_TREE.contains(&n)),
            ["async-global-executor", "async-std"]
        );
    }
}
