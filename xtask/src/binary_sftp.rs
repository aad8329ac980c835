//! The internal-sftp rows (`ssh>rsshd:isftp-*`): OpenSSH's `sftp` against
//! the server's own SFTP server (`Subsystem sftp internal-sftp` in
//! `isftp-put-get`, `ForceCommand internal-sftp` in the others),
//! a whole tree both ways, read-only, the `-d`/`-u`/`-P`/`-p` options,
//! and `ChrootDirectory` with good and bad ownership.
//!
//! Validated with OpenSSH's `sshd` in place of `rsshd`
//! (`XTASK_RSSHD=peer:/usr/sbin/sshd`).

use std::fs;
use std::process::Output;
use std::time::Duration;

use crate::bail;
use crate::binary_session::{run_peer, run_peer_for, transfer_opts, upload_file};
use crate::binary_setup::*;
use crate::interop::Ctx;
use crate::peer;
use crate::util::{self, Context, Result};

/// Runs `sftp -b batch` in the peer against the row's server; the exit
/// status is the caller's to judge.
fn sftp_batch(ctx: &mut Ctx<'_>, setup: &Setup, port: u16, batch: &str) -> Result<Output> {
    fs::write(setup.host("batch"), batch).context("writing the batch file")?;
    let mut args = transfer_opts(setup, port);
    args.extend([
        "-b".into(),
        setup.peer("batch"),
        format!("{USER}@127.0.0.1"),
    ]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let cmd = ctx.backend.command("sftp", &argv);
    let out = peer::run_with_timeout(cmd, b"", BIG_TIMEOUT)?;
    ctx.record(format!("sftp -b (exit {})", out.status), &out.stderr);
    Ok(out)
}

/// Runs `script` as root in the container.
fn in_peer(ctx: &Ctx<'_>, script: &str) -> Result<()> {
    util::checked_output(&mut ctx.backend.command("sh", &["-c", script]))?;
    Ok(())
}

fn srv(lines: &[&str]) -> Srv {
    Srv {
        extra: lines.iter().map(|l| (*l).to_owned()).collect(),
        ..Srv::default()
    }
}

/// Put and get of 5 MiB and of an empty file, compared byte for byte,
/// through `Subsystem sftp internal-sftp` (the other rows use
/// `ForceCommand`).
pub(crate) fn put_get(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, _) = with_key(ctx, &srv(&["Subsystem sftp internal-sftp"]))?;
    let data = upload_file(&setup)?;
    fs::write(setup.host("empty"), b"").context("writing empty")?;
    let batch = format!(
        "put {up} isftp.bin\nput {empty} isftp-empty\nls -l\n\
         get isftp.bin {down}\nget isftp-empty {down_empty}\nrm isftp.bin\nrm isftp-empty\n",
        up = setup.peer("up.bin"),
        empty = setup.peer("empty"),
        down = setup.peer("down.bin"),
        down_empty = setup.peer("down-empty"),
    );
    let out = sftp_batch(ctx, &setup, server.port(), &batch)?;
    if !out.status.success() {
        bail!("sftp exited with {}: {}", out.status, tail(&out.stderr));
    }
    let down = fs::read(setup.host("down.bin")).context("reading down.bin")?;
    same_data("internal-sftp put then get", &data, &down)?;
    let empty = fs::read(setup.host("down-empty")).context("reading down-empty")?;
    same_data("the empty file", b"", &empty)
}

/// `-R`: a put is refused with PERMISSION_DENIED; a get still works.
pub(crate) fn read_only(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, _) = with_key(ctx, &srv(&["ForceCommand internal-sftp -R"]))?;
    upload_file(&setup)?;
    let batch = format!("put {} isftp-ro.bin\n", setup.peer("up.bin"));
    let out = sftp_batch(ctx, &setup, server.port(), &batch)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() || !stderr.contains("Permission denied") {
        bail!(
            "a put to a read-only server was not refused: {}",
            tail(&out.stderr)
        );
    }
    let out = sftp_batch(ctx, &setup, server.port(), "ls -la\n")?;
    if !out.status.success() {
        bail!("ls on a read-only server failed: {}", tail(&out.stderr));
    }
    Ok(())
}

/// `ForceCommand internal-sftp` on a command (no subsystem request): sshd
/// refuses the session with its words on stdout and exit status 1, and
/// runs nothing; sftp still works.
pub(crate) fn exec_refused(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, call) = with_key(ctx, &srv(&["ForceCommand internal-sftp"]))?;
    let marker = setup.peer("escaped");
    let mut call = call;
    call.remote = format!("touch {marker}");
    let out = setup.run(ctx, server.port(), &call)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if out.status.code() != Some(1) || stdout != "This service allows sftp connections only.\n" {
        bail!(
            "a command under ForceCommand internal-sftp: exit {}, stdout {stdout:?}",
            out.status
        );
    }
    if setup.host("escaped").exists() {
        bail!("the command ran");
    }
    let out = sftp_batch(ctx, &setup, server.port(), "ls -la\n")?;
    if !out.status.success() {
        bail!(
            "sftp under ForceCommand internal-sftp failed: {}",
            tail(&out.stderr)
        );
    }
    Ok(())
}

