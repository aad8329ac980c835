//! `cargo xtask bench --library`: the library rows. An in-process
//! source/sink pair of our library (`crates/ssh-async/examples/pair.rs`,
//! built twice: RustCrypto, and with the `aws-lc` feature) beside
//! russh's (`bench/russh-pair`, russh 0.65 with its default AWS-LC
//! crypto), in the same run: client and server in one process over
//! loopback TCP, one session channel, the handshake not timed.
//!
//! Rounds are interleaved as in the process rows: each round runs every
//! row once for every implementation. A cell is the median of its
//! rounds; a ratio is the median of the per-round ratios to russh's
//! pair. CPU per GB is the whole process's (both ends), as each program
//! reports it for the timed interval.
//!
//! Nothing here needs the images or root; russh is built only here (it
//! is its own workspace, not a member of ours, and CI does not build
//! it).

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::bench_report::{CIPHERS, CipherRow, format_size, median, utc_date};
use crate::util::{self, Context, Result};

/// The implementations, russh's first (the baseline of the ratios).
const IMPLS: [Impl; 3] = [Impl::Russh, Impl::Ours, Impl::OursAwsLc];

/// The cipher rows: [`CIPHERS`] but the last (`aes128-ctr` with the
/// non-ETM MAC, which the pair programs do not take).
const LIBRARY_CIPHERS: usize = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Impl {
    Russh,
    Ours,
    OursAwsLc,
}

impl Impl {
    fn name(self) -> &'static str {
        match self {
            Impl::Russh => "russh 0.65 (aws-lc)",
            Impl::Ours => "ssh-async (RustCrypto)",
            Impl::OursAwsLc => "ssh-async (aws-lc)",
        }
    }

    /// Builds the program; its path.
    fn build(self) -> std::result::Result<PathBuf, String> {
        let root = util::workspace_root();
        let target = util::workspace_target();
        let (args, bin): (Vec<&str>, PathBuf) = match self {
            Impl::Russh => (
                vec!["--manifest-path", "bench/russh-pair/Cargo.toml"],
                target.join("russh-pair/release/russh-pair"),
            ),
            Impl::Ours => (
                vec!["-p", "ssh-async", "--example", "pair"],
                target.join("release/examples/pair"),
            ),
            // A target directory of its own, so that the two builds of
            // ssh-async do not replace each other.
            Impl::OursAwsLc => (
                vec![
                    "-p",
                    "ssh-async",
                    "--example",
                    "pair",
                    "--features",
                    "aws-lc",
                ],
                target.join("pair-aws-lc/release/examples/pair"),
            ),
        };
        let target_dir = match self {
            Impl::Russh => target.join("russh-pair"),
            Impl::Ours => target.clone(),
            Impl::OursAwsLc => target.join("pair-aws-lc"),
        };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(&root)
            .args(["build", "--release"])
            .args(&args)
            .arg("--target-dir")
            .arg(&target_dir);
        eprintln!("bench: {}", util::describe(&cmd));
        let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() || !bin.is_file() {
            return Err(format!("{} did not build ({status})", self.name()));
        }
        Ok(bin)
    }
}

/// One run of a pair program.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LibrarySample {
    /// MB/s (10^6 bytes a second).
    pub mb_per_second: f64,
    /// The timed interval.
    pub seconds: f64,
    /// The process's CPU over it (both ends).
    pub cpu_seconds: f64,
}

/// One implementation's rounds of one row.
#[derive(Clone, Debug, Serialize)]
pub struct LibraryCell {
    /// The implementation.
    pub implementation: &'static str,
    /// Per round: the sample, or `None` where it failed.
    pub rounds: Vec<Option<LibrarySample>>,
    /// The median MB/s.
    pub mb_per_second: Option<f64>,
    /// The median CPU seconds per GB (10^9 bytes), both ends.
    pub cpu_seconds_per_gb: Option<f64>,
    /// The median of the per-round ratios to russh's pair.
    pub ratio_to_russh: Option<f64>,
    /// Why the last failed round failed.
    pub error: Option<String>,
}

/// A row: a cipher and a direction.
#[derive(Clone, Debug, Serialize)]
pub struct LibraryRow {
    /// The cipher (and MAC).
    pub cipher: String,
    /// `up` (client to server) or `down`.
    pub direction: &'static str,
    /// One cell per implementation, russh's first.
    pub cells: Vec<LibraryCell>,
}

