//! `cargo xtask`: the project's tasks.
//!
//! - `images`: builds the OpenSSH peer images (Debian root filesystems);
//! - `interop`: runs the interop cases against every available OpenSSH;
//! - `fuzz`: runs every cargo-fuzz target for a while;
//! - `test`: the whole suite (tests, the Tokio example against rsshd, fuzz
//!   smoke, interop) with a summary;
//! - `tidy`: the architecture checks (also `#[test]`s): protocol crates do
//!   no I/O, the async library's runtime stays in its runtime module and
//!   no PAM reaches it or rssh, unsafe code only in ssh-os.
//! - `bench`: throughput, sftp get/put and connection rate of ssh/rssh
//!   against sshd/rsshd, on loopback and through a delay proxy (`--rtt`).
//!
//! This is tooling, not protocol code: it does I/O, spawns processes and
//! reads the clock freely.

mod bench;
mod bench_idle;
mod bench_library;
mod bench_proxy;
mod bench_report;
mod bench_run;
mod bench_setup;
mod bench_sftp;
mod binaries;
mod binary_account;
mod binary_admin;
mod binary_auth;
mod binary_cases;
mod binary_hostcerts;
mod binary_lastlog;
mod binary_pwchange;
mod binary_session;
mod binary_setup;
mod binary_sftp;
mod binary_sftp_client;
mod binary_wtmpdb;
mod cases;
mod forward_cases;
mod forward_hops_refusals;
mod forward_unlink_permit;
mod forward_util;
mod forward_x11;
mod fuzz;
mod hostile_attacks;
mod hostile_cases;
mod hostile_certs;
mod hostile_peer;
mod hostile_server;
mod hostile_watch;
mod images;
mod interop;
mod peer;
mod peer_algorithms;
mod peer_clients;
mod peer_config;
mod peer_dropbear;
mod peer_libssh;
mod peer_putty;
mod rust_code;
mod sftp_tree;
mod suite;
mod tidy;
mod tidy_runtime;
mod tidy_unsafe;
mod tokio_example;
mod transport_cases;
mod util;
mod wire;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::images::Release;
use crate::interop::BackendKind;

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Project tasks",
    version
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Build the OpenSSH peer images under target/openssh-images (root and
    /// mmdebstrap needed).
    Images {
        /// Rebuild even if a complete image is cached.
        #[arg(long)]
        rebuild: bool,
        /// Releases to build (default: all).
        #[arg(value_enum)]
        releases: Vec<Release>,
    },
    /// Run the interop cases against OpenSSH and print a table.
    Interop {
        /// Releases to test against, comma-separated (default: all).
        #[arg(long, value_enum, value_delimiter = ',')]
        release: Vec<Release>,
        /// Where OpenSSH runs (default: the images, or the host's OpenSSH
        /// when images cannot be had here).
        #[arg(long, value_enum)]
        backend: Option<BackendKind>,
        /// Run only these cases, comma-separated.
        #[arg(long, value_delimiter = ',')]
        case: Vec<String>,
        /// Also write a JSON report here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// List the cases and exit.
        #[arg(long)]
        list: bool,
    },
    /// Run every fuzz target for a while (nightly and cargo-fuzz needed).
    Fuzz(fuzz::FuzzArgs),
    /// The whole suite: cargo test, the Tokio example, fuzz smoke, images,
    /// interop.
    Test {
        /// Leave out these stages (they show as skipped), comma-separated.
        #[arg(long, value_enum, value_delimiter = ',')]
        skip: Vec<suite::Skip>,
    },
    /// Check the architecture invariants: protocol crates do no I/O,
    /// ssh-async's runtime is injected, no PAM in ssh-async or rssh,
    /// unsafe code only in ssh-os.
    Tidy,
    /// Throughput, sftp get/put and connection rate of ssh/rssh against
    /// sshd/rsshd; with --rtt also through a delay proxy (a long fat path).
    Bench(bench::BenchArgs),
    /// The bench's delay proxy on its own, for measuring by hand: listens
    /// on a free loopback port (printed) and relays to `--to` with half
    /// the round trip of delay each way, until killed.
    DelayProxy {
        /// Where to relay (`127.0.0.1:2222`).
        #[arg(long)]
        to: std::net::SocketAddr,
        /// The round trip (`100ms`, `0.02s`).
        #[arg(long, value_parser = bench_proxy::parse_duration)]
        rtt: std::time::Duration,
        /// The link rate each way in bits per second (`1G`); default none.
        #[arg(long, value_parser = bench_proxy::parse_rate)]
        rate: Option<u64>,
    },
    /// What idle authenticated connections cost rsshd's memory, and what
    /// it keeps once they close.
    Idle {
        /// How many connections (default 5000).
        #[arg(long, default_value_t = 5000)]
        connections: usize,
        /// Spread over this many users (default 1). Run as root, rsshd is
        /// privilege-separated and the users are accounts made for the
        /// run (`xidle-0`...) and removed after it; otherwise the only
        /// user is the current one.
        #[arg(long, default_value_t = 1)]
        users: usize,
    },
}

