//! `cargo xtask bench`: throughput and connection rate of four client and
//! server pairs, `ssh`->`sshd`, `rssh`->`sshd`, `ssh`->`rsshd` and
//! `rssh`->`rsshd`, measured in the same place in the same run; in the
//! connection rows also both clients against `rsshd1`, `rsshd` as one
//! process (run by the bench account, where `rsshd` is run by root and
//! privilege-separated), so that the separated mode's cost per connection
//! shows beside the single-process mode's and `sshd`'s.
//!
//! Everything runs inside one OpenSSH image (the newest release unless
//! `--release` says otherwise) through the root filesystem backend: the
//! release builds of `rssh` and `rsshd` are copied into its
//! `/usr/local/bin` at each run, both servers get the same `sshd_config`
//! text (LogLevel INFO, root by publickey with a fresh ed25519 key,
//! `Compression no`) and both clients the same `ssh_config`; the client
//! picks the cipher and MAC (`-c`, `-m`).
//!
//! The clients log in to an account of their own whose login shell is
//! `/bin/sh`, so no rc file runs around the remote command.
//!
//! Rows: for each cipher (and MAC) an upload, `head -c SIZE /dev/zero |
//! CLIENT host 'cat > /dev/null'`, and a download, `CLIENT host 'head -c
//! SIZE /dev/zero' > /dev/null`, in MB/s (10^6 bytes per second); and the
//! connection rate, N sequential `CLIENT host true` (full handshake, auth
//! and a command), in connections per second. Each pipeline runs in one
//! `sh -c` inside the image and is timed there with `date +%s%N`
//! (the clock of the container, monotonic enough over seconds; nothing
//! is subtracted).
//!
//! The run is made of rounds; each round measures every row once for
//! every pair, one after the other, so a noisy moment of the machine
//! touches one round of a few cells rather than a whole column. A cell
//! is the median of its rounds; a ratio is the median of the per-round
//! ratios of ours to OpenSSH's own pair. CPU time is measured for both
//! ends: the client's from the shell's `times` around it, the server's
//! from its `/proc/PID/stat` (its own time and its reaped children's:
//! per-connection processes and the remote command) before and after.
//! The same numbers, every round of them, go to a JSON file.
//!
//! The sftp rows ([`crate::bench_sftp`]) time a `get` and a `put` of
//! SIZE bytes with OpenSSH's `sftp` and our `rsftp` in batch mode, to
//! `sshd` running `sftp-server` and `rsshd` running its `internal-sftp`.
//!
//! With `--rtt`, long-fat-path rows follow: the transfers of
//! [`PATH_CIPHER`] and the sftp rows again, each client connecting to a
//! delay proxy in front of its server ([`crate::bench_proxy`]: a fixed
//! delay each way, optionally a link rate) instead of to the server;
//! they take their turn in each round like the others.

use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::bail;
use crate::bench_proxy::{self, PathConfig, Proxy};
use crate::bench_run::{Server, measured, run_timed, start_server, start_server_via, times_file};
use crate::bench_setup::{
    BENCH_SHELL, BENCH_UID, Scratch, bench_account, build_release, client_config, install, keygen,
    server_config,
};
use crate::bench_sftp::{self, SftpFiles};
use crate::images::{self, Release};
use crate::peer::{Backend as _, Rootfs};
use crate::util::{self, Context, Result};