/// The report of `--library`.
#[derive(Clone, Debug, Serialize)]
pub struct LibraryReport {
    /// The day of the run (UTC).
    pub date: String,
    /// Cores of the machine.
    pub cores: usize,
    /// Bytes per transfer.
    pub size_bytes: u64,
    /// Rounds.
    pub rounds: u32,
    /// The rows.
    pub rows: Vec<LibraryRow>,
}

/// Runs the library rows; `ciphers` is how many of [`CIPHERS`] (at
/// most [`LIBRARY_CIPHERS`]).
pub fn run(size: u64, rounds: u32, ciphers: usize, json: &Path) -> Result<()> {
    let programs: Vec<std::result::Result<PathBuf, String>> =
        IMPLS.iter().map(|i| i.build()).collect();
    for (i, p) in IMPLS.iter().zip(&programs) {
        if let Err(e) = p {
            eprintln!("bench: {}: {e}", i.name());
        }
    }
    let plan: Vec<(CipherRow, bool)> = CIPHERS
        .iter()
        .take(ciphers.min(LIBRARY_CIPHERS))
        .flat_map(|c| [(*c, true), (*c, false)])
        .collect();
    // results[row][impl][round]
    let mut results = vec![vec![Vec::new(); IMPLS.len()]; plan.len()];
    for round in 1..=rounds {
        for (row, (cipher, up)) in results.iter_mut().zip(&plan) {
            for ((cell, program), which) in row.iter_mut().zip(&programs).zip(IMPLS) {
                let sample = program
                    .clone()
                    .and_then(|p| run_pair(&p, cipher.cipher, *up, size));
                match &sample {
                    Ok(s) => eprintln!(
                        "bench: round {round}: {} {} {}: {:.1} MB/s ({:.2} s, {:.2} CPU s)",
                        cipher.label(),
                        direction(*up),
                        which.name(),
                        s.mb_per_second,
                        s.seconds,
                        s.cpu_seconds
                    ),
                    Err(e) => eprintln!(
                        "bench: round {round}: {} {} {} failed: {e}",
                        cipher.label(),
                        direction(*up),
                        which.name()
                    ),
                }
                cell.push(sample);
            }
        }
    }
    let rows = results
        .into_iter()
        .zip(&plan)
        .map(|(cells, (cipher, up))| LibraryRow {
            cipher: cipher.label(),
            direction: direction(*up),
            cells: cells_of(cells, size),
        })
        .collect();
    let report = LibraryReport {
        date: utc_date(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        ),
        cores: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        size_bytes: size,
        rounds,
        rows,
    };
    print!("{}", render(&report));
    if let Some(parent) = json.parent() {
        fs::create_dir_all(parent).context(format_args!("creating {}", parent.display()))?;
    }
    let text = serde_json::to_string_pretty(&report).context("encoding the report")?;
    fs::write(json, text + "\n").context(format_args!("writing {}", json.display()))?;
    println!("JSON: {}", json.display());
    Ok(())
}

fn direction(up: bool) -> &'static str {
    if up { "up" } else { "down" }
}

/// A row's cells from each implementation's rounds (russh's first).
fn cells_of(
    cells: Vec<Vec<std::result::Result<LibrarySample, String>>>,
    size: u64,
) -> Vec<LibraryCell> {
    let baseline: Vec<Option<f64>> = cells
        .first()
        .map(|r| {
            r.iter()
                .map(|s| s.as_ref().ok().map(|s| s.mb_per_second))
                .collect()
        })
        .unwrap_or_default();
    cells
        .into_iter()
        .zip(IMPLS)
        .map(|(rounds, which)| {
            let error = rounds.iter().rev().find_map(|r| r.clone().err());
            let rounds: Vec<Option<LibrarySample>> = rounds.into_iter().map(Result::ok).collect();
            let ok = || rounds.iter().flatten();
            let ratios = rounds
                .iter()
                .zip(&baseline)
                .filter_map(|(s, b)| Some(s.as_ref()?.mb_per_second / (*b)?))
                .collect();
            LibraryCell {
                implementation: which.name(),
                mb_per_second: median(ok().map(|s| s.mb_per_second).collect()),
                cpu_seconds_per_gb: median(ok().map(|s| s.cpu_seconds).collect())
                    .map(|c| c * 1e9 / size as f64),
                ratio_to_russh: median(ratios),
                error,
                rounds,
            }
        })
        .collect()
}

