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

/// The `cargo fuzz run` arguments for a run of `seconds`: the corpus
/// (where new inputs go), then the seed directories.
pub fn run_args(target: &str, seconds: u64, seeds: &[PathBuf]) -> Vec<String> {
    let mut args = vec![
        "fuzz".to_owned(),
        "run".to_owned(),
        target.to_owned(),
        fuzz_dir().join("corpus").join(target).display().to_string(),
    ];
    args.extend(seeds.iter().map(|d| d.display().to_string()));
    args.extend([
        "--".to_owned(),
        format!("-max_total_time={seconds}"),
        // A unit slower than this is reported as a crash (a hang).
        "-timeout=60".to_owned(),
        "-print_final_stats=1".to_owned(),
    ]);
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

fn run_one(target: &str, seconds: u64, logs: &Path) -> Result<Outcome> {
    let log_path = logs.join(format!("{target}.log"));
    let log = File::create(&log_path).context(format_args!("creating {}", log_path.display()))?;
    let err = log.try_clone().context("duplicating a file handle")?;
    let corpus = fuzz_dir().join("corpus").join(target);
    fs::create_dir_all(&corpus).context(format_args!("creating {}", corpus.display()))?;
    let before = artifacts(target);
    let args = run_args(target, seconds, &seed_dirs(target));
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

/// Runs every target for `seconds`, `jobs` at a time.
fn run_all(targets: &[String], seconds: u64, jobs: usize) -> Result<Vec<Outcome>> {
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
                    println!("fuzz {target}: {seconds} s ...");
                    match run_one(&target, seconds, &logs) {
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
fn table(results: &[Outcome], seconds: u64) -> String {
    let mut out = format!(
        "{:<20} {:>14} {:>8} {:>9}  {}\n",
        "target", "executions", "crashes", "time", "status"
    );
    for o in results {
        let execs = o.executions.map_or("?".to_owned(), |n| n.to_string());
        out.push_str(&format!(
            "{:<20} {:>14} {:>8} {:>9}  {}\n",
            o.target,
            execs,
            o.crashes.len(),
            util::secs(o.took),
            if o.ok { "ok" } else { &o.status }
        ));
    }
    let total: u64 = results.iter().filter_map(|o| o.executions).sum();
    out.push_str(&format!(
        "{} target(s), {seconds} s each, {total} executions, {} crash(es)\n",
        results.len(),
        results.iter().map(|o| o.crashes.len()).sum::<usize>()
    ));
    out
}

/// How many fuzzers run at once: one per core.
fn jobs() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// `cargo xtask fuzz`: `--smoke` (a few seconds a target, for CI),
/// `--seconds N` or `--long DURATION`, every target, one per core at a
/// time, then a table of executions and crashes.
pub fn cmd_fuzz(smoke: bool, seconds: Option<u64>, long: Option<u64>) -> Result<()> {
    if let Some(why) = unavailable_reason() {
        bail!("cannot fuzz: {why}");
    }
    let seconds = long.or(seconds).unwrap_or(if smoke {
        SMOKE_SECONDS
    } else {
        DEFAULT_SECONDS
    });
    let targets = targets()?;
    if targets.is_empty() {
        bail!(
            "`cargo fuzz list` in {} lists no target",
            fuzz_dir().display()
        );
    }
    // One build of every target first, so that each run's time is fuzzing.
    println!("fuzz: building {} target(s) ...", targets.len());
    let start = Instant::now();
    let mut build = nightly(&["fuzz", "build"]);
    let status = build
        .status()
        .context(format_args!("cannot run {}", util::describe(&build)))?;
    if !status.success() {
        bail!("`cargo +nightly fuzz build` failed ({status})");
    }
    println!("fuzz: built in {}", util::secs(start.elapsed()));
    let jobs = jobs();
    println!(
        "fuzz: {} target(s), {seconds} s each, {jobs} at a time",
        targets.len()
    );
    let start = Instant::now();
    let results = run_all(&targets, seconds, jobs)?;
    print!("{}", table(&results, seconds));
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
        let args = run_args("packet", 10, &[PathBuf::from("/seeds")]);
        assert_eq!(
            args.get(..3),
            Some(&["fuzz", "run", "packet"].map(String::from)[..])
        );
        assert!(
            args.get(3)
                .is_some_and(|c| c.ends_with("fuzz/corpus/packet"))
        );
        assert_eq!(args.get(4).map(String::as_str), Some("/seeds"));
        assert_eq!(args.get(5).map(String::as_str), Some("--"));
        assert!(args.contains(&"-max_total_time=10".to_owned()));
        assert!(args.contains(&"-print_final_stats=1".to_owned()));
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
