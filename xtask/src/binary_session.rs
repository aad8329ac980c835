//! The binaries' session rows: exec and its data (100 MiB each way,
//! stderr, exit codes), terminals, compression, re-keys, ten sessions on
//! one connection, sftp and scp.

use std::fs;
use std::process::Output;
use std::time::{Duration, Instant};

use crate::bail;
use crate::binaries;
use crate::binary_setup::*;
use crate::interop::Ctx;
use crate::peer::{self, HostKeyType};
use crate::util::{self, Context, Result};

pub(crate) fn exec_cat(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, mut call) = with_key(ctx, &Srv::default())?;
    call.remote = "cat".into();
    call.stdin = big_data().to_vec();
    call.timeout = BIG_TIMEOUT;
    let start = Instant::now();
    let out = setup.run_ok(ctx, server.port(), &call)?;
    same_data("cat", big_data(), &out.stdout)?;
    println!(
        "  {}: 100 MiB echoed in {}",
        ctx.backend.name(),
        util::secs(start.elapsed())
    );
    Ok(())
}

pub(crate) fn exec_zeros(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, mut call) = with_key(ctx, &Srv::default())?;
    call.remote = format!("head -c {BIG} /dev/zero");
    call.timeout = BIG_TIMEOUT;
    let out = setup.run_ok(ctx, server.port(), &call)?;
    same_data("head -c /dev/zero", &vec![0u8; BIG], &out.stdout)
}

pub(crate) fn exec_stderr(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, mut call) = with_key(ctx, &Srv::default())?;
    call.remote = "printf out1; printf err1 >&2; printf out2; printf err2 >&2".into();
    let out = setup.run_ok(ctx, server.port(), &call)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.stdout != b"out1out2" {
        bail!(
            "stdout {:?}, expected \"out1out2\"",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    if !stderr.contains("err1err2") {
        bail!("stderr {stderr:?} lacks \"err1err2\"");
    }
    Ok(())
}

pub(crate) fn exit_code(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, mut call) = with_key(ctx, &Srv::default())?;
    call.remote = "exit 42".into();
    let out = setup.run(ctx, server.port(), &call)?;
    if out.status.code() != Some(42) {
        bail!("exit status {}, expected 42", out.status);
    }
    Ok(())
}

pub(crate) fn exit_signal(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, mut call) = with_key(ctx, &Srv::default())?;
    call.remote = "kill -TERM $$".into();
    let out = setup.run(ctx, server.port(), &call)?;
    if out.status.code() != Some(255) {
        bail!("exit status {}, expected 255 (as ssh)", out.status);
    }
    Ok(())
}

/// Runs the client with `-tt` under a 33x101 terminal; returns what the
/// terminal showed.
pub(crate) fn in_pty(
    ctx: &mut Ctx<'_>,
    remote: &str,
    resize: Option<(&str, u16, u16)>,
) -> Result<String> {
    let (setup, server, mut call) = with_key(ctx, &Srv::default())?;
    call.remote = remote.into();
    call.opts.insert(0, "-tt".into());
    call.env.push(("TERM".into(), "xterm".into()));
    let cmd = setup.command(ctx, server.port(), &call);
    let label = client_label(&cmd);
    let out = binaries::run_in_pty(&cmd, (33, 101), resize, TIMEOUT)?;
    let text = String::from_utf8_lossy(&out.terminal).into_owned();
    let mut log = out.stderr.clone();
    log.extend_from_slice(b"\n--- its terminal:\n");
    log.extend_from_slice(&out.terminal);
    ctx.record(format!("{label} (exit {})", out.status), &log);
    if !out.status.success() {
        bail!("the client exited with {}; terminal: {text:?}", out.status);
    }
    Ok(text)
}

pub(crate) fn pty(ctx: &mut Ctx<'_>) -> Result<()> {
    let text = in_pty(ctx, "stty size; tty", None)?;
    if !text.contains("33 101") {
        bail!("the remote terminal is not 33x101: {text:?}");
    }
    if !text.contains("/dev/pts/") {
        bail!("`tty` did not name a pty: {text:?}");
    }
    Ok(())
}