/// `cargo xtask bench` options.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Bytes per transfer, with an optional K, M or G suffix (binary
    /// multiples: 2G is 2 GiB). Default 1G, or 64M with --quick.
    #[arg(long, value_parser = parse_size)]
    pub size: Option<u64>,
    /// Sequential connections per pair for the connection rate. Default 20,
    /// or 5 with --quick.
    #[arg(long)]
    pub connections: Option<u32>,
    /// Rounds: each measures every row once for every pair. Default 4,
    /// or 1 with --quick.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub rounds: Option<u32>,
    /// The release whose image all four pairs run in.
    #[arg(long, value_enum, default_value_t = Release::Sid)]
    pub release: Release,
    /// Where the JSON report is written (default target/bench.json).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// A smoke run: 64 MiB, 5 connections, two cipher rows, one round.
    #[arg(long)]
    pub quick: bool,
    /// Adds long-fat-path rows: the aes128-gcm upload and download and
    /// the sftp get and put again, each client connecting through a
    /// delay proxy on loopback that holds every byte for half this
    /// round trip in each direction (100ms, 0.02s, ...).
    #[arg(long, value_parser = bench_proxy::parse_duration)]
    pub rtt: Option<Duration>,
    /// With --rtt: the link rate of each direction of the path, in bits
    /// per second (1G, 10Gbit, 500M); the link has 10 ms of queue in
    /// front of it. Default: no cap.
    #[arg(long, requires = "rtt", value_parser = bench_proxy::parse_rate)]
    pub rate: Option<u64>,
    /// With --rtt: the proxy's bound on bytes in flight per direction of
    /// a connection (K, M or G suffix), default 64M. It must exceed the
    /// path's bandwidth-delay product (1 Gbit/s x 100 ms = 12.5 MB).
    #[arg(long, requires = "rtt", value_parser = parse_size)]
    pub proxy_buffer: Option<u64>,
    /// With --rtt: only the rows through the proxy (no loopback rows).
    #[arg(long, requires = "rtt")]
    pub path_only: bool,
    /// Builds rssh, rsshd and rsftp with their `aws-lc` feature: AES-GCM
    /// and chacha20-poly1305 packets through AWS-LC instead of RustCrypto (the report says
    /// which; run once with and once without to compare).
    #[arg(long)]
    pub aws_lc: bool,
    /// Only the library rows ([`crate::bench_library`]): our in-process
    /// source/sink pair (RustCrypto and aws-lc builds) beside russh
    /// 0.65's, on the host (no image, no root). The JSON report goes to
    /// target/bench-library.json unless --json says otherwise.
    #[arg(long, conflicts_with_all = ["rtt", "aws_lc", "connections"])]
    pub library: bool,
}

/// The index of a server in [`Bench::servers`] and [`Bench::proxies`].
fn server_slot(kind: ServerKind) -> usize {
    match kind {
        ServerKind::Sshd => 0,
        ServerKind::Rsshd => 1,
        ServerKind::RsshdOneProcess => 2,
    }
}

/// The default transfer size: 1 GiB.
const DEFAULT_SIZE: u64 = 1 << 30;
/// The default number of rounds.
const DEFAULT_ROUNDS: u32 = 4;
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

/// One row of the run's plan.
#[derive(Clone, Copy, Debug)]
struct Planned {
    cipher: Option<CipherRow>,
    measure: Measure,
    /// Through the delay proxy.
    via_proxy: bool,
}

pub use crate::bench_report::*;

/// The run: the image, the programs and the servers.
struct Bench<'a> {
    backend: &'a Rootfs,
    client_config: String,
    /// Where `rssh` is in the image, or why it is not.
    rssh: std::result::Result<String, String>,
    /// Where `rsftp` is in the image, or why it is not.
    rsftp: std::result::Result<String, String>,
    /// The sftp rows' batch files, or why there are none.
    sftp: std::result::Result<SftpFiles, String>,
    /// The delay proxy in front of each server (`--rtt`), or why not.
    proxies: [std::result::Result<Proxy, String>; 3],
    /// What the proxies emulate.
    path: Option<PathConfig>,
    /// Each server (sshd, rsshd, rsshd as one process), or why it is not
    /// running.
    servers: [std::result::Result<&'a Server, String>; 3],
    /// Where measured clients leave their CPU times, in the image.
    times: String,
    /// Pairs that failed their check: why.
    broken: Vec<Option<String>>,
    size: u64,
    connections: u32,
}

