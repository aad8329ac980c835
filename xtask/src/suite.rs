//! `cargo xtask test`: the whole suite, stage by stage, with a summary.

use std::fmt::Write as _;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::bail;
use crate::images::{self, Release};
use crate::util::{self, Result};
use crate::{fuzz, interop, tokio_example};

/// How a stage ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StageResult {
    /// It passed.
    Passed,
    /// It failed, and why.
    Failed(String),
    /// It did not run, and why (not a failure: only for optional stages).
    Skipped(String),
}

/// One line of the summary.
#[derive(Clone, Debug)]
pub struct Stage {
    /// What ran.
    pub name: &'static str,
    /// How it ended.
    pub result: StageResult,
    /// How long it took.
    pub took: Duration,
}

fn timed(name: &'static str, f: impl FnOnce() -> StageResult) -> Stage {
    println!("\n==> {name}");
    let start = Instant::now();
    let result = f();
    Stage {
        name,
        result,
        took: start.elapsed(),
    }
}

fn from_result(r: Result<()>) -> StageResult {
    match r {
        Ok(()) => StageResult::Passed,
        Err(e) => StageResult::Failed(e.0),
    }
}

/// The summary table.
pub fn render_summary(stages: &[Stage]) -> String {
    let width = stages.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let mut out = String::from("summary:\n");
    for s in stages {
        let (word, why) = match &s.result {
            StageResult::Passed => ("pass", String::new()),
            StageResult::Failed(why) => ("FAIL", format!(": {}", first_line(why))),
            StageResult::Skipped(why) => ("skipped", format!(": {}", first_line(why))),
        };
        let _ = writeln!(
            out,
            "  {:width$}  {word:7} {:>8}{why}",
            s.name,
            util::secs(s.took)
        );
    }
    out
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

/// Builds the missing images (or adds the packages a cached one lacks)
/// when that is possible here, saying so.
fn ensure_images() -> Result<()> {
    let missing: Vec<Release> = Release::ALL
        .into_iter()
        .filter(|r| images::load(*r).is_none_or(|i| !i.missing_packages(*r).is_empty()))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = missing.iter().map(|r| r.as_str()).collect();
    if let Some(why) = images::cannot_build_reason() {
        println!(
            "OpenSSH images missing ({}) and not buildable here: {why}",
            names.join(", ")
        );
        return Ok(());
    }
    println!(
        "building the missing OpenSSH images: {} (cargo xtask images)",
        names.join(", ")
    );
    images::cmd_images(false, &missing)
}

/// Stages `cargo xtask test --skip` can leave out (shown as skipped).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Skip {
    /// `cargo test --workspace`.
    CargoTest,
    /// The Tokio example (`examples/tokio-client`) against rsshd.
    TokioExample,
    /// The fuzz smoke.
    Fuzz,
    /// Images and interop.
    Interop,
}

fn skipped(name: &'static str) -> Stage {
    Stage {
        name,
        result: StageResult::Skipped("--skip".to_owned()),
        took: Duration::ZERO,
    }
}

/// `cargo ARGS` as the stage `name`.
fn cargo_stage(name: &'static str, args: &[&str], skip: bool) -> Stage {
    if skip {
        return skipped(name);
    }
    timed(name, || {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(args).current_dir(util::workspace_root());
        match cmd.status() {
            Ok(s) if s.success() => StageResult::Passed,
            Ok(s) => StageResult::Failed(format!("{name}: {s}")),
            Err(e) => StageResult::Failed(format!("cannot run cargo: {e}")),
        }
    })
}

/// `cargo xtask test`.
pub fn cmd_test(skip: &[Skip]) -> Result<()> {
    let mut stages = Vec::new();
    for (name, args) in [
        (
            "cargo test --workspace",
            &["test", "--workspace", "--no-fail-fast"][..],
        ),
        // The AWS-LC build of the packet crypto (ssh-transport's `aws-lc`):
        // its known answers, and every transport test, through it.
        (
            "cargo test -p ssh-transport --features aws-lc",
            &["test", "-p", "ssh-transport", "--features", "aws-lc"],
        ),
    ] {
        stages.push(cargo_stage(name, args, skip.contains(&Skip::CargoTest)));
    }
    stages.push(if skip.contains(&Skip::TokioExample) {
        skipped("tokio example")
    } else {
        timed("tokio example", || from_result(tokio_example::run()))
    });
    stages.push(if skip.contains(&Skip::Fuzz) {
        skipped("fuzz --smoke")
    } else {
        timed("fuzz --smoke", || match fuzz::unavailable_reason() {
            Some(why) => {
                println!("fuzz smoke skipped: {why}");
                StageResult::Skipped(why)
            }
            None => from_result(fuzz::cmd_fuzz(&fuzz::FuzzArgs::smoke())),
        })
    });
    if skip.contains(&Skip::Interop) {
        stages.push(skipped("images"));
        stages.push(skipped("interop"));
    } else {
        stages.push(timed("images", || from_result(ensure_images())));
        stages.push(timed("interop", || {
            from_result(interop::cmd_interop(&Release::ALL, None, &[], None))
        }));
    }
    println!();
    print!("{}", render_summary(&stages));
    let failed: Vec<&str> = stages
        .iter()
        .filter(|s| matches!(s.result, StageResult::Failed(_)))
        .map(|s| s.name)
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        bail!("failed stages: {}", failed.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_shows_each_stage_and_the_first_line_of_why() {
        let stages = [
            Stage {
                name: "cargo test --workspace",
                result: StageResult::Passed,
                took: Duration::from_millis(1500),
            },
            Stage {
                name: "interop",
                result: StageResult::Failed("2 cases failed\nmore".to_owned()),
                took: Duration::from_secs(3),
            },
            Stage {
                name: "fuzz --smoke",
                result: StageResult::Skipped("no cargo-fuzz".to_owned()),
                took: Duration::ZERO,
            },
        ];
        let text = render_summary(&stages);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "summary:",
                "  cargo test --workspace  pass       1.5 s",
                "  interop                 FAIL       3.0 s: 2 cases failed",
                "  fuzz --smoke            skipped    0.0 s: no cargo-fuzz",
            ]
        );
    }
}
