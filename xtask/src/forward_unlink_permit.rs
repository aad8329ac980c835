//! `StreamLocalBindUnlink` (server and client) and `PermitRemoteOpen`
//! rows (see [`crate::forward_cases`]): a stale socket file where a Unix
//! forward listens makes the bind fail unless the side listening unlinks
//! it first; a remote dynamic forward connects only where
//! `PermitRemoteOpen` lets it.

use std::process::Command;

use crate::bail;
use crate::binary_setup::{Call, Setup, Srv, tail};
use crate::forward_cases::{end_session, prepare, start, through};
use crate::forward_util::{self as fu, Addr};
use crate::interop::Ctx;
use crate::peer::RunningSshd;
use crate::util::{self, Context, Result};

/// The function of a case.
type CaseFn = fn(&mut Ctx<'_>) -> Result<()>;

/// Rows in both directions: (name, about, function, detail).
pub(crate) const ROWS: &[(&str, &str, CaseFn, &str)] = &[
    (
        "fwd-R-unix-stale",
        "-R /remote/socket over a stale socket file: refused (ExitOnForwardFailure: exit 255); with sshd's StreamLocalBindUnlink yes, 64 MiB through it",
        remote_unix_stale,
        "",
    ),
    (
        "fwd-L-unix-stale",
        "-L /local/socket over a stale socket file: \"Address already in use\", exit 255; with StreamLocalBindUnlink=yes, 64 MiB through it",
        local_unix_stale,
        "",
    ),
    (
        "fwd-R-socks5-permit",
        "-R port (remote dynamic) with PermitRemoteOpen: curl to a destination not listed fails, to a listed one fetches 1 MiB",
        remote_dynamic_permit,
        "",
    ),
];

/// A socket file at `path` that nobody listens on any more.
fn stale_socket(path: &std::path::Path) -> Result<()> {
    drop(
        std::os::unix::net::UnixListener::bind(path)
            .context(format_args!("binding {}", path.display()))?,
    );
    Ok(())
}

/// A run of the client with `forward` and ExitOnForwardFailure that must
/// end with exit 255 before the command runs, saying `says`.
fn must_fail(
    ctx: &mut Ctx<'_>,
    setup: &Setup,
    server: &RunningSshd,
    call: &Call,
    forward: &[String],
    says: impl Fn(&str) -> bool,
) -> Result<()> {
    let mut call = call.clone();
    call.opts.extend(forward.iter().cloned());
    call.opts
        .extend(["-o".into(), "ExitOnForwardFailure=yes".into()]);
    call.remote = "echo session-ok".into();
    let out = setup.run(ctx, server.port(), &call)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() != Some(255) || !says(&stderr) {
        bail!(
            "expected exit 255 and the failure said: exit {}; stderr:\n{}",
            out.status,
            tail(&out.stderr)
        );
    }
    Ok(())
}

fn remote_unix_stale(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, call) = prepare(ctx, &Srv::default())?;
    let echo = fu::echo_tcp()?;
    let Addr::Tcp(eport) = echo.addr else {
        bail!("not TCP")
    };
    stale_socket(&setup.host("u/r.sock"))?;
    let fwd = [
        "-R".into(),
        format!("{}:127.0.0.1:{eport}", setup.peer("u/r.sock")),
    ];
    // StreamLocalBindUnlink no (the default): the server's bind fails.
    must_fail(ctx, &setup, &server, &call, &fwd, fu::says_refused)?;
    drop(server);
    let srv = Srv {
        extra: vec!["StreamLocalBindUnlink yes".into()],
        ..Srv::default()
    };
    let server = setup.start(ctx, &srv)?;
    let entry = Addr::Unix(setup.host("u/r.sock"));
    through(ctx, &setup, &server, call, &fwd, entry)
}

fn local_unix_stale(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, call) = prepare(ctx, &Srv::default())?;
    let echo = fu::echo_tcp()?;
    let Addr::Tcp(eport) = echo.addr else {
        bail!("not TCP")
    };
    stale_socket(&setup.host("l.sock"))?;
    let fwd = [
        "-L".into(),
        format!("{}:127.0.0.1:{eport}", setup.client("l.sock")),
    ];
    must_fail(ctx, &setup, &server, &call, &fwd, |e| {
        e.contains("Address already in use")
    })?;
    let mut fwd = fwd.to_vec();
    fwd.extend(["-o".into(), "StreamLocalBindUnlink=yes".into()]);
    let entry = Addr::Unix(setup.host("l.sock"));
    through(ctx, &setup, &server, call, &fwd, entry)
}

/// A client with `-R dport` and `PermitRemoteOpen permit`; curl through
/// the server's port to the HTTP server on `hport` (as `localhost`).
/// Whether curl fetched the body.
fn fetch_through(
    ctx: &mut Ctx<'_>,
    setup: &Setup,
    server: &RunningSshd,
    call: &Call,
    permit: &str,
    hport: u16,
) -> Result<bool> {
    let dport = fu::free_port()?;
    // A session of its own: the go file of the one before goes.
    let _ = std::fs::remove_file(setup.host("go"));
    let mut call = call.clone();
    call.opts.extend([
        "-R".into(),
        dport.to_string(),
        "-o".into(),
        format!("PermitRemoteOpen={permit}"),
    ]);
    call.remote = fu::wait_for_go(setup);
    let mut bg = start(setup, ctx, server.port(), &call)?;
    drop(bg.connect_when_ready(&Addr::Tcp(dport))?);
    let file = setup.host("fetched");
    let _ = std::fs::remove_file(&file);
    let mut curl = Command::new("curl");
    curl.args(["-sS", "--max-time", "30", "--socks5-hostname"])
        .arg(format!("127.0.0.1:{dport}"))
        .arg(format!("http://localhost:{hport}/data"))
        .arg("-o")
        .arg(&file);
    let what = util::describe(&curl);
    let out = curl
        .output()
        .context(format_args!("cannot run {what} (apt-get install curl)"))?;
    ctx.record(format!("{what} (exit {})", out.status), &out.stderr);
    let fetched =
        out.status.success() && std::fs::read(&file).is_ok_and(|got| got == fu::http_body());
    end_session(setup, ctx, bg)?;
    Ok(fetched)
}

fn remote_dynamic_permit(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, call) = prepare(ctx, &Srv::default())?;
    let http = fu::http_tcp()?;
    let Addr::Tcp(hport) = http.addr else {
        bail!("not TCP")
    };
    let other = hport.wrapping_add(1).max(1);
    if fetch_through(
        ctx,
        &setup,
        &server,
        &call,
        &format!("localhost:{other}"),
        hport,
    )? {
        bail!("PermitRemoteOpen localhost:{other}: curl reached localhost:{hport} anyway");
    }
    if !fetch_through(
        ctx,
        &setup,
        &server,
        &call,
        &format!("localhost:{hport}"),
        hport,
    )? {
        bail!("PermitRemoteOpen localhost:{hport}: curl did not fetch the body");
    }
    Ok(())
}
