//! `cargo xtask bench`'s contact with the processes it measures: the
//! servers it starts in the image (and their CPU time, read from the
//! host's `/proc`), and the timed pipelines (with their client's CPU
//! time, from the shell's `times`).

use std::fs;
use std::io::Read as _;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::bail;
use crate::peer::{self, Backend, Rootfs};
use crate::util::{self, Context, Result};

/// Linux reports `/proc/PID/stat` times in USER_HZ ticks, which the
/// kernel's ABI fixes at 100 per second on every architecture this runs
/// on (x86, arm64).
const TICKS_PER_SECOND: f64 = 100.0;

/// A server running inside the image. Dropping it stops it.
pub(crate) struct Server {
    child: Child,
    pub(crate) port: u16,
    log: Arc<Mutex<Vec<u8>>>,
}

impl Server {
    pub(crate) fn log(&self) -> String {
        let log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&log).into_owned()
    }

    /// The server's own process on the host: `unshare --fork`'s only
    /// child, which became the server by `exec`.
    fn pid(&self) -> Option<u32> {
        children(self.child.id()).into_iter().next()
    }

    /// CPU seconds the server has used and reaped so far (its own time
    /// and that of the children it waited for: per-connection or per-user
    /// processes and the commands they ran), once no such child is left
    /// (so a session that is still ending is counted; at most 5 s of
    /// waiting), plus the time of the children still running, read live
    /// (rsshd's pre-authentication workers, never reaped while it runs).
    pub(crate) fn cpu_seconds(&self) -> Option<f64> {
        let pid = self.pid()?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while children(pid).into_iter().any(|c| !long_lived(c)) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        let read = |p: u32| fs::read_to_string(format!("/proc/{p}/stat")).ok();
        let mut ticks = stat_times(&read(pid)?)?;
        // Children still running (long-lived ones, or one that outlived
        // the wait) are counted live.
        for c in children(pid) {
            ticks += read(c).and_then(|s| stat_times(&s)).unwrap_or(0);
        }
        Some(ticks as f64 / TICKS_PER_SECOND)
    }
}

/// A server's child that outlives a connection: rsshd's
/// pre-authentication workers (`--privsep-worker`), which live as long as
/// the server, and its users' session processes (`--privsep-user`), which
/// wait a few seconds for a next connection (they reap the remote
/// commands before the client sees their exit status).
fn long_lived(pid: u32) -> bool {
    fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
        c.split(|b| *b == 0)
            .any(|a| a == b"--privsep-worker" || a == b"--privsep-user")
    })
}

impl Drop for Server {
    fn drop(&mut self) {
        // `unshare --kill-child` takes the whole namespace with it, once
        // its child dies: that child is killed first, as it may have
        // changed its ids (`setpriv`, for rsshd1), which clears the
        // parent-death signal `--kill-child` set. Without this, every run
        // left an rsshd1 behind.
        for pid in children(self.child.id()) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The fields after the command name of a `/proc/PID/stat` line (the
/// name is in parentheses and may hold spaces or parentheses itself).
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().collect())
}

/// utime + stime + cutime + cstime, in ticks.
fn stat_times(stat: &str) -> Option<u64> {
    let f = stat_fields(stat)?;
    // Field 3 (state) is index 0: utime is field 14, cstime field 17.
    let mut sum = 0u64;
    for i in 11..=14 {
        sum = sum.checked_add(f.get(i)?.parse().ok()?)?;
    }
    Some(sum)
}

/// The processes whose parent is `pid`.
fn children(pid: u32) -> Vec<u32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|s| stat_fields(&s)?.get(1)?.parse::<u32>().ok())
                == Some(pid)
        })
        .collect()
}

/// Starts `program -D -e -f config -p PORT` in the image on a free port,
/// ready once it accepts a TCP connection.
pub(crate) fn start_server(backend: &Rootfs, program: &str, config: &str) -> Result<Server> {
    start_server_via(backend, &[], program, config)
}

