//! `cargo xtask bench`: throughput and connection rate of four client and
//! server pairs, `ssh`->`sshd`, `rssh`->`sshd`, `ssh`->`rsshd` and
//! `rssh`->`rsshd`, measured in the same place in the same run.
//!
//! Everything runs inside one OpenSSH image (the newest release unless
//! `--release` says otherwise) through the root filesystem backend: the
//! release builds of `rssh` and `rsshd` are copied into its
//! `/usr/local/bin` at each run, both servers get the same `sshd_config`
//! text (LogLevel INFO, root by publickey with a fresh ed25519 key,
//! `Compression no`) and both clients the same `ssh_config`; the client
//! picks the cipher and MAC (`-c`, `-m`).
//!
//! Rows: for each cipher (and MAC) an upload, `head -c SIZE /dev/zero |
//! CLIENT host 'cat > /dev/null'`, and a download, `CLIENT host 'head -c
//! SIZE /dev/zero' > /dev/null`, in MB/s (10^6 bytes per second); and the
//! connection rate, N sequential `CLIENT host true` (full handshake, auth
//! and a command), in connections per second. Each pipeline runs in one
//! `sh -c` inside the image and is timed there with `date +%s%N`
//! (the clock of the container, monotonic enough over seconds; nothing
//! is subtracted). Columns: the four pairs, then each of ours divided by
//! OpenSSH's own pair. The same numbers go to a JSON file.

use std::fmt::Write as _;
use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::bail;
use crate::images::{self, Release};
use crate::peer::{self, Backend, Rootfs};
use crate::util::{self, Context, Result};

/// `cargo xtask bench` options.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Bytes per transfer, with an optional K, M or G suffix (binary
    /// multiples: 2G is 2 GiB). Default 2G, or 64M with --quick.
    #[arg(long, value_parser = parse_size)]
    pub size: Option<u64>,
    /// Sequential connections per pair for the connection rate. Default 20,
    /// or 5 with --quick.
    #[arg(long)]
    pub connections: Option<u32>,
    /// The release whose image all four pairs run in.
    #[arg(long, value_enum, default_value_t = Release::Sid)]
    pub release: Release,
    /// Where the JSON report is written (default target/bench.json).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// A smoke run: 64 MiB, 5 connections, two cipher rows.
    #[arg(long)]
    pub quick: bool,
}

/// The default transfer size: 2 GiB.
const DEFAULT_SIZE: u64 = 2 << 30;
/// The transfer size of `--quick`: 64 MiB.
const QUICK_SIZE: u64 = 64 << 20;
/// The default number of connections.
const DEFAULT_CONNECTIONS: u32 = 20;
/// The number of connections of `--quick`.
const QUICK_CONNECTIONS: u32 = 5;
/// How many cipher rows `--quick` measures (the first ones).
const QUICK_CIPHERS: usize = 2;
/// Bytes in the MB of "MB/s".
const MB: f64 = 1e6;

pub use crate::bench_report::*;

/// Files of one run inside the image: keys and configurations. Removed
/// on drop.
struct Scratch {
    host: PathBuf,
    peer: String,
}

impl Scratch {
    fn create(root: &Path) -> Result<Self> {
        let name = format!("root/xtask-bench-{}", std::process::id());
        let host = root.join(&name);
        if host.exists() {
            fs::remove_dir_all(&host).context(format_args!("removing {}", host.display()))?;
        }
        fs::create_dir_all(&host).context(format_args!("creating {}", host.display()))?;
        Ok(Self {
            host,
            peer: format!("/{name}"),
        })
    }

    fn write(&self, name: &str, text: &str) -> Result<String> {
        let path = self.host.join(name);
        fs::write(&path, text).context(format_args!("writing {}", path.display()))?;
        Ok(format!("{}/{name}", self.peer))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.host);
    }
}

/// The `sshd_config` both servers get; `extra` holds what must differ.
fn server_config(dir: &str, extra: &[&str]) -> String {
    let mut s = format!(
        "# Written by cargo xtask bench.\n\
         ListenAddress 127.0.0.1\n\
         HostKey {dir}/host_ed25519_key\n\
         PidFile none\n\
         UsePAM no\n\
         StrictModes no\n\
         PermitRootLogin prohibit-password\n\
         PubkeyAuthentication yes\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         AuthorizedKeysFile {dir}/authorized_keys\n\
         Compression no\n\
         LogLevel INFO\n"
    );
    for line in extra {
        s.push_str(line);
        s.push('\n');
    }
    s
}

