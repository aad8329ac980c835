//! What every hostile row checks around its attack on a server:
//!
//! - a bystander: a session opened before the attack (the peer's `ssh`
//!   running `cat`) streams 4 MiB through the server, before, during and
//!   after it; what comes back must equal what went (SHA-256);
//! - the server's memory: the sum of `VmRSS` of its processes (`rsshd`'s
//!   monitor, workers and session processes, or `sshd`'s), read from the
//!   host's `/proc` below the container's `unshare`, back within
//!   [`RSS_TOLERANCE_KIB`] of the value before the attack;
//! - the server alive: a fresh login runs a command after the attack.
//!
//! The markers: a command an attack smuggles in would `touch` a file of
//! the case directory (made writable for all); the alive check touches
//! another there, so the directory is shown writable by the account.

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::bail;
use crate::binary_setup::{Call, Setup, client_label, same_data};
use crate::interop::Ctx;
use crate::util::{Context, Result};

/// How far the server's resident memory may be above its value before
/// the attack once the attack is over: allocators keep some of what they
/// had (rsshd's session process stays up to 3.4 MiB above after queueing
/// 340,000 answers to one flood; after several it moves between 5 and 19
/// MiB above without growing further, glibc keeping freed buffers once its
/// mmap threshold rose), the bystander's buffers move by a few hundred
/// KiB. A bomb's 8 MiB kept, or a flood's answers, would show.
pub(crate) const RSS_TOLERANCE_KIB: u64 = 6 * 1024;
/// How long the memory may take to come back (processes of a closed
/// connection exiting, buffers freed).
const SETTLE: Duration = Duration::from_secs(5);
/// The bystander's stream, in three parts: before, during, after.
const FIRST: usize = 1024 * 1024;
const DURING: usize = 2 * 1024 * 1024;
const LAST: usize = 1024 * 1024;

/// The server's processes, found from the process the harness started.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Memory {
    root: u32,
}

impl Memory {
    /// The processes below `root` (the container's `unshare`).
    pub(crate) fn new(root: u32) -> Self {
        Self { root }
    }

    /// The sum of `VmRSS` of every server process (`rsshd`, `sshd*`) below
    /// the root, in KiB; the commands sessions run are left out.
    pub(crate) fn kib(&self) -> u64 {
        server_processes(self.root)
            .into_iter()
            .filter_map(rss_kib)
            .sum()
    }

    /// How many server processes there are.
    pub(crate) fn processes(&self) -> usize {
        server_processes(self.root).len()
    }

    /// Waits (at most [`SETTLE`]) until no more than `count` server
    /// processes are left: those of a connection that just ended (OpenSSH
    /// forks per connection) are gone.
    pub(crate) fn settle(&self, count: usize) {
        let deadline = Instant::now() + SETTLE;
        while self.processes() > count && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The CPU time of the server processes (user and system), in ticks
    /// (USER_HZ, 100 a second).
    pub(crate) fn cpu_ticks(&self) -> u64 {
        server_processes(self.root)
            .into_iter()
            .filter_map(|p| {
                let stat = fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
                let (_, rest) = stat.rsplit_once(')')?;
                let f: Vec<&str> = rest.split_whitespace().collect();
                // utime and stime: fields 14 and 15 (index 11 and 12 here).
                Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
            })
            .sum()
    }

    /// Waits until the memory is back within [`RSS_TOLERANCE_KIB`] of
    /// `before`; returns the last reading, or an error saying how far off
    /// it stayed.
    pub(crate) fn back_to(&self, before: u64) -> Result<u64> {
        let deadline = Instant::now() + SETTLE;
        loop {
            let now = self.kib();
            if now <= before + RSS_TOLERANCE_KIB {
                return Ok(now);
            }
            if Instant::now() >= deadline {
                bail!(
                    "the server's memory stayed at {now} KiB, {} KiB above {before} KiB before the attack (tolerance {RSS_TOLERANCE_KIB} KiB)",
                    now - before
                );
            }
            thread::sleep(Duration::from_millis(100));
        }
    }
}

/// `pid`'s resident set in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The descendants of `root` that are servers: `rsshd` (each of its
/// processes is the same program) or OpenSSH's `sshd`, `sshd-session`,
/// `sshd-auth`.
fn server_processes(root: u32) -> Vec<u32> {
    let mut children = HashMap::<u32, Vec<u32>>::new();
    let mut names = HashMap::<u32, String>::new();
    for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": the name may hold spaces.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let name = head.split_once('(').map_or("", |(_, n)| n).to_owned();
        if let Some(ppid) = rest
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u32>().ok())
        {
            children.entry(ppid).or_default().push(p);
        }
        names.insert(p, name);
    }
    let mut all = vec![root];
    let mut i = 0;
    while let Some(p) = all.get(i).copied() {
        all.extend(children.get(&p).into_iter().flatten());
        i += 1;
    }
    all.into_iter()
        .filter(|p| {
            names
                .get(p)
                .is_some_and(|n| n == "rsshd" || n.starts_with("sshd"))
        })
        .collect()
}

/// A session that was there before the attack: the peer's `ssh` running
/// `cat`, fed 4 MiB in three parts.
pub(crate) struct Bystander {
    child: Child,
    data: Vec<u8>,
    echoed: Arc<Mutex<Vec<u8>>>,
    stderr: Option<JoinHandle<Vec<u8>>>,
    reader: Option<JoinHandle<()>>,
    /// The writer of the part sent during the attack, giving stdin back.
    writer: Option<JoinHandle<std::io::Result<ChildStdin>>>,
    stdin: Option<ChildStdin>,
    label: String,
}

