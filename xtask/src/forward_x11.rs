//! X11 forwarding rows (see [`crate::forward_cases`]): `Xvfb` here is the
//! client side's display (`:N` on its Unix socket for `rssh` here,
//! `127.0.0.1:N` over TCP for `ssh` in the peer), with a random
//! MIT-MAGIC-COOKIE-1 that only the client's `XAUTHORITY` file holds;
//! `xdpyinfo` on the server's side, through `-X`, must report the screen.
//! `-X` is untrusted (a cookie from `xauth generate ... untrusted`: the X
//! server's SECURITY extension hides most extensions, XTEST among them,
//! from its clients), `-Y` trusted (XTEST listed).

use std::fs;
use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::bail;
use crate::binary_setup::{Call, Setup, Srv, Way, tail};
use crate::forward_cases::prepare;
use crate::forward_util::says_refused;
use crate::interop::Ctx;
use crate::util::{self, Context, Result};

/// The function of a case.
type CaseFn = fn(&mut Ctx<'_>) -> Result<()>;

/// The screen of the `Xvfb`; `xdpyinfo` must report exactly this.
const SCREEN: &str = "1234x567";

/// Rows in both directions: (name, about, function, detail).
pub(crate) const ROWS: &[(&str, &str, CaseFn, &str)] = &[
    (
        "x11",
        "-X with Xvfb (1234x567) as the client's display: xdpyinfo on the server's side reports it; the real cookie stays on the client's side",
        x11,
        "",
    ),
    (
        "x11-wrong-cookie",
        "-X: xdpyinfo with another cookie (XAUTHORITY of its own) is refused; the right one still works in the same session",
        x11_wrong_cookie,
        "",
    ),
    (
        "x11-untrusted",
        "-X is untrusted: xdpyinfo on the server's side reports the screen but not the XTEST extension (the SECURITY extension restricts a cookie made by xauth generate ... untrusted)",
        x11_untrusted,
        "",
    ),
    (
        "x11-trusted",
        "-Y is trusted: xdpyinfo on the server's side lists the XTEST extension",
        x11_trusted,
        "",
    ),
    (
        "x11-timeout",
        "-X with ForwardX11Timeout 1: an X client at once reaches the display, one started 3 s later is refused (the untrusted cookie itself lives a minute longer)",
        x11_timeout,
        "",
    ),
    (
        "refuse-x11",
        "X11Forwarding no: -X is refused, the client says so, the session goes on without DISPLAY",
        refuse_x11,
        "",
    ),
];

/// An `Xvfb` display, stopped on drop.
struct Xvfb {
    child: Child,
    display: u16,
}

impl Drop for Xvfb {
    /// SIGTERM first: Xvfb then removes its lock file and socket (a
    /// SIGKILL leaves them, and the display looks taken from then on).
    fn drop(&mut self) {
        let pid = i32::try_from(self.child.id())
            .ok()
            .and_then(rustix::process::Pid::from_raw);
        if let Some(pid) = pid {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Removes the lock file and socket of display `n` if the process named
/// in the lock file is gone (an X server killed before it cleaned up).
fn remove_stale_display(n: u16) {
    let lock = format!("/tmp/.X{n}-lock");
    let Ok(text) = fs::read_to_string(&lock) else {
        return;
    };
    let alive = text
        .trim()
        .parse::<u32>()
        .is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
    if !alive {
        let _ = fs::remove_file(format!("/tmp/.X11-unix/X{n}"));
        let _ = fs::remove_file(&lock);
    }
}

/// A display number from `first` on whose lock file, socket and TCP port
/// are free.
fn free_display(first: u16) -> Result<u16> {
    for n in first..120u16 {
        remove_stale_display(n);
        let lock = format!("/tmp/.X{n}-lock");
        let sock = format!("/tmp/.X11-unix/X{n}");
        if Path::new(&lock).exists() || Path::new(&sock).exists() {
            continue;
        }
        if TcpListener::bind(("127.0.0.1", 6000 + n)).is_ok() {
            return Ok(n);
        }
    }
    bail!("no free X display between :60 and :119")
}

/// 16 random bytes in hex.
fn random_cookie() -> Result<String> {
    let mut bytes = [0u8; 16];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Starts `Xvfb` with a fresh cookie in `xvfb.auth` of the case
/// directory, listening on its Unix socket and on loopback TCP; writes the
/// client's `client.auth` holding the same cookie. Returns the display and
/// the cookie.
fn start_xvfb(ctx: &Ctx<'_>, setup: &Setup) -> Result<(Xvfb, String)> {
    let cookie = random_cookie()?;
    let server_auth = setup.host("xvfb.auth");
    util::checked_output(
        Command::new("xauth")
            .arg("-f")
            .arg(&server_auth)
            .args(["add", ":0", ".", &cookie]),
    )?;
    // Another program may take the display meanwhile: then the next one.
    let mut first = 60;
    let mut attempts = 0;
    let xvfb = loop {
        let n = free_display(first)?;
        match spawn_xvfb(setup, n, &server_auth)? {
            Some(xvfb) => break xvfb,
            None if attempts < 4 => {
                attempts += 1;
                first = n + 1;
            }
            None => {
                let text = fs::read_to_string(setup.host("xvfb.log")).unwrap_or_default();
                bail!("Xvfb did not start on :{n} (nor on 4 displays before); its log:\n{text}");
            }
        }
    };
    let n = xvfb.display;
    // The client's file, written by the client side's own xauth (the
    // peer's for `ssh` there: the same hostname rules as its lookups).
    let add = |display: &str| {
        format!(
            "xauth -f {} add {display} . {cookie}",
            setup.client("client.auth")
        )
    };
    match setup.way {
        Way::Rssh => {
            util::checked_output(Command::new("sh").args(["-c", &add(&format!(":{n}"))]))?;
        }
        Way::Rsshd => {
            let script = add(&format!("127.0.0.1:{n}"));
            util::checked_output(&mut ctx.backend.command("sh", &["-c", &script]))?;
        }
    }
    Ok((xvfb, cookie))
}

/// Starts `Xvfb :n`; `None` if it exited before it accepted connections
/// (its log is `xvfb.log` of the case directory).
fn spawn_xvfb(setup: &Setup, n: u16, auth: &Path) -> Result<Option<Xvfb>> {
    let log = setup.host("xvfb.log");
    let log_file = fs::File::create(&log).context("creating xvfb.log")?;
    let child = Command::new("Xvfb")
        .arg(format!(":{n}"))
        .args(["-screen", "0", &format!("{SCREEN}x24")])
        .arg("-auth")
        .arg(auth)
        .args(["-listen", "tcp"])
        // A fresh Xvfb resets when its last client leaves, and a reset
        // drops the authorizations `xauth generate` made (-X's cookie);
        // a desktop in use never resets.
        .arg("-noreset")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log_file))
        .spawn()
        .context("starting Xvfb (apt-get install xvfb)")?;
    let mut xvfb = Xvfb { child, display: n };
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", 6000 + n)).is_ok()
            && Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
        {
            return Ok(Some(xvfb));
        }
        if !matches!(xvfb.child.try_wait(), Ok(None)) {
            return Ok(None);
        }
        if Instant::now() > deadline {
            let text = fs::read_to_string(&log).unwrap_or_default();
            bail!("Xvfb :{n} did not accept connections within 15 s; its log:\n{text}");
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// The client's environment for the display, with `-X`.
fn x_env(setup: &Setup, xvfb: &Xvfb, call: &mut Call) {
    x_env_with(setup, xvfb, call, "-X");
}

/// The client's environment for the display, with `flag` (`-X`, `-Y`).
fn x_env_with(setup: &Setup, xvfb: &Xvfb, call: &mut Call, flag: &str) {
    let display = match setup.way {
        Way::Rssh => format!(":{}", xvfb.display),
        Way::Rsshd => format!("127.0.0.1:{}", xvfb.display),
    };
    call.env.push(("DISPLAY".into(), display));
    call.env
        .push(("XAUTHORITY".into(), setup.client("client.auth")));
    call.opts.push(flag.into());
}

fn x11_server() -> Srv {
    Srv {
        extra: vec!["X11Forwarding yes".into()],
        ..Srv::default()
    }
}

fn x11(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, mut call) = prepare(ctx, &x11_server())?;
    let (xvfb, cookie) = start_xvfb(ctx, &setup)?;
    x_env(&setup, &xvfb, &mut call);
    call.remote = "echo \"display=[$DISPLAY]\"; xauth list; xdpyinfo | grep dimensions".into();
    let out = setup.run_ok(ctx, server.port(), &call)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !stdout.contains(&format!("dimensions:    {SCREEN} pixels")) {
        bail!("xdpyinfo on the far side did not report {SCREEN}: {stdout:?}");
    }
    if stdout.contains(&cookie) {
        bail!("the display's real cookie reached the server's side: {stdout:?}");
    }
    Ok(())
}

/// `xdpyinfo` through `flag` and `opts`: its output (the screen must be
/// there).
fn xdpyinfo_through(ctx: &mut Ctx<'_>, flag: &str, opts: &[&str]) -> Result<String> {
    let (setup, server, mut call) = prepare(ctx, &x11_server())?;
    let (xvfb, _cookie) = start_xvfb(ctx, &setup)?;
    x_env_with(&setup, &xvfb, &mut call, flag);
    call.opts.extend(opts.iter().map(|o| (*o).to_owned()));
    call.remote = "xdpyinfo | grep -E 'dimensions|number of extensions|XTEST'".into();
    let out = setup.run_ok(ctx, server.port(), &call)?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !stdout.contains(&format!("dimensions:    {SCREEN} pixels")) {
        bail!(
            "xdpyinfo through {flag} did not report {SCREEN}: {stdout:?}; the client's stderr:\n{}",
            tail(&out.stderr)
        );
    }
    Ok(stdout)
}

fn x11_untrusted(ctx: &mut Ctx<'_>) -> Result<()> {
    // Debian's ssh defaults to ForwardX11Trusted yes (upstream's and
    // ours: no); said explicitly so that the row holds for both.
    let stdout = xdpyinfo_through(ctx, "-X", &["-o", "ForwardX11Trusted=no"])?;
    if stdout.contains("XTEST") {
        bail!("-X gave the far side a trusted cookie (XTEST is listed): {stdout:?}");
    }
    Ok(())
}

fn x11_trusted(ctx: &mut Ctx<'_>) -> Result<()> {
    let stdout = xdpyinfo_through(ctx, "-Y", &[])?;
    if !stdout.contains("XTEST") {
        bail!("-Y gave the far side a restricted cookie (no XTEST): {stdout:?}");
    }
    Ok(())
}

fn x11_timeout(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, mut call) = prepare(ctx, &x11_server())?;
    let (xvfb, _cookie) = start_xvfb(ctx, &setup)?;
    x_env_with(&setup, &xvfb, &mut call, "-X");
    call.opts.extend(
        ["-o", "ForwardX11Trusted=no", "-o", "ForwardX11Timeout=1"]
            .iter()
            .map(|o| (*o).to_owned()),
    );
    call.remote = "xdpyinfo >/dev/null 2>&1; echo \"early-exit=$?\"; \
                   sleep 3; xdpyinfo >/dev/null 2>&1; echo \"late-exit=$?\""
        .into();
    let out = setup.run_ok(ctx, server.port(), &call)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !stdout.contains("late-exit=") {
        bail!("the far side's script did not run: {stdout:?}");
    }
    if !stdout.contains("early-exit=0") {
        bail!("an X client at once did not reach the display: {stdout:?}");
    }
    if stdout.contains("late-exit=0") {
        bail!("an X client reached the display after ForwardX11Timeout: {stdout:?}");
    }
    Ok(())
}

fn x11_wrong_cookie(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, mut call) = prepare(ctx, &x11_server())?;
    let (xvfb, _cookie) = start_xvfb(ctx, &setup)?;
    x_env(&setup, &xvfb, &mut call);
    // The session's display entry, with another cookie, in a file of its
    // own; then the session's real entry again.
    call.remote = "name=$(xauth list \"$DISPLAY\" | head -n 1 | cut -d' ' -f1); \
         xauth -f \"$HOME/wrong.auth\" add \"$name\" MIT-MAGIC-COOKIE-1 00112233445566778899aabbccddeeff; \
         XAUTHORITY=\"$HOME/wrong.auth\" xdpyinfo >/dev/null 2>&1; echo \"wrong-exit=$?\"; \
         rm -f \"$HOME/wrong.auth\"; xdpyinfo | grep dimensions"
        .into();
    let out = setup.run_ok(ctx, server.port(), &call)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !stdout.contains("wrong-exit=") {
        bail!("the far side's script did not run: {stdout:?}");
    }
    if stdout.contains("wrong-exit=0") {
        bail!("xdpyinfo with a wrong cookie reached the display: {stdout:?}");
    }
    if !stdout.contains(&format!("dimensions:    {SCREEN} pixels")) {
        bail!(
            "after the refusal, xdpyinfo with the session's cookie did not report {SCREEN}: {stdout:?}"
        );
    }
    Ok(())
}

fn refuse_x11(ctx: &mut Ctx<'_>) -> Result<()> {
    let srv = Srv {
        extra: vec!["X11Forwarding no".into()],
        ..Srv::default()
    };
    let (setup, server, mut call) = prepare(ctx, &srv)?;
    let (xvfb, _cookie) = start_xvfb(ctx, &setup)?;
    x_env(&setup, &xvfb, &mut call);
    call.remote = "echo \"display=[$DISPLAY]\"; echo session-ok".into();
    let out = setup.run_ok(ctx, server.port(), &call)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !stdout.contains("session-ok") {
        bail!("the session's output did not arrive: {stdout:?}");
    }
    if !stdout.contains("display=[]") {
        bail!("the session has a DISPLAY although X11Forwarding is no: {stdout:?}");
    }
    if !says_refused(&stderr) {
        bail!(
            "the client did not say that X11 forwarding was refused; its stderr:\n{}",
            tail(&out.stderr)
        );
    }
    Ok(())
}