/// A root-owned chroot with the user's home inside: the user starts in
/// the home and sees only the chroot.
pub(crate) fn chroot(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, _) = with_key(
        ctx,
        &srv(&["ChrootDirectory /srv/isftp", "ForceCommand internal-sftp"]),
    )?;
    in_peer(
        ctx,
        &format!(
            "rm -rf /srv/isftp; mkdir -p /srv/isftp/home/{USER} && chmod 755 /srv/isftp \
             && chown {USER} /srv/isftp/home/{USER} && echo jailed > /srv/isftp/marker"
        ),
    )?;
    let r = (|| {
        fs::write(setup.host("small"), b"small\n").context("writing small")?;
        let batch = format!("pwd\nls /\nput {} h\n", setup.peer("small"));
        let out = sftp_batch(ctx, &setup, server.port(), &batch)?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            bail!("sftp in the chroot failed: {}", tail(&out.stderr));
        }
        if !stdout.contains(&format!("Remote working directory: /home/{USER}"))
            || !stdout.contains("marker")
            || stdout.contains("/usr")
        {
            bail!("the user does not see only the chroot: {stdout:?}");
        }
        in_peer(ctx, &format!("test -f /srv/isftp/home/{USER}/h"))
    })();
    let cleanup = in_peer(ctx, "rm -rf /srv/isftp");
    r.and(cleanup)
}

/// internal-sftp's options inside a chroot (`-d` taken inside it, `-u`,
/// `-P`): what a chrooted account's session process applies per session.
pub(crate) fn chroot_options(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, _) = with_key(
        ctx,
        &srv(&[
            "ChrootDirectory /srv/isftp",
            "ForceCommand internal-sftp -d /up -u 077 -P remove",
        ]),
    )?;
    in_peer(
        ctx,
        &format!(
            "rm -rf /srv/isftp; mkdir -p /srv/isftp/up && chmod 755 /srv/isftp \
             && chown {USER} /srv/isftp/up"
        ),
    )?;
    let r = start_umask_deny(ctx, &setup, server.port(), "/up", "/srv/isftp/up");
    let cleanup = in_peer(ctx, "rm -rf /srv/isftp");
    r.and(cleanup)
}

