//! `cargo xtask fuzz`: runs every cargo-fuzz target in `fuzz/` for a while,
//! with the nightly toolchain (the only thing nightly is used for).

use std::fs::{self, File};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::bail;
use crate::util::{self, Context, Result};

/// Seconds per target for `--smoke`.
pub const SMOKE_SECONDS: u64 = 10;
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

/// The libFuzzer arguments for a run of `seconds`.
pub fn run_args(target: &str, seconds: u64) -> Vec<String> {
    vec![
        "fuzz".to_owned(),
        "run".to_owned(),
        target.to_owned(),
        "--".to_owned(),
        format!("-max_total_time={seconds}"),
    ]
}

/// `cargo xtask fuzz`.
pub fn cmd_fuzz(smoke: bool, seconds: Option<u64>) -> Result<()> {
    if let Some(why) = unavailable_reason() {
        bail!("cannot fuzz: {why}");
    }
    let seconds = seconds.unwrap_or(if smoke {
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
    let logs = util::workspace_target().join("fuzz-logs");
    fs::create_dir_all(&logs).context(format_args!("creating {}", logs.display()))?;
    let mut failed = Vec::new();
    for target in &targets {
        let log_path = logs.join(format!("{target}.log"));
        let log =
            File::create(&log_path).context(format_args!("creating {}", log_path.display()))?;
        let err = log.try_clone().context("duplicating a file handle")?;
        let args = run_args(target, seconds);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut cmd = nightly(&args);
        cmd.stdout(log).stderr(err);
        println!("fuzz {target}: {seconds} s ...");
        let start = Instant::now();
        let status = cmd
            .status()
            .context(format_args!("cannot run {}", util::describe(&cmd)))?;
        let took = util::secs(start.elapsed());
        let text = fs::read_to_string(&log_path).unwrap_or_default();
        if status.success() {
            let runs = text
                .lines()
                .rev()
                .find(|l| l.starts_with("Done ") || l.contains("stat::number_of_executed_units"))
                .unwrap_or("")
                .trim()
                .to_owned();
            println!("fuzz {target}: ok in {took} {runs}");
        } else {
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            println!(
                "fuzz {target}: FAIL ({status}) in {took}; last lines of {}:",
                log_path.display()
            );
            for line in tail.iter().rev() {
                println!("    {line}");
            }
            failed.push(target.clone());
        }
    }
    println!(
        "fuzz: {} target(s) ran, {} failed",
        targets.len(),
        failed.len()
    );
    if failed.is_empty() {
        Ok(())
    } else {
        bail!("fuzz targets failed: {}", failed.join(", "))
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
        assert_eq!(
            run_args("packet", 10),
            ["fuzz", "run", "packet", "--", "-max_total_time=10"]
        );
    }
}
