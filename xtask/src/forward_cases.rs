//! Forwarding rows, each in both directions (`rssh>sshd:fwd-*` with our
//! client here against OpenSSH's `sshd` in the peer, `ssh>rsshd:fwd-*` with
//! the peer's `ssh` against our `rsshd`, both in the peer):
//!
//! - this file: `-L`, `-R` (fixed port, port 0), Unix sockets both ways,
//!   `-D` (SOCKS5 and SOCKS4a through `curl`), `-W`, 50 connections at once;
//! - [`crate::forward_hops_refusals`]: `-J` chains, agent forwarding, refusals;
//! - [`crate::forward_x11`]: X11 with `Xvfb`;
//! - [`crate::forward_unlink_permit`]: `StreamLocalBindUnlink` and
//!   `PermitRemoteOpen`.
//!
//! Data rows move 64 MiB through the forward to an echo server run here
//! (the far end) and compare what comes back by SHA-256. The client runs in
//! the background with a remote command that waits for the row's `go`
//! file, so every row also checks that the session ends by itself with its
//! output ("session-ok") and exit status 0.

use std::process::Command;
use std::thread;

use crate::bail;
use crate::binary_setup::{
    BIG_TIMEOUT, Call, Setup, Srv, TIMEOUT, UID, big_data, client_label, detail, with_key,
};
use crate::forward_util::{self as fu, Addr, Bg};
use crate::interop::{Case, Ctx};
use crate::peer::RunningSshd;
use crate::util::{self, Context, Result};

