//! Interop cases for our binaries, both directions, in each peer:
//!
//! - `rssh>sshd:*`: our `rssh`, run here, against the peer's `sshd` (run as
//!   root in the container, so that it authenticates a real account);
//! - `ssh>rsshd:*`: the peer's `ssh`, `sftp` and `scp` against our `rsshd`,
//!   copied into the container and run there as root;
//! - `lib>sshd:sessions-10`: ten sessions at once on one connection of the
//!   library (`ssh_async::Client`) against `sshd` (`rssh` has no
//!   multiplexing).
//!
//! The account is `xbin` (uid 4243) with a real password (a SHA-512 crypt
//! hash in the container's `/etc/shadow`) and `~/.ssh/authorized_keys`;
//! it is not the password-less `xtask` of the transport cases. Keys, known
//! hosts files, askpass scripts and agents live in a directory per case
//! inside the backend's scratch directory, seen by the client at its own
//! path (here for `rssh`, inside the peer for `ssh`).
//!
//! To check the harness with OpenSSH in both places:
//! `XTASK_RSSH=/usr/bin/ssh XTASK_RSSHD=peer:/usr/sbin/sshd cargo xtask interop`
//! (see [`crate::binaries`]).

use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sha2::Digest;

use crate::bail;
use crate::binaries::{self, Bin, Location};
use crate::interop::{Case, Ctx, skip};
use crate::peer::{self, HostKeyType, RunningSshd};
use crate::util::{self, Context, Result};

/// The account the cases log in to.
const USER: &str = "xbin";
/// Its uid and gid.
const UID: u32 = 4243;
/// Its password (a test account inside a throwaway container).
const PASSWORD: &str = "Xtask-interop-4243";
/// The passphrase of the encrypted key.
const PASSPHRASE: &str = "xtask interop passphrase";
/// 100 MiB.
const BIG: usize = 100 * 1024 * 1024;
/// How long a transfer of [`BIG`] may take.
const BIG_TIMEOUT: Duration = Duration::from_secs(180);
/// How long anything else may take.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Which direction a row tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Way {
    /// `rssh` here against the peer's `sshd`.
    Rssh,
    /// The peer's `ssh` against `rsshd` in the peer.
    Rsshd,
}

impl Way {
    fn from_param(param: &str) -> Self {
        if param.starts_with("b") {
            Self::Rsshd
        } else {
            Self::Rssh
        }
    }
}

/// The function of a case.
type CaseFn = fn(&mut Ctx<'_>) -> Result<()>;

/// Rows in both directions: (name, about, function, detail).
const BOTH: &[(&str, &str, CaseFn, &str)] = &[
    (
        "exec-100MiB",
        "`cat` echoes 100 MiB sent on stdin; SHA-256 of what comes back",
        exec_cat,
        "",
    ),
    (
        "exec-zeros-100MiB",
        "`head -c 104857600 /dev/zero`: 100 MiB of output, all zero",
        exec_zeros,
        "",
    ),
    (
        "exec-stderr",
        "stdout and stderr (extended data) stay apart",
        exec_stderr,
        "",
    ),
    (
        "exit-code",
        "`exit 42` makes the client exit 42",
        exit_code,
        "",
    ),
    (
        "exit-signal",
        "`kill -TERM $$` (exit-signal) makes the client exit 255, as ssh",
        exit_signal,
        "",
    ),
    (
        "pty",
        "-tt under a 33x101 terminal: remote `stty size` and `tty`",
        pty,
        "",
    ),
    (
        "pty-resize",
        "-tt, then the local terminal becomes 50x120: window-change reaches the remote pty",
        pty_resize,
        "",
    ),
    (
        "pubkey-ed25519",
        "publickey with an ed25519 key file",
        pubkey,
        "ed25519",
    ),
    (
        "pubkey-ecdsa256",
        "publickey with an ecdsa-sha2-nistp256 key file",
        pubkey,
        "ecdsa256",
    ),
    (
        "pubkey-ecdsa384",
        "publickey with an ecdsa-sha2-nistp384 key file",
        pubkey,
        "ecdsa384",
    ),
    (
        "pubkey-ecdsa521",
        "publickey with an ecdsa-sha2-nistp521 key file",
        pubkey,
        "ecdsa521",
    ),
    (
        "pubkey-rsa-sha2-256",
        "publickey with an RSA key file, signed with rsa-sha2-256 only",
        pubkey,
        "rsa-sha2-256",
    ),
    (
        "pubkey-rsa-sha2-512",
        "publickey with an RSA key file, signed with rsa-sha2-512 only",
        pubkey,
        "rsa-sha2-512",
    ),
    (
        "agent-ed25519",
        "publickey with an ed25519 key held by ssh-agent (SSH_AUTH_SOCK)",
        agent,
        "ed25519",
    ),
    (
        "agent-ecdsa256",
        "publickey with an ecdsa-sha2-nistp256 key held by ssh-agent",
        agent,
        "ecdsa256",
    ),
    (
        "agent-ecdsa384",
        "publickey with an ecdsa-sha2-nistp384 key held by ssh-agent",
        agent,
        "ecdsa384",
    ),
    (
        "agent-ecdsa521",
        "publickey with an ecdsa-sha2-nistp521 key held by ssh-agent",
        agent,
        "ecdsa521",
    ),
    (
        "agent-rsa-sha2-256",
        "publickey with an RSA key held by ssh-agent, rsa-sha2-256 only",
        agent,
        "rsa-sha2-256",
    ),
    (
        "agent-rsa-sha2-512",
        "publickey with an RSA key held by ssh-agent, rsa-sha2-512 only",
        agent,
        "rsa-sha2-512",
    ),
    (
        "pubkey-encrypted-askpass",
        "an encrypted key file, its passphrase from SSH_ASKPASS (SSH_ASKPASS_REQUIRE=force)",
        encrypted_key,
        "",
    ),
    (
        "cert",
        "a user certificate (ssh-keygen -s) accepted through TrustedUserCAKeys",
        cert,
        "",
    ),
    (
        "password",
        "password authentication, the password from SSH_ASKPASS",
        password,
        "",
    ),
    (
        "kbd-interactive",
        "keyboard-interactive through PAM, the answer from SSH_ASKPASS",
        kbd_interactive,
        "",
    ),
    (
        "compression",
        "-C: zlib@openssh.com negotiated, 20 MiB of text echoed intact",
        compression,
        "",
    ),
    (
        "rekey-1M-100MiB",
        "RekeyLimit 1M during 100 MiB of output: more than 30 re-keys (1 MiB + what is in flight), data intact",
        rekey,
        "",
    ),
];

/// Every row, in table order.
pub fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    let mut push = |name: String, about: &'static str, run: CaseFn, param: String| {
        out.push(Case {
            name: Box::leak(name.into_boxed_str()),
            about,
            run,
            param: Box::leak(param.into_boxed_str()),
        });
    };
    for (name, about, run) in [
        (
            "hostkey-unknown-strict",
            "an unknown host key with StrictHostKeyChecking=yes: exit 255, \"Host key verification failed.\"",
            hostkey_unknown as CaseFn,
        ),
        (
            "hostkey-accept-new",
            "StrictHostKeyChecking=accept-new adds the key to known_hosts; a strict second run passes",
            hostkey_accept_new,
        ),
        (
            "hostkey-mismatch",
            "a different key in known_hosts: exit 255, the message names file:line",
            hostkey_mismatch,
        ),
    ] {
        push(format!("rssh>sshd:{name}"), about, run, "a".to_owned());
    }
    for (name, about, run, detail) in BOTH {
        push(
            format!("rssh>sshd:{name}"),
            about,
            *run,
            format!("a:{detail}"),
        );
    }
    push(
        "lib>sshd:sessions-10".to_owned(),
        "ssh_async::Client: 10 concurrent `exec`s on one connection to sshd",
        sessions_lib,
        "a".to_owned(),
    );
    for (name, about, run, detail) in BOTH {
        push(
            format!("ssh>rsshd:{name}"),
            about,
            *run,
            format!("b:{detail}"),
        );
    }
    push(
        "ssh>rsshd:sftp".to_owned(),
        "sftp -b: put and get 5 MiB through the sftp subsystem, SHA-256 equal",
        sftp,
        "b".to_owned(),
    );
    push(
        "ssh>rsshd:scp".to_owned(),
        "scp (SFTP protocol) up and down 5 MiB, SHA-256 equal",
        scp,
        "b".to_owned(),
    );
    push(
        "ssh>rsshd:sessions-10".to_owned(),
        "ControlMaster: 10 `ssh -S ctl` sessions at once on one connection",
        sessions_mux,
        "b".to_owned(),
    );
    out
}

