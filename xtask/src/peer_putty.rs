//! PuTTY (Debian's `putty-tools`) against `rsshd`, each row validated
//! against the image's `sshd`: `plink` with the rows every client has
//! ([`crate::peer_clients`]) and `-L`/`-R`, then `pscp` (SFTP and the old
//! SCP protocol) and `psftp`.
//!
//! PuTTY keeps its state under `$HOME/.putty` (the case directory is its
//! `HOME`), trusts the host keys given with `-hostkey` (their SHA-256
//! fingerprints), reads keys converted by `puttygen` (`.ppk`) and a
//! password from `-pwfile`. PuTTY cannot choose one algorithm from its
//! command line; the server's list does.

use std::fs;
use std::process::Command;

use crate::bail;
use crate::binary_setup::{Setup, Srv, TIMEOUT, USER, big_data, same_data, tail};
use crate::interop::Ctx;
use crate::peer;
use crate::peer_clients::{self as pc, COMMON, CaseFn, Client, FORWARDS, Kind, Run, fields};
use crate::util::{self, Context, Result};

/// PuTTY's `plink`.
pub(crate) struct Plink;

/// The one instance.
pub(crate) static PLINK: Plink = Plink;

/// The options every PuTTY tool gets: no prompts, no agent, the port, the
/// user, the host keys pinned, the key or the password file.
fn common_args(
    setup: &Setup,
    port: u16,
    key: Option<&str>,
    port_flag: &str,
) -> Result<Vec<String>> {
    let mut args: Vec<String> = vec![
        "-batch".into(),
        "-noagent".into(),
        port_flag.into(),
        port.to_string(),
        "-l".into(),
        USER.into(),
    ];
    for line in pc::host_key_lines(setup)? {
        let (key, _) = ssh_keys::PublicKey::from_openssh(&line)
            .map_err(|e| format!("parsing a host key: {e}"))?;
        args.extend(["-hostkey".into(), key.fingerprint_sha256()]);
    }
    match key {
        Some(k) => args.extend(["-i".into(), k.into()]),
        None => args.extend(["-pwfile".into(), pc::password_file(setup)?]),
    }
    Ok(args)
}

/// A PuTTY tool inside the peer with `HOME` in the case directory.
fn putty(ctx: &Ctx<'_>, setup: &Setup, program: &str, args: &[String]) -> Command {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut cmd = ctx.backend.command(program, &args);
    cmd.env("HOME", &setup.peer_dir);
    cmd.env_remove("SSH_AUTH_SOCK");
    cmd
}

impl Client for Plink {
    fn name(&self) -> &'static str {
        "plink"
    }

    fn command(&self, ctx: &Ctx<'_>, setup: &Setup, port: u16, run: &Run) -> Result<Command> {
        let mut args = common_args(setup, port, run.key.as_deref(), "-P")?;
        args.insert(0, "-ssh".into());
        args.push(if run.pty { "-t" } else { "-T" }.into());
        args.extend(run.opts.iter().cloned());
        args.extend(["127.0.0.1".into(), run.remote.clone()]);
        Ok(putty(ctx, setup, "plink", &args))
    }

    fn convert_key(&self, ctx: &Ctx<'_>, setup: &Setup, name: &str) -> Result<String> {
        let out = setup.peer(&format!("{name}.ppk"));
        util::checked_output(&mut ctx.backend.command(
            "puttygen",
            &[&setup.peer(name), "-O", "private", "-o", &out],
        ))?;
        Ok(out)
    }

    fn refuses(&self, kind: Kind, name: &str) -> bool {
        // Below "WARN" in PuTTY's default list: -batch refuses it.
        kind == Kind::Kex && name == "diffie-hellman-group1-sha1"
    }

    fn forward(&self, local: bool, spec: &str) -> Option<Vec<String>> {
        Some(vec![if local { "-L" } else { "-R" }.into(), spec.into()])
    }
}