/// The function of a case.
type CaseFn = fn(&mut Ctx<'_>) -> Result<()>;

/// 64 MiB: what each data row moves through its forward (and back).
const DATA: usize = 64 * 1024 * 1024;

/// Rows in both directions: (name, about, function, detail).
const ROWS: &[(&str, &str, CaseFn, &str)] = &[
    (
        "fwd-L-tcp",
        "-L port:127.0.0.1:echo: 64 MiB echoed through the forward, SHA-256 equal",
        local_tcp,
        "",
    ),
    (
        "fwd-L-to-unix",
        "-L port:/remote/socket: 64 MiB echoed by a Unix socket on the server's side",
        local_to_unix,
        "",
    ),
    (
        "fwd-L-from-unix",
        "-L /local/socket:127.0.0.1:echo: 64 MiB through a Unix socket the client listens on",
        local_from_unix,
        "",
    ),
    (
        "fwd-R-tcp",
        "-R port:127.0.0.1:echo (fixed port): 64 MiB through the server's listener",
        remote_tcp,
        "",
    ),
    (
        "fwd-R-0",
        "-R 0:127.0.0.1:echo: the client prints \"Allocated port N\"; 64 MiB through port N",
        remote_port_zero,
        "",
    ),
    (
        "fwd-R-to-unix",
        "-R port:/local/socket: 64 MiB from the server's port to a Unix socket on the client's side",
        remote_to_unix,
        "",
    ),
    (
        "fwd-R-from-unix",
        "-R /remote/socket:127.0.0.1:echo (streamlocal-forward): 64 MiB through the server's Unix socket",
        remote_from_unix,
        "",
    ),
    (
        "fwd-D-socks5",
        "-D port: curl --socks5-hostname fetches 1 MiB from a loopback HTTP server (name resolved by the server)",
        dynamic,
        "-D socks5-hostname",
    ),
    (
        "fwd-D-socks4a",
        "-D port: curl --socks4a fetches 1 MiB from a loopback HTTP server",
        dynamic,
        "-D socks4a",
    ),
    (
        "fwd-R-socks5",
        "-R port (remote dynamic, SOCKS on the client's side): curl --socks5-hostname to the server's port fetches 1 MiB",
        dynamic,
        "-R socks5-hostname",
    ),
    (
        "fwd-W",
        "-W 127.0.0.1:echo: 64 MiB on stdin come back on stdout",
        stdio_forward,
        "",
    ),
    (
        "fwd-L-50-conns",
        "-L: 50 connections open at once on one SSH connection, 256 KiB each echoed and checked",
        local_many,
        "",
    ),
];

/// Every forwarding row, both directions, in table order.
pub fn cases() -> Vec<Case> {
    let mut rows: Vec<(&'static str, &'static str, CaseFn, &'static str)> = ROWS.to_vec();
    rows.extend(crate::forward_hops_refusals::ROWS.iter().copied());
    rows.extend(crate::forward_x11::ROWS.iter().copied());
    rows.extend(crate::forward_unlink_permit::ROWS.iter().copied());
    let mut out = Vec::new();
    for (prefix, way) in [("rssh>sshd", "a"), ("ssh>rsshd", "b")] {
        for (name, about, run, detail) in &rows {
            out.push(Case {
                name: Box::leak(format!("{prefix}:{name}").into_boxed_str()),
                about,
                run: *run,
                param: Box::leak(format!("{way}:{detail}").into_boxed_str()),
            });
        }
    }
    out
}

/// The first `n` bytes of the shared pseudo-random data.
pub(crate) fn data(n: usize) -> &'static [u8] {
    big_data().get(..n).unwrap_or_default()
}

/// A row's server with `srv` and a key for the client, a directory `u`
/// in the case directory that the account owns (for sockets the server
/// creates as the user), and `localhost` in the peer's `/etc/hosts`
/// (minimal images have none; SOCKS names and X11's `localhost:10` need
/// it).
pub(crate) fn prepare(ctx: &mut Ctx<'_>, srv: &Srv) -> Result<(Setup, RunningSshd, Call)> {
    let (setup, server, call) = with_key(ctx, srv)?;
    let u = setup.peer("u");
    let script = format!(
        "set -e; [ -s /etc/hosts ] || echo '127.0.0.1 localhost' > /etc/hosts; \
         mkdir -p {u}; chown {UID}:{UID} {u}"
    );
    util::checked_output(&mut ctx.backend.command("sh", &["-c", &script]))?;
    Ok((setup, server, call))
}

/// Starts the client in the background with `call`.
pub(crate) fn start(setup: &Setup, ctx: &Ctx<'_>, port: u16, call: &Call) -> Result<Bg> {
    let cmd = setup.command(ctx, port, call);
    let label = client_label(&cmd);
    Bg::spawn(cmd, label)
}

/// Lets the session end ([`fu::go`]) and requires exit 0 and its output.
pub(crate) fn end_session(setup: &Setup, ctx: &mut Ctx<'_>, bg: Bg) -> Result<()> {
    fu::go(setup)?;
    let out = bg.finish(ctx, TIMEOUT)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "the client exited with {} after the forward's traffic; its stderr:\n{}",
            out.status,
            crate::binary_setup::tail(&out.stderr)
        );
    }
    if !stdout.contains("session-ok") {
        bail!("the session's output did not arrive: stdout {stdout:?}");
    }
    Ok(())
}

/// Runs the client with `forward` (options) and a waiting remote command,
/// connects to `entry` once it accepts, echoes 64 MiB through it, then
/// lets the session end.
pub(crate) fn through(
    ctx: &mut Ctx<'_>,
    setup: &Setup,
    server: &RunningSshd,
    mut call: Call,
    forward: &[String],
    entry: Addr,
) -> Result<()> {
    call.opts.extend(forward.iter().cloned());
    call.remote = fu::wait_for_go(setup);
    let mut bg = start(setup, ctx, server.port(), &call)?;
    let conn = bg.connect_when_ready(&entry)?;
    let started = std::time::Instant::now();
    bg.explain(fu::echo_through(
        "64 MiB through the forward",
        conn,
        data(DATA),
    ))?;
    println!(
        "  {}: 64 MiB each way in {}",
        ctx.backend.name(),
        util::secs(started.elapsed())
    );
    end_session(setup, ctx, bg)
}

fn local_tcp(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, call) = prepare(ctx, &Srv::default())?;
    let echo = fu::echo_tcp()?;
    let Addr::Tcp(eport) = echo.addr else {
        bail!("not TCP")
    };
    let lport = fu::free_port()?;
    let fwd = ["-L".into(), format!("{lport}:127.0.0.1:{eport}")];
    through(ctx, &setup, &server, call, &fwd, Addr::Tcp(lport))
}