/// The detail of a row's parameter (`a:ed25519` -> `ed25519`).
fn detail(ctx: &Ctx<'_>) -> &'static str {
    ctx.param.split_once(':').map_or("", |(_, d)| d)
}

// ---------------------------------------------------------------------
// Data and digests.

fn sha256_hex(data: &[u8]) -> String {
    let digest = sha2::Sha256::digest(data);
    let mut s = String::with_capacity(64);
    for b in digest.iter() {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// 100 MiB of pseudo-random bytes (xorshift), made once.
fn big_data() -> &'static [u8] {
    static DATA: OnceLock<Vec<u8>> = OnceLock::new();
    DATA.get_or_init(|| {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut v = Vec::with_capacity(BIG);
        while v.len() < BIG {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v.extend_from_slice(&x.to_le_bytes());
        }
        v.truncate(BIG);
        v
    })
}

/// `n` bytes of text lines: compressible.
fn text_data(n: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(n + 64);
    let mut i = 0u64;
    while v.len() < n {
        let _ = writeln!(
            ByteWriter(&mut v),
            "line {i}: the quick brown fox jumps over the lazy dog"
        );
        i += 1;
    }
    v.truncate(n);
    v
}

struct ByteWriter<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for ByteWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Compares what came back with what was sent, by length and SHA-256.
fn same_data(what: &str, sent: &[u8], got: &[u8]) -> Result<()> {
    if sent.len() != got.len() || sha256_hex(sent) != sha256_hex(got) {
        bail!(
            "{what}: sent {} bytes (SHA-256 {}), got {} bytes (SHA-256 {})",
            sent.len(),
            sha256_hex(sent),
            got.len(),
            sha256_hex(got)
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------
// The account.

/// The SHA-512 crypt hash of [`PASSWORD`] (`openssl passwd -6`).
fn password_hash() -> Result<String> {
    static HASH: OnceLock<std::result::Result<String, String>> = OnceLock::new();
    HASH.get_or_init(|| {
        let out = util::checked_output(Command::new("openssl").args([
            "passwd",
            "-6",
            "-salt",
            "xtaskinterop",
            PASSWORD,
        ]))
        .map_err(|e| e.0)?;
        let hash = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if hash.starts_with("$6$") {
            Ok(hash)
        } else {
            Err(format!("openssl passwd -6 printed {hash:?}"))
        }
    })
    .clone()
    .map_err(util::Error)
}

// ---------------------------------------------------------------------
// One case's setting.

/// Numbers case directories.
static CASE_DIRS: AtomicUsize = AtomicUsize::new(0);

/// The setting of one case: its directory, the client and the server.
struct Setup {
    way: Way,
    /// The case directory here.
    host_dir: PathBuf,
    /// The case directory inside the peer.
    peer_dir: String,
    /// The backend's scratch directory here (host keys).
    scratch_host: PathBuf,
    /// The same inside the peer.
    scratch_peer: String,
    /// `rssh` (for [`Way::Rssh`]).
    rssh: Option<PathBuf>,
    /// The server program, a path inside the peer.
    server: String,
}

/// What a server gets.
#[derive(Clone, Debug, Default)]
struct Srv {
    /// Host key types (all if empty).
    host_keys: Vec<HostKeyType>,
    password: bool,
    kbd: bool,
    pam: bool,
    /// `TrustedUserCAKeys`, a path inside the peer.
    ca: Option<String>,
    extra: Vec<String>,
}

/// A client run.
#[derive(Clone, Debug)]
struct Call {
    /// Options before the destination.
    opts: Vec<String>,
    /// The remote command (none if empty).
    remote: String,
    stdin: Vec<u8>,
    env: Vec<(String, String)>,
    /// `-o BatchMode=yes` (no prompts).
    batch: bool,
    /// `StrictHostKeyChecking`.
    strict: String,
    /// `UserKnownHostsFile` as the client sees it (default: the case's
    /// file listing the server's keys).
    known_hosts: Option<String>,
    timeout: Duration,
}

impl Default for Call {
    fn default() -> Self {
        Self {
            opts: Vec::new(),
            remote: String::new(),
            stdin: Vec::new(),
            env: Vec::new(),
            batch: true,
            strict: "yes".to_owned(),
            known_hosts: None,
            timeout: TIMEOUT,
        }
    }
}

impl Call {
    fn remote(cmd: &str) -> Self {
        Self {
            remote: cmd.to_owned(),
            ..Self::default()
        }
    }

    fn opt(mut self, o: &str) -> Self {
        self.opts.push(o.to_owned());
        self
    }
}

impl Setup {
    /// Prepares a case: the binary under test, the account, a directory.
    /// `needs_binary`: false for rows that do not run ours.
    fn new(ctx: &mut Ctx<'_>, needs_binary: bool) -> Result<Self> {
        let way = Way::from_param(ctx.param);
        if ctx.backend.name() == "host" {
            return Err(skip("needs a container (a real account with a password)"));
        }
        let Some((scratch_host, scratch_peer)) = ctx.backend.scratch_dir() else {
            return Err(skip("this backend has no scratch directory"));
        };
        let (rssh, server) = match way {
            Way::Rssh => {
                let rssh = if needs_binary {
                    match binaries::locate(Bin::Rssh)? {
                        Location::Host(p) => Some(p),
                        Location::Peer(p) => {
                            bail!(
                                "XTASK_RSSH=peer:{p}: rssh runs here, give a path on this machine"
                            )
                        }
                    }
                } else {
                    None
                };
                (rssh, "/usr/sbin/sshd".to_owned())
            }
            Way::Rsshd => {
                let server = match binaries::locate(Bin::Rsshd)? {
                    Location::Peer(p) => p,
                    Location::Host(p) => {
                        binaries::copy_into_peer(&p, &scratch_host, &scratch_peer)?
                    }
                };
                (None, server)
            }
        };
        let n = CASE_DIRS.fetch_add(1, Ordering::Relaxed);
        let name = format!("case-{n}");
        let host_dir = scratch_host.join(&name);
        let peer_dir = format!("{scratch_peer}/{name}");
        fs::create_dir_all(&host_dir).context(format_args!("creating {}", host_dir.display()))?;
        let this = Self {
            way,
            host_dir,
            peer_dir,
            scratch_host,
            scratch_peer,
            rssh,
            server,
        };
        this.account(ctx, "")?;
        Ok(this)
    }

    /// A path of the case directory, here.
    fn host(&self, name: &str) -> PathBuf {
        self.host_dir.join(name)
    }

    /// A path of the case directory inside the peer.
    fn peer(&self, name: &str) -> String {
        format!("{}/{name}", self.peer_dir)
    }

    /// A path of the case directory as the client sees it.
    fn client(&self, name: &str) -> String {
        match self.way {
            Way::Rssh => self.host(name).to_string_lossy().into_owned(),
            Way::Rsshd => self.peer(name),
        }
    }

    /// Creates or refreshes the account, with these authorized keys.
    fn account(&self, ctx: &Ctx<'_>, authorized_keys: &str) -> Result<()> {
        let hash = password_hash()?;
        let ak = self.host("authorized_keys");
        fs::write(&ak, authorized_keys).context(format_args!("writing {}", ak.display()))?;
        // Written directly: newer minimal images lack useradd.
        let script = format!(
            "set -e; \
             grep -q '^{USER}:' /etc/passwd || echo '{USER}:x:{UID}:{UID}:{USER}:/home/{USER}:/bin/sh' >> /etc/passwd; \
             grep -q '^{USER}:' /etc/group || echo '{USER}:x:{UID}:' >> /etc/group; \
             sed -i '/^{USER}:/d' /etc/shadow; echo '{USER}:{hash}:20000:0:99999:7:::' >> /etc/shadow; \
             mkdir -p /home/{USER}/.ssh; cp '{ak}' /home/{USER}/.ssh/authorized_keys; \
             chown -R {UID}:{UID} /home/{USER}; chmod 755 /home/{USER}; chmod 700 /home/{USER}/.ssh; \
             chmod 600 /home/{USER}/.ssh/authorized_keys",
            ak = self.peer("authorized_keys"),
        );
        util::checked_output(&mut ctx.backend.command("sh", &["-c", &script]))?;
        Ok(())
    }

    /// Generates a key of `kind` (`ed25519`, `ecdsa256`, `rsa-sha2-512`, ...)
    /// named `name` in the case directory, with this passphrase; returns
    /// its public line.
    fn keygen(&self, name: &str, kind: &str, passphrase: &str) -> Result<String> {
        let path = self.host(name);
        let path_s = path.to_string_lossy().into_owned();
        let mut args = vec!["-q", "-N", passphrase, "-C", "xtask-user", "-f", &path_s];
        args.extend(match kind {
            "ed25519" => ["-t", "ed25519"].as_slice(),
            "ecdsa256" => &["-t", "ecdsa", "-b", "256"],
            "ecdsa384" => &["-t", "ecdsa", "-b", "384"],
            "ecdsa521" => &["-t", "ecdsa", "-b", "521"],
            "rsa-sha2-256" | "rsa-sha2-512" => &["-t", "rsa", "-b", "3072"],
            other => bail!("no key type {other:?}"),
        });
        util::checked_output(Command::new("ssh-keygen").args(&args))?;
        let pubfile = self.host(&format!("{name}.pub"));
        fs::read_to_string(&pubfile).context(format_args!("reading {}", pubfile.display()))
    }

    /// `SHA256:...` of a public key file of the case directory.
    fn fingerprint(&self, name: &str) -> Result<String> {
        let out = util::checked_output(
            Command::new("ssh-keygen")
                .arg("-lf")
                .arg(self.host(&format!("{name}.pub"))),
        )?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        match text.split_whitespace().nth(1) {
            Some(fp) if fp.starts_with("SHA256:") => Ok(fp.to_owned()),
            _ => bail!("ssh-keygen -lf printed {text:?}"),
        }
    }

    /// An askpass script printing `answer`; its path as the client sees it.
    fn askpass(&self, answer: &str) -> Result<String> {
        let path = self.host("askpass");
        fs::write(&path, format!("#!/bin/sh\nprintf '%s\\n' '{answer}'\n"))
            .context(format_args!("writing {}", path.display()))?;
        set_mode(&path, 0o755)?;
        Ok(self.client("askpass"))
    }

    /// Starts the server of this row.
    fn start(&self, ctx: &mut Ctx<'_>, srv: &Srv) -> Result<RunningSshd> {
        let types = if srv.host_keys.is_empty() {
            HostKeyType::ALL.to_vec()
        } else {
            srv.host_keys.clone()
        };
        let yes = |b: bool| if b { "yes" } else { "no" };
        let mut c = String::from("# Written by cargo xtask for one interop case.\n");
        c.push_str("ListenAddress 127.0.0.1\n");
        for t in &types {
            let _ = writeln!(c, "HostKey {}/{}", self.scratch_peer, t.file_name());
        }
        if self.way == Way::Rssh {
            // OpenSSH's sshd; ours need not know the keyword.
            c.push_str("PidFile none\n");
        }
        c.push_str("LogLevel DEBUG1\n");
        c.push_str("AuthorizedKeysFile .ssh/authorized_keys\n");
        let _ = writeln!(c, "PasswordAuthentication {}", yes(srv.password));
        let _ = writeln!(c, "KbdInteractiveAuthentication {}", yes(srv.kbd));
        let _ = writeln!(c, "UsePAM {}", yes(srv.pam));
        if let Some(ca) = &srv.ca {
            let _ = writeln!(c, "TrustedUserCAKeys {ca}");
        }
        c.push_str("Subsystem sftp /usr/lib/openssh/sftp-server\n");
        for line in &srv.extra {
            c.push_str(line);
            c.push('\n');
        }
        let server = self.server.clone();
        let running = ctx.server(&server, &c)?;
        // The known hosts file listing every key it has.
        let mut kh = String::new();
        for t in &types {
            let _ = writeln!(kh, "[127.0.0.1]:{} {}", running.port(), self.host_key(*t)?);
        }
        let path = self.host("known_hosts");
        fs::write(&path, kh).context(format_args!("writing {}", path.display()))?;
        Ok(running)
    }

    /// `type base64` of one of the server's host keys.
    fn host_key(&self, t: HostKeyType) -> Result<String> {
        let path = self.scratch_host.join(format!("{}.pub", t.file_name()));
        let text = fs::read_to_string(&path).context(format_args!("reading {}", path.display()))?;
        let mut f = text.split_whitespace();
        match (f.next(), f.next()) {
            (Some(a), Some(b)) => Ok(format!("{a} {b}")),
            _ => bail!("{} is not a public key", path.display()),
        }
    }

    /// The client command for `call` against `port`.
    fn command(&self, ctx: &Ctx<'_>, port: u16, call: &Call) -> Command {
        let kh = call
            .known_hosts
            .clone()
            .unwrap_or_else(|| self.client("known_hosts"));
        let mut args: Vec<String> = vec![
            "-F".into(),
            "/dev/null".into(),
            "-p".into(),
            port.to_string(),
            "-o".into(),
            format!("UserKnownHostsFile={kh}"),
            "-o".into(),
            format!("StrictHostKeyChecking={}", call.strict),
        ];
        if call.batch {
            args.extend(["-o".into(), "BatchMode=yes".into()]);
        }
        args.extend(call.opts.iter().cloned());
        args.push(format!("{USER}@127.0.0.1"));
        if !call.remote.is_empty() {
            args.push(call.remote.clone());
        }
        let mut cmd = match (self.way, &self.rssh) {
            (Way::Rssh, Some(rssh)) => {
                let mut cmd = Command::new(rssh);
                cmd.args(&args);
                cmd
            }
            _ => {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                ctx.backend.command("ssh", &args)
            }
        };
        for var in [
            "SSH_AUTH_SOCK",
            "SSH_ASKPASS",
            "SSH_ASKPASS_REQUIRE",
            "DISPLAY",
        ] {
            cmd.env_remove(var);
        }
        for (k, v) in &call.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs the client; its stderr is kept for the failure report.
    fn run(&self, ctx: &mut Ctx<'_>, port: u16, call: &Call) -> Result<Output> {
        let cmd = self.command(ctx, port, call);
        let label = client_label(&cmd);
        let out = peer::run_with_timeout(cmd, &call.stdin, call.timeout)?;
        ctx.record(format!("{label} (exit {})", out.status), &out.stderr);
        Ok(out)
    }

    /// Runs the client and requires exit status 0.
    fn run_ok(&self, ctx: &mut Ctx<'_>, port: u16, call: &Call) -> Result<Output> {
        let out = self.run(ctx, port, call)?;
        if !out.status.success() {
            bail!(
                "the client exited with {}; its stderr:\n{}",
                out.status,
                tail(&out.stderr)
            );
        }
        Ok(out)
    }
}

/// The command line without the (long) wrapper, for log labels.
fn client_label(cmd: &Command) -> String {
    let line = util::describe(cmd);
    match line.find(" ssh ") {
        Some(at) if line.starts_with("unshare") => line.get(at + 1..).unwrap_or(&line).to_owned(),
        _ => line,
    }
}

/// The last lines of a client's stderr.
fn tail(text: &[u8]) -> String {
    let text = String::from_utf8_lossy(text);
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(15);
    lines.get(from..).unwrap_or_default().join("\n")
}

fn set_mode(path: &std::path::Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .context(format_args!("chmod {}", path.display()))
}

/// The server's log must show `what` accepted for the account, with
/// `needle` on the same line (a fingerprint, `CERT`).
fn accepted(server: &RunningSshd, what: &str, needle: &str) -> Result<()> {
    let log = server.log();
    let prefix = format!("Accepted {what}");
    let user = format!(" for {USER} from 127.0.0.1");
    if log
        .lines()
        .any(|l| l.contains(&prefix) && l.contains(&user) && l.contains(needle))
    {
        return Ok(());
    }
    bail!("the server's log has no line with {prefix:?}, {user:?} and {needle:?}")
}

/// A plain session with an ed25519 key: the server running, the client
/// ready; returns the call with `-i key`.
fn with_key(ctx: &mut Ctx<'_>, srv: &Srv) -> Result<(Setup, RunningSshd, Call)> {
    let setup = Setup::new(ctx, true)?;
    let line = setup.keygen("id", "ed25519", "")?;
    setup.account(ctx, &line)?;
    let server = setup.start(ctx, srv)?;
    let call = Call::default().opt("-i").opt(&setup.client("id"));
    Ok((setup, server, call))
}

// ---------------------------------------------------------------------
// Rows.

fn exec_cat(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, mut call) = with_key(ctx, &Srv::default())?;
    call.remote = "cat".into();
    call.stdin = big_data().to_vec();
    call.timeout = BIG_TIMEOUT;
    let start = Instant::now();
    let out = setup.run_ok(ctx, server.port(), &call)?;
    same_data("cat", big_data(), &out.stdout)?;
    println!(
        "  {}: 100 MiB echoed in {}",
        ctx.backend.name(),
        util::secs(start.elapsed())
    );
    Ok(())
}

fn exec_zeros(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, mut call) = with_key(ctx, &Srv::default())?;
    call.remote = format!("head -c {BIG} /dev/zero");
    call.timeout = BIG_TIMEOUT;
    let out = setup.run_ok(ctx, server.port(), &call)?;
    same_data("head -c /dev/zero", &vec![0u8; BIG], &out.stdout)
}

fn exec_stderr(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, mut call) = with_key(ctx, &Srv::default())?;
    call.remote = "printf out1; printf err1 >&2; printf out2; printf err2 >&2".into();
    let out = setup.run_ok(ctx, server.port(), &call)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.stdout != b"out1out2" {
        bail!(
            "stdout {:?}, expected \"out1out2\"",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    if !stderr.contains("err1err2") {
        bail!("stderr {stderr:?} lacks \"err1err2\"");
    }
    Ok(())
}

fn exit_code(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, mut call) = with_key(ctx, &Srv::default())?;
    call.remote = "exit 42".into();
    let out = setup.run(ctx, server.port(), &call)?;
    if out.status.code() != Some(42) {
        bail!("exit status {}, expected 42", out.status);
    }
    Ok(())
}

fn exit_signal(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, mut call) = with_key(ctx, &Srv::default())?;
    call.remote = "kill -TERM $$".into();
    let out = setup.run(ctx, server.port(), &call)?;
    if out.status.code() != Some(255) {
        bail!("exit status {}, expected 255 (as ssh)", out.status);
    }
    Ok(())
}

/// Runs the client with `-tt` under a 33x101 terminal; returns what the
/// terminal showed.
fn in_pty(ctx: &mut Ctx<'_>, remote: &str, resize: Option<(&str, u16, u16)>) -> Result<String> {
    let (setup, server, mut call) = with_key(ctx, &Srv::default())?;
    call.remote = remote.into();
    call.opts.insert(0, "-tt".into());
    call.env.push(("TERM".into(), "xterm".into()));
    let cmd = setup.command(ctx, server.port(), &call);
    let label = client_label(&cmd);
    let out = binaries::run_in_pty(&cmd, (33, 101), resize, TIMEOUT)?;
    let text = String::from_utf8_lossy(&out.terminal).into_owned();
    let mut log = out.stderr.clone();
    log.extend_from_slice(b"\n--- its terminal:\n");
    log.extend_from_slice(&out.terminal);
    ctx.record(format!("{label} (exit {})", out.status), &log);
    if !out.status.success() {
        bail!("the client exited with {}; terminal: {text:?}", out.status);
    }
    Ok(text)
}

fn pty(ctx: &mut Ctx<'_>) -> Result<()> {
    let text = in_pty(ctx, "stty size; tty", None)?;
    if !text.contains("33 101") {
        bail!("the remote terminal is not 33x101: {text:?}");
    }
    if !text.contains("/dev/pts/") {
        bail!("`tty` did not name a pty: {text:?}");
    }
    Ok(())
}

fn pty_resize(ctx: &mut Ctx<'_>) -> Result<()> {
    let remote = "stty size; echo READY; i=0; \
                  while [ \"$(stty size)\" = '33 101' ] && [ $i -lt 300 ]; do sleep 0.05; i=$((i+1)); done; \
                  echo \"now $(stty size)\"";
    let text = in_pty(ctx, remote, Some(("READY", 50, 120)))?;
    if !text.contains("33 101") {
        bail!("the remote terminal did not start 33x101: {text:?}");
    }
    if !text.contains("now 50 120") {
        bail!("the remote terminal did not become 50x120: {text:?}");
    }
    Ok(())
}

/// `PubkeyAcceptedAlgorithms` for an RSA row.
fn rsa_alg(kind: &str) -> Option<&str> {
    kind.starts_with("rsa-").then_some(kind)
}

fn pubkey(ctx: &mut Ctx<'_>) -> Result<()> {
    let kind = detail(ctx);
    let setup = Setup::new(ctx, true)?;
    let line = setup.keygen("id", kind, "")?;
    setup.account(ctx, &line)?;
    let mut srv = Srv::default();
    let mut call = Call::remote("echo ok").opt("-i").opt(&setup.client("id"));
    if let Some(alg) = rsa_alg(kind) {
        if setup.way == Way::Rssh {
            srv.extra.push(format!("PubkeyAcceptedAlgorithms {alg}"));
        }
        call = call
            .opt("-o")
            .opt(&format!("PubkeyAcceptedAlgorithms={alg}"));
    }
    let server = setup.start(ctx, &srv)?;
    let out = setup.run_ok(ctx, server.port(), &call)?;
    if out.stdout != b"ok\n" {
        bail!("stdout {:?}", String::from_utf8_lossy(&out.stdout));
    }
    accepted(&server, "publickey", &setup.fingerprint("id")?)
}

/// A host `ssh-agent -D -a SOCK`, killed on drop.
struct Agent(std::process::Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn agent(ctx: &mut Ctx<'_>) -> Result<()> {
    let kind = detail(ctx);
    let setup = Setup::new(ctx, true)?;
    let line = setup.keygen("id", kind, "")?;
    setup.account(ctx, &line)?;
    let sock = setup.host("agent.sock");
    let agent = Agent(
        Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&sock)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting ssh-agent")?,
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sock.exists() {
        if Instant::now() > deadline {
            bail!("ssh-agent made no socket at {}", sock.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    util::checked_output(
        Command::new("ssh-add")
            .arg(setup.host("id"))
            .env("SSH_AUTH_SOCK", &sock),
    )?;
    // The key file is gone: only the agent can sign.
    fs::remove_file(setup.host("id")).context("removing the key file")?;
    let mut srv = Srv::default();
    let mut call = Call::remote("echo ok");
    call.env
        .push(("SSH_AUTH_SOCK".into(), setup.client("agent.sock")));
    if let Some(alg) = rsa_alg(kind) {
        if setup.way == Way::Rssh {
            srv.extra.push(format!("PubkeyAcceptedAlgorithms {alg}"));
        }
        call = call
            .opt("-o")
            .opt(&format!("PubkeyAcceptedAlgorithms={alg}"));
    }
    let server = setup.start(ctx, &srv)?;
    let out = setup.run_ok(ctx, server.port(), &call)?;
    drop(agent);
    if out.stdout != b"ok\n" {
        bail!("stdout {:?}", String::from_utf8_lossy(&out.stdout));
    }
    accepted(&server, "publickey", &setup.fingerprint("id")?)
}

fn encrypted_key(ctx: &mut Ctx<'_>) -> Result<()> {
    let setup = Setup::new(ctx, true)?;
    let line = setup.keygen("id", "ed25519", PASSPHRASE)?;
    setup.account(ctx, &line)?;
    let server = setup.start(ctx, &Srv::default())?;
    let askpass = setup.askpass(PASSPHRASE)?;
    let mut call = Call::remote("echo ok").opt("-i").opt(&setup.client("id"));
    call.batch = false;
    call.env.push(("SSH_ASKPASS".into(), askpass));
    call.env
        .push(("SSH_ASKPASS_REQUIRE".into(), "force".into()));
    let out = setup.run_ok(ctx, server.port(), &call)?;
    if out.stdout != b"ok\n" {
        bail!("stdout {:?}", String::from_utf8_lossy(&out.stdout));
    }
    accepted(&server, "publickey", &setup.fingerprint("id")?)
}

fn cert(ctx: &mut Ctx<'_>) -> Result<()> {
    let setup = Setup::new(ctx, true)?;
    setup.keygen("ca", "ed25519", "")?;
    setup.keygen("id", "ed25519", "")?;
    util::checked_output(
        Command::new("ssh-keygen")
            .args(["-q", "-s"])
            .arg(setup.host("ca"))
            .args(["-I", "xtask-cert", "-n", USER, "-z", "7", "-V", "-5m:+1h"])
            .arg(setup.host("id.pub")),
    )?;
    // No authorized key: only the certificate can get in.
    setup.account(ctx, "")?;
    let srv = Srv {
        ca: Some(setup.peer("ca.pub")),
        ..Srv::default()
    };
    let server = setup.start(ctx, &srv)?;
    // OpenSSH loads id-cert.pub beside id by itself.
    let call = Call::remote("echo ok").opt("-i").opt(&setup.client("id"));
    let out = setup.run_ok(ctx, server.port(), &call)?;
    if out.stdout != b"ok\n" {
        bail!("stdout {:?}", String::from_utf8_lossy(&out.stdout));
    }
    accepted(&server, "publickey", "CERT")
}

/// Password or keyboard-interactive, the answer from an askpass script.
fn by_askpass(ctx: &mut Ctx<'_>, method: &str, srv: &Srv, logged: &str) -> Result<()> {
    let setup = Setup::new(ctx, true)?;
    let server = setup.start(ctx, srv)?;
    let askpass = setup.askpass(PASSWORD)?;
    let mut call = Call::remote("echo ok")
        .opt("-o")
        .opt(&format!("PreferredAuthentications={method}"))
        .opt("-o")
        .opt("PubkeyAuthentication=no");
    call.batch = false;
    call.env.push(("SSH_ASKPASS".into(), askpass));
    call.env
        .push(("SSH_ASKPASS_REQUIRE".into(), "force".into()));
    let out = setup.run_ok(ctx, server.port(), &call)?;
    if out.stdout != b"ok\n" {
        bail!("stdout {:?}", String::from_utf8_lossy(&out.stdout));
    }
    accepted(&server, logged, "")
}

fn password(ctx: &mut Ctx<'_>) -> Result<()> {
    let srv = Srv {
        password: true,
        ..Srv::default()
    };
    by_askpass(ctx, "password", &srv, "password")
}

fn kbd_interactive(ctx: &mut Ctx<'_>) -> Result<()> {
    let srv = Srv {
        kbd: true,
        pam: true,
        ..Srv::default()
    };
    by_askpass(ctx, "keyboard-interactive", &srv, "keyboard-interactive")
}

fn compression(ctx: &mut Ctx<'_>) -> Result<()> {
    let way = Way::from_param(ctx.param);
    let srv = Srv {
        extra: vec!["Compression yes".into()],
        ..Srv::default()
    };
    let (setup, server, mut call) = with_key(ctx, &srv)?;
    let data = text_data(20 * 1024 * 1024);
    call.opts.insert(0, "-C".into());
    if way == Way::Rsshd {
        call.opts.insert(0, "-v".into());
    }
    call.remote = "cat".into();
    call.stdin = data.clone();
    call.timeout = BIG_TIMEOUT;
    let out = setup.run_ok(ctx, server.port(), &call)?;
    same_data("cat", &data, &out.stdout)?;
    let (whose, log) = match way {
        Way::Rssh => ("sshd's", server.log()),
        Way::Rsshd => ("ssh's", String::from_utf8_lossy(&out.stderr).into_owned()),
    };
    if !log.contains("compression: zlib@openssh.com") {
        bail!("{whose} log does not show zlib@openssh.com negotiated");
    }
    Ok(())
}

fn rekey(ctx: &mut Ctx<'_>) -> Result<()> {
    let way = Way::from_param(ctx.param);
    let mut srv = Srv::default();
    if way == Way::Rsshd {
        // The server's own limit: rsshd starts the re-keys.
        srv.extra.push("RekeyLimit 1M".into());
    }
    let (setup, server, mut call) = with_key(ctx, &srv)?;
    // -v: the client's log shows the key exchanges if this fails.
    call.opts.insert(0, "-v".into());
    if way == Way::Rssh {
        call.opts.extend(["-o".into(), "RekeyLimit=1M".into()]);
    }
    call.remote = format!("head -c {BIG} /dev/zero");
    call.timeout = BIG_TIMEOUT;
    let out = setup.run_ok(ctx, server.port(), &call)?;
    same_data("head -c /dev/zero", &vec![0u8; BIG], &out.stdout)?;
    let (whose, log) = match way {
        Way::Rssh => ("sshd", server.log()),
        Way::Rsshd => ("ssh", String::from_utf8_lossy(&out.stderr).into_owned()),
    };
    let newkeys = log.matches("SSH2_MSG_NEWKEYS received").count();
    println!(
        "  {}: {whose} logged {newkeys} NEWKEYS received during 100 MiB",
        ctx.backend.name()
    );
    // The first key exchange, then one each time 1 MiB has gone one way.
    // The peer keeps sending until it sees KEXINIT (up to a channel window,
    // 2 MiB for OpenSSH, in flight), so a cycle spans 1 to about 3 MiB:
    // OpenSSH's ssh against sshd logs about 60 for 100 MiB, never 100.
    if newkeys <= 30 {
        bail!("{whose} logged {newkeys} NEWKEYS received, expected more than 30 (one per 1-3 MiB)");
    }
    Ok(())
}

// Host keys (rssh only).

fn hostkey_unknown(ctx: &mut Ctx<'_>) -> Result<()> {
    let setup = Setup::new(ctx, true)?;
    let server = setup.start(ctx, &Srv::default())?;
    let kh = setup.host("empty_known_hosts");
    fs::write(&kh, "").context("writing known_hosts")?;
    let mut call = Call::remote("echo ok");
    call.known_hosts = Some(setup.client("empty_known_hosts"));
    let out = setup.run(ctx, server.port(), &call)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() != Some(255) {
        bail!("exit status {}, expected 255", out.status);
    }
    if !stderr.contains("Host key verification failed.") {
        bail!("stderr lacks \"Host key verification failed.\": {stderr:?}");
    }
    if !out.stdout.is_empty() {
        bail!("the command ran anyway");
    }
    Ok(())
}

fn hostkey_accept_new(ctx: &mut Ctx<'_>) -> Result<()> {
    let setup = Setup::new(ctx, true)?;
    let line = setup.keygen("id", "ed25519", "")?;
    setup.account(ctx, &line)?;
    let server = setup.start(ctx, &Srv::default())?;
    let kh = setup.host("new_known_hosts");
    fs::write(&kh, "").context("writing known_hosts")?;
    let mut call = Call::remote("echo ok").opt("-i").opt(&setup.client("id"));
    call.known_hosts = Some(setup.client("new_known_hosts"));
    call.strict = "accept-new".into();
    let out = setup.run_ok(ctx, server.port(), &call)?;
    if out.stdout != b"ok\n" {
        bail!("stdout {:?}", String::from_utf8_lossy(&out.stdout));
    }
    let added = fs::read_to_string(&kh).context("reading known_hosts")?;
    let want_host = format!("[127.0.0.1]:{}", server.port());
    let mut keys = Vec::new();
    for t in HostKeyType::ALL {
        keys.push(setup.host_key(t)?);
    }
    let ok_line = added.lines().any(|l| {
        let mut f = l.splitn(2, ' ');
        let host = f.next().unwrap_or_default();
        let key: String = f
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        host == want_host && keys.contains(&key)
    });
    if !ok_line {
        bail!("known_hosts has no line \"{want_host} <one of the server's keys>\": {added:?}");
    }
    call.strict = "yes".into();
    let out = setup.run_ok(ctx, server.port(), &call)?;
    if out.stdout != b"ok\n" {
        bail!(
            "second run: stdout {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    Ok(())
}

fn hostkey_mismatch(ctx: &mut Ctx<'_>) -> Result<()> {
    let setup = Setup::new(ctx, true)?;
    let srv = Srv {
        host_keys: vec![HostKeyType::Ed25519],
        ..Srv::default()
    };
    let server = setup.start(ctx, &srv)?;
    let other = setup.keygen("other", "ed25519", "")?;
    let other: Vec<&str> = other.split_whitespace().take(2).collect();
    let other = other.join(" ");
    let kh = setup.host("bad_known_hosts");
    fs::write(
        &kh,
        format!(
            "otherhost.example {other}\n[127.0.0.1]:{} {other}\n",
            server.port()
        ),
    )
    .context("writing known_hosts")?;
    let mut call = Call::remote("echo ok");
    call.known_hosts = Some(setup.client("bad_known_hosts"));
    let out = setup.run(ctx, server.port(), &call)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() != Some(255) {
        bail!("exit status {}, expected 255", out.status);
    }
    let place = format!("{}:2", setup.client("bad_known_hosts"));
    if !stderr.contains(&place) {
        bail!("stderr does not name {place:?}: {stderr:?}");
    }
    if !stderr.contains("Host key verification failed.") {
        bail!("stderr lacks \"Host key verification failed.\": {stderr:?}");
    }
    if !out.stdout.is_empty() {
        bail!("the command ran anyway");
    }
    Ok(())
}

// Ten sessions on one connection.

/// The library's client against sshd: 10 `exec`s at once, each echoing
/// its own 64 KiB after a 2 s sleep (at once: about 2 s; in turn: 20 s).
fn sessions_lib(ctx: &mut Ctx<'_>) -> Result<()> {
    use ssh_async::{Client, ClientOptions, SimpleHandler};
    let setup = Setup::new(ctx, false)?;
    let srv = Srv {
        host_keys: vec![HostKeyType::Ed25519],
        password: true,
        ..Srv::default()
    };
    let server = setup.start(ctx, &srv)?;
    let (host_key, _) =
        ssh_async::ssh_keys::PublicKey::from_openssh(&setup.host_key(HostKeyType::Ed25519)?)
            .map_err(|e| format!("parsing the host key: {e}"))?;
    let addr = server.addr();
    let inputs: Vec<Vec<u8>> = (0..10u8)
        .map(|i| {
            let mut v = big_data().get(..64 * 1024).unwrap_or_default().to_vec();
            v.iter_mut().for_each(|b| *b ^= i);
            v
        })
        .collect();
    let start = Instant::now();
    let work = async {
        let tcp = ssh_async::runtime::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connecting: {e}"))?;
        let mut handler = SimpleHandler {
            host_key_check: Box::new(move |k| *k == host_key),
            keys: Vec::new(),
            password: Some(PASSWORD.into()),
        };
        let options = ClientOptions::new(USER, handler.methods());
        let client = Client::connect(tcp, options, &mut handler)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let runs = inputs
            .iter()
            .map(|input| client.exec_with_stdin("sleep 2; cat", input));
        let outs = futures::future::join_all(runs).await;
        let _ = client.disconnect().await;
        Ok::<_, String>(outs)
    };
    let outs = match ssh_async::runtime::block_on(ssh_async::runtime::timeout(TIMEOUT, work)) {
        Some(r) => r?,
        None => bail!("timed out"),
    };
    let took = start.elapsed();
    for (i, (out, input)) in outs.into_iter().zip(&inputs).enumerate() {
        let out = out.map_err(|e| format!("session {i}: {e}"))?;
        if out.exit_status != Some(0) {
            bail!(
                "session {i}: exit {:?}, stderr {:?}",
                out.exit_status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        same_data(&format!("session {i}"), input, &out.stdout)?;
    }
    let log = server.log();
    let logins = log.matches("Accepted password for xbin").count();
    if logins != 1 {
        bail!("sshd logged {logins} logins, expected 1 connection");
    }
    // Ten 2 s sleeps: in parallel they take far less than 20 s.
    if took > Duration::from_secs(10) {
        bail!("10 sessions took {} s: not concurrent", took.as_secs());
    }
    Ok(())
}

/// `ssh -M -S ctl` and 10 `ssh -S ctl` at once, in one shell inside the
/// peer.
fn sessions_mux(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, call) = with_key(ctx, &Srv::default())?;
    let port = server.port();
    let common = format!(
        "-F /dev/null -p {port} -o UserKnownHostsFile={} -o StrictHostKeyChecking=yes -o BatchMode=yes {}",
        setup.peer("known_hosts"),
        call.opts.join(" ")
    );
    let ctl = setup.peer("ctl");
    let d = &setup.peer_dir;
    let script = format!(
        "ssh {common} -M -S {ctl} -N {USER}@127.0.0.1 2>{d}/master.err & m=$!; \
         i=0; while ! ssh -S {ctl} -O check {USER}@127.0.0.1 2>/dev/null; do \
           i=$((i+1)); [ $i -gt 200 ] && {{ echo no master >&2; exit 1; }}; sleep 0.05; done; \
         start=$(date +%s); pids=''; \
         for n in 1 2 3 4 5 6 7 8 9 10; do \
           ssh {common} -S {ctl} {USER}@127.0.0.1 \"sleep 1; echo session-$n\" >{d}/out.$n 2>{d}/err.$n & pids=\"$pids $!\"; \
         done; \
         rc=0; for p in $pids; do wait $p || rc=1; done; \
         echo elapsed $(( $(date +%s) - start )); \
         ssh -S {ctl} -O exit {USER}@127.0.0.1 2>/dev/null; wait $m; exit $rc"
    );
    let out = peer::run_with_timeout(ctx.backend.command("sh", &["-c", &script]), b"", TIMEOUT)?;
    let mut log = out.stderr.clone();
    for n in 1..=10 {
        if let Ok(err) = fs::read(setup.host(&format!("err.{n}"))) {
            log.extend_from_slice(format!("--- session {n} stderr:\n").as_bytes());
            log.extend_from_slice(&err);
        }
    }
    if let Ok(err) = fs::read(setup.host("master.err")) {
        log.extend_from_slice(b"--- master stderr:\n");
        log.extend_from_slice(&err);
    }
    ctx.record(
        format!("sh -c (ControlMaster and 10 clients), exit {}", out.status),
        &log,
    );
    if !out.status.success() {
        bail!("a session failed: {}", tail(&log));
    }
    for n in 1..=10 {
        let got = fs::read_to_string(setup.host(&format!("out.{n}"))).unwrap_or_default();
        if got != format!("session-{n}\n") {
            bail!("session {n} printed {got:?}");
        }
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let elapsed: u64 = stdout
        .trim()
        .strip_prefix("elapsed ")
        .and_then(|s| s.parse().ok())
        .unwrap_or(u64::MAX);
    if elapsed > 8 {
        bail!("10 one-second sessions took {elapsed} s: not concurrent");
    }
    let logins = server.log().matches("Accepted publickey for xbin").count();
    if logins != 1 {
        bail!("the server logged {logins} logins, expected 1 (one connection)");
    }
    Ok(())
}

// sftp and scp (ssh>rsshd only).

/// 5 MiB to upload, in the case directory as `up.bin`.
fn upload_file(setup: &Setup) -> Result<Vec<u8>> {
    let data = big_data()
        .get(..5 * 1024 * 1024)
        .unwrap_or_default()
        .to_vec();
    fs::write(setup.host("up.bin"), &data).context("writing up.bin")?;
    Ok(data)
}

fn transfer_opts(setup: &Setup, port: u16) -> Vec<String> {
    [
        "-F",
        "/dev/null",
        "-P",
        &port.to_string(),
        "-o",
        &format!("UserKnownHostsFile={}", setup.peer("known_hosts")),
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        "-i",
        &setup.peer("id"),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

fn run_peer(ctx: &mut Ctx<'_>, program: &str, args: &[String]) -> Result<Output> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let cmd = ctx.backend.command(program, &args);
    let out = peer::run_with_timeout(cmd, b"", TIMEOUT)?;
    ctx.record(
        format!("{program} {} (exit {})", args.join(" "), out.status),
        &out.stderr,
    );
    if !out.status.success() {
        bail!(
            "{program} exited with {}: {}",
            out.status,
            tail(&out.stderr)
        );
    }
    Ok(out)
}

fn sftp(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, _) = with_key(ctx, &Srv::default())?;
    let data = upload_file(&setup)?;
    let batch = format!(
        "put {up} /home/{USER}/sftp.bin\nls -l /home/{USER}/sftp.bin\nget /home/{USER}/sftp.bin {down}\nrm /home/{USER}/sftp.bin\n",
        up = setup.peer("up.bin"),
        down = setup.peer("down.bin"),
    );
    fs::write(setup.host("batch"), batch).context("writing the batch file")?;
    let mut args = transfer_opts(&setup, server.port());
    args.extend([
        "-b".into(),
        setup.peer("batch"),
        format!("{USER}@127.0.0.1"),
    ]);
    let out = run_peer(ctx, "sftp", &args)?;
    let listing = String::from_utf8_lossy(&out.stdout);
    if !listing.contains(&data.len().to_string()) {
        bail!("`ls -l` does not show {} bytes: {listing:?}", data.len());
    }
    let down = fs::read(setup.host("down.bin")).context("reading down.bin")?;
    same_data("sftp put then get", &data, &down)
}

fn scp(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, _) = with_key(ctx, &Srv::default())?;
    let data = upload_file(&setup)?;
    let remote = format!("{USER}@127.0.0.1:/home/{USER}/scp.bin");
    let mut up = transfer_opts(&setup, server.port());
    up.extend([setup.peer("up.bin"), remote.clone()]);
    run_peer(ctx, "scp", &up)?;
    let mut down = transfer_opts(&setup, server.port());
    down.extend([remote, setup.peer("down.bin")]);
    run_peer(ctx, "scp", &down)?;
    let got = fs::read(setup.host("down.bin")).context("reading down.bin")?;
    same_data("scp up then down", &data, &got)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn rows_come_in_both_directions() {
        let cases = cases();
        let names: Vec<&str> = cases.iter().map(|c| c.name).collect();
        for (name, ..) in BOTH {
            assert!(names.contains(&format!("rssh>sshd:{name}").as_str()));
            assert!(names.contains(&format!("ssh>rsshd:{name}").as_str()));
        }
        for c in &cases {
            let want = if c.name.starts_with("ssh>") {
                Way::Rsshd
            } else {
                Way::Rssh
            };
            assert_eq!(Way::from_param(c.param), want, "{}", c.name);
        }
    }

    #[test]
    fn digests_and_data() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let t = text_data(1000);
        assert_eq!(t.len(), 1000);
        assert!(t.starts_with(b"line 0: "));
        assert!(same_data("x", b"ab", b"ab").is_ok());
        assert!(same_data("x", b"ab", b"ac").is_err());
    }
}