impl Bench<'_> {
    /// The port the client of pair `index` connects to: its server's,
    /// or that of the proxy in front of it.
    fn pair_port(&self, index: usize, via_proxy: bool) -> std::result::Result<u16, String> {
        let server = self.pair_server(index)?;
        if !via_proxy {
            return Ok(server.port);
        }
        let (_, kind) = PAIRS.get(index).copied().ok_or("no such pair")?;
        match self.proxies.get(server_slot(kind)) {
            Some(Ok(p)) => Ok(p.port),
            Some(Err(why)) => Err(why.clone()),
            None => Err("no proxy".to_owned()),
        }
    }

    /// The sftp client command of a pair's client, or why it cannot run.
    fn sftp_client(
        &self,
        client: ClientKind,
        port: u16,
        cipher: CipherRow,
        measure: Measure,
    ) -> std::result::Result<String, String> {
        let files = self.sftp.as_ref().map_err(Clone::clone)?;
        let program = match client {
            ClientKind::Ssh => "sftp",
            ClientKind::Rssh => self.rsftp.as_ref().map_err(Clone::clone)?.as_str(),
        };
        let batch = match measure {
            Measure::SftpPut => &files.put_batch,
            _ => &files.get_batch,
        };
        Ok(bench_sftp::sftp_command(
            program,
            &self.client_config,
            port,
            cipher,
            batch,
        ))
    }

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
        cmd.push_str(" 127.0.0.1");
        cmd
    }

    /// The pair's server, or why the pair cannot run.
    fn pair_server(&self, index: usize) -> std::result::Result<&Server, String> {
        let (client, server) = PAIRS.get(index).copied().ok_or("no such pair")?;
        if let Some(Some(why)) = self.broken.get(index) {
            return Err(why.clone());
        }
        if client == ClientKind::Rssh
            && let Err(why) = &self.rssh
        {
            return Err(why.clone());
        }
        self.servers
            .get(server_slot(server))
            .cloned()
            .unwrap_or_else(|| Err("no server".to_owned()))
    }

    /// A short check of each pair: 1 MB each way, counted by `wc -c`.
    fn check_pairs(&mut self) {
        let mut broken = Vec::new();
        for (i, pair) in PAIRS.iter().enumerate() {
            let port = match self.pair_server(i) {
                Ok(s) => s.port,
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
            match run_timed(self.backend, &script, &self.times, Duration::from_secs(60)) {
                Ok(_) => broken.push(None),
                Err(e) => {
                    eprintln!("bench: {} fails its check: {e}", pair_name(*pair));
                    broken.push(Some(format!("check failed: {e}")));
                }
            }
        }
        self.broken = broken;
    }

    /// One round of one row: every pair once, in [`PAIRS`] order.
    fn measure_round(&self, plan: Planned, round: u32) -> Vec<std::result::Result<Sample, String>> {
        let Planned {
            cipher,
            measure,
            via_proxy,
        } = plan;
        let mut out: Vec<std::result::Result<Sample, String>> = Vec::new();
        for (i, pair) in PAIRS.iter().enumerate() {
            if pair.1 == ServerKind::RsshdOneProcess && measure != Measure::Connections {
                out.push(Err(CONNECTIONS_ONLY.to_owned()));
                continue;
            }
            // Once OpenSSH's pair is measured, a pair five times slower
            // (a stalled transfer) is stopped early.
            let baseline = out.first().and_then(|c| c.as_ref().ok()).map(|s| s.seconds);
            let name = pair_name(*pair);
            let (server, port) = match self.pair_server(i).and_then(|s| {
                let port = self.pair_port(i, via_proxy)?;
                Ok((s, port))
            }) {
                Ok(s) => s,
                Err(why) => {
                    out.push(Err(why));
                    continue;
                }
            };
            let client = match measure {
                Measure::SftpGet | Measure::SftpPut => {
                    match self.sftp_client(pair.0, port, cipher.unwrap_or(PATH_CIPHER), measure) {
                        Ok(c) => c,
                        Err(why) => {
                            out.push(Err(why));
                            continue;
                        }
                    }
                }
                _ => self.client_command(pair.0, port, cipher),
            };
            let path = self.path.filter(|_| via_proxy);
            let size = self.size;
            let n = self.connections;
            let t = &self.times;
            let (pipeline, timeout, amount) = match measure {
                Measure::Upload => (
                    format!(
                        "head -c {size} /dev/zero | {}",
                        measured(&format!("{client} 'cat > /dev/null'"), t)
                    ),
                    transfer_timeout(size, baseline, path),
                    size as f64 / MB,
                ),
                Measure::Download => (
                    format!(
                        "{} > /dev/null",
                        measured(&format!("{client} 'head -c {size} /dev/zero'"), t)
                    ),
                    transfer_timeout(size, baseline, path),
                    size as f64 / MB,
                ),
                Measure::SftpGet | Measure::SftpPut => (
                    measured(&client, t),
                    transfer_timeout(size, baseline, path),
                    size as f64 / MB,
                ),
                Measure::Connections => (
                    measured(
                        &format!(
                            "i=0; while [ $i -lt {n} ]; do {client} true || exit 1; i=$((i+1)); done"
                        ),
                        t,
                    ),
                    Duration::from_secs(30 + 10 * u64::from(n)),
                    f64::from(n),
                ),
            };
            let mut label = cipher.map_or_else(String::new, |c| format!("{} ", c.label()));
            if let Some(p) = path {
                label = format!("[{}] {label}", p.describe());
            }
            let server_before = server.cpu_seconds();
            let result = run_timed(self.backend, &pipeline, t, timeout);
            let server_cpu = server_before.zip(server.cpu_seconds()).map(|(b, a)| a - b);
            match result {
                Ok(timed) if timed.seconds > 0.0 => {
                    let value = amount / timed.seconds;
                    eprintln!(
                        "bench: round {round}: {label}{} {name}: {value:.1} {} ({:.2} s)",
                        measure.name(),
                        measure.unit(),
                        timed.seconds,
                    );
                    out.push(Ok(Sample {
                        value,
                        seconds: timed.seconds,
                        client_cpu_seconds: timed.cpu_seconds,
                        server_cpu_seconds: server_cpu,
                    }));
                }
                Ok(_) => out.push(Err("took no time".to_owned())),
                Err(e) => {
                    eprintln!(
                        "bench: round {round}: {label}{} {name} failed: {e}",
                        measure.name()
                    );
                    out.push(Err(e.0));
                }
            }
        }
        out
    }
}