/// `pscp` and `psftp` rows: (name, about, function, detail).
const TRANSFERS: &[(&str, &str, CaseFn, &str)] = &[
    (
        "sftp",
        "pscp -sftp: 2 MiB up and down through the sftp subsystem, SHA-256 equal",
        pscp,
        "-sftp",
    ),
    (
        "scp",
        "pscp -scp: 2 MiB up and down with the SCP protocol (`scp -t`/`-f` run by the server), SHA-256 equal",
        pscp,
        "-scp",
    ),
    (
        "tree",
        "pscp -sftp -r -p into internal-sftp: the transfer tree (64 MiB: PuTTY stalls on large files now and then, even against sshd, so up to three tries; empty file, spaces, a line break, symlink) up and back: SHA-256, modes, mtimes",
        pscp_tree,
        "-sftp",
    ),
];

/// `psftp` rows.
const PSFTP: &[(&str, &str, CaseFn, &str)] = &[
    (
        "sftp",
        "psftp -b: put, ls, get and rm of 2 MiB, SHA-256 equal",
        psftp,
        "",
    ),
    (
        "tree",
        "psftp -b with put -r and get -r into internal-sftp: the transfer tree (64 MiB, up to three tries, empty file, spaces, a line break, symlink) up and back, SHA-256 and modes equal (psftp follows the symlink; it has no -p, so mtimes are not compared)",
        psftp_tree,
        "",
    ),
];

/// Every PuTTY row, in table order.
pub fn cases() -> Vec<crate::interop::Case> {
    let mut out = pc::rows("plink", COMMON);
    out.extend(pc::rows("plink", FORWARDS));
    out.extend(pc::rows("pscp", TRANSFERS));
    out.extend(pc::rows("psftp", PSFTP));
    out
}

/// A transfer row's setting: the server, the account with an ed25519
/// key, the `.ppk`, 2 MiB in `up.bin`.
fn transfer_setup(ctx: &mut Ctx<'_>) -> Result<(Setup, peer::RunningSshd, String, Vec<u8>)> {
    transfer_setup_with(ctx, &Srv::default())
}

/// [`transfer_setup`] with the server's configuration lines.
fn transfer_setup_with(
    ctx: &mut Ctx<'_>,
    srv: &Srv,
) -> Result<(Setup, peer::RunningSshd, String, Vec<u8>)> {
    let setup = Setup::new(ctx, false)?;
    let line = setup.keygen("id", "ed25519", "")?;
    setup.account(ctx, &line)?;
    let key = PLINK.convert_key(ctx, &setup, "id")?;
    let server = setup.start(ctx, srv)?;
    let data = big_data()
        .get(..2 * 1024 * 1024)
        .unwrap_or_default()
        .to_vec();
    fs::write(setup.host("up.bin"), &data).context("writing up.bin")?;
    Ok((setup, server, key, data))
}

/// Runs a PuTTY tool; requires exit 0.
fn run_tool(
    ctx: &mut Ctx<'_>,
    setup: &Setup,
    program: &str,
    args: &[String],
) -> Result<std::process::Output> {
    run_tool_for(ctx, setup, program, args, TIMEOUT)
}

/// The tries of a tree transfer, and the limit of each.
const BIG_TRIES: usize = 3;
const BIG_LIMIT: std::time::Duration = std::time::Duration::from_secs(90);