/// The `ssh_config` both clients get.
fn client_config(dir: &str) -> String {
    format!(
        "# Written by cargo xtask bench.\n\
         Host *\n\
         \x20 User root\n\
         \x20 IdentityFile {dir}/id_ed25519\n\
         \x20 IdentitiesOnly yes\n\
         \x20 StrictHostKeyChecking no\n\
         \x20 UserKnownHostsFile /dev/null\n\
         \x20 GlobalKnownHostsFile /dev/null\n\
         \x20 BatchMode yes\n\
         \x20 Compression no\n\
         \x20 LogLevel ERROR\n"
    )
}

/// A server running inside the image. Dropping it stops it.
struct Server {
    child: Child,
    port: u16,
    log: Arc<Mutex<Vec<u8>>>,
}

impl Server {
    fn log(&self) -> String {
        let log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&log).into_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // `unshare --kill-child` takes the whole namespace with it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `program -D -e -f config -p PORT` in the image on a free port,
/// ready once it accepts a TCP connection.
fn start_server(backend: &Rootfs, program: &str, config: &str) -> Result<Server> {
    let mut last = String::new();
    for _ in 0..5 {
        let port = peer::free_port()?;
        let port_text = port.to_string();
        let mut cmd = backend.command(program, &["-D", "-e", "-f", config, "-p", &port_text]);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let what = util::describe(&cmd);
        let mut child = cmd.spawn().context(format_args!("cannot run {what}"))?;
        let log = Arc::new(Mutex::new(Vec::new()));
        if let Some(mut stderr) = child.stderr.take() {
            let log = Arc::clone(&log);
            thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = stderr.read(&mut buf) {
                    log.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .extend_from_slice(buf.get(..n).unwrap_or_default());
                }
            });
        }
        let mut server = Server { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(15);
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        loop {
            if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(server);
            }
            let exited = !matches!(server.child.try_wait(), Ok(None));
            if exited || Instant::now() >= deadline {
                break;
            }
            thread::sleep(Duration::from_millis(50));
        }
        thread::sleep(Duration::from_millis(100));
        last = server.log();
        drop(server);
        if !last.contains("Address already in use") {
            bail!("{what} did not start listening; its log:\n{last}");
        }
    }
    bail!("{program} found no free port in 5 attempts; last log:\n{last}")
}

/// What a timed pipeline gave: its duration, or why it failed.
fn run_timed(backend: &Rootfs, pipeline: &str, timeout: Duration) -> Result<f64> {
    let script = format!(
        "s=$(date +%s%N); {pipeline}; rc=$?; e=$(date +%s%N); echo \"xtask-bench $rc $s $e\""
    );
    let mut cmd = backend.command("sh", &["-c", &script]);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .context(format_args!("cannot run sh -c {pipeline:?} in the image"))?;
    let collect = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut buf);
            }
            buf
        })
    };
    let stdout = collect(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = collect(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + timeout;
    let timed_out = loop {
        match child.try_wait() {
            Ok(Some(_)) => break false,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break true;
            }
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            Err(e) => bail!("waiting for sh -c {pipeline:?}: {e}"),
        }
    };
    let stdout = String::from_utf8_lossy(&stdout.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&stderr.join().unwrap_or_default()).into_owned();
    if timed_out {
        bail!(
            "`{pipeline}` ran longer than {} s and was killed; stderr:\n{stderr}",
            timeout.as_secs()
        );
    }
    match parse_timing(&stdout) {
        Some((0, ns)) => Ok(ns as f64 / 1e9),
        Some((rc, _)) => bail!("`{pipeline}` exited with status {rc}; stderr:\n{stderr}"),
        None => bail!("`{pipeline}` gave no timing; stdout:\n{stdout}\nstderr:\n{stderr}"),
    }
}

/// The exit status and the nanoseconds from the script's last line
/// `xtask-bench RC START END`.
fn parse_timing(stdout: &str) -> Option<(u32, u64)> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("xtask-bench "))?;
    let mut words = line.split_whitespace().skip(1);
    let rc = words.next()?.parse().ok()?;
    let start: u64 = words.next()?.parse().ok()?;
    let end: u64 = words.next()?.parse().ok()?;
    Some((rc, end.checked_sub(start)?))
}

/// The cargo target directory the release binaries are built in.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => util::workspace_target(),
    }
}