/// A chroot under a world-writable directory is refused, and the server
/// logs why.
pub(crate) fn chroot_bad(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, _) = with_key(
        ctx,
        &srv(&["ChrootDirectory /tmp/isftp", "ForceCommand internal-sftp"]),
    )?;
    in_peer(ctx, "mkdir -p /tmp/isftp && chmod 755 /tmp/isftp")?;
    let out = sftp_batch(ctx, &setup, server.port(), "ls /\n");
    let cleanup = in_peer(ctx, "rm -rf /tmp/isftp");
    let out = out?;
    cleanup?;
    if out.status.success() {
        bail!("a chroot under /tmp was not refused");
    }
    // sshd's words, in the server's log.
    let needle = "bad ownership or modes for chroot directory component \"/tmp";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !server.log().contains(needle) {
        if std::time::Instant::now() > deadline {
            bail!("the server's log lacks {needle:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Ok(())
}

/// `scp -p` (SFTP protocol) up and down: the data, the mode and the
/// modification time come back unchanged.
pub(crate) fn scp_preserve(ctx: &mut Ctx<'_>) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let (setup, server, _) = with_key(ctx, &srv(&["ForceCommand internal-sftp"]))?;
    let data = upload_file(&setup)?;
    let up = setup.peer("up.bin");
    in_peer(
        ctx,
        &format!("chmod 640 {up} && touch -m -d @1000000000 {up}"),
    )?;
    let remote = format!("{USER}@127.0.0.1:isftp-scp.bin");
    let mut args = transfer_opts(&setup, server.port());
    args.extend(["-p".into(), up, remote.clone()]);
    run_peer(ctx, "scp", &args)?;
    let mut args = transfer_opts(&setup, server.port());
    args.extend(["-p".into(), remote, setup.peer("down.bin")]);
    run_peer(ctx, "scp", &args)?;
    let got = fs::read(setup.host("down.bin")).context("reading down.bin")?;
    same_data("scp -p up then down", &data, &got)?;
    let meta = fs::metadata(setup.host("down.bin")).context("stat down.bin")?;
    if meta.mode() & 0o7777 != 0o640 || meta.mtime() != 1_000_000_000 {
        bail!(
            "scp -p did not keep mode 640 and mtime 1000000000: {:o} {}",
            meta.mode() & 0o7777,
            meta.mtime()
        );
    }
    Ok(())
}

/// OpenSSH's `scp -r -p` puts the tree of [`crate::sftp_tree`] (1 GiB,
/// an empty file, names with spaces and a line break, a symlink, which
/// scp follows) into the account's home, and `sftp`'s `get -r -p` brings
/// it back: contents, modes and mtimes equal.
pub(crate) fn tree(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, _) = with_key(ctx, &srv(&["ForceCommand internal-sftp"]))?;
    let name = crate::binary_sftp_client::fresh("isftp-tree");
    let (src, back) = (setup.host("src"), setup.host("back"));
    let r = (|| {
        crate::sftp_tree::make_tree(&src)?;
        let mut args = transfer_opts(&setup, server.port());
        args.extend([
            "-r".into(),
            "-p".into(),
            "-q".into(),
            setup.peer("src"),
            format!("{USER}@127.0.0.1:{name}"),
        ]);
        run_peer_for(ctx, "scp", &args, BIG_TIMEOUT)?;
        let out = sftp_batch(
            ctx,
            &setup,
            server.port(),
            &format!("get -r -p {name} {}\n", setup.peer("back")),
        )?;
        if !out.status.success() {
            bail!("sftp get -r -p failed: {}", tail(&out.stderr));
        }
        crate::sftp_tree::compare(&src, &back, true)
    })();
    let _ = fs::remove_dir_all(&src);
    let _ = fs::remove_dir_all(&back);
    let cleaned = in_peer(ctx, &format!("rm -rf /home/{USER}/{name}"));
    r.and(cleaned)
}

/// `-d` start directory, `-u` umask and `-P` deny list: sftp starts in
/// the directory, an uploaded file's mode loses the umask's bits, and
/// `rm` is refused with the file left in place.
pub(crate) fn options(ctx: &mut Ctx<'_>) -> Result<()> {
    let dir = "/srv/isftp-start";
    let (setup, server, _) = with_key(
        ctx,
        &srv(&[&format!(
            "ForceCommand internal-sftp -d {dir} -u 077 -P remove"
        )]),
    )?;
    in_peer(
        ctx,
        &format!("rm -rf {dir}; mkdir -p {dir} && chown {USER} {dir}"),
    )?;
    let r = start_umask_deny(ctx, &setup, server.port(), dir, dir);
    let cleanup = in_peer(ctx, &format!("rm -rf {dir}"));
    r.and(cleanup)
}

/// What `internal-sftp -d DIR -u 077 -P remove` does: sftp starts in
/// `seen` (DIR as the client sees it), a put of a 644 file is 600 in
/// `peer_dir` (the same directory as the peer's root sees it), and `rm` is
/// refused with the file left in place.
fn start_umask_deny(
    ctx: &mut Ctx<'_>,
    setup: &Setup,
    port: u16,
    seen: &str,
    peer_dir: &str,
) -> Result<()> {
    let small = setup.host("small");
    fs::write(&small, b"small\n").context("writing small")?;
    set_mode(&small, 0o644)?;
    let batch = format!("pwd\nput {} f1\n-rm f1\n", setup.peer("small"));
    let out = sftp_batch(ctx, setup, port, &batch)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("sftp failed: {}", tail(&out.stderr));
    }
    if !stdout.contains(&format!("Remote working directory: {seen}")) {
        bail!("-d: sftp did not start in {seen}: {stdout:?}");
    }
    if !stderr.contains("Permission denied") {
        bail!("-P remove: rm was not refused: {stderr:?}");
    }
    in_peer(
        ctx,
        &format!("test -f {peer_dir}/f1 && test \"$(stat -c %a {peer_dir}/f1)\" = 600"),
    )
    .map_err(|e| format!("f1 is gone, or its mode is not 644 less the umask 077: {e}").into())
}

/// `-p` allow list without `write`: a get works, a put is refused.
pub(crate) fn allow_list(ctx: &mut Ctx<'_>) -> Result<()> {
    let allowed = "open,close,read,stat,lstat,fstat,opendir,readdir,realpath,limits";
    let (setup, server, _) = with_key(
        ctx,
        &srv(&[&format!("ForceCommand internal-sftp -p {allowed}")]),
    )?;
    let file = format!("/home/{USER}/isftp-allowed");
    in_peer(
        ctx,
        &format!("echo allowed > {file} && chown {USER} {file}"),
    )?;
    let r = (|| {
        let batch = format!("get isftp-allowed {}\n", setup.peer("got"));
        let out = sftp_batch(ctx, &setup, server.port(), &batch)?;
        if !out.status.success() {
            bail!("a get under -p failed: {}", tail(&out.stderr));
        }
        let got = fs::read(setup.host("got")).context("reading got")?;
        same_data("the file got under -p", b"allowed\n", &got)?;
        fs::write(setup.host("small"), b"small\n").context("writing small")?;
        let batch = format!("put {} isftp-denied\n", setup.peer("small"));
        let out = sftp_batch(ctx, &setup, server.port(), &batch)?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() || !stderr.contains("Permission denied") {
            bail!("a put without write in -p was not refused: {stderr:?}");
        }
        Ok(())
    })();
    let cleanup = in_peer(ctx, &format!("rm -f {file} /home/{USER}/isftp-denied"));
    r.and(cleanup)
}