/// A PuTTY tree transfer: PuTTY's SFTP now and then stalls and crawls
/// past any limit, against OpenSSH's sshd as well as ours (`pscp>sshd:tree`
/// and `psftp>sshd:tree`, the validation rows with nothing of ours in
/// them: trixie in stop 25, bookworm twice in a row in one full run),
/// while the row alone passes in seconds. Up to [`BIG_TRIES`] tries of
/// [`BIG_LIMIT`] each, `clean` run before each retry; each retry is said
/// in the detail. Only a run that stalls every time fails.
fn run_big(
    ctx: &mut Ctx<'_>,
    setup: &Setup,
    program: &str,
    args: &[String],
    clean: &dyn Fn(&mut Ctx<'_>) -> Result<()>,
) -> Result<()> {
    let mut tries = 1;
    loop {
        match run_tool_for(ctx, setup, program, args, BIG_LIMIT) {
            Err(e) if e.0.contains("was killed") && tries < BIG_TRIES => {
                println!(
                    "  {}: {program} ran past its limit (a known peer stall, try {tries} of {BIG_TRIES}): {e}; trying again",
                    ctx.backend.name()
                );
                clean(ctx)?;
                tries += 1;
            }
            other => return other.map(drop),
        }
    }
}

/// [`run_tool`] with its own time limit.
fn run_tool_for(
    ctx: &mut Ctx<'_>,
    setup: &Setup,
    program: &str,
    args: &[String],
    limit: std::time::Duration,
) -> Result<std::process::Output> {
    let cmd = putty(ctx, setup, program, args);
    let out = peer::run_with_timeout(cmd, b"", limit)?;
    ctx.record(
        format!("{program} {} (exit {})", args.join(" "), out.status),
        &out.stderr,
    );
    if !out.status.success() {
        bail!(
            "{program} exited with {}: {}",
            out.status,
            tail(&out.stderr)
        );
    }
    Ok(out)
}

fn pscp(ctx: &mut Ctx<'_>) -> Result<()> {
    let protocol = fields(ctx).1;
    let (setup, server, key, data) = transfer_setup(ctx)?;
    let remote = format!("127.0.0.1:/home/{USER}/pscp.bin");
    // -v: pscp says which protocol it used.
    let used = if protocol == "-scp" {
        "Using SCP1"
    } else {
        "Using SFTP"
    };
    let mut up = common_args(&setup, server.port(), Some(&key), "-P")?;
    up.extend([
        "-v".into(),
        protocol.into(),
        setup.peer("up.bin"),
        remote.clone(),
    ]);
    let mut down = common_args(&setup, server.port(), Some(&key), "-P")?;
    down.extend(["-v".into(), protocol.into(), remote, setup.peer("down.bin")]);
    for (way, args) in [("up", up), ("down", down)] {
        let out = run_tool(ctx, &setup, "pscp", &args)?;
        if !String::from_utf8_lossy(&out.stderr).contains(used) {
            bail!("pscp -v ({way}) does not say {used:?}");
        }
    }
    let got = fs::read(setup.host("down.bin")).context("reading down.bin")?;
    same_data("pscp up then down", &data, &got)
}

/// `pscp -r -p` of [`crate::sftp_tree`]'s tree into the account's home
/// and back, served by the server's own SFTP (`ForceCommand
/// internal-sftp`); pscp follows the symlink. (pscp copies a directory
/// into an existing one: the tree is named uniquely here and lands in the
/// home.)
fn pscp_tree(ctx: &mut Ctx<'_>) -> Result<()> {
    let srv = Srv {
        extra: vec!["ForceCommand internal-sftp".into()],
        ..Srv::default()
    };
    let (setup, server, key, _) = transfer_setup_with(ctx, &srv)?;
    let name = crate::binary_sftp_client::fresh("pscp-tree");
    let (src, back) = (setup.host(&name), setup.host("back"));
    let r = (|| {
        crate::sftp_tree::make_tree_of(&src, crate::sftp_tree::PUTTY_BIG_FILE)?;
        fs::create_dir(&back).context("mkdir back")?;
        let mut up = common_args(&setup, server.port(), Some(&key), "-P")?;
        up.extend(["-sftp", "-r", "-p", "-q"].map(String::from));
        up.extend([setup.peer(&name), format!("127.0.0.1:/home/{USER}/")]);
        let mut down = common_args(&setup, server.port(), Some(&key), "-P")?;
        down.extend(["-sftp", "-r", "-p", "-q"].map(String::from));
        down.extend([format!("127.0.0.1:/home/{USER}/{name}"), setup.peer("back")]);
        for args in [up, down] {
            run_big(ctx, &setup, "pscp", &args, &|_| Ok(()))?;
        }
        crate::sftp_tree::compare(&src, &back.join(&name), true)
    })();
    let _ = fs::remove_dir_all(&src);
    let _ = fs::remove_dir_all(&back);
    let cleaned = ctx
        .backend
        .command("rm", &["-rf", &format!("/home/{USER}/{name}")])
        .status()
        .context("rm in the peer");
    r.and(cleaned.map(drop))
}

/// `psftp -b` with `put -r` and `get -r` of [`crate::sftp_tree`]'s tree,
/// served by the server's own SFTP (`ForceCommand internal-sftp`).
fn psftp_tree(ctx: &mut Ctx<'_>) -> Result<()> {
    let srv = Srv {
        extra: vec!["ForceCommand internal-sftp".into()],
        ..Srv::default()
    };
    let (setup, server, key, _) = transfer_setup_with(ctx, &srv)?;
    let name = crate::binary_sftp_client::fresh("psftp-tree");
    let (src, back) = (setup.host(&name), setup.host("back"));
    let remote = format!("/home/{USER}/{name}");
    let r = (|| {
        crate::sftp_tree::make_tree_of(&src, crate::sftp_tree::PUTTY_BIG_FILE)?;
        let batch = format!(
            "put -r {up} {remote}\nget -r {remote} {down}\n",
            up = setup.peer(&name),
            down = setup.peer("back"),
        );
        fs::write(setup.host("batch"), batch).context("writing the batch file")?;
        let mut args = common_args(&setup, server.port(), Some(&key), "-P")?;
        args.extend(["-b".into(), setup.peer("batch"), "127.0.0.1".into()]);
        // A try that stalled may have made the remote tree and part of
        // the local copy: both go before the next.
        let clean = |ctx: &mut Ctx<'_>| {
            let _ = fs::remove_dir_all(&back);
            ctx.backend
                .command("rm", &["-rf", &remote])
                .status()
                .context("rm in the peer")
                .map(drop)
        };
        run_big(ctx, &setup, "psftp", &args, &clean)?;
        crate::sftp_tree::compare_with(&src, &back, true, false)
    })();
    let _ = fs::remove_dir_all(&src);
    let _ = fs::remove_dir_all(&back);
    let cleaned = ctx
        .backend
        .command("rm", &["-rf", &remote])
        .status()
        .context("rm in the peer");
    r.and(cleaned.map(drop))
}