fn local_to_unix(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, call) = prepare(ctx, &Srv::default())?;
    let _echo = fu::echo_unix(&setup.host("t.sock"))?;
    let lport = fu::free_port()?;
    let fwd = ["-L".into(), format!("{lport}:{}", setup.peer("t.sock"))];
    through(ctx, &setup, &server, call, &fwd, Addr::Tcp(lport))
}

fn local_from_unix(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, call) = prepare(ctx, &Srv::default())?;
    let echo = fu::echo_tcp()?;
    let Addr::Tcp(eport) = echo.addr else {
        bail!("not TCP")
    };
    let fwd = [
        "-L".into(),
        format!("{}:127.0.0.1:{eport}", setup.client("l.sock")),
    ];
    let entry = Addr::Unix(setup.host("l.sock"));
    through(ctx, &setup, &server, call, &fwd, entry)
}

fn remote_tcp(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, call) = prepare(ctx, &Srv::default())?;
    let echo = fu::echo_tcp()?;
    let Addr::Tcp(eport) = echo.addr else {
        bail!("not TCP")
    };
    let rport = fu::free_port()?;
    let fwd = ["-R".into(), format!("{rport}:127.0.0.1:{eport}")];
    through(ctx, &setup, &server, call, &fwd, Addr::Tcp(rport))
}

/// The port in "Allocated port N for remote forward to ...".
pub(crate) fn allocated_port(line: &str) -> Option<u16> {
    let rest = line.split("Allocated port ").nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

fn remote_port_zero(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, mut call) = prepare(ctx, &Srv::default())?;
    let echo = fu::echo_tcp()?;
    let Addr::Tcp(eport) = echo.addr else {
        bail!("not TCP")
    };
    call.opts
        .extend(["-R".into(), format!("0:127.0.0.1:{eport}")]);
    call.remote = fu::wait_for_go(&setup);
    let mut bg = start(&setup, ctx, server.port(), &call)?;
    let line = bg.wait_stderr_line("Allocated port ")?;
    let Some(port) = allocated_port(&line) else {
        bail!("no port number in {line:?}");
    };
    if port == 0 {
        bail!("the client printed port 0: {line:?}");
    }
    let conn = bg.connect_when_ready(&Addr::Tcp(port))?;
    bg.explain(fu::echo_through(
        "64 MiB through the allocated port",
        conn,
        data(DATA),
    ))?;
    end_session(&setup, ctx, bg)
}

fn remote_to_unix(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, call) = prepare(ctx, &Srv::default())?;
    let _echo = fu::echo_unix(&setup.host("t.sock"))?;
    let rport = fu::free_port()?;
    let fwd = ["-R".into(), format!("{rport}:{}", setup.client("t.sock"))];
    through(ctx, &setup, &server, call, &fwd, Addr::Tcp(rport))
}

fn remote_from_unix(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, call) = prepare(ctx, &Srv::default())?;
    let echo = fu::echo_tcp()?;
    let Addr::Tcp(eport) = echo.addr else {
        bail!("not TCP")
    };
    // Created by the server as the account: in its own directory.
    let fwd = [
        "-R".into(),
        format!("{}:127.0.0.1:{eport}", setup.peer("u/r.sock")),
    ];
    let entry = Addr::Unix(setup.host("u/r.sock"));
    through(ctx, &setup, &server, call, &fwd, entry)
}

fn dynamic(ctx: &mut Ctx<'_>) -> Result<()> {
    let (option, socks) = detail(ctx).split_once(' ').unwrap_or(("-D", "socks5"));
    let (setup, server, mut call) = prepare(ctx, &Srv::default())?;
    let http = fu::http_tcp()?;
    let Addr::Tcp(hport) = http.addr else {
        bail!("not TCP")
    };
    let dport = fu::free_port()?;
    call.opts.extend([option.into(), dport.to_string()]);
    call.remote = fu::wait_for_go(&setup);
    let mut bg = start(&setup, ctx, server.port(), &call)?;
    // Up when it accepts (this probe closes without a SOCKS request).
    drop(bg.connect_when_ready(&Addr::Tcp(dport))?);
    let file = setup.host("fetched");
    let mut curl = Command::new("curl");
    curl.args(["-sS", "--max-time", "60", &format!("--{socks}")])
        .arg(format!("127.0.0.1:{dport}"))
        .arg(format!("http://localhost:{hport}/data"))
        .arg("-o")
        .arg(&file);
    let what = util::describe(&curl);
    let out = curl
        .output()
        .context(format_args!("cannot run {what} (apt-get install curl)"))?;
    ctx.record(format!("{what} (exit {})", out.status), &out.stderr);
    if !out.status.success() {
        bail!(
            "curl through the SOCKS forward failed ({}): {}; the client's stderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            crate::binary_setup::tail(bg.stderr().as_bytes())
        );
    }
    let got = std::fs::read(&file).context("reading what curl fetched")?;
    crate::binary_setup::same_data("curl through -D", fu::http_body(), &got)?;
    end_session(&setup, ctx, bg)
}

