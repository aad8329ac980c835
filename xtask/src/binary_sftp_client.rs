//! `rssh>sshd:rscp-tree` and `rssh>sshd:rsftp-batch`: our `rscp` and
//! `rsftp`, run here, against the peer's `sshd` and OpenSSH's
//! `sftp-server`. A tree (a large file, an empty file, names with spaces,
//! a symlink, modes, an old mtime) goes up and comes back with `-p`; the
//! two trees are compared by SHA-256, mode and mtime.
//!
//! The client is a parameter: `XTASK_RSCP` / `XTASK_RSFTP` (e.g.
//! `/usr/bin/scp`, `/usr/bin/sftp` to validate the rows), else `rscp` and
//! `rsftp` beside the `rssh` the rows use (`cargo build -p rsftp`).

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::bail;
use crate::binary_setup::*;
use crate::interop::Ctx;
use crate::peer;
use crate::util::{Context, Result};

/// The old mtime `-p` must keep.
const MTIME: i64 = 1_000_000_000;

fn program(setup: &Setup, env: &str, name: &str) -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Ok(PathBuf::from(p));
    }
    let Some(rssh) = &setup.rssh else {
        bail!("no rssh located, so no {name}");
    };
    let p = rssh.with_file_name(name);
    if !p.is_file() {
        bail!(
            "{} missing: cargo build -p rsftp (or set {env})",
            p.display()
        );
    }
    Ok(p)
}

fn make_tree(root: &Path) -> Result<()> {
    fs::create_dir_all(root.join("sub dir/deeper")).context("mkdir")?;
    fs::write(
        root.join("big"),
        big_data().get(..32 << 20).unwrap_or_default(),
    )
    .context("big")?;
    fs::write(root.join("empty"), b"").context("empty")?;
    fs::write(root.join("sub dir/name with spaces"), text_data(10_000)).context("spaces")?;
    fs::write(root.join("sub dir/deeper/x"), b"x").context("x")?;
    std::os::unix::fs::symlink("big", root.join("link")).context("symlink")?;
    set_mode(&root.join("empty"), 0o640)?;
    set_mode(&root.join("sub dir/deeper/x"), 0o750)?;
    let t = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(MTIME as u64);
    fs::File::options()
        .write(true)
        .open(root.join("big"))
        .and_then(|f| f.set_times(fs::FileTimes::new().set_modified(t).set_accessed(t)))
        .context("mtime")?;
    Ok(())
}

/// (relative path, SHA-256 or "dir", mode, mtime of files), symlinks
/// followed, sorted.
fn digest(root: &Path) -> Result<Vec<(String, String, u32, i64)>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String, u32, i64)>) -> Result<()> {
        for e in fs::read_dir(dir).context("read_dir")? {
            let path = e.context("entry")?.path();
            let m = fs::metadata(&path).context("stat")?;
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .display()
                .to_string();
            if m.is_dir() {
                out.push((rel, "dir".into(), m.mode() & 0o7777, 0));
                walk(root, &path, out)?;
            } else {
                let data = fs::read(&path).context("read")?;
                out.push((rel, sha256_hex(&data), m.mode() & 0o7777, m.mtime()));
            }
        }
        Ok(())
    }
    let mut v = Vec::new();
    walk(root, root, &mut v)?;
    v.sort();
    Ok(v)
}

/// `follow`: the symlink came as a file (scp); else it was skipped
/// (sftp's `-r`, as OpenSSH's).
fn compare(src: &Path, back: &Path, follow: bool) -> Result<()> {
    let (mut want, got) = (digest(src)?, digest(back)?);
    if !follow {
        want.retain(|(p, ..)| p != "link");
    }
    if want != got {
        bail!("trees differ:\n sent {want:?}\n back {got:?}");
    }
    if !want.iter().any(|(p, _, _, t)| p == "big" && *t == MTIME) {
        bail!("big lost its mtime");
    }
    Ok(())
}

/// A remote name no earlier run left behind (the peer's home stays).
fn fresh(prefix: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{prefix}-{}-{n}", std::process::id())
}