fn psftp(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, key, data) = transfer_setup(ctx)?;
    let batch = format!(
        "put {up} /home/{USER}/psftp.bin\nls /home/{USER}\nget /home/{USER}/psftp.bin {down}\nrm /home/{USER}/psftp.bin\n",
        up = setup.peer("up.bin"),
        down = setup.peer("down.bin"),
    );
    fs::write(setup.host("batch"), batch).context("writing the batch file")?;
    let mut args = common_args(&setup, server.port(), Some(&key), "-P")?;
    args.extend(["-b".into(), setup.peer("batch"), "127.0.0.1".into()]);
    let out = run_tool(ctx, &setup, "psftp", &args)?;
    let listing = String::from_utf8_lossy(&out.stdout);
    if !listing.contains("psftp.bin") {
        bail!("`ls` does not show psftp.bin: {listing:?}");
    }
    let got = fs::read(setup.host("down.bin")).context("reading down.bin")?;
    same_data("psftp put then get", &data, &got)?;
    let gone = ctx
        .backend
        .command("test", &["!", "-e", &format!("/home/{USER}/psftp.bin")])
        .status()
        .context("running test in the peer")?;
    if !gone.success() {
        bail!("/home/{USER}/psftp.bin is still there after rm");
    }
    Ok(())
}
