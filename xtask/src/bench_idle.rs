//! `cargo xtask idle`: what idle authenticated connections cost `rsshd`,
//! and whether it gives the memory back when they end. `rsshd` (release)
//! runs here as the current user on loopback; the library's client opens
//! the connections (publickey), holds them, then closes them all, twice.
//! The server's resident set is read from `/proc` at each step.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use ssh_async::ssh_keys::PrivateKey;
use ssh_async::{Client, ClientOptions, SimpleHandler};

use crate::bail;
use crate::util::{Context, Result};

/// The user key of the run (a fixed test seed: nothing secret).
const SEED: [u8; 32] = [7; 32];
/// Connections being set up at once.
const PARALLEL: usize = 32;

/// The server, killed on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The resident set of `pid` in KiB (`VmRSS`).
fn rss_kib(pid: u32) -> Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).context("reading /proc")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmRSS".into())
}

/// Raises this process's open-file limit to its hard limit (the server,
/// our child, inherits it); returns the new soft limit.
fn raise_nofile() -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    limit.current = limit.maximum;
    let _ = setrlimit(Resource::Nofile, limit);
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

fn write(dir: &Path, name: &str, text: &str) -> Result<PathBuf> {
    let p = dir.join(name);
    fs::write(&p, text).context(format_args!("writing {}", p.display()))?;
    Ok(p)
}

fn start(rsshd: &Path, dir: &Path, user: &str) -> Result<(Server, u16)> {
    let key = dir.join("host_key");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .context("ssh-keygen")?;
    if !st.success() {
        bail!("ssh-keygen failed");
    }
    let client_key = PrivateKey::from_ed25519_seed(&SEED);
    let auth = write(
        dir,
        "authorized_keys",
        &client_key.public().to_openssh("idle"),
    )?;
    let cfg = write(
        dir,
        "sshd_config",
        &format!(
            "ListenAddress 127.0.0.1\nHostKey {}\nPidFile none\nUsePAM no\nStrictModes no\n\
             PermitRootLogin prohibit-password\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nAuthorizedKeysFile {}\nMaxStartups 1000\n\
             PerSourcePenalties no\nLogLevel ERROR\nAllowUsers {user}\n",
            key.display(),
            auth.display()
        ),
    )?;
    let port = crate::peer::free_port()?;
    let child = Command::new(rsshd)
        .args(["-D", "-e", "-f"])
        .arg(&cfg)
        .args(["-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting rsshd")?;
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("rsshd did not listen");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok((server, port))
}

/// Opens `n` authenticated connections and returns them.
async fn open(port: u16, user: &str, n: usize) -> std::result::Result<Vec<Client>, String> {
    let user = user.to_owned();
    let results: Vec<_> = futures::stream::iter(0..n)
        .map(|_| {
            let user = user.clone();
            async move {
                let tcp = ssh_async::runtime::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .map_err(|e| format!("connect: {e}"))?;
                let mut handler = SimpleHandler {
                    host_key_check: Box::new(|_| true),
                    keys: vec![PrivateKey::from_ed25519_seed(&SEED)],
                    password: None,
                };
                let options = ClientOptions::new(&user, handler.methods());
                Client::connect(tcp, options, &mut handler)
                    .await
                    .map_err(|e| format!("handshake: {e}"))
            }
        })
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    results.into_iter().collect()
}

async fn close(clients: Vec<Client>) {
    futures::future::join_all(clients.into_iter().map(|c| async move {
        let _ = c.disconnect().await;
    }))
    .await;
}

/// Runs the measurement with `n` connections.
pub fn cmd_idle(n: usize) -> Result<()> {
    let nofile = raise_nofile();
    if (nofile as usize) < n * 2 + 64 {
        bail!("the open-file limit ({nofile}) is too low for {n} connections");
    }
    let rsshd = crate::bench_setup::build_release("rsshd")?;
    let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
    let dir = std::env::temp_dir().join(format!("xtask-idle-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).context("scratch directory")?;
    let (server, port) = start(&rsshd, &dir, &user)?;
    let pid = server.0.id();
    // Longer than rsshd's memory release interval (5 s).
    let settle = || std::thread::sleep(Duration::from_secs(7));
    let run = async {
        let mut rows = Vec::new();
        // One connection first: what any server has once it served one.
        close(open(port, &user, 1).await?).await;
        settle();
        rows.push((
            "after one connection".to_owned(),
            rss_kib(pid).map_err(|e| e.to_string())?,
        ));
        for round in 1..=2 {
            let started = Instant::now();
            let clients = open(port, &user, n).await?;
            let took = started.elapsed();
            settle();
            rows.push((
                format!(
                    "round {round}: {n} open ({:.1} s to open)",
                    took.as_secs_f64()
                ),
                rss_kib(pid).map_err(|e| e.to_string())?,
            ));
            close(clients).await;
            settle();
            rows.push((
                format!("round {round}: all closed"),
                rss_kib(pid).map_err(|e| e.to_string())?,
            ));
        }
        Ok::<_, String>(rows)
    };
    let rows = ssh_async::runtime::block_on(run)?;
    drop(server);
    let _ = fs::remove_dir_all(&dir);
    let base = rows.first().map_or(0, |r| r.1);
    println!("rsshd resident set, {n} idle authenticated connections:");
    for (what, kib) in &rows {
        println!("  {what:44} {:8.1} MiB", *kib as f64 / 1024.0);
    }
    if let Some((_, peak)) = rows.get(1) {
        println!(
            "  per connection: {:.1} KiB",
            (peak.saturating_sub(base)) as f64 / n as f64
        );
    }
    if let Some((_, last)) = rows.last() {
        println!(
            "  kept after the last close: {:.1} MiB above the start",
            last.saturating_sub(base) as f64 / 1024.0
        );
    }
    Ok(())
}
