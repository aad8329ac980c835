//! A server started with signals ignored (under `nohup`, by a supervisor)
//! must not pass that on: the user's programs start with every signal at
//! its default action, so a hung-up terminal still ends them. Its own
//! test binary: it changes the process's signal dispositions.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, unsafe_code)]

use std::time::Duration;

use futures::io::AsyncReadExt;
use nix::sys::signal::{SigHandler, Signal, signal};
use ssh_os::process::{self, SpawnOptions};

/// The `SigIgn` mask of `/proc/self/status` as the spawned program sees it.
fn ignored_in_child() -> u64 {
    async_std::task::block_on(async_std::future::timeout(Duration::from_secs(30), async {
        let mut o = SpawnOptions::new("/bin/cat");
        o.args = vec!["/proc/self/status".into()];
        let mut child = process::spawn(o).unwrap();
        drop(child.stdin.take());
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .await
            .unwrap();
        child.wait().await.unwrap();
        let line = out.lines().find(|l| l.starts_with("SigIgn:")).unwrap();
        u64::from_str_radix(line.trim_start_matches("SigIgn:").trim(), 16).unwrap()
    }))
    .expect("timed out")
}

#[test]
fn programs_start_with_no_signal_ignored() {
    for sig in [
        Signal::SIGHUP,
        Signal::SIGINT,
        Signal::SIGQUIT,
        Signal::SIGTERM,
    ] {
        // SAFETY: SIG_IGN installs no handler code; this test binary runs
        // nothing that relies on these signals' actions.
        unsafe { signal(sig, SigHandler::SigIgn) }.unwrap();
    }
    // The standard signals 1 to 31 (bits 0 to 30); the real-time ones
    // above belong to the C library.
    let mask = ignored_in_child() & 0x7fff_ffff;
    assert_eq!(mask, 0, "the child ignores signals: SigIgn {mask:016x}");
}
