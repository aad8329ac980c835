//! OpenSSH peers behind a small trait: where `sshd` and `ssh` run.
//!
//! Two backends: [`Rootfs`] runs OpenSSH from a cached Debian image in its
//! own mount, PID and UTS namespaces with `chroot`, sharing the host network
//! so its `sshd` listens on a loopback port the harness picks; [`Host`] runs
//! the machine's own OpenSSH when no image can be had. A Docker backend
//! would implement the same three required methods.

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use crate::bail;
use crate::images::Image;
pub use crate::peer_config::{HostKeyType, SshdConfig};
use crate::util::{self, Context, Result};

/// How long `sshd` may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// How often a start is retried when the picked port was taken meanwhile.
const PORT_RETRIES: usize = 5;

/// Where an OpenSSH peer runs.
pub trait Backend {
    /// A short name for tables: `bookworm`, `host`.
    fn name(&self) -> &str;
    /// OpenSSH's version as in its banner, e.g. `OpenSSH_9.2p1 Debian-2+deb12u10`.
    fn openssh_version(&self) -> &str;
    /// A command running `program` with `args` inside the peer's
    /// environment (`ssh`, `ssh-keygen`, ...).
    fn command(&self, program: &str, args: &[&str]) -> Command;
    /// Starts an `sshd` with this configuration on a free loopback port.
    fn start_sshd(&self, cfg: &SshdConfig) -> Result<RunningSshd>;

    /// Runs the peer's `ssh` with `args`, feeding it `stdin`.
    fn run_ssh(&self, args: &[&str], stdin: &[u8]) -> Result<Output> {
        run_with_stdin(self.command("ssh", args), stdin)
    }

    /// The scratch directory of this backend (host keys, configurations,
    /// case files), as seen from here and from inside the peer.
    fn scratch_dir(&self) -> Option<(PathBuf, String)> {
        None
    }

    /// Starts `program` (a path inside the peer) the way `sshd` is started:
    /// `program -D -e -f <config> -p <port>`, with `config` written to a
    /// fresh file of the scratch directory, on a free loopback port. Ready
    /// when it logs `Server listening on` or accepts a TCP connection.
    fn start_server(&self, program: &str, config: &str) -> Result<RunningSshd> {
        let _ = (program, config);
        bail!("the {} backend cannot start servers", self.name())
    }

    /// `ssh -Q <what>`: the names this OpenSSH supports.
    fn query(&self, what: &str) -> Result<Vec<String>> {
        let out = util::checked_output(&mut self.command("ssh", &["-Q", what]))?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_owned)
            .collect())
    }
}

/// How long a peer command (`ssh ...`) may run before it is killed.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `cmd` with `stdin` as its input, collecting its output; kills it
/// and fails after [`COMMAND_TIMEOUT`], so a hung peer cannot hang the
/// harness.
fn run_with_stdin(cmd: Command, stdin: &[u8]) -> Result<Output> {
    run_with_timeout(cmd, stdin, COMMAND_TIMEOUT)
}

