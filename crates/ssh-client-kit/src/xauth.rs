//! Running `xauth` (`XAuthLocation`) as OpenSSH's `ssh` runs it in
//! `client_x11_get_proto`: `list` for the display's own cookie (`-Y`),
//! `generate ... untrusted` into a private file for `-X`.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ssh_async::runtime;

use super::x11::{MIT_MAGIC_COOKIE_1, parse_xauth_list};

/// How long one `xauth` run may take.
const XAUTH_TIMEOUT: Duration = Duration::from_secs(30);

/// The untrusted cookie outlives `ForwardX11Timeout` by this much, so
/// that the X server never sees a cookie expire while ssh still forwards
/// (OpenSSH's `X11_TIMEOUT_SLACK`).
pub const TIMEOUT_SLACK: Duration = Duration::from_secs(60);

/// Runs `xauth` with `args` (stdin and stderr to /dev/null, killed after
/// [`XAUTH_TIMEOUT`]); its standard output when it exits with status 0.
async fn run(xauth: &Path, args: &[&str]) -> Option<Vec<u8>> {
    tracing::debug!("xauth command: {} {}", xauth.display(), args.join(" "));
    let out = async_process::Command::new(xauth)
        .args(args)
        .stdin(async_process::Stdio::null())
        .stderr(async_process::Stdio::null())
        .kill_on_drop(true)
        .output();
    match runtime::timeout(XAUTH_TIMEOUT, out).await {
        Some(Ok(o)) if o.status.success() => Some(o.stdout),
        Some(Ok(o)) => {
            tracing::debug!("{}: {}", xauth.display(), o.status);
            None
        }
        Some(Err(e)) => {
            tracing::debug!("{}: {e}", xauth.display());
            None
        }
        None => {
            tracing::error!(
                "{} {}: no answer in {} s, killed",
                xauth.display(),
                args.join(" "),
                XAUTH_TIMEOUT.as_secs()
            );
            None
        }
    }
}

/// The display's own cookie: `xauth list DISPLAY` (trusted forwarding).
pub async fn list(xauth: &Path, display: &str) -> Option<Vec<u8>> {
    let out = run(xauth, &["list", display]).await?;
    parse_xauth_list(&String::from_utf8_lossy(&out))
}

/// An untrusted cookie for the display: `xauth -f FILE generate DISPLAY
/// MIT-MAGIC-COOKIE-1 untrusted [timeout SECS]` in a fresh private
/// directory, then `xauth -f FILE list DISPLAY`; the directory is removed
/// afterwards. `timeout` zero: a cookie that does not expire. `None`
/// when no cookie was generated.
pub async fn generate_untrusted(xauth: &Path, display: &str, timeout: Duration) -> Option<Vec<u8>> {
    let dir = match private_dir() {
        Ok(d) => d,
        Err(e) => {
            tracing::error!("client_x11_get_proto: mkdtemp: {e}");
            return None;
        }
    };
    let file = dir.join("xauthfile");
    let file_arg = file.to_string_lossy().into_owned();
    let secs = timeout.saturating_add(TIMEOUT_SLACK).as_secs().to_string();
    let mut args = vec![
        "-f",
        file_arg.as_str(),
        "generate",
        display,
        MIT_MAGIC_COOKIE_1,
        "untrusted",
    ];
    if !timeout.is_zero() {
        args.extend(["timeout", secs.as_str()]);
    }
    let cookie = match run(xauth, &args).await {
        Some(_) => run(xauth, &["-f", file_arg.as_str(), "list", display])
            .await
            .and_then(|out| parse_xauth_list(&String::from_utf8_lossy(&out))),
        None => None,
    };
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_dir(&dir);
    cookie
}

/// A new directory `$TMPDIR/ssh-XXXXXXXXXXXX` (or under `/tmp`), mode
/// 0700, as `mkdtemp`.
fn private_dir() -> io::Result<PathBuf> {
    use rand::Rng as _;
    use std::os::unix::fs::DirBuilderExt;
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng: rand::rngs::StdRng = rand::make_rng();
    let base = std::env::temp_dir();
    let mut last = io::Error::other("no attempt");
    for _ in 0..16 {
        let mut bytes = [0u8; 12];
        rng.fill_bytes(&mut bytes);
        let name: String = bytes
            .iter()
            .map(|b| {
                char::from(
                    CHARS
                        .get(usize::from(*b) % CHARS.len())
                        .copied()
                        .unwrap_or(b'x'),
                )
            })
            .collect();
        let dir = base.join(format!("ssh-{name}"));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}