/// Builds `package` in release mode; its binary, or why not.
pub(crate) fn build_release(package: &str) -> std::result::Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("bench: cargo build --release -p {package}");
    let status = Command::new(cargo)
        .current_dir(util::workspace_root())
        .args(["build", "--release", "-p", package])
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let bin = target_dir().join("release").join(package);
    if !status.success() {
        return Err(format!(
            "cargo build --release -p {package} failed ({status})"
        ));
    }
    if !bin.is_file() {
        return Err(format!("{} missing after the build", bin.display()));
    }
    Ok(bin)
}

/// Copies `bin` to `/usr/local/bin/<name>` in the image; the path inside.
fn install(root: &Path, bin: &Path, name: &str) -> Result<String> {
    let dir = root.join("usr/local/bin");
    fs::create_dir_all(&dir).context(format_args!("creating {}", dir.display()))?;
    let tmp = dir.join(format!(".{name}.xtask-bench"));
    fs::copy(bin, &tmp).context(format_args!("copying {} into the image", bin.display()))?;
    let dest = dir.join(name);
    fs::rename(&tmp, &dest).context(format_args!("installing {}", dest.display()))?;
    Ok(format!("/usr/local/bin/{name}"))
}

/// The run: the image, the programs and the servers.
struct Bench<'a> {
    backend: &'a Rootfs,
    client_config: String,
    /// Where `rssh` is in the image, or why it is not.
    rssh: std::result::Result<String, String>,
    /// Each server's port, or why it is not running.
    ports: [std::result::Result<u16, String>; 2],
    /// Pairs that failed their check: why.
    broken: Vec<Option<String>>,
    size: u64,
    connections: u32,
}

impl Bench<'_> {
    fn client_command(&self, client: ClientKind, port: u16, cipher: Option<CipherRow>) -> String {
        let program = match (client, &self.rssh) {
            (ClientKind::Ssh, _) => "ssh",
            (ClientKind::Rssh, Ok(p)) => p.as_str(),
            (ClientKind::Rssh, Err(_)) => "rssh",
        };
        let mut cmd = format!("{program} -F {} -p {port}", self.client_config);
        if let Some(c) = cipher {
            let _ = write!(cmd, " -c {}", c.cipher);
            if let Some(mac) = c.mac {
                let _ = write!(cmd, " -m {mac}");
            }
        }
        cmd.push_str(" root@127.0.0.1");
        cmd
    }

    /// The port of the pair's server, or why the pair cannot run.
    fn pair_port(&self, index: usize) -> std::result::Result<u16, String> {
        let (client, server) = PAIRS.get(index).copied().ok_or("no such pair")?;
        if let Some(Some(why)) = self.broken.get(index) {
            return Err(why.clone());
        }
        if client == ClientKind::Rssh
            && let Err(why) = &self.rssh
        {
            return Err(why.clone());
        }
        let slot = match server {
            ServerKind::Sshd => 0,
            ServerKind::Rsshd => 1,
        };
        self.ports
            .get(slot)
            .cloned()
            .unwrap_or_else(|| Err("no server".to_owned()))
    }

    /// A short check of each pair: 1 MB each way, counted by `wc -c`.
    fn check_pairs(&mut self) {
        let mut broken = Vec::new();
        for (i, pair) in PAIRS.iter().enumerate() {
            let port = match self.pair_port(i) {
                Ok(p) => p,
                Err(why) => {
                    broken.push(Some(why));
                    continue;
                }
            };
            let client = self.client_command(pair.0, port, None);
            let script = format!(
                "up=$(head -c 1000000 /dev/zero | {client} 'wc -c') || exit 1; \
                 down=$({client} 'head -c 1000000 /dev/zero' | wc -c) || exit 1; \
                 [ \"$up\" -eq 1000000 ] && [ \"$down\" -eq 1000000 ] || \
                 {{ echo \"check: up $up down $down bytes\" >&2; exit 1; }}"
            );
            match run_timed(self.backend, &script, Duration::from_secs(60)) {
                Ok(_) => broken.push(None),
                Err(e) => {
                    eprintln!("bench: {} fails its check: {e}", pair_name(*pair));
                    broken.push(Some(format!("check failed: {e}")));
                }
            }
        }
        self.broken = broken;
    }

    fn measure(&self, cipher: Option<CipherRow>, measure: Measure) -> Row {
        let mut cells: Vec<Cell> = Vec::new();
        for (i, pair) in PAIRS.iter().enumerate() {
            // Once OpenSSH's pair is measured, a pair five times slower
            // (a stalled transfer) is stopped early.
            let baseline = cells.first().and_then(|c| c.seconds);
            let name = pair_name(*pair);
            let port = match self.pair_port(i) {
                Ok(p) => p,
                Err(why) => {
                    cells.push(Cell::missing(name, why));
                    continue;
                }
            };
            let client = self.client_command(pair.0, port, cipher);
            let size = self.size;
            let n = self.connections;
            let (pipeline, timeout, amount) = match measure {
                Measure::Upload => (
                    format!("head -c {size} /dev/zero | {client} 'cat > /dev/null'"),
                    transfer_timeout(size, baseline),
                    size as f64 / MB,
                ),
                Measure::Download => (
                    format!("{client} 'head -c {size} /dev/zero' > /dev/null"),
                    transfer_timeout(size, baseline),
                    size as f64 / MB,
                ),
                Measure::Connections => (
                    format!(
                        "i=0; while [ $i -lt {n} ]; do {client} true || exit 1; i=$((i+1)); done"
                    ),
                    Duration::from_secs(30 + 10 * u64::from(n)),
                    f64::from(n),
                ),
            };
            let label = cipher.map_or_else(String::new, |c| format!("{} ", c.label()));
            match run_timed(self.backend, &pipeline, timeout) {
                Ok(secs) if secs > 0.0 => {
                    let value = amount / secs;
                    eprintln!(
                        "bench: {label}{} {name}: {value:.1} {} ({secs:.2} s)",
                        measure.name(),
                        measure.unit()
                    );
                    cells.push(Cell::measured(name, value, secs));
                }
                Ok(_) => cells.push(Cell::missing(name, "took no time")),
                Err(e) => {
                    eprintln!("bench: {label}{} {name} failed: {e}", measure.name());
                    cells.push(Cell::missing(name, e.0));
                }
            }
        }
        Row::new(cipher, measure, cells)
    }
}