impl Drop for Bystander {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// 4 MiB of pseudo-random bytes (xorshift).
fn stream_data() -> Vec<u8> {
    let total = FIRST + DURING + LAST;
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut v = Vec::with_capacity(total);
    while v.len() < total {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(total);
    v
}

impl Bystander {
    /// Logs in with `call` (its key) and streams the first part through
    /// `cat`, waiting until it came back.
    pub(crate) fn start(ctx: &Ctx<'_>, setup: &Setup, port: u16, call: &Call) -> Result<Self> {
        let mut call = call.clone();
        call.remote = "cat".to_owned();
        let mut cmd = setup.command(ctx, port, &call);
        let label = client_label(&cmd);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().context(format_args!("cannot run {label}"))?;
        let (Some(stdin), Some(mut stdout), Some(mut stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            bail!("no pipes to {label}");
        };
        let echoed = Arc::new(Mutex::new(Vec::new()));
        let sink = echoed.clone();
        let reader = thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend_from_slice(buf.get(..n).unwrap_or_default());
            }
        });
        let stderr = thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stderr.read_to_end(&mut buf);
            buf
        });
        let mut this = Self {
            child,
            data: stream_data(),
            echoed,
            stderr: Some(stderr),
            reader: Some(reader),
            writer: None,
            stdin: Some(stdin),
            label,
        };
        let first = this.data.get(..FIRST).unwrap_or_default().to_vec();
        if let Some(stdin) = this.stdin.as_mut() {
            stdin
                .write_all(&first)
                .context("the bystander's first part")?;
        }
        this.wait_echoed(FIRST)?;
        Ok(this)
    }

    fn echoed_len(&self) -> usize {
        self.echoed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    fn wait_echoed(&mut self, n: usize) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.echoed_len() < n {
            if Instant::now() >= deadline {
                bail!(
                    "the bystander's `cat` echoed {} of {n} bytes in 30 s",
                    self.echoed_len()
                );
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                bail!(
                    "the bystander ended ({status}) after {} of {n} bytes",
                    self.echoed_len()
                );
            }
            thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    /// Sends the second part in small pieces, in the background, while
    /// the attack runs.
    pub(crate) fn stream_during(&mut self) {
        let Some(mut stdin) = self.stdin.take() else {
            return;
        };
        let part = self
            .data
            .get(FIRST..FIRST + DURING)
            .unwrap_or_default()
            .to_vec();
        self.writer = Some(thread::spawn(move || {
            for piece in part.chunks(64 * 1024) {
                stdin.write_all(piece)?;
                thread::sleep(Duration::from_millis(2));
            }
            Ok(stdin)
        }));
    }

    /// After the attack: the second part is all back.
    pub(crate) fn caught_up(&mut self) -> Result<()> {
        if let Some(writer) = self.writer.take() {
            match writer.join() {
                Ok(Ok(stdin)) => self.stdin = Some(stdin),
                Ok(Err(e)) => bail!("the bystander's stdin: {e}"),
                Err(_) => bail!("the bystander's writer panicked"),
            }
        }
        self.wait_echoed(FIRST + DURING)
    }

    /// Sends the last part, ends the input, and compares all that came
    /// back with what was sent; records its stderr for the report.
    pub(crate) fn finish(mut self, ctx: &mut Ctx<'_>) -> Result<()> {
        let last = self.data.get(FIRST + DURING..).unwrap_or_default().to_vec();
        if let Some(mut stdin) = self.stdin.take() {
            stdin
                .write_all(&last)
                .context("the bystander's last part")?;
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = self.child.try_wait().context("waiting for the bystander")? {
                break s;
            }
            if Instant::now() >= deadline {
                bail!("the bystander did not end within 30 s of its input");
            }
            thread::sleep(Duration::from_millis(10));
        };
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        let stderr = self
            .stderr
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        ctx.record(format!("bystander {} ({status})", self.label), &stderr);
        if !status.success() {
            bail!("the bystander exited with {status}");
        }
        let echoed = self
            .echoed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        same_data("the bystander's stream through cat", &self.data, &echoed)
    }
}

/// Where an attack's command would leave its mark.
pub(crate) struct Marker {
    /// The file here.
    pub(crate) host: PathBuf,
    /// The same inside the peer.
    pub(crate) peer: String,
}

impl Marker {
    /// `touch` of the marker, for a smuggled command.
    pub(crate) fn command(&self) -> String {
        format!("touch {}", self.peer)
    }

    /// An error if the command ran.
    pub(crate) fn absent(&self) -> Result<()> {
        if self.host.exists() {
            bail!(
                "{} exists: the smuggled command ran on the server",
                self.host.display()
            );
        }
        Ok(())
    }
}

/// A fresh login runs a command after the attack, which leaves a file in
/// the case directory (so a smuggled `touch` there would have shown).
pub(crate) fn alive(ctx: &mut Ctx<'_>, setup: &Setup, port: u16, call: &Call) -> Result<()> {
    let mut call = call.clone();
    call.remote = format!("touch {} && echo alive", setup.peer("alive"));
    let out = setup.run_ok(ctx, port, &call)?;
    if String::from_utf8_lossy(&out.stdout).trim() != "alive" {
        bail!(
            "the fresh login printed {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    if !setup.host("alive").exists() {
        bail!("the fresh login's command did not leave its file");
    }
    Ok(())
}