fn stdio_forward(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, mut call) = prepare(ctx, &Srv::default())?;
    let echo = fu::echo_tcp()?;
    let Addr::Tcp(eport) = echo.addr else {
        bail!("not TCP")
    };
    call.opts
        .extend(["-W".into(), format!("127.0.0.1:{eport}")]);
    call.stdin = data(DATA).to_vec();
    call.timeout = BIG_TIMEOUT;
    let out = setup.run_ok(ctx, server.port(), &call)?;
    crate::binary_setup::same_data("-W echo", data(DATA), &out.stdout)
}

fn local_many(ctx: &mut Ctx<'_>) -> Result<()> {
    const N: usize = 50;
    const EACH: usize = 256 * 1024;
    let (setup, server, mut call) = prepare(ctx, &Srv::default())?;
    let echo = fu::echo_tcp()?;
    let Addr::Tcp(eport) = echo.addr else {
        bail!("not TCP")
    };
    let lport = fu::free_port()?;
    call.opts
        .extend(["-L".into(), format!("{lport}:127.0.0.1:{eport}")]);
    call.remote = fu::wait_for_go(&setup);
    let mut bg = start(&setup, ctx, server.port(), &call)?;
    let entry = Addr::Tcp(lport);
    let mut conns = vec![bg.connect_when_ready(&entry)?];
    while conns.len() < N {
        let conn = entry
            .connect()
            .context(format_args!("connection {} to the forward", conns.len()));
        conns.push(bg.explain(conn)?);
    }
    // All 50 are open; now each moves its own data at once.
    let workers: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(i, conn)| {
            let chunk = big_data().get(i * EACH..(i + 1) * EACH).unwrap_or_default();
            thread::spawn(move || fu::echo_through(&format!("connection {i}"), conn, chunk))
        })
        .collect();
    let mut failures = Vec::new();
    for w in workers {
        match w.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(e.0),
            Err(_) => failures.push("a worker panicked".into()),
        }
    }
    if !failures.is_empty() {
        return bg.explain(Err(crate::util::Error(format!(
            "{} of {N} connections failed: {}",
            failures.len(),
            failures.join("; ")
        ))));
    }
    end_session(&setup, ctx, bg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binary_setup::Way;

    #[test]
    fn rows_in_both_directions_with_unique_names() {
        let cases = cases();
        let n = ROWS.len()
            + crate::forward_hops_refusals::ROWS.len()
            + crate::forward_x11::ROWS.len()
            + crate::forward_unlink_permit::ROWS.len();
        assert_eq!(cases.len(), 2 * n);
        assert!(cases.iter().all(|c| c.name.contains(":fwd-")
            || c.name.contains(":jump-")
            || c.name.contains(":agent-fwd")
            || c.name.contains(":x11")
            || c.name.contains(":refuse-")));
        for c in &cases {
            let want = if c.name.starts_with("ssh>rsshd:") {
                Way::Rsshd
            } else {
                Way::Rssh
            };
            assert_eq!(Way::from_param(c.param), want, "{}", c.name);
        }
    }

    #[test]
    fn allocated_port_is_parsed() {
        assert_eq!(
            allocated_port("Allocated port 40123 for remote forward to 127.0.0.1:5"),
            Some(40123)
        );
        assert_eq!(allocated_port("Allocated port x"), None);
        assert_eq!(allocated_port("nothing"), None);
    }
}