/// How long a transfer of `size` bytes may take: five times OpenSSH's
/// own pair plus 10 s (at least 30 s) once that is known, else two
/// minutes plus 5 MB/s.
fn transfer_timeout(size: u64, baseline: Option<f64>) -> Duration {
    match baseline {
        Some(secs) => Duration::from_secs_f64((5.0 * secs + 10.0).max(30.0)),
        None => Duration::from_secs(120 + size / 5_000_000),
    }
}

/// Generates an ed25519 key at `path` (inside the image) with the image's
/// `ssh-keygen`.
fn keygen(backend: &Rootfs, path: &str) -> Result<()> {
    util::checked_output(&mut backend.command(
        "ssh-keygen",
        &[
            "-q",
            "-N",
            "",
            "-t",
            "ed25519",
            "-C",
            "xtask-bench",
            "-f",
            path,
        ],
    ))?;
    Ok(())
}

/// `cargo xtask bench`.
pub fn cmd_bench(args: &BenchArgs) -> Result<()> {
    let size = args
        .size
        .unwrap_or(if args.quick { QUICK_SIZE } else { DEFAULT_SIZE });
    let connections = args.connections.unwrap_or(if args.quick {
        QUICK_CONNECTIONS
    } else {
        DEFAULT_CONNECTIONS
    });
    let ciphers: Vec<CipherRow> = if args.quick {
        CIPHERS.iter().take(QUICK_CIPHERS).copied().collect()
    } else {
        CIPHERS.to_vec()
    };
    let json_path = args
        .json
        .clone()
        .unwrap_or_else(|| util::workspace_target().join("bench.json"));
    let date = utc_date(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    );

    let rsshd_bin = build_release("rsshd");
    let rssh_bin = build_release("rssh");
    let Some(image) = images::load(args.release) else {
        bail!(
            "no {} image: build it with `cargo xtask images {}` (root and mmdebstrap needed)",
            args.release,
            args.release
        );
    };
    if !util::is_root() {
        bail!("cargo xtask bench runs the image with unshare and chroot: run it as root");
    }
    let backend = Rootfs::open(&image)?;
    let root = image.rootfs();
    let rsshd = rsshd_bin.and_then(|b| install(&root, &b, "rsshd").map_err(|e| e.0));
    let rssh = rssh_bin.and_then(|b| install(&root, &b, "rssh").map_err(|e| e.0));
    if let Err(e) = &rsshd {
        eprintln!("bench: rsshd: {e}");
    }
    if let Err(e) = &rssh {
        eprintln!("bench: rssh: {e}");
    }
    let rsshd = rsshd.map_err(|_| "rsshd not built".to_owned());
    let rssh = rssh.map_err(|_| "rssh not built".to_owned());

    let scratch = Scratch::create(&root)?;
    let dir = scratch.peer.clone();
    keygen(&backend, &format!("{dir}/host_ed25519_key"))?;
    keygen(&backend, &format!("{dir}/id_ed25519"))?;
    let user_pub = fs::read_to_string(scratch.host.join("id_ed25519.pub"))
        .context("reading the generated user key")?;
    scratch.write("authorized_keys", &user_pub)?;
    let client_config = scratch.write("ssh_config", &client_config(&dir))?;
    let sshd_config = scratch.write("sshd_config", &server_config(&dir, &[]))?;
    let rsshd_config = scratch.write("rsshd_config", &server_config(&dir, &[]))?;

    let sshd = start_server(&backend, "/usr/sbin/sshd", &sshd_config);
    let rsshd_server = match &rsshd {
        Ok(path) => start_server(&backend, path, &rsshd_config),
        Err(why) => Err(util::Error(why.clone())),
    };
    let port_of = |s: &Result<Server>, name: &str| match s {
        Ok(s) => Ok(s.port),
        Err(e) => {
            eprintln!("bench: {name} did not start: {e}");
            Err(if e.0.ends_with("not built") {
                e.0.clone()
            } else {
                format!("{name} did not start")
            })
        }
    };
    let mut bench = Bench {
        backend: &backend,
        client_config,
        rssh,
        ports: [port_of(&sshd, "sshd"), port_of(&rsshd_server, "rsshd")],
        broken: Vec::new(),
        size,
        connections,
    };
    bench.check_pairs();

    let mut rows = Vec::new();
    for cipher in &ciphers {
        for measure in [Measure::Upload, Measure::Download] {
            rows.push(bench.measure(Some(*cipher), measure));
        }
    }
    rows.push(bench.measure(None, Measure::Connections));

    let report = Report {
        date,
        release: args.release.to_string(),
        openssh: image.info.openssh.clone(),
        cores: thread::available_parallelism().map_or(1, std::num::NonZero::get),
        size_bytes: size,
        connections,
        mb_bytes: 1_000_000,
        pairs: PAIRS.iter().map(|p| pair_name(*p)).collect(),
        rows,
    };
    print!("{}", render_table(&report));
    if let Some(parent) = json_path.parent() {
        fs::create_dir_all(parent).context(format_args!("creating {}", parent.display()))?;
    }
    let json = serde_json::to_string_pretty(&report).context("encoding the report")?;
    fs::write(&json_path, json + "\n").context(format_args!("writing {}", json_path.display()))?;
    println!("JSON: {}", json_path.display());
    for (name, server) in [("sshd", &sshd), ("rsshd", &rsshd_server)] {
        if let Ok(s) = server {
            for line in s.log().lines().filter(|l| {
                let l = l.to_ascii_lowercase();
                l.contains("error") || l.contains("fatal")
            }) {
                eprintln!("bench: {name} logged: {line}");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn transfers_time_out_relative_to_openssh() {
        assert_eq!(transfer_timeout(2 << 30, None).as_secs(), 120 + 429);
        assert_eq!(transfer_timeout(2 << 30, Some(12.0)).as_secs(), 70);
        assert_eq!(transfer_timeout(64 << 20, Some(0.5)).as_secs(), 30);
        let killed = Cell::missing("rssh>sshd", "`x` ran longer than 70 s and was killed");
        assert_eq!(cell_text(&killed), "timed out");
        assert_eq!(cell_text(&Cell::missing("rssh>sshd", "exit 255")), "failed");
    }

    #[test]
    fn timing_lines_parse() {
        assert_eq!(
            parse_timing("noise\nxtask-bench 0 1000 3500\n"),
            Some((0, 2500))
        );
        assert_eq!(parse_timing("xtask-bench 1 10 20"), Some((1, 10)));
        assert_eq!(parse_timing("xtask-bench 0 20 10"), None);
        assert_eq!(parse_timing("nothing"), None);
    }

    #[test]
    fn configs_pick_root_by_publickey_and_no_compression() {
        let s = server_config("/d", &[]);
        assert!(s.contains("LogLevel INFO\n"));
        assert!(s.contains("Compression no\n"));
        assert!(s.contains("AuthorizedKeysFile /d/authorized_keys\n"));
        assert!(!s.contains("DEBUG"));
        let c = client_config("/d");
        assert!(c.contains("IdentityFile /d/id_ed25519\n"));
        assert!(c.contains("User root\n"));
    }
}