/// Runs `cmd` with `stdin`, collecting its output; kills it and fails after
/// `timeout`.
pub fn run_with_timeout(mut cmd: Command, stdin: &[u8], timeout: Duration) -> Result<Output> {
    use std::io::Write;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let what = util::describe(&cmd);
    let mut child = cmd.spawn().context(format_args!("cannot run {what}"))?;
    if let Some(mut input) = child.stdin.take() {
        let data = stdin.to_vec();
        // A writer thread, so a peer that does not read cannot block us
        // while its output pipes fill.
        thread::spawn(move || {
            let _ = input.write_all(&data);
        });
    }
    let collect = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut buf);
            }
            buf
        })
    };
    let stdout = collect(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = collect(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = std::time::Instant::now() + timeout;
    let (status, timed_out) = loop {
        if let Some(status) = child
            .try_wait()
            .context(format_args!("waiting for {what}"))?
        {
            break (status, false);
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            break (
                child.wait().context(format_args!("waiting for {what}"))?,
                true,
            );
        }
        thread::sleep(Duration::from_millis(10));
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    if timed_out {
        bail!(
            "{what} ran longer than {} s and was killed; its stderr:\n{}",
            timeout.as_secs_f64(),
            String::from_utf8_lossy(&stderr)
        );
    }
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

/// The log of a peer process, shared with the thread collecting it.
#[derive(Clone, Debug, Default)]
pub struct PeerLog(Arc<Mutex<Vec<u8>>>);

impl PeerLog {
    /// A log holding `text`.
    pub fn from_text(text: &[u8]) -> Self {
        Self(Arc::new(Mutex::new(text.to_vec())))
    }

    /// Everything logged so far.
    pub fn text(&self) -> String {
        let buf = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&buf).into_owned()
    }

    fn append(&self, bytes: &[u8]) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
    }
}

/// A running `sshd`. Dropping it stops it.
#[derive(Debug)]
pub struct RunningSshd {
    port: u16,
    child: Option<Child>,
    log: PeerLog,
    log_done: mpsc::Receiver<()>,
}

impl RunningSshd {
    /// The loopback port it listens on.
    pub const fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The process the harness started (in a container, its `unshare`;
    /// the server is below it), while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// What it logged so far (its stderr).
    pub fn log(&self) -> String {
        self.log.text()
    }

    /// A handle on the log that outlives this value.
    pub fn log_handle(&self) -> PeerLog {
        self.log.clone()
    }

    /// Waits up to `timeout` for it to exit by itself (an `sshd -ddd` does
    /// after its one connection); true if it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> bool {
        let Some(child) = self.child.as_mut() else {
            return true;
        };
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if matches!(child.try_wait(), Ok(Some(_)) | Err(_)) {
                let _ = self.log_done.recv_timeout(Duration::from_secs(1));
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops it and returns its whole log.
    pub fn stop(mut self) -> String {
        self.kill();
        self.log()
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            // The log thread ends when every holder of the pipe is gone.
            let _ = self.log_done.recv_timeout(Duration::from_secs(2));
        }
    }
}

impl Drop for RunningSshd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A free loopback port: bind port 0 and release it. Another process may
/// take it before `sshd` binds; starts retry on that.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).context("binding 127.0.0.1:0")?;
    Ok(listener.local_addr().context("local address")?.port())
}

/// Spawns `cmd` (an `sshd` on `port`) and waits until it listens. `Ok(None)`
/// if the port was taken (the caller retries with another).
pub fn spawn_sshd(cmd: Command, port: u16) -> Result<Option<RunningSshd>> {
    spawn_server(cmd, port, false)
}

/// [`spawn_sshd`] for servers that do not log like `sshd` (`dropbear`):
/// ready when `port` accepts a TCP connection.
pub fn spawn_probed(cmd: Command, port: u16) -> Result<Option<RunningSshd>> {
    spawn_server(cmd, port, true)
}

/// [`spawn_sshd`], also taking a successful TCP connection to `port` as the
/// sign of readiness when `probe` (servers that may not log like `sshd`).
fn spawn_server(mut cmd: Command, port: u16, probe: bool) -> Result<Option<RunningSshd>> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let what = util::describe(&cmd);
    let mut child = cmd.spawn().context(format_args!("cannot run {what}"))?;
    let Some(stderr) = child.stderr.take() else {
        bail!("no stderr pipe from {what}");
    };
    let log = PeerLog::default();
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let thread_log = log.clone();
    let listening = format!("Server listening on 127.0.0.1 port {port}");
    thread::spawn(move || {
        let mut reader = BufReader::new(stderr);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.by_ref().take(64 * 1024).read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    thread_log.append(&line);
                    if String::from_utf8_lossy(&line).contains(&listening) {
                        let _ = ready_tx.send(());
                    }
                }
            }
        }
        let _ = done_tx.send(());
    });
    let mut sshd = RunningSshd {
        port,
        child: Some(child),
        log,
        log_done: done_rx,
    };
    let deadline = std::time::Instant::now() + START_TIMEOUT;
    loop {
        match ready_rx.recv_timeout(Duration::from_millis(50)) {
            Ok(()) => return Ok(Some(sshd)),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        let exited = sshd
            .child
            .as_mut()
            .is_none_or(|c| !matches!(c.try_wait(), Ok(None)));
        if exited || std::time::Instant::now() >= deadline {
            break;
        }
        if probe
            && std::net::TcpStream::connect_timeout(&sshd.addr(), Duration::from_millis(200))
                .is_ok()
        {
            return Ok(Some(sshd));
        }
    }
    let log = sshd.stop();
    if log.contains("Address already in use") {
        return Ok(None);
    }
    bail!("sshd did not start listening on port {port} ({what}); its log:\n{log}")
}

/// Files of one backend: host keys and configurations, seen at `host` from
/// here and at `peer` from inside the peer. Removed on drop.
#[derive(Debug)]
struct Scratch {
    host: PathBuf,
    peer: String,
    counter: AtomicUsize,
}

impl Scratch {
    fn create(host: PathBuf, peer: String) -> Result<Self> {
        if host.exists() {
            fs::remove_dir_all(&host).context(format_args!("removing {}", host.display()))?;
        }
        fs::create_dir_all(&host).context(format_args!("creating {}", host.display()))?;
        fs::write(host.join("authorized_keys"), "")
            .context(format_args!("writing {}/authorized_keys", host.display()))?;
        Ok(Self {
            host,
            peer,
            counter: AtomicUsize::new(0),
        })
    }