/// `-l INFO`: the session and each change to the files in the system log,
/// in sftp-server's words (the server runs as a daemon, without `-e`).
pub(crate) fn log_row(ctx: &mut Ctx<'_>) -> Result<()> {
    let setup = Setup::new(ctx, true)?;
    let line = setup.keygen("id", "ed25519", "")?;
    setup.account(ctx, &line)?;
    let sink = crate::binary_admin::SyslogSink::bind(&setup)?;
    let log = sink.collect()?;
    // The log is read as it comes (a daemon blocks in syslog() on a full
    // socket); LogLevel INFO keeps it short.
    let srv = srv(&[
        "LogLevel INFO",
        "PidFile none",
        "ForceCommand internal-sftp -l INFO",
    ]);
    let program = crate::binary_admin::without_dash_e(&setup)?;
    let server = setup.start_program(ctx, &srv, &program)?;
    fs::write(setup.host("small"), b"small\n").context("writing small")?;
    set_mode(&setup.host("small"), 0o644)?;
    let home = format!("/home/{USER}");
    let batch = format!(
        "put {} {home}/isftp-log\nrename {home}/isftp-log {home}/isftp-log2\nrm {home}/isftp-log2\n",
        setup.peer("small")
    );
    let out = sftp_batch(ctx, &setup, server.port(), &batch)?;
    if !out.status.success() {
        bail!("sftp failed: {}", tail(&out.stderr));
    }
    let wanted = [
        format!("session opened for local user {USER} from [127.0.0.1]"),
        format!("open \"{home}/isftp-log\" flags WRITE,CREATE,TRUNCATE mode 0644"),
        format!("close \"{home}/isftp-log\" bytes read 0 written 6"),
        format!("rename old \"{home}/isftp-log\" new \"{home}/isftp-log2\""),
        format!("remove name \"{home}/isftp-log2\""),
    ];
    log.wait_for(&wanted, Duration::from_secs(10))
        .map_err(|e| format!("the system log: {e}").into())
}

/// A row's function.
type RowFn = fn(&mut Ctx<'_>) -> Result<()>;

/// The rows, named without their `ssh>rsshd:` prefix.
pub(crate) const ROWS: &[(&str, &str, RowFn)] = &[
    (
        "isftp-put-get",
        "Subsystem sftp internal-sftp: sftp put and get of 5 MiB and an empty file, equal",
        put_get,
    ),
    (
        "isftp-tree",
        "ForceCommand internal-sftp: scp -r -p up and sftp get -r -p back of a tree (1 GiB, empty file, spaces, a line break, symlink): SHA-256, modes, mtimes",
        tree,
    ),
    (
        "isftp-scp-p",
        "ForceCommand internal-sftp: scp -p up and down of 5 MiB, equal, mode and mtime kept",
        scp_preserve,
    ),
    (
        "isftp-readonly",
        "ForceCommand internal-sftp -R: a put is refused, ls works",
        read_only,
    ),
    (
        "isftp-exec-refused",
        "ForceCommand internal-sftp and a command (not the sftp subsystem): refused with sshd's words and exit 1, nothing run; sftp works",
        exec_refused,
    ),
    (
        "isftp-options",
        "ForceCommand internal-sftp -d DIR -u 077 -P remove: sftp starts in DIR, a put's mode 644 becomes 600, rm is refused",
        options,
    ),
    (
        "isftp-allowlist",
        "ForceCommand internal-sftp -p (no write): a get works, a put is refused",
        allow_list,
    ),
    (
        "isftp-log",
        "ForceCommand internal-sftp -l INFO, the server a daemon (no -e): session, open, close with bytes written, rename, remove in the system log",
        log_row,
    ),
    (
        "isftp-chroot",
        "ChrootDirectory (root-owned) + internal-sftp: the user starts in the home and sees only the chroot",
        chroot,
    ),
    (
        "isftp-chroot-options",
        "ChrootDirectory + internal-sftp -d /up -u 077 -P remove: starts in the chroot's /up, a put's mode 644 becomes 600, rm is refused",
        chroot_options,
    ),
    (
        "isftp-chroot-bad",
        "ChrootDirectory under world-writable /tmp: the session is refused",
        chroot_bad,
    ),
];