/// One run of a pair program: its sample, or why it failed.
fn run_pair(
    program: &Path,
    cipher: &str,
    up: bool,
    size: u64,
) -> std::result::Result<LibrarySample, String> {
    let mut child = Command::new(program)
        .args(["--cipher", cipher, "--direction", direction(up), "--bytes"])
        .arg(size.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    // Two minutes and 5 MB/s: a stalled transfer does not hold the run.
    let limit = Duration::from_secs(120 + size / 5_000_000);
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "ran longer than {} s and was killed",
                    limit.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(format!("waiting: {e}")),
        }
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        return Err(format!("{}: {}", out.status, why.trim()));
    }
    parse_sample(&String::from_utf8_lossy(&out.stdout), size)
}

/// The sample in a pair program's line of JSON.
fn parse_sample(stdout: &str, size: u64) -> std::result::Result<LibrarySample, String> {
    let v: serde_json::Value =
        serde_json::from_str(stdout.trim()).map_err(|e| format!("output {stdout:?}: {e}"))?;
    let field = |k: &str| v.get(k).and_then(serde_json::Value::as_f64);
    let (Some(seconds), Some(cpu_seconds), Some(bytes)) =
        (field("seconds"), field("cpu_seconds"), field("bytes"))
    else {
        return Err(format!("output {stdout:?}: missing fields"));
    };
    if bytes != size as f64 || seconds <= 0.0 {
        return Err(format!("output {stdout:?}: not {size} bytes"));
    }
    Ok(LibrarySample {
        mb_per_second: size as f64 / 1e6 / seconds,
        seconds,
        cpu_seconds,
    })
}

/// The table: per row, each implementation's MB/s, its ratio to
/// russh's, and CPU s per GB.
fn render(report: &LibraryReport) -> String {
    let mut t = format!(
        "\nLibrary pairs, in-process over loopback: {} per transfer, {} round(s), {} cores\n\
         (MB/s; ratio to russh's pair, median of rounds; CPU s per GB, both ends)\n\n",
        format_size(report.size_bytes),
        report.rounds,
        report.cores
    );
    let header: Vec<&str> = IMPLS.iter().map(|i| i.name()).collect();
    let _ = writeln!(t, "| row | {} |", header.join(" | "));
    let _ = writeln!(t, "|---|{}", "---|".repeat(IMPLS.len()));
    for row in &report.rows {
        let cells: Vec<String> = row
            .cells
            .iter()
            .map(
                |c| match (c.mb_per_second, c.ratio_to_russh, c.cpu_seconds_per_gb) {
                    (Some(v), Some(r), Some(cpu)) => format!("{v:.0} ({r:.2}x, {cpu:.2} s/GB)"),
                    (Some(v), None, Some(cpu)) => format!("{v:.0} ({cpu:.2} s/GB)"),
                    _ => "failed".to_owned(),
                },
            )
            .collect();
        let _ = writeln!(
            t,
            "| {} {} | {} |",
            row.cipher,
            row.direction,
            cells.join(" | ")
        );
    }
    t
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn sample(mb: f64) -> std::result::Result<LibrarySample, String> {
        Ok(LibrarySample {
            mb_per_second: mb,
            seconds: 1.0,
            cpu_seconds: 2.0,
        })
    }

    #[test]
    fn ratios_are_per_round_against_russh_and_failures_are_kept() {
        let cells = cells_of(
            vec![
                vec![sample(100.0), sample(200.0), Err("x".into())],
                vec![sample(150.0), sample(200.0), sample(900.0)],
                vec![Err("not built".into()); 3],
            ],
            1_000_000_000,
        );
        // Round 3 has no russh sample: its ratio is not counted.
        assert_eq!(cells[1].ratio_to_russh, Some(1.25));
        assert_eq!(cells[1].mb_per_second, Some(200.0));
        assert_eq!(cells[1].cpu_seconds_per_gb, Some(2.0));
        assert_eq!(cells[0].error.as_deref(), Some("x"));
        assert_eq!(cells[2].mb_per_second, None);
        assert!(
            render(&LibraryReport {
                date: String::new(),
                cores: 2,
                size_bytes: 1 << 30,
                rounds: 3,
                rows: vec![LibraryRow {
                    cipher: "c".into(),
                    direction: "up",
                    cells,
                }],
            })
            .contains("| c up | 150 (1.00x, 2.00 s/GB) | 200 (1.25x, 2.00 s/GB) | failed |")
        );
    }

    #[test]
    fn a_sample_must_be_the_whole_size() {
        let line = r#"{"impl":"x","bytes":1000,"seconds":0.5,"cpu_seconds":0.25}"#;
        let s = parse_sample(line, 1000).unwrap();
        assert!((s.mb_per_second - 0.002).abs() < 1e-12);
        assert!(parse_sample(line, 2000).is_err());
        assert!(parse_sample("nonsense", 1000).is_err());
    }
}