/// [`start_server`] through `via` (`setpriv ... --`: `program` replaces
/// it, keeping its pid).
pub(crate) fn start_server_via(
    backend: &Rootfs,
    via: &[&str],
    program: &str,
    config: &str,
) -> Result<Server> {
    let mut last = String::new();
    for _ in 0..5 {
        let port = peer::free_port()?;
        let port_text = port.to_string();
        let (first, args) = match via.split_first() {
            Some((first, rest)) => {
                let mut args = rest.to_vec();
                args.push(program);
                (*first, args)
            }
            None => (program, Vec::new()),
        };
        let mut args = args;
        args.extend(["-D", "-e", "-f", config, "-p", &port_text]);
        let mut cmd = backend.command(first, &args);
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

/// What a timed pipeline gave.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Timed {
    /// Wall-clock seconds.
    pub(crate) seconds: f64,
    /// CPU seconds of the pipeline's measured part (see [`measured`]),
    /// if it reported them.
    pub(crate) cpu_seconds: Option<f64>,
}

/// Where a pipeline's [`measured`] part leaves its `times` report,
/// inside the image.
pub(crate) fn times_file(scratch: &str) -> String {
    format!("{scratch}/times")
}

/// `commands` run in a subshell that reports its children's CPU time
/// (only these commands: the subshell's other work is builtins) to
/// `times_file` and keeps their exit status.
pub(crate) fn measured(commands: &str, times_file: &str) -> String {
    format!("( {commands}; r=$?; times > {times_file}; exit $r )")
}

/// Runs `pipeline` in the image and times it; its CPU time is what a
/// [`measured`] part of it wrote to `times_file`.
pub(crate) fn run_timed(
    backend: &Rootfs,
    pipeline: &str,
    times_file: &str,
    timeout: Duration,
) -> Result<Timed> {
    let script = format!(
        "rm -f {times_file}; s=$(date +%s%N); {pipeline}; rc=$?; e=$(date +%s%N); \
         echo \"xtask-bench $rc $s $e\"; \
         [ -f {times_file} ] && echo \"xtask-cpu $(tail -n 1 {times_file})\"; exit 0"
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
        Some((0, ns)) => Ok(Timed {
            seconds: ns as f64 / 1e9,
            cpu_seconds: parse_cpu(&stdout),
        }),
        Some((rc, _)) => bail!("`{pipeline}` exited with status {rc}; stderr:\n{stderr}"),
        None => bail!("`{pipeline}` gave no timing; stdout:\n{stdout}\nstderr:\n{stderr}"),
    }
}

/// The exit status and the nanoseconds from the script's line
/// `xtask-bench RC START END`.
pub(crate) fn parse_timing(stdout: &str) -> Option<(u32, u64)> {
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

/// The user + system seconds of the line `xtask-cpu USER SYS`, in the
/// `times` format of dash (`0m1.230000s`) or bash (`0m1.230s`).
pub(crate) fn parse_cpu(stdout: &str) -> Option<f64> {
    let line = stdout.lines().rev().find(|l| l.starts_with("xtask-cpu "))?;
    let mut total = 0.0;
    let mut words = 0;
    for word in line.split_whitespace().skip(1) {
        let (min, sec) = word.strip_suffix('s')?.split_once('m')?;
        total += min.parse::<f64>().ok()? * 60.0 + sec.parse::<f64>().ok()?;
        words += 1;
    }
    (words == 2).then_some(total)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

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
    fn cpu_lines_parse_in_both_shells_formats() {
        let dash = parse_cpu("xtask-bench 0 1 2\nxtask-cpu 0m1.250000s 1m0.500000s\n");
        assert_eq!(dash, Some(61.75));
        assert_eq!(parse_cpu("xtask-cpu 0m0.010s 0m0.020s"), Some(0.03));
        assert_eq!(parse_cpu("xtask-cpu 0m0.010s"), None);
        assert_eq!(parse_cpu("xtask-cpu 1.0 2.0"), None);
        assert_eq!(parse_cpu("xtask-bench 0 1 2"), None);
    }

    #[test]
    fn proc_stat_times_sum_own_and_reaped_children() {
        // A name with a space and a parenthesis; utime 7, stime 3,
        // cutime 20, cstime 10.
        let stat = "42 (a b) c) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 20 10 20 0 1 0 5 0 0";
        assert_eq!(stat_fields(stat).unwrap()[1], "1");
        assert_eq!(stat_times(stat), Some(40));
        assert_eq!(stat_times("42 (x) S 1"), None);
    }

    #[test]
    fn the_measured_part_reports_its_own_cpu_and_keeps_its_status() {
        let dir = std::env::temp_dir().join(format!("xtask-bench-times-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = times_file(&dir.to_string_lossy());
        let script = format!(
            "{}; echo \"status $?\"; echo \"xtask-cpu $(tail -n 1 {file})\"",
            measured(
                "i=0; while [ $i -lt 1 ]; do i=$((i+1)); done; sh -c 'exit 3'",
                &file
            )
        );
        let out = std::process::Command::new("sh")
            .args(["-c", &script])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let _ = fs::remove_dir_all(&dir);
        assert!(text.contains("status 3"), "{text}");
        assert!(parse_cpu(&text).is_some(), "{text}");
    }

    #[test]
    fn children_of_this_process_are_found() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let found = children(std::process::id());
        let _ = child.kill();
        let _ = child.wait();
        assert!(found.contains(&child.id()), "{found:?}");
    }
}