fn opts(setup: &Setup, port: u16) -> Vec<String> {
    [
        "-F",
        "/dev/null",
        "-P",
        &port.to_string(),
        "-o",
        &format!("UserKnownHostsFile={}", setup.client("known_hosts")),
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        "-i",
        &setup.client("id"),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

fn run(ctx: &mut Ctx<'_>, prog: &Path, args: &[String]) -> Result<std::process::Output> {
    let mut cmd = Command::new(prog);
    cmd.args(args).env_remove("SSH_AUTH_SOCK");
    let out = peer::run_with_timeout(cmd, b"", BIG_TIMEOUT)?;
    ctx.record(
        format!(
            "{} {} (exit {})",
            prog.display(),
            args.join(" "),
            out.status
        ),
        &out.stderr,
    );
    if !out.status.success() {
        bail!(
            "{} exited with {}; its stderr:\n{}",
            prog.display(),
            out.status,
            tail(&out.stderr)
        );
    }
    Ok(out)
}

/// `rscp -r -p` up into the account's home, then back.
pub(crate) fn rscp_tree(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, _) = with_key(ctx, &Srv::default())?;
    let prog = program(&setup, "XTASK_RSCP", "rscp")?;
    let src = setup.host("src");
    make_tree(&src)?;
    let remote = format!("{USER}@127.0.0.1:/home/{USER}/{}", fresh("tree"));
    let mut up = opts(&setup, server.port());
    up.extend(["-r", "-p", "-q"].map(String::from));
    up.extend([src.display().to_string(), remote.clone()]);
    run(ctx, &prog, &up)?;
    let back = setup.host("back");
    let mut down = opts(&setup, server.port());
    down.extend(["-r", "-p", "-q"].map(String::from));
    down.extend([remote, back.display().to_string()]);
    run(ctx, &prog, &down)?;
    compare(&src, &back, true)
}

/// `rsftp -b`: put -r -p, ls -l, mkdir, rename, rmdir, a `-` command that
/// fails, get -r -p, then a failing command ends the batch.
pub(crate) fn rsftp_batch(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, _) = with_key(ctx, &Srv::default())?;
    let prog = program(&setup, "XTASK_RSFTP", "rsftp")?;
    let src = setup.host("src");
    make_tree(&src)?;
    let back = setup.host("back");
    let batch = format!(
        "cd /home/{USER}\nput -r -p \"{src}\" {t}\nls -l {t}\nmkdir {m}\nrename {m} {m}2\nrmdir {m}2\n\
         -rm no-such-file\nget -r -p {t} \"{back}\"\npwd\n",
        t = fresh("stree"),
        m = fresh("m"),
        src = src.display(),
        back = back.display(),
    );
    fs::write(setup.host("batch"), batch).context("writing the batch file")?;
    let mut args = opts(&setup, server.port());
    args.extend(["-b".into(), setup.host("batch").display().to_string()]);
    args.push(format!("{USER}@127.0.0.1"));
    let out = run(ctx, &prog, &args)?;
    let listing = String::from_utf8_lossy(&out.stdout);
    if !listing.contains("name with spaces") && !listing.contains("sub dir") {
        bail!("`ls -l stree` shows no `sub dir`: {listing:?}");
    }
    compare(&src, &back, false)?;
    fs::write(setup.host("batch"), "rm no-such-file\npwd\n").context("batch")?;
    let mut cmd = Command::new(&prog);
    cmd.args(&args).env_remove("SSH_AUTH_SOCK");
    let out = peer::run_with_timeout(cmd, b"", BIG_TIMEOUT)?;
    if out.status.success() || String::from_utf8_lossy(&out.stdout).contains("Remote working") {
        bail!("a failing command did not end batch mode ({})", out.status);
    }
    Ok(())
}

/// A row's function.
type RowFn = fn(&mut Ctx<'_>) -> Result<()>;

/// The rows, by name.
pub(crate) const ROWS: &[(&str, &str, RowFn)] = &[
    (
        "rscp-tree",
        "rscp -r -p a tree (32 MiB file, empty file, spaces, symlink) up and back: SHA-256, modes, mtimes",
        rscp_tree,
    ),
    (
        "rsftp-batch",
        "rsftp -b: put -r -p, ls -l, mkdir, rename, rmdir, -rm, get -r -p; a failing command ends the batch",
        rsftp_batch,
    ),
];