/// How long a transfer of `size` bytes may take: five times OpenSSH's
/// own pair plus 10 s (at least 30 s) once that is known, else two
/// minutes plus 5 MB/s (through a path, at most 1 MiB per round trip:
/// OpenSSH's 2 MiB window at half its rate).
fn transfer_timeout(size: u64, baseline: Option<f64>, path: Option<PathConfig>) -> Duration {
    let floor_rate = match path {
        Some(p) => (f64::from(1u32 << 20) / p.rtt().as_secs_f64()).min(5e6),
        None => 5e6,
    };
    match baseline {
        Some(secs) => Duration::from_secs_f64((5.0 * secs + 10.0).max(30.0)),
        None => Duration::from_secs(120 + (size as f64 / floor_rate) as u64),
    }
}

/// The rows of a run, in order: the loopback rows (each cipher's upload
/// and download, the sftp get and put, the connection rate) unless
/// `path_only`, then with `via_proxy` the long-fat-path rows
/// ([`PATH_CIPHER`]'s upload and download, sftp get and put).
fn plan(ciphers: &[CipherRow], via_proxy: bool, path_only: bool) -> Vec<Planned> {
    let row = |cipher: Option<CipherRow>, measure, via_proxy| Planned {
        cipher,
        measure,
        via_proxy,
    };
    let mut plan = Vec::new();
    if !(via_proxy && path_only) {
        for cipher in ciphers {
            for measure in [Measure::Upload, Measure::Download] {
                plan.push(row(Some(*cipher), measure, false));
            }
        }
        for measure in [Measure::SftpGet, Measure::SftpPut] {
            plan.push(row(Some(PATH_CIPHER), measure, false));
        }
        plan.push(row(None, Measure::Connections, false));
    }
    if via_proxy {
        for measure in [
            Measure::Upload,
            Measure::Download,
            Measure::SftpGet,
            Measure::SftpPut,
        ] {
            plan.push(row(Some(PATH_CIPHER), measure, true));
        }
    }
    plan
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
    let rounds = args
        .rounds
        .unwrap_or(if args.quick { 1 } else { DEFAULT_ROUNDS });
    let ciphers: Vec<CipherRow> = if args.quick {
        CIPHERS.iter().take(QUICK_CIPHERS).copied().collect()
    } else {
        CIPHERS.to_vec()
    };
    if args.library {
        let json = args
            .json
            .clone()
            .unwrap_or_else(|| util::workspace_target().join("bench-library.json"));
        let ciphers = if args.quick {
            QUICK_CIPHERS
        } else {
            CIPHERS.len()
        };
        return crate::bench_library::run(size, rounds, ciphers, &json);
    }
    let json_path = args
        .json
        .clone()
        .unwrap_or_else(|| util::workspace_target().join("bench.json"));
    let date = utc_date(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    );

    let path = args.rtt.map(|rtt| {
        PathConfig::with_rtt(
            rtt,
            args.rate,
            args.proxy_buffer.map_or(bench_proxy::DEFAULT_BUFFER, |b| {
                usize::try_from(b).unwrap_or(usize::MAX)
            }),
        )
    });

    let features: &[&str] = if args.aws_lc { &["aws-lc"] } else { &[] };
    let rsshd_bin = build_release("rsshd", features);
    let rssh_bin = build_release("rssh", features);
    let rsftp_bin = build_release("rsftp", features);
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
    let rsftp = rsftp_bin.and_then(|b| install(&root, &b, "rsftp").map_err(|e| e.0));
    for (name, r) in [("rsshd", &rsshd), ("rssh", &rssh), ("rsftp", &rsftp)] {
        if let Err(e) = r {
            eprintln!("bench: {name}: {e}");
        }
    }
    let rsshd = rsshd.map_err(|_| "rsshd not built".to_owned());
    let rssh = rssh.map_err(|_| "rssh not built".to_owned());
    let rsftp = rsftp.map_err(|_| "rsftp not built".to_owned());

    bench_account(&backend)?;
    let scratch = Scratch::create(&root)?;
    let dir = scratch.peer.clone();
    keygen(&backend, &format!("{dir}/host_ed25519_key"))?;
    keygen(&backend, &format!("{dir}/id_ed25519"))?;
    let user_pub = fs::read_to_string(scratch.host.join("id_ed25519.pub"))
        .context("reading the generated user key")?;
    scratch.write("authorized_keys", &user_pub)?;
    let times = times_file(&dir);
    let client_config = scratch.write("ssh_config", &client_config(&dir))?;
    let sshd_config = scratch.write(
        "sshd_config",
        &server_config(&dir, &[bench_sftp::SSHD_SUBSYSTEM]),
    )?;
    let rsshd_config = scratch.write(
        "rsshd_config",
        &server_config(&dir, &[bench_sftp::RSSHD_SUBSYSTEM]),
    )?;
    let sftp = bench_sftp::prepare(&scratch.host, &dir, size).map_err(|e| {
        eprintln!("bench: no sftp rows: {e}");
        e.0
    });

    let sshd = start_server(&backend, "/usr/sbin/sshd", &sshd_config);
    let rsshd_server = match &rsshd {
        Ok(path) => start_server(&backend, path, &rsshd_config),
        Err(why) => Err(util::Error(why.clone())),
    };
    // rsshd as one process: run by the bench account (a user's own
    // server), with a host key of its own it can read.
    let rsshd1_server = match &rsshd {
        Ok(path) => one_process_config(&backend, &scratch, &dir).and_then(|config| {
            let ids = format!("--reuid={BENCH_UID}");
            let gid = format!("--regid={BENCH_UID}");
            start_server_via(
                &backend,
                &["setpriv", &ids, &gid, "--init-groups", "--"],
                path,
                &config,
            )
        }),
        Err(why) => Err(util::Error(why.clone())),
    };
    fn server_of<'s>(s: &'s Result<Server>, name: &str) -> std::result::Result<&'s Server, String> {
        match s {
            Ok(s) => Ok(s),
            Err(e) => {
                eprintln!("bench: {name} did not start: {e}");
                Err(if e.0.ends_with("not built") {
                    e.0.clone()
                } else {
                    format!("{name} did not start")
                })
            }
        }
    }
    let servers = [
        server_of(&sshd, "sshd"),
        server_of(&rsshd_server, "rsshd"),
        server_of(&rsshd1_server, "rsshd1"),
    ];
    let proxies = servers.clone().map(|server| {
        let path = path.ok_or("no --rtt")?;
        let server = server?;
        Proxy::start(
            std::net::SocketAddr::from(([127, 0, 0, 1], server.port)),
            path,
        )
        .map_err(|e| {
            eprintln!("bench: the delay proxy did not start: {e}");
            "proxy did not start".to_owned()
        })
    });
    if let Some(p) = path {
        eprintln!("bench: delay proxies for {}", p.describe());
    }
    let mut bench = Bench {
        backend: &backend,
        client_config,
        rssh,
        rsftp,
        sftp,
        proxies,
        path,
        servers,
        times,
        broken: Vec::new(),
        size,
        connections,
    };
    bench.check_pairs();

    // Every row's rounds, each a sample per pair; rounds outermost.
    let plan = plan(&ciphers, path.is_some(), args.path_only);
    let mut results: Vec<Vec<Vec<std::result::Result<Sample, String>>>> =
        vec![vec![Vec::new(); PAIRS.len()]; plan.len()];
    for round in 1..=rounds {
        for (row, planned) in results.iter_mut().zip(&plan) {
            let samples = bench.measure_round(*planned, round);
            for (cell, sample) in row.iter_mut().zip(samples) {
                cell.push(sample);
            }
        }
    }
    let path_report = path.map(|p| PathReport {
        description: p.describe(),
        rtt_ms: p.rtt().as_secs_f64() * 1e3,
        rate_bits_per_second: p.rate_bits,
        buffer_bytes: p.buffer as u64,
        link_queue_ms: p
            .rate_bits
            .map(|_| bench_proxy::LINK_QUEUE.as_secs_f64() * 1e3),
    });
    let rows = results
        .into_iter()
        .zip(&plan)
        .map(|(row, planned)| {
            let Planned {
                cipher,
                measure,
                via_proxy,
            } = planned;
            let basis = match measure {
                Measure::Connections => CpuBasis::PerConnection { connections },
                _ => CpuBasis::PerGb { bytes: size },
            };
            let cells = row
                .into_iter()
                .zip(PAIRS)
                .map(|(rounds, pair)| Cell::from_rounds(pair_name(pair), rounds, basis))
                .collect();
            let path = path_report.clone().filter(|_| *via_proxy);
            Row::new(*cipher, *measure, path, basis, cells)
        })
        .collect();

    let report = Report {
        date,
        release: args.release.to_string(),
        openssh: image.info.openssh.clone(),
        cores: thread::available_parallelism().map_or(1, std::num::NonZero::get),
        crypto: if args.aws_lc {
            CRYPTO_AWS_LC
        } else {
            CRYPTO_DEFAULT
        },
        size_bytes: size,
        connections,
        rounds,
        login_shell: BENCH_SHELL,
        mb_bytes: 1_000_000,
        pairs: PAIRS.iter().map(|p| pair_name(*p)).collect(),
        path: path_report,
        rows,
    };
    print!("{}", render_table(&report));
    if let Some(parent) = json_path.parent() {
        fs::create_dir_all(parent).context(format_args!("creating {}", parent.display()))?;
    }
    let json = serde_json::to_string_pretty(&report).context("encoding the report")?;
    fs::write(&json_path, json + "\n").context(format_args!("writing {}", json_path.display()))?;
    println!("JSON: {}", json_path.display());
    for (name, server) in [
        ("sshd", &sshd),
        ("rsshd", &rsshd_server),
        ("rsshd1", &rsshd1_server),
    ] {
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

/// The configuration of rsshd as one process, with a copy of the host
/// key owned by the bench account; its path in the image.
fn one_process_config(backend: &Rootfs, scratch: &Scratch, dir: &str) -> Result<String> {
    let key = format!("{dir}/one_process_host_key");
    let script = format!(
        "set -e; cp {dir}/host_ed25519_key {key}; cp {dir}/host_ed25519_key.pub {key}.pub; \
         chown {BENCH_UID}:{BENCH_UID} {key} {key}.pub; chmod 600 {key}"
    );
    util::checked_output(&mut backend.command("sh", &["-c", &script]))?;
    let text = server_config(dir, &[bench_sftp::RSSHD_SUBSYSTEM])
        .replace(&format!("{dir}/host_ed25519_key"), &key);
    scratch.write("rsshd1_config", &text)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn transfers_time_out_relative_to_openssh() {
        assert_eq!(transfer_timeout(2 << 30, None, None).as_secs(), 120 + 429);
        assert_eq!(transfer_timeout(2 << 30, Some(12.0), None).as_secs(), 70);
        assert_eq!(transfer_timeout(64 << 20, Some(0.5), None).as_secs(), 30);
        // 1 MiB per 400 ms round trip: 819 s for 2 GiB.
        let slow = PathConfig::with_rtt(Duration::from_millis(400), None, 1);
        assert_eq!(
            transfer_timeout(2 << 30, None, Some(slow)).as_secs(),
            120 + 819
        );
        // Short round trips keep the 5 MB/s floor.
        let fast = PathConfig::with_rtt(Duration::from_millis(20), None, 1);
        assert_eq!(
            transfer_timeout(2 << 30, None, Some(fast)).as_secs(),
            120 + 429
        );
        let basis = CpuBasis::PerGb { bytes: 1 };
        let cell = |why: &str| Cell::from_rounds("rssh>sshd", vec![Err(why.to_owned())], basis);
        let killed = cell("`x` ran longer than 70 s and was killed");
        assert_eq!(cell_text(&killed), "timed out");
        assert_eq!(cell_text(&cell("exit 255")), "failed");
    }

    #[test]
    fn the_plan_adds_path_rows_after_the_loopback_ones() {
        let names = |p: Vec<Planned>| -> Vec<String> {
            p.iter()
                .map(|r| {
                    let via = if r.via_proxy { " via" } else { "" };
                    format!("{}{via}", r.measure.name())
                })
                .collect()
        };
        let two = &CIPHERS[..2];
        let loopback = [
            "upload",
            "download",
            "upload",
            "download",
            "sftp get",
            "sftp put",
            "connections/s",
        ];
        assert_eq!(names(plan(two, false, false)), loopback);
        // --path-only needs --rtt; without it, it changes nothing.
        assert_eq!(names(plan(two, false, true)), loopback);
        let via = ["upload via", "download via", "sftp get via", "sftp put via"];
        assert_eq!(names(plan(two, true, true)), via);
        let both = names(plan(two, true, false));
        assert_eq!(both[..7], loopback);
        assert_eq!(both[7..], via);
        assert!(
            plan(two, true, true)
                .iter()
                .all(|r| r.cipher == Some(PATH_CIPHER))
        );
    }
}
