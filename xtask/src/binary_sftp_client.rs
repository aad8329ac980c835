//! `rssh>sshd:rscp-tree`, `rssh>sshd:rscp-3-tree` and
//! `rssh>sshd:rsftp-batch`: our `rscp` and
//! `rsftp`, run here, against the peer's `sshd` and OpenSSH's
//! `sftp-server`. The tree of [`crate::sftp_tree`] (1 GiB, an empty file,
//! names with spaces and a line break, a symlink, modes, an old mtime)
//! goes up and comes back with `-p`; the two trees are compared by
//! SHA-256, mode and mtime.
//!
//! The client is a parameter: `XTASK_RSCP` / `XTASK_RSFTP` (e.g.
//! `/usr/bin/scp`, `/usr/bin/sftp` to validate the rows), else `rscp` and
//! `rsftp` beside the `rssh` the rows use (`cargo build -p rsftp`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::bail;
use crate::binary_setup::*;
use crate::interop::Ctx;
use crate::peer;
use crate::sftp_tree::{compare, make_tree};
use crate::util::{Context, Result};

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

/// A remote name no earlier run left behind.
pub(crate) fn fresh(prefix: &str) -> String {
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

/// Removes the row's trees here and its copy in the peer, whatever the
/// row's result (1 GiB each).
fn clean(ctx: &Ctx<'_>, here: &[&Path], remote: &str) -> Result<()> {
    for p in here {
        let _ = fs::remove_dir_all(p);
    }
    crate::util::checked_output(&mut ctx.backend.command("rm", &["-rf", remote]))?;
    Ok(())
}

/// `rscp -r -p` up into the account's home, then back.
pub(crate) fn rscp_tree(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, _) = with_key(ctx, &Srv::default())?;
    let prog = program(&setup, "XTASK_RSCP", "rscp")?;
    let (src, back) = (setup.host("src"), setup.host("back"));
    let remote_path = format!("/home/{USER}/{}", fresh("tree"));
    let r = (|| {
        make_tree(&src)?;
        let remote = format!("{USER}@127.0.0.1:{remote_path}");
        let mut up = opts(&setup, server.port());
        up.extend(["-r", "-p", "-q"].map(String::from));
        up.extend([src.display().to_string(), remote.clone()]);
        run(ctx, &prog, &up)?;
        let mut down = opts(&setup, server.port());
        down.extend(["-r", "-p", "-q"].map(String::from));
        down.extend([remote, back.display().to_string()]);
        run(ctx, &prog, &down)?;
        compare(&src, &back, true)
    })();
    let cleaned = clean(ctx, &[&src, &back], &remote_path);
    r.and(cleaned)
}

/// `rscp -r -p` up into the account's home, `rscp -3 -r -p` from there to
/// a second directory of the same server (remote to remote, through
/// here), then the copy back.
pub(crate) fn rscp_3_tree(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, _) = with_key(ctx, &Srv::default())?;
    let prog = program(&setup, "XTASK_RSCP", "rscp")?;
    let (src, back) = (setup.host("src"), setup.host("back"));
    let (first, second) = (fresh("tree3a"), fresh("tree3b"));
    let remote = |name: &str| format!("{USER}@127.0.0.1:/home/{USER}/{name}");
    let r = (|| {
        make_tree(&src)?;
        let legs = [
            (src.display().to_string(), remote(&first), false),
            (remote(&first), remote(&second), true),
            (remote(&second), back.display().to_string(), false),
        ];
        for (from, to, through_here) in legs {
            let mut args = opts(&setup, server.port());
            args.extend(["-r", "-p", "-q"].map(String::from));
            if through_here {
                args.push("-3".into());
            }
            args.extend([from, to]);
            run(ctx, &prog, &args)?;
        }
        compare(&src, &back, true)
    })();
    let cleaned = clean(ctx, &[&src, &back], &format!("/home/{USER}/{first}")).and(clean(
        ctx,
        &[],
        &format!("/home/{USER}/{second}"),
    ));
    r.and(cleaned)
}

/// `rsftp -b`: put -r -p, ls -l, mkdir, rename, rmdir, a `-` command that
/// fails, get -r -p, then a failing command ends the batch.
pub(crate) fn rsftp_batch(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, _) = with_key(ctx, &Srv::default())?;
    let prog = program(&setup, "XTASK_RSFTP", "rsftp")?;
    let (src, back) = (setup.host("src"), setup.host("back"));
    let tree = fresh("stree");
    let r = (|| {
        make_tree(&src)?;
        let batch = format!(
            "cd /home/{USER}\nput -r -p \"{src}\" {tree}\nls -l {tree}\nmkdir {m}\nrename {m} {m}2\n\
             rmdir {m}2\n-rm no-such-file\nget -r -p {tree} \"{back}\"\npwd\n",
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
    })();
    let cleaned = clean(ctx, &[&src, &back], &format!("/home/{USER}/{tree}"));
    r.and(cleaned)
}

/// A row's function.
type RowFn = fn(&mut Ctx<'_>) -> Result<()>;

/// The rows, by name.
pub(crate) const ROWS: &[(&str, &str, RowFn)] = &[
    (
        "rscp-tree",
        "rscp -r -p a tree (1 GiB file, empty file, spaces, a line break, symlink) up and back: SHA-256, modes, mtimes",
        rscp_tree,
    ),
    (
        "rscp-3-tree",
        "rscp -r -p the tree up, rscp -3 -r -p from there to another directory of the server (remote to remote through here), then back: SHA-256, modes, mtimes",
        rscp_3_tree,
    ),
    (
        "rsftp-batch",
        "rsftp -b: put -r -p of the tree (1 GiB, spaces, a line break), ls -l, mkdir, rename, rmdir, -rm, get -r -p; a failing command ends the batch",
        rsftp_batch,
    ),
];
