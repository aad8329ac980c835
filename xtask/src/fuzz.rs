//! `cargo xtask fuzz`: runs every cargo-fuzz target in `fuzz/` for a while,
//! with the nightly toolchain (the only thing nightly is used for).

use std::collections::VecDeque;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Instant;

use crate::bail;
use crate::util::{self, Context, Result};

/// Seconds per target for `--smoke` (CI: about twenty targets, one per
/// core at a time).
pub const SMOKE_SECONDS: u64 = 5;
/// Seconds per target by default.
pub const DEFAULT_SECONDS: u64 = 60;

/// The most a committed seed directory may hold after `--merge`, per
/// target.
pub const MAX_SEEDS_BYTES: u64 = 512 * 1024;
/// The largest input `--merge` commits.
pub const MAX_SEED_LEN: usize = 16 * 1024;

/// `cargo xtask fuzz`'s arguments.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FuzzArgs {
    /// A few seconds per target (CI).
    #[arg(long)]
    pub smoke: bool,
    /// Seconds per target (default: 60, or 5 with --smoke).
    #[arg(long)]
    pub seconds: Option<u64>,
    /// Run every target this long (`90s`, `10m`, `2h`), one per core at a
    /// time, and print executions and crashes per target. Without
    /// --sanitizer, the targets are built without AddressSanitizer.
    #[arg(long, value_parser = parse_duration, conflicts_with_all = ["smoke", "seconds"])]
    pub long: Option<u64>,
    /// Stop each target once it has run this many inputs (`10M`, `500k`),
    /// if its time has not run out first.
    #[arg(long, value_parser = parse_count, conflicts_with = "smoke")]
    pub runs: Option<u64>,
    /// The sanitizer the targets are built with (default: `none` with
    /// --long, else `address`). The fuzzed crates are safe Rust, where
    /// AddressSanitizer's checks repeat the language's own at 3-4x the
    /// cost; it still watches the `unsafe` of the dependencies in the
    /// smoke runs.
    #[arg(long, value_enum)]
    pub sanitizer: Option<Sanitizer>,
    /// Instead of fuzzing: add to each target's committed seeds
    /// (`fuzz/seeds/<target>`) the inputs of its corpus that reach new
    /// coverage (libFuzzer's `-set_cover_merge=1` over edges: the fewest
    /// inputs that reach every edge), at most MAX_SEED_LEN bytes each,
    /// and fail if a seed directory grows past MAX_SEEDS_BYTES.
    #[arg(long, conflicts_with_all = ["smoke", "seconds", "long", "runs"])]
    pub merge: bool,
}

impl FuzzArgs {
    /// The CI smoke run.
    pub fn smoke() -> Self {
        Self {
            smoke: true,
            ..Self::default()
        }
    }

    fn sanitizer(&self) -> Sanitizer {
        self.sanitizer.unwrap_or(if self.long.is_some() {
            Sanitizer::None
        } else {
            Sanitizer::Address
        })
    }
}

/// cargo-fuzz's `--sanitizer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Sanitizer {
    Address,
    None,
}

impl Sanitizer {
    fn name(self) -> &'static str {
        match self {
            Self::Address => "address",
            Self::None => "none",
        }
    }
}

/// How to get cargo-fuzz, for messages.
pub const HOW_TO_INSTALL: &str = "install it with `cargo +nightly install cargo-fuzz --locked` \
     (the nightly toolchain must be installed: `rustup toolchain install nightly`)";

/// `fuzz/` of the workspace.
pub fn fuzz_dir() -> PathBuf {
    util::workspace_root().join("fuzz")
}

/// A `cargo +nightly` command for `fuzz/`. The toolchain chosen for the
/// workspace by the environment (`RUSTUP_TOOLCHAIN`, set when this runs
/// under `cargo xtask`) and our target directory are removed, so that the
/// fuzz build uses nightly and `fuzz/target`.
fn nightly(args: &[&str]) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.arg("+nightly")
        .args(args)
        .current_dir(fuzz_dir())
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTC")
        .env_remove("RUSTDOC")
        .env_remove("RUSTC_WRAPPER");
    cmd
}

