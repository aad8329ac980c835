//! `cargo xtask idle`: what idle authenticated connections cost `rsshd`,
//! and whether it gives the memory back when they end. `rsshd` (release)
//! runs here on loopback; the library's client opens the connections
//! (publickey), holds them, then closes them all, twice.
//!
//! Run by an ordinary user, rsshd is one process serving that user. Run
//! by root, it is privilege-separated (a monitor, its workers, and one
//! session process per user), and the connections are spread over
//! `--users` accounts made for the run (`xidle-0`, ...; removed after).
//! The memory is the proportional set size (`Pss`, shared pages divided
//! among their users) of the server and all its processes, read from
//! `/proc/PID/smaps_rollup` at each step, with the count of processes.

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

fn start(rsshd: &Path, dir: &Path, users: &str) -> Result<(Server, u16)> {
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
             PerSourcePenalties no\nLogLevel ERROR\nAllowUsers {users}\n",
            key.display(),
            auth.display()
        ),
    )?;
    let port = crate::peer::free_port()?;
    let mut cmd = Command::new(rsshd);
    cmd.args(["-D", "-e", "-f"])
        .arg(&cfg)
        .args(["-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let child = cmd.spawn().context("starting rsshd")?;
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

/// Opens `n` authenticated connections, the `i`th as `users[i % len]`,
/// and returns them.
async fn open(port: u16, users: &[String], n: usize) -> std::result::Result<Vec<Client>, String> {
    let results: Vec<_> = futures::stream::iter(0..n)
        .map(|i| {
            let user = users
                .get(i % users.len().max(1))
                .cloned()
                .unwrap_or_default();
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

/// The processes of the server: `pid` and its descendants.
fn processes(pid: u32) -> Vec<u32> {
    let mut parents = std::collections::HashMap::<u32, Vec<u32>>::new();
    for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parents.entry(ppid).or_default().push(p);
        }
    }
    let mut all = vec![pid];
    let mut i = 0;
    while let Some(p) = all.get(i).copied() {
        all.extend(parents.get(&p).into_iter().flatten());
        i += 1;
    }
    all
}

/// The CPU time of the server in seconds: each live process's user and
/// system time, and the reaped children's its parent counted.
fn cpu_seconds(pid: u32) -> f64 {
    let ticks: u64 = processes(pid)
        .into_iter()
        .filter_map(|p| {
            let stat = fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
            let (_, rest) = stat.rsplit_once(')')?;
            let f: Vec<&str> = rest.split_whitespace().collect();
            // utime is field 14 (index 11 after the state), cstime 17.
            let mut sum = 0u64;
            for i in 11..=14 {
                sum += f.get(i)?.parse::<u64>().ok()?;
            }
            Some(sum)
        })
        .sum();
    ticks as f64 / 100.0
}

/// One reading: the proportional set size of all the server's processes
/// (KiB), and how many processes it has.
fn memory(pid: u32) -> Result<(u64, usize)> {
    let procs = processes(pid);
    let mut pss = 0;
    for p in &procs {
        let rollup = fs::read_to_string(format!("/proc/{p}/smaps_rollup")).unwrap_or_default();
        pss += rollup
            .lines()
            .find_map(|l| l.strip_prefix("Pss:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0);
    }
    if pss == 0 {
        return Ok((rss_kib(pid)?, procs.len()));
    }
    Ok((pss, procs.len()))
}

/// Accounts made for the run, removed on drop.
struct Accounts(Vec<String>);

impl Accounts {
    /// `n` accounts `xidle-K` (no home, `/bin/sh`, no password but not
    /// locked: `*`).
    fn make(n: usize) -> Result<Self> {
        let mut made = Self(Vec::new());
        for k in 0..n {
            let name = format!("xidle-{k}");
            let _ = Command::new("userdel")
                .arg(&name)
                .stderr(Stdio::null())
                .status();
            let st = Command::new("useradd")
                .args([
                    "-M",
                    "-d",
                    "/nonexistent",
                    "-s",
                    "/bin/sh",
                    "-p",
                    "*",
                    &name,
                ])
                .status()
                .context("useradd")?;
            if !st.success() {
                bail!("useradd {name} failed");
            }
            made.0.push(name);
        }
        Ok(made)
    }
}

impl Drop for Accounts {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = Command::new("userdel").arg(name).status();
        }
    }
}

/// Runs the measurement with `n` connections over `users` users.
pub fn cmd_idle(n: usize, users: usize) -> Result<()> {
    let nofile = raise_nofile();
    if (nofile as usize) < n * 2 + 64 {
        bail!("the open-file limit ({nofile}) is too low for {n} connections");
    }
    let root = rustix::process::geteuid().is_root();
    let accounts = if root {
        Accounts::make(users.max(1))?
    } else if users > 1 {
        bail!("--users above 1 needs root (accounts are made for the run)");
    } else {
        Accounts(Vec::new())
    };
    let names: Vec<String> = if root {
        accounts.0.clone()
    } else {
        vec![std::env::var("USER").unwrap_or_else(|_| "root".into())]
    };
    let rsshd = crate::bench_setup::build_release("rsshd", &[])?;
    let dir = std::env::temp_dir().join(format!("xtask-idle-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).context("scratch directory")?;
    // The session processes (as the users) read nothing here; the
    // monitor reads the keys file as root.
    let (server, port) = start(&rsshd, &dir, &names.join(" "))?;
    let pid = server.0.id();
    // Longer than an idle connection's wait before it gives back its
    // buffers (5 s) and rsshd's memory release interval after it (5 s).
    let settle = || std::thread::sleep(Duration::from_secs(12));
    let reading = |what: String| -> std::result::Result<(String, u64, usize), String> {
        let (kib, procs) = memory(pid).map_err(|e| e.to_string())?;
        Ok((what, kib, procs))
    };
    let run = async {
        let mut rows = Vec::new();
        // One connection first: what any server has once it served one.
        close(open(port, &names, 1).await?).await;
        settle();
        rows.push(reading("after one connection".to_owned())?);
        for round in 1..=2 {
            let started = Instant::now();
            let cpu = cpu_seconds(pid);
            let clients = open(port, &names, n).await?;
            let took = started.elapsed();
            let cpu = cpu_seconds(pid) - cpu;
            settle();
            rows.push(reading(format!(
                "round {round}: {n} open ({:.1} s, server CPU {:.2} ms each)",
                took.as_secs_f64(),
                cpu * 1000.0 / n as f64
            ))?);
            close(clients).await;
            settle();
            rows.push(reading(format!("round {round}: all closed"))?);
        }
        Ok::<_, String>(rows)
    };
    let rows = ssh_async::runtime::block_on(run)?;
    drop(server);
    drop(accounts);
    let _ = fs::remove_dir_all(&dir);
    let base = rows.first().map_or(0, |r| r.1);
    let mode = if root {
        "privilege-separated"
    } else {
        "single process"
    };
    println!(
        "rsshd ({mode}), {n} idle authenticated connections of {} user(s); \
         memory: Pss of all its processes",
        names.len()
    );
    for (what, kib, procs) in &rows {
        println!(
            "  {what:44} {:8.1} MiB  {procs:4} process(es)",
            *kib as f64 / 1024.0
        );
    }
    if let Some((_, peak, _)) = rows.get(1) {
        println!(
            "  per connection: {:.1} KiB",
            (peak.saturating_sub(base)) as f64 / n as f64
        );
    }
    if let Some((_, last, _)) = rows.last() {
        println!(
            "  kept after the last close: {:.1} MiB above the start",
            last.saturating_sub(base) as f64 / 1024.0
        );
    }
    Ok(())
}