fn run(cli: Cli) -> util::Result<()> {
    match cli.command {
        Cmd::Images { rebuild, releases } => images::cmd_images(rebuild, &releases),
        Cmd::Interop {
            release,
            backend,
            case,
            json,
            list,
        } => {
            if list {
                for c in cases::all() {
                    println!("{:16} {}", c.name, c.about);
                }
                return Ok(());
            }
            interop::cmd_interop(&release, backend, &case, json)
        }
        Cmd::Fuzz(args) => fuzz::cmd_fuzz(&args),
        Cmd::Test { skip } => suite::cmd_test(&skip),
        Cmd::Bench(args) => bench::cmd_bench(&args),
        Cmd::Idle { connections, users } => bench_idle::cmd_idle(connections, users),
        Cmd::DelayProxy { to, rtt, rate } => {
            let path = bench_proxy::PathConfig::with_rtt(rtt, rate, 64 << 20);
            let proxy = bench_proxy::Proxy::start(to, path)?;
            println!(
                "{} -> {to}: listening on 127.0.0.1:{}",
                path.describe(),
                proxy.port
            );
            loop {
                std::thread::park();
            }
        }
        Cmd::Tidy => {
            let root = util::workspace_root();
            let mut found = tidy::violations(&root);
            found.extend(tidy_runtime::violations(&root)?);
            found.extend(tidy_unsafe::violations(&root)?);
            for f in &found {
                println!("{f}");
            }
            if found.is_empty() {
                println!("tidy: no violation");
                Ok(())
            } else {
                bail!("tidy: {} violation(s)", found.len())
            }
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn interop_args_parse() {
        let cli = Cli::try_parse_from([
            "xtask",
            "interop",
            "--release",
            "bookworm,sid",
            "--backend",
            "rootfs",
        ]);
        match cli.map(|c| c.command) {
            Ok(Cmd::Interop {
                release, backend, ..
            }) => {
                assert_eq!(release, [Release::Bookworm, Release::Sid]);
                assert_eq!(backend, Some(BackendKind::Rootfs));
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["xtask", "interop", "--release", "jessie"]).is_err());
        assert!(Cli::try_parse_from(["xtask", "interop", "--backend", "docker"]).is_err());
    }

    #[test]
    fn images_and_fuzz_args_parse() {
        match Cli::try_parse_from(["xtask", "images", "--rebuild", "trixie"]).map(|c| c.command) {
            Ok(Cmd::Images { rebuild, releases }) => {
                assert!(rebuild);
                assert_eq!(releases, [Release::Trixie]);
            }
            other => panic!("{other:?}"),
        }
        match Cli::try_parse_from(["xtask", "fuzz", "--smoke", "--seconds", "3"]).map(|c| c.command)
        {
            Ok(Cmd::Fuzz(a)) => {
                assert!(a.smoke);
                assert_eq!(a.seconds, Some(3));
                assert_eq!(a.long, None);
            }
            other => panic!("{other:?}"),
        }
        match Cli::try_parse_from(["xtask", "fuzz", "--long", "10m"]).map(|c| c.command) {
            Ok(Cmd::Fuzz(a)) => {
                assert!(!a.smoke);
                assert_eq!(a.long, Some(600));
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["xtask", "fuzz", "--long", "10m", "--smoke"]).is_err());
        assert!(Cli::try_parse_from(["xtask", "fuzz", "--long", "ten"]).is_err());
        match Cli::try_parse_from(["xtask", "fuzz", "--long", "2h", "--runs", "10M"])
            .map(|c| c.command)
        {
            Ok(Cmd::Fuzz(a)) => assert_eq!(a.runs, Some(10_000_000)),
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["xtask", "fuzz", "--merge", "--long", "1m"]).is_err());
    }
}