    /// Generates every host key type with the peer's own `ssh-keygen`.
    fn generate_host_keys(&self, backend: &dyn Backend) -> Result<()> {
        for key in HostKeyType::ALL {
            let path = format!("{}/{}", self.peer, key.file_name());
            let mut args = vec!["-q", "-N", "", "-f", &path];
            args.extend(key.keygen_args());
            util::checked_output(&mut backend.command("ssh-keygen", &args))?;
        }
        Ok(())
    }

    /// Writes a fresh configuration file; returns its path inside the peer.
    fn write_config(&self, cfg: &SshdConfig) -> Result<String> {
        self.write_config_text(&cfg.render(&self.peer))
    }

    /// Writes `text` to a fresh configuration file; returns its path
    /// inside the peer.
    fn write_config_text(&self, text: &str) -> Result<String> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let name = format!("sshd_config.{n}");
        let host = self.host.join(&name);
        fs::write(&host, text).context(format_args!("writing {}", host.display()))?;
        Ok(format!("{}/{name}", self.peer))
    }

    fn dirs(&self) -> (PathBuf, String) {
        (self.host.clone(), self.peer.clone())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.host);
    }
}

fn start_with_retries(
    backend: &dyn Backend,
    scratch: &Scratch,
    cfg: &SshdConfig,
    sshd: &str,
) -> Result<RunningSshd> {
    let config = scratch.write_config(cfg)?;
    for _ in 0..PORT_RETRIES {
        let port = free_port()?;
        let args = cfg.args(&config, port);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        if let Some(running) = spawn_sshd(backend.command(sshd, &args), port)? {
            return Ok(running);
        }
    }
    bail!("sshd found no free port in {PORT_RETRIES} attempts")
}

/// Starts `program` with `config` like `sshd -D -e` (see
/// [`Backend::start_server`]), retrying on a taken port.
fn start_server_with_retries(
    backend: &dyn Backend,
    scratch: &Scratch,
    program: &str,
    config: &str,
) -> Result<RunningSshd> {
    let config = scratch.write_config_text(config)?;
    for _ in 0..PORT_RETRIES {
        let port = free_port()?;
        let port_text = port.to_string();
        let args = ["-D", "-e", "-f", config.as_str(), "-p", port_text.as_str()];
        if let Some(running) = spawn_server(backend.command(program, &args), port, true)? {
            return Ok(running);
        }
    }
    bail!("{program} found no free port in {PORT_RETRIES} attempts")
}

/// Removes `xtask-<pid>` scratch directories in `dir` left by runs that
/// were killed (their process is gone).
fn remove_stale_scratch(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("xtask-")) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// OpenSSH from a cached Debian root filesystem, run in fresh mount, PID
/// and UTS namespaces with `chroot`, on the host's network.
#[derive(Debug)]
pub struct Rootfs {
    name: String,
    version: String,
    root: PathBuf,
    scratch: Option<Scratch>,
}

impl Rootfs {
    /// Opens an image: prepares `/run/sshd` and a scratch directory in it and
    /// generates host keys. Needs root (for `unshare` and `chroot`).
    pub fn open(image: &Image) -> Result<Self> {
        let root = image.rootfs();
        let privsep = root.join("run/sshd");
        fs::create_dir_all(&privsep).context(format_args!("creating {}", privsep.display()))?;
        remove_stale_scratch(&root.join("tmp"));
        let dir = format!("tmp/xtask-{}", std::process::id());
        let scratch = Scratch::create(root.join(&dir), format!("/{dir}"))?;
        let mut this = Self {
            name: image.info.release.clone(),
            version: image.info.openssh.clone(),
            root,
            scratch: None,
        };
        scratch.generate_host_keys(&this)?;
        this.scratch = Some(scratch);
        Ok(this)
    }

    /// The wrapper that enters the image: mounts a fresh `/proc` and a
    /// private `devpts` instance (for ptys) inside it, then `chroot`s.
    /// `--kill-child` ties the namespace's life to the `unshare` process.
    fn wrapper(root: &Path) -> Command {
        let mut cmd = Command::new("unshare");
        cmd.args([
            "--mount",
            "--pid",
            "--fork",
            "--uts",
            "--kill-child",
            "--propagation",
            "private",
            "sh",
            "-c",
            "mount -t proc proc \"$0/proc\" && \
             mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts \"$0/dev/pts\" && \
             exec chroot \"$0\" \"$@\"",
        ]);
        cmd.arg(root);
        cmd
    }
}

impl Backend for Rootfs {
    fn name(&self) -> &str {
        &self.name
    }

    fn openssh_version(&self) -> &str {
        &self.version
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut cmd = Self::wrapper(&self.root);
        cmd.arg(program).args(args);
        cmd
    }