pub(crate) fn pty_resize(ctx: &mut Ctx<'_>) -> Result<()> {
    let remote = "stty size; echo READY; i=0; \
                  while [ \"$(stty size)\" = '33 101' ] && [ $i -lt 300 ]; do sleep 0.05; i=$((i+1)); done; \
                  echo \"now $(stty size)\"";
    let text = in_pty(ctx, remote, Some(("READY", 50, 120)))?;
    if !text.contains("33 101") {
        bail!("the remote terminal did not start 33x101: {text:?}");
    }
    if !text.contains("now 50 120") {
        bail!("the remote terminal did not become 50x120: {text:?}");
    }
    Ok(())
}

pub(crate) fn compression(ctx: &mut Ctx<'_>) -> Result<()> {
    let way = Way::from_param(ctx.param);
    let srv = Srv {
        extra: vec!["Compression yes".into()],
        ..Srv::default()
    };
    let (setup, server, mut call) = with_key(ctx, &srv)?;
    let data = text_data(20 * 1024 * 1024);
    call.opts.insert(0, "-C".into());
    if way == Way::Rsshd {
        call.opts.insert(0, "-v".into());
    }
    call.remote = "cat".into();
    call.stdin = data.clone();
    call.timeout = BIG_TIMEOUT;
    let out = setup.run_ok(ctx, server.port(), &call)?;
    same_data("cat", &data, &out.stdout)?;
    let (whose, log) = match way {
        Way::Rssh => ("sshd's", server.log()),
        Way::Rsshd => ("ssh's", String::from_utf8_lossy(&out.stderr).into_owned()),
    };
    if !log.contains("compression: zlib@openssh.com") {
        bail!("{whose} log does not show zlib@openssh.com negotiated");
    }
    Ok(())
}

pub(crate) fn rekey(ctx: &mut Ctx<'_>) -> Result<()> {
    let way = Way::from_param(ctx.param);
    let mut srv = Srv::default();
    if way == Way::Rsshd {
        // The server's own limit: rsshd starts the re-keys.
        srv.extra.push("RekeyLimit 1M".into());
    }
    let (setup, server, mut call) = with_key(ctx, &srv)?;
    // -v: the client's log shows the key exchanges if this fails.
    call.opts.insert(0, "-v".into());
    if way == Way::Rssh {
        call.opts.extend(["-o".into(), "RekeyLimit=1M".into()]);
    }
    call.remote = format!("head -c {BIG} /dev/zero");
    call.timeout = BIG_TIMEOUT;
    let out = setup.run_ok(ctx, server.port(), &call)?;
    same_data("head -c /dev/zero", &vec![0u8; BIG], &out.stdout)?;
    let (whose, log) = match way {
        Way::Rssh => ("sshd", server.log()),
        Way::Rsshd => ("ssh", String::from_utf8_lossy(&out.stderr).into_owned()),
    };
    let newkeys = log.matches("SSH2_MSG_NEWKEYS received").count();
    println!(
        "  {}: {whose} logged {newkeys} NEWKEYS received during 100 MiB",
        ctx.backend.name()
    );
    // The first key exchange, then one each time 1 MiB has gone one way.
    // The peer keeps sending until it sees KEXINIT (up to a channel window,
    // 2 MiB for OpenSSH, in flight), so a cycle spans 1 to about 3 MiB:
    // OpenSSH's ssh against sshd logs about 60 for 100 MiB, never 100.
    if newkeys <= 30 {
        bail!("{whose} logged {newkeys} NEWKEYS received, expected more than 30 (one per 1-3 MiB)");
    }
    Ok(())
}

// Ten sessions on one connection.