/// Why fuzzing cannot run here, if it cannot.
pub fn unavailable_reason() -> Option<String> {
    if !fuzz_dir().join("Cargo.toml").is_file() {
        return Some(format!("there is no {}/Cargo.toml", fuzz_dir().display()));
    }
    let ok = |args: &[&str]| {
        nightly(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !ok(&["--version"]) {
        return Some(
            "the nightly toolchain is not installed (rustup toolchain install nightly)".to_owned(),
        );
    }
    if !ok(&["fuzz", "--version"]) {
        return Some(format!("cargo-fuzz is not installed: {HOW_TO_INSTALL}"));
    }
    None
}

/// The targets `cargo fuzz list` reports.
pub fn targets() -> Result<Vec<String>> {
    let out = util::checked_output(&mut nightly(&["fuzz", "list"]))?;
    Ok(parse_list(&String::from_utf8_lossy(&out.stdout)))
}

fn parse_list(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Read-only seed directories of `target`, besides its corpus: the
/// committed seeds in `fuzz/seeds/<target>` and the test fixtures and
/// captured bytes of the repository that the target reads.
pub fn seed_dirs(target: &str) -> Vec<PathBuf> {
    let root = util::workspace_root();
    let keys = "crates/ssh-auth/tests/fixtures/test-keys-DO-NOT-USE";
    let fixtures: &[&str] = match target {
        "version_line" => &[
            "crates/ssh-wire/tests/data/openssh/bookworm",
            "crates/ssh-wire/tests/data/openssh/trixie",
            "crates/ssh-wire/tests/data/openssh/sid",
            "crates/ssh-wire/tests/data/libssh/bookworm",
        ],
        "certificate" => &["crates/ssh-auth/tests/fixtures/certs"],
        "key_file" => &[keys],
        "public_key_file" => &[keys, "crates/ssh-keys/tests/data"],
        "known_hosts" => &["crates/ssh-auth/tests/fixtures/known_hosts"],
        "authorized_keys" => &[keys],
        _ => &[],
    };
    std::iter::once(fuzz_dir().join("seeds").join(target))
        .chain(fixtures.iter().map(|f| root.join(f)))
        .filter(|d| d.is_dir())
        .collect()
}

/// How long, and with what, each target runs.
#[derive(Debug, Clone, Copy)]
struct Plan {
    seconds: u64,
    runs: Option<u64>,
    sanitizer: Sanitizer,
}

/// The `cargo fuzz run` arguments for a run of `plan`: the corpus (where
/// new inputs go), then the seed directories.
fn run_args(target: &str, plan: Plan, seeds: &[PathBuf]) -> Vec<String> {
    let mut args = vec![
        "fuzz".to_owned(),
        "run".to_owned(),
        format!("--sanitizer={}", plan.sanitizer.name()),
        target.to_owned(),
        fuzz_dir().join("corpus").join(target).display().to_string(),
    ];
    args.extend(seeds.iter().map(|d| d.display().to_string()));
    args.extend([
        "--".to_owned(),
        format!("-max_total_time={}", plan.seconds),
        // A unit slower than this is reported as a crash (a hang).
        "-timeout=60".to_owned(),
        "-print_final_stats=1".to_owned(),
    ]);
    if let Some(n) = plan.runs {
        args.push(format!("-runs={n}"));
    }
    args
}

/// Parses a duration: seconds, or a number with `s`, `m` or `h`.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (num, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (e.g. 90s, 10m, 2h)"))?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(format!("{text:?}: the unit is one of s, m, h")),
    };
    n.checked_mul(scale)
        .filter(|&s| s > 0)
        .ok_or_else(|| format!("{text:?} is not a positive duration"))
}

/// Parses a count: a number, or one with `k` or `M` (thousands,
/// millions).
pub fn parse_count(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (num, scale) = if let Some(n) = text.strip_suffix('M') {
        (n, 1_000_000)
    } else if let Some(n) = text.strip_suffix('k') {
        (n, 1_000)
    } else {
        (text, 1)
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("{text:?} is not a positive count (e.g. 500k, 10M)"))
}

/// libFuzzer's final count of executions (`-print_final_stats=1`).
pub fn executions(log: &str) -> Option<u64> {
    log.lines().rev().find_map(|l| {
        l.trim()
            .strip_prefix("stat::number_of_executed_units:")
            .and_then(|n| n.trim().parse().ok())
    })
}

/// The files libFuzzer left in `fuzz/artifacts/<target>` (crashes,
/// leaks, timeouts, out-of-memory inputs).
fn artifacts(target: &str) -> Vec<PathBuf> {
    let dir = fuzz_dir().join("artifacts").join(target);
    let mut found: Vec<PathBuf> = fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// How one target's run went.
#[derive(Debug)]
struct Outcome {
    target: String,
    ok: bool,
    status: String,
    executions: Option<u64>,
    crashes: Vec<PathBuf>,
    took: std::time::Duration,
    log: PathBuf,
}

fn run_one(target: &str, plan: Plan, logs: &Path) -> Result<Outcome> {
    let log_path = logs.join(format!("{target}.log"));
    let log = File::create(&log_path).context(format_args!("creating {}", log_path.display()))?;
    let err = log.try_clone().context("duplicating a file handle")?;
    let corpus = fuzz_dir().join("corpus").join(target);
    fs::create_dir_all(&corpus).context(format_args!("creating {}", corpus.display()))?;
    let before = artifacts(target);
    let args = run_args(target, plan, &seed_dirs(target));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut cmd = nightly(&args);
    cmd.stdout(log).stderr(err);
    let start = Instant::now();
    let status = cmd
        .status()
        .context(format_args!("cannot run {}", util::describe(&cmd)))?;
    let took = start.elapsed();
    let text = fs::read_to_string(&log_path).unwrap_or_default();
    let crashes: Vec<PathBuf> = artifacts(target)
        .into_iter()
        .filter(|a| !before.contains(a))
        .collect();
    Ok(Outcome {
        target: target.to_owned(),
        ok: status.success() && crashes.is_empty(),
        status: status.to_string(),
        executions: executions(&text),
        crashes,
        took,
        log: log_path,
    })
}

/// Runs every target for `plan`, `jobs` at a time.
fn run_all(targets: &[String], plan: Plan, jobs: usize) -> Result<Vec<Outcome>> {
    let logs = util::workspace_target().join("fuzz-logs");
    fs::create_dir_all(&logs).context(format_args!("creating {}", logs.display()))?;
    let queue = Mutex::new(targets.iter().cloned().collect::<VecDeque<_>>());
    let results = Mutex::new(Vec::new());
    let failure = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| {
                loop {
                    let Some(target) = queue.lock().ok().and_then(|mut q| q.pop_front()) else {
                        return;
                    };
                    println!("fuzz {target}: {} s ...", plan.seconds);
                    match run_one(&target, plan, &logs) {
                        Ok(o) => {
                            let execs = o.executions.map_or("?".to_owned(), |n| n.to_string());
                            println!(
                                "fuzz {target}: {} in {}, {execs} executions",
                                if o.ok { "ok" } else { "FAIL" },
                                util::secs(o.took)
                            );
                            if let Ok(mut r) = results.lock() {
                                r.push(o);
                            }
                        }
                        Err(e) => {
                            if let Ok(mut f) = failure.lock() {
                                *f = Some(e);
                            }
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().ok().flatten() {
        return Err(e);
    }
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by(|a, b| a.target.cmp(&b.target));
    Ok(results)
}

/// The table of executions and crashes per target.
fn table(results: &[Outcome], plan: Plan) -> String {
    let mut out = format!(
        "{:<20} {:>14} {:>9} {:>8} {:>9}  {}\n",
        "target", "executions", "exec/s", "crashes", "time", "status"
    );
    for o in results {
        let execs = o.executions.map_or("?".to_owned(), |n| n.to_string());
        let rate = o.executions.map_or("?".to_owned(), |n| {
            format!("{:.0}", n as f64 / o.took.as_secs_f64().max(0.001))
        });
        out.push_str(&format!(
            "{:<20} {:>14} {:>9} {:>8} {:>9}  {}\n",
            o.target,
            execs,
            rate,
            o.crashes.len(),
            util::secs(o.took),
            if o.ok { "ok" } else { &o.status }
        ));
    }
    let total: u64 = results.iter().filter_map(|o| o.executions).sum();
    let fewest = results
        .iter()
        .filter_map(|o| o.executions)
        .min()
        .unwrap_or(0);
    let limit = plan.runs.map_or(String::new(), |n| format!(" or {n} runs"));
    out.push_str(&format!(
        "{} target(s), at most {} s{limit} each, sanitizer {}: {total} executions (fewest {fewest}), {} crash(es)\n",
        results.len(),
        plan.seconds,
        plan.sanitizer.name(),
        results.iter().map(|o| o.crashes.len()).sum::<usize>()
    ));
    out
}

/// How many fuzzers run at once: one per core.
fn jobs() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Builds every target with `sanitizer`.
fn build(count: usize, sanitizer: Sanitizer) -> Result<()> {
    println!(
        "fuzz: building {count} target(s), sanitizer {} ...",
        sanitizer.name()
    );
    let start = Instant::now();
    let flag = format!("--sanitizer={}", sanitizer.name());
    let mut build = nightly(&["fuzz", "build", &flag]);
    let status = build
        .status()
        .context(format_args!("cannot run {}", util::describe(&build)))?;
    if !status.success() {
        bail!("`cargo +nightly fuzz build` failed ({status})");
    }
    println!("fuzz: built in {}", util::secs(start.elapsed()));
    Ok(())
}

/// `cargo xtask fuzz`: `--smoke` (a few seconds a target, for CI),
/// `--seconds N` or `--long DURATION`, every target, one per core at a
/// time, then a table of executions and crashes; or `--merge`.
pub fn cmd_fuzz(args: &FuzzArgs) -> Result<()> {
    if let Some(why) = unavailable_reason() {
        bail!("cannot fuzz: {why}");
    }
    let targets = targets()?;
    if targets.is_empty() {
        bail!(
            "`cargo fuzz list` in {} lists no target",
            fuzz_dir().display()
        );
    }
    let plan = Plan {
        seconds: args.long.or(args.seconds).unwrap_or(if args.smoke {
            SMOKE_SECONDS
        } else {
            DEFAULT_SECONDS
        }),
        runs: args.runs,
        sanitizer: args.sanitizer(),
    };
    // One build of every target first, so that each run's time is fuzzing.
    build(targets.len(), plan.sanitizer)?;
    if args.merge {
        return merge_all(&targets, plan.sanitizer);
    }
    let jobs = jobs();
    println!(
        "fuzz: {} target(s), {} s each, {jobs} at a time",
        targets.len(),
        plan.seconds
    );
    let start = Instant::now();
    let results = run_all(&targets, plan, jobs)?;
    print!("{}", table(&results, plan));
    println!("fuzz: wall time {}", util::secs(start.elapsed()));
    let failed: Vec<&Outcome> = results.iter().filter(|o| !o.ok).collect();
    for o in &failed {
        println!(
            "fuzz {}: FAIL ({}); log {}",
            o.target,
            o.status,
            o.log.display()
        );
        for c in &o.crashes {
            println!("    artifact {}", c.display());
        }
        let text = fs::read_to_string(&o.log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(30).collect();
        for line in tail.iter().rev() {
            println!("    {line}");
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        let names: Vec<&str> = failed.iter().map(|o| o.target.as_str()).collect();
        bail!("fuzz targets failed: {}", names.join(", "))
    }
}

/// The bytes in the files of `dir` (not below).
fn dir_bytes(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// `--merge`: each target's corpus into its committed seeds.
fn merge_all(targets: &[String], sanitizer: Sanitizer) -> Result<()> {
    let mut over = Vec::new();
    for target in targets {
        let corpus = fuzz_dir().join("corpus").join(target);
        if !corpus.is_dir() {
            println!("fuzz merge {target}: no corpus");
            continue;
        }
        let seeds = fuzz_dir().join("seeds").join(target);
        fs::create_dir_all(&seeds).context(format_args!("creating {}", seeds.display()))?;
        let before = dir_bytes(&seeds);
        let mut cmd = nightly(&[
            "fuzz",
            "run",
            &format!("--sanitizer={}", sanitizer.name()),
            target,
            &seeds.display().to_string(),
            &corpus.display().to_string(),
            "--",
            "-set_cover_merge=1",
            // Edges only, not their hit counts: a few dozen inputs a
            // target instead of hundreds.
            "-use_counters=0",
            &format!("-max_len={MAX_SEED_LEN}"),
        ]);
        let out = util::checked_output(&mut cmd)?;
        let after = dir_bytes(&seeds);
        let stats = String::from_utf8_lossy(&out.stderr)
            .lines()
            .rev()
            .find(|l| l.contains("MERGE-OUTER: ") && l.contains("new files"))
            .map(str::to_owned)
            .unwrap_or_default();
        println!("fuzz merge {target}: seeds {before} -> {after} bytes; {stats}");
        if after > MAX_SEEDS_BYTES {
            over.push(format!("{target} ({after} bytes)"));
        }
    }
    if over.is_empty() {
        Ok(())
    } else {
        bail!(
            "seed directories past {MAX_SEEDS_BYTES} bytes: {}",
            over.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_output_is_one_target_a_line() {
        assert_eq!(parse_list("kexinit\n  packet \n\n"), ["kexinit", "packet"]);
        assert!(parse_list("").is_empty());
    }

    #[test]
    fn run_args_bound_the_time() {
        let plan = Plan {
            seconds: 10,
            runs: None,
            sanitizer: Sanitizer::Address,
        };
        let args = run_args("packet", plan, &[PathBuf::from("/seeds")]);
        assert_eq!(
            args.get(..4),
            Some(&["fuzz", "run", "--sanitizer=address", "packet"].map(String::from)[..])
        );
        assert!(
            args.get(4)
                .is_some_and(|c| c.ends_with("fuzz/corpus/packet"))
        );
        assert_eq!(args.get(5).map(String::as_str), Some("/seeds"));
        assert_eq!(args.get(6).map(String::as_str), Some("--"));
        assert!(args.contains(&"-max_total_time=10".to_owned()));
        assert!(args.contains(&"-print_final_stats=1".to_owned()));
        assert!(!args.iter().any(|a| a.starts_with("-runs")));
        let args = run_args(
            "packet",
            Plan {
                runs: Some(10_000_000),
                sanitizer: Sanitizer::None,
                ..plan
            },
            &[],
        );
        assert!(args.contains(&"--sanitizer=none".to_owned()));
        assert!(args.contains(&"-runs=10000000".to_owned()));
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90"), Ok(90));
        assert_eq!(parse_duration("45s"), Ok(45));
        assert_eq!(parse_duration("10m"), Ok(600));
        assert_eq!(parse_duration("2h"), Ok(7200));
        assert!(parse_duration("0m").is_err());
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("m").is_err());
    }

    #[test]
    fn counts_parse() {
        assert_eq!(parse_count("500"), Ok(500));
        assert_eq!(parse_count("500k"), Ok(500_000));
        assert_eq!(parse_count("10M"), Ok(10_000_000));
        assert!(parse_count("0").is_err());
        assert!(parse_count("10G").is_err());
        assert!(parse_count("M").is_err());
    }

    #[test]
    fn long_runs_leave_out_address_sanitizer_unless_asked() {
        let long = FuzzArgs {
            long: Some(60),
            ..FuzzArgs::default()
        };
        assert_eq!(long.sanitizer(), Sanitizer::None);
        assert_eq!(FuzzArgs::smoke().sanitizer(), Sanitizer::Address);
        let asked = FuzzArgs {
            sanitizer: Some(Sanitizer::Address),
            ..long
        };
        assert_eq!(asked.sanitizer(), Sanitizer::Address);
    }

    #[test]
    fn final_stats_give_the_executions() {
        let log = "#1024 pulse cov: 10\nDone 5000 runs in 5 second(s)\n\
                   stat::number_of_executed_units: 5012\nstat::peak_rss_mb: 40\n";
        assert_eq!(executions(log), Some(5012));
        assert_eq!(executions("no stats"), None);
    }

    #[test]
    fn every_fixture_directory_exists() {
        for t in [
            "version_line",
            "certificate",
            "key_file",
            "public_key_file",
            "known_hosts",
        ] {
            assert!(!seed_dirs(t).is_empty(), "{t}");
        }
    }
}