    fn start_sshd(&self, cfg: &SshdConfig) -> Result<RunningSshd> {
        let Some(scratch) = &self.scratch else {
            bail!("the {} image is not prepared", self.name);
        };
        start_with_retries(self, scratch, cfg, "/usr/sbin/sshd")
    }

    fn scratch_dir(&self) -> Option<(PathBuf, String)> {
        self.scratch.as_ref().map(Scratch::dirs)
    }

    fn start_server(&self, program: &str, config: &str) -> Result<RunningSshd> {
        let Some(scratch) = &self.scratch else {
            bail!("the {} image is not prepared", self.name);
        };
        start_server_with_retries(self, scratch, program, config)
    }
}

/// The machine's own OpenSSH (`/usr/sbin/sshd`, `ssh` on `PATH`).
#[derive(Debug)]
pub struct Host {
    version: String,
    scratch: Option<Scratch>,
}

/// Where the host's `sshd` is; it must be run by absolute path.
pub const HOST_SSHD: &str = "/usr/sbin/sshd";

impl Host {
    /// Whether the host has OpenSSH's `sshd` and `ssh`.
    pub fn available() -> bool {
        Path::new(HOST_SSHD).is_file() && util::have_program("ssh")
    }

    /// Prepares a scratch directory under `target/` and generates host keys.
    pub fn open() -> Result<Self> {
        if !Self::available() {
            bail!("no OpenSSH on this machine ({HOST_SSHD} and ssh)");
        }
        let out = util::output(Command::new("ssh").arg("-V"))?;
        let text = String::from_utf8_lossy(&out.stderr).into_owned();
        let Some(version) = crate::images::parse_ssh_v(&text) else {
            bail!("`ssh -V` printed no OpenSSH version: {text:?}");
        };
        if util::is_root() {
            // sshd's privilege separation directory; the package makes it
            // at boot only when its service runs.
            let _ = fs::create_dir_all("/run/sshd");
        }
        let host = util::workspace_target()
            .join("interop-tmp")
            .join(format!("host-{}", std::process::id()));
        let peer = host.to_string_lossy().into_owned();
        let scratch = Scratch::create(host, peer)?;
        let mut this = Self {
            version: version.to_owned(),
            scratch: None,
        };
        scratch.generate_host_keys(&this)?;
        this.scratch = Some(scratch);
        Ok(this)
    }
}

impl Backend for Host {
    fn name(&self) -> &str {
        "host"
    }

    fn openssh_version(&self) -> &str {
        &self.version
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args);
        cmd
    }

    fn start_sshd(&self, cfg: &SshdConfig) -> Result<RunningSshd> {
        let Some(scratch) = &self.scratch else {
            bail!("the host backend is not prepared");
        };
        start_with_retries(self, scratch, cfg, HOST_SSHD)
    }

    fn scratch_dir(&self) -> Option<(PathBuf, String)> {
        self.scratch.as_ref().map(Scratch::dirs)
    }

    fn start_server(&self, program: &str, config: &str) -> Result<RunningSshd> {
        let Some(scratch) = &self.scratch else {
            bail!("the host backend is not prepared");
        };
        start_server_with_retries(self, scratch, program, config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rootfs_wrapper_enters_namespaces_then_chroots() {
        let root = Path::new("/imgs/sid/rootfs");
        let mut cmd = Rootfs::wrapper(root);
        cmd.args(["ssh", "-V"]);
        let line = util::describe(&cmd);
        assert!(line.starts_with("unshare --mount --pid --fork --uts --kill-child"));
        assert!(line.ends_with("/imgs/sid/rootfs ssh -V"), "{line}");
        assert!(line.contains("exec chroot"));
    }

    #[test]
    fn free_port_is_nonzero() {
        assert_ne!(free_port().unwrap_or(0), 0);
    }

    #[test]
    fn commands_get_stdin_and_are_killed_after_the_timeout() {
        let out = run_with_stdin(Command::new("cat"), b"hello").unwrap_or_else(|e| Output {
            status: std::process::ExitStatus::default(),
            stdout: e.0.into_bytes(),
            stderr: Vec::new(),
        });
        assert_eq!(out.stdout, b"hello");
        assert!(out.status.success());
        let mut sleep = Command::new("sh");
        sleep.args(["-c", "echo started >&2; exec sleep 30"]);
        let start = std::time::Instant::now();
        let err = run_with_timeout(sleep, b"", Duration::from_millis(300));
        assert!(start.elapsed() < Duration::from_secs(10));
        match err {
            Err(e) => assert!(e.0.contains("was killed") && e.0.contains("started"), "{e}"),
            Ok(out) => unreachable!("sleep 30 finished: {out:?}"),
        }
    }

    #[test]
    fn peer_log_collects() {
        let log = PeerLog::from_text(b"a\n");
        log.append(b"b\n");
        assert_eq!(log.text(), "a\nb\n");
    }
}