/// The library's client against sshd: 10 `exec`s at once, each echoing
/// its own 64 KiB after a 2 s sleep (at once: about 2 s; in turn: 20 s).
pub(crate) fn sessions_lib(ctx: &mut Ctx<'_>) -> Result<()> {
    use ssh_async::{Client, ClientOptions, SimpleHandler};
    let setup = Setup::new(ctx, false)?;
    let srv = Srv {
        host_keys: vec![HostKeyType::Ed25519],
        password: true,
        ..Srv::default()
    };
    let server = setup.start(ctx, &srv)?;
    let (host_key, _) =
        ssh_async::ssh_keys::PublicKey::from_openssh(&setup.host_key(HostKeyType::Ed25519)?)
            .map_err(|e| format!("parsing the host key: {e}"))?;
    let addr = server.addr();
    let inputs: Vec<Vec<u8>> = (0..10u8)
        .map(|i| {
            let mut v = big_data().get(..64 * 1024).unwrap_or_default().to_vec();
            v.iter_mut().for_each(|b| *b ^= i);
            v
        })
        .collect();
    let start = Instant::now();
    let work = async {
        let tcp = ssh_async::runtime::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connecting: {e}"))?;
        let mut handler = SimpleHandler {
            host_key_check: Box::new(move |k| *k == host_key),
            keys: Vec::new(),
            password: Some(PASSWORD.into()),
        };
        let options = ClientOptions::new(USER, handler.methods());
        let client = Client::connect(tcp, options, &mut handler)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let runs = inputs
            .iter()
            .map(|input| client.exec_with_stdin("sleep 2; cat", input));
        let outs = futures::future::join_all(runs).await;
        let _ = client.disconnect().await;
        Ok::<_, String>(outs)
    };
    let outs = match ssh_async::runtime::block_on(ssh_async::runtime::timeout(TIMEOUT, work)) {
        Some(r) => r?,
        None => bail!("timed out"),
    };
    let took = start.elapsed();
    for (i, (out, input)) in outs.into_iter().zip(&inputs).enumerate() {
        let out = out.map_err(|e| format!("session {i}: {e}"))?;
        if out.exit_status != Some(0) {
            bail!(
                "session {i}: exit {:?}, stderr {:?}",
                out.exit_status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        same_data(&format!("session {i}"), input, &out.stdout)?;
    }
    let log = server.log();
    let logins = log.matches("Accepted password for xbin").count();
    if logins != 1 {
        bail!("sshd logged {logins} logins, expected 1 connection");
    }
    // Ten 2 s sleeps: in parallel they take far less than 20 s.
    if took > Duration::from_secs(10) {
        bail!("10 sessions took {} s: not concurrent", took.as_secs());
    }
    Ok(())
}

/// `ssh -M -S ctl` and 10 `ssh -S ctl` at once, in one shell inside the
/// peer.
pub(crate) fn sessions_mux(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, call) = with_key(ctx, &Srv::default())?;
    let port = server.port();
    let common = format!(
        "-F /dev/null -p {port} -o UserKnownHostsFile={} -o StrictHostKeyChecking=yes -o BatchMode=yes {}",
        setup.peer("known_hosts"),
        call.opts.join(" ")
    );
    let ctl = setup.peer("ctl");
    let d = &setup.peer_dir;
    let script = format!(
        "ssh {common} -M -S {ctl} -N {USER}@127.0.0.1 2>{d}/master.err & m=$!; \
         i=0; while ! ssh -S {ctl} -O check {USER}@127.0.0.1 2>/dev/null; do \
           i=$((i+1)); [ $i -gt 200 ] && {{ echo no master >&2; exit 1; }}; sleep 0.05; done; \
         start=$(date +%s); pids=''; \
         for n in 1 2 3 4 5 6 7 8 9 10; do \
           ssh {common} -S {ctl} {USER}@127.0.0.1 \"sleep 1; echo session-$n\" >{d}/out.$n 2>{d}/err.$n & pids=\"$pids $!\"; \
         done; \
         rc=0; for p in $pids; do wait $p || rc=1; done; \
         echo elapsed $(( $(date +%s) - start )); \
         ssh -S {ctl} -O exit {USER}@127.0.0.1 2>/dev/null; wait $m; exit $rc"
    );
    let out = peer::run_with_timeout(ctx.backend.command("sh", &["-c", &script]), b"", TIMEOUT)?;
    let mut log = out.stderr.clone();
    for n in 1..=10 {
        if let Ok(err) = fs::read(setup.host(&format!("err.{n}"))) {
            log.extend_from_slice(format!("--- session {n} stderr:\n").as_bytes());
            log.extend_from_slice(&err);
        }
    }
    if let Ok(err) = fs::read(setup.host("master.err")) {
        log.extend_from_slice(b"--- master stderr:\n");
        log.extend_from_slice(&err);
    }
    ctx.record(
        format!("sh -c (ControlMaster and 10 clients), exit {}", out.status),
        &log,
    );
    if !out.status.success() {
        bail!("a session failed: {}", tail(&log));
    }
    for n in 1..=10 {
        let got = fs::read_to_string(setup.host(&format!("out.{n}"))).unwrap_or_default();
        if got != format!("session-{n}\n") {
            bail!("session {n} printed {got:?}");
        }
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let elapsed: u64 = stdout
        .trim()
        .strip_prefix("elapsed ")
        .and_then(|s| s.parse().ok())
        .unwrap_or(u64::MAX);
    if elapsed > 8 {
        bail!("10 one-second sessions took {elapsed} s: not concurrent");
    }
    let logins = server.log().matches("Accepted publickey for xbin").count();
    if logins != 1 {
        bail!("the server logged {logins} logins, expected 1 (one connection)");
    }
    Ok(())
}

// sftp and scp (ssh>rsshd only).

/// 5 MiB to upload, in the case directory as `up.bin`.
pub(crate) fn upload_file(setup: &Setup) -> Result<Vec<u8>> {
    let data = big_data()
        .get(..5 * 1024 * 1024)
        .unwrap_or_default()
        .to_vec();
    fs::write(setup.host("up.bin"), &data).context("writing up.bin")?;
    Ok(data)
}

pub(crate) fn transfer_opts(setup: &Setup, port: u16) -> Vec<String> {
    [
        "-F",
        "/dev/null",
        "-P",
        &port.to_string(),
        "-o",
        &format!("UserKnownHostsFile={}", setup.peer("known_hosts")),
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        "-i",
        &setup.peer("id"),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

pub(crate) fn run_peer(ctx: &mut Ctx<'_>, program: &str, args: &[String]) -> Result<Output> {
    run_peer_for(ctx, program, args, TIMEOUT)
}

/// [`run_peer`] with its own time limit.
pub(crate) fn run_peer_for(
    ctx: &mut Ctx<'_>,
    program: &str,
    args: &[String],
    limit: std::time::Duration,
) -> Result<Output> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let cmd = ctx.backend.command(program, &args);
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

pub(crate) fn sftp(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, _) = with_key(ctx, &Srv::default())?;
    let data = upload_file(&setup)?;
    let batch = format!(
        "put {up} /home/{USER}/sftp.bin\nls -l /home/{USER}/sftp.bin\nget /home/{USER}/sftp.bin {down}\nrm /home/{USER}/sftp.bin\n",
        up = setup.peer("up.bin"),
        down = setup.peer("down.bin"),
    );
    fs::write(setup.host("batch"), batch).context("writing the batch file")?;
    let mut args = transfer_opts(&setup, server.port());
    args.extend([
        "-b".into(),
        setup.peer("batch"),
        format!("{USER}@127.0.0.1"),
    ]);
    let out = run_peer(ctx, "sftp", &args)?;
    let listing = String::from_utf8_lossy(&out.stdout);
    if !listing.contains(&data.len().to_string()) {
        bail!("`ls -l` does not show {} bytes: {listing:?}", data.len());
    }
    let down = fs::read(setup.host("down.bin")).context("reading down.bin")?;
    same_data("sftp put then get", &data, &down)
}

pub(crate) fn scp(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, _) = with_key(ctx, &Srv::default())?;
    let data = upload_file(&setup)?;
    let remote = format!("{USER}@127.0.0.1:/home/{USER}/scp.bin");
    let mut up = transfer_opts(&setup, server.port());
    up.extend([setup.peer("up.bin"), remote.clone()]);
    run_peer(ctx, "scp", &up)?;
    let mut down = transfer_opts(&setup, server.port());
    down.extend([remote, setup.peer("down.bin")]);
    run_peer(ctx, "scp", &down)?;
    let got = fs::read(setup.host("down.bin")).context("reading down.bin")?;
    same_data("scp up then down", &data, &got)
}
