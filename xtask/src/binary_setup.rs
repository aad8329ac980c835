//! What the binaries' interop rows share: the account, the data and its
//! digests, and [`Setup`] (one case's directory, server and client runs).
//! The rows are in [`crate::binary_cases`] and the files it names.

use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sha2::Digest;

use crate::bail;
use crate::binaries::{self, Bin, Location};
use crate::interop::{Ctx, skip};
use crate::peer::{self, HostKeyType, RunningSshd};
use crate::util::{self, Context, Result};

/// The account the cases log in to.
pub(crate) const USER: &str = "xbin";
/// Its uid and gid.
pub(crate) const UID: u32 = 4243;
/// Its password (a test account inside a throwaway container).
pub(crate) const PASSWORD: &str = "Xtask-interop-4243";
/// The passphrase of the encrypted key.
pub(crate) const PASSPHRASE: &str = "xtask interop passphrase";
/// OpenSSH's server inside the peer.
pub(crate) const OPENSSH_SSHD: &str = "/usr/sbin/sshd";
/// 100 MiB.
pub(crate) const BIG: usize = 100 * 1024 * 1024;
/// How long a transfer of [`BIG`] may take.
pub(crate) const BIG_TIMEOUT: Duration = Duration::from_secs(180);
/// How long anything else may take.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(60);

/// Which direction a row tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Way {
    /// `rssh` here against the peer's `sshd`.
    Rssh,
    /// The peer's `ssh` against `rsshd` in the peer.
    Rsshd,
}

impl Way {
    pub(crate) fn from_param(param: &str) -> Self {
        if param.starts_with("b") {
            Self::Rsshd
        } else {
            Self::Rssh
        }
    }
}

/// The detail of a row's parameter (`a:ed25519` -> `ed25519`).
pub(crate) fn detail(ctx: &Ctx<'_>) -> &'static str {
    ctx.param.split_once(':').map_or("", |(_, d)| d)
}

// ---------------------------------------------------------------------
// Data and digests.

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    let digest = sha2::Sha256::digest(data);
    let mut s = String::with_capacity(64);
    for b in digest.iter() {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// 100 MiB of pseudo-random bytes (xorshift), made once.
pub(crate) fn big_data() -> &'static [u8] {
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
pub(crate) fn text_data(n: usize) -> Vec<u8> {
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

pub(crate) struct ByteWriter<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for ByteWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Compares what came back with what was sent, by length and SHA-256.
pub(crate) fn same_data(what: &str, sent: &[u8], got: &[u8]) -> Result<()> {
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
pub(crate) fn password_hash() -> Result<String> {
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
pub(crate) struct Setup {
    pub(crate) way: Way,
    /// The case directory here.
    pub(crate) host_dir: PathBuf,
    /// The case directory inside the peer.
    pub(crate) peer_dir: String,
    /// The backend's scratch directory here (host keys).
    pub(crate) scratch_host: PathBuf,
    /// The same inside the peer.
    pub(crate) scratch_peer: String,
    /// `rssh` (for [`Way::Rssh`]).
    pub(crate) rssh: Option<PathBuf>,
    /// The server program, a path inside the peer.
    pub(crate) server: String,
}

/// What a server gets.
#[derive(Clone, Debug, Default)]
pub(crate) struct Srv {
    /// Host key types (all if empty).
    pub(crate) host_keys: Vec<HostKeyType>,
    pub(crate) password: bool,
    pub(crate) kbd: bool,
    pub(crate) pam: bool,
    /// `TrustedUserCAKeys`, a path inside the peer.
    pub(crate) ca: Option<String>,
    pub(crate) extra: Vec<String>,
}

/// A client run.
#[derive(Clone, Debug)]
pub(crate) struct Call {
    /// Options before the destination.
    pub(crate) opts: Vec<String>,
    /// The remote command (none if empty).
    pub(crate) remote: String,
    pub(crate) stdin: Vec<u8>,
    pub(crate) env: Vec<(String, String)>,
    /// `-o BatchMode=yes` (no prompts).
    pub(crate) batch: bool,
    /// `StrictHostKeyChecking`.
    pub(crate) strict: String,
    /// `UserKnownHostsFile` as the client sees it (default: the case's
    /// file listing the server's keys).
    pub(crate) known_hosts: Option<String>,
    pub(crate) timeout: Duration,
    /// `-F` as the client sees it (default: `/dev/null`).
    pub(crate) config: Option<String>,
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
            config: None,
        }
    }
}

impl Call {
    pub(crate) fn remote(cmd: &str) -> Self {
        Self {
            remote: cmd.to_owned(),
            ..Self::default()
        }
    }

    pub(crate) fn opt(mut self, o: &str) -> Self {
        self.opts.push(o.to_owned());
        self
    }
}

impl Setup {
    /// Prepares a case: the binary under test, the account, a directory.
    /// `needs_binary`: false for rows that do not run ours.
    pub(crate) fn new(ctx: &mut Ctx<'_>, needs_binary: bool) -> Result<Self> {
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
                (rssh, OPENSSH_SSHD.to_owned())
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
    pub(crate) fn host(&self, name: &str) -> PathBuf {
        self.host_dir.join(name)
    }

    /// A path of the case directory inside the peer.
    pub(crate) fn peer(&self, name: &str) -> String {
        format!("{}/{name}", self.peer_dir)
    }

    /// A path of the case directory as the client sees it.
    pub(crate) fn client(&self, name: &str) -> String {
        match self.way {
            Way::Rssh => self.host(name).to_string_lossy().into_owned(),
            Way::Rsshd => self.peer(name),
        }
    }

    /// Creates or refreshes the account, with these authorized keys (and
    /// undoes what an account row changed: its shell, its shadow entry,
    /// `/etc/nologin`).
    pub(crate) fn account(&self, ctx: &Ctx<'_>, authorized_keys: &str) -> Result<()> {
        let hash = password_hash()?;
        let ak = self.host("authorized_keys");
        fs::write(&ak, authorized_keys).context(format_args!("writing {}", ak.display()))?;
        // Written directly: newer minimal images lack useradd.
        let script = format!(
            "set -e; \
             rm -f /etc/nologin; \
             sed -i '/^{USER}:/d' /etc/passwd; echo '{USER}:x:{UID}:{UID}:{USER}:/home/{USER}:/bin/sh' >> /etc/passwd; \
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
    pub(crate) fn keygen(&self, name: &str, kind: &str, passphrase: &str) -> Result<String> {
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
    pub(crate) fn fingerprint(&self, name: &str) -> Result<String> {
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
    pub(crate) fn askpass(&self, answer: &str) -> Result<String> {
        let path = self.host("askpass");
        fs::write(&path, format!("#!/bin/sh\nprintf '%s\\n' '{answer}'\n"))
            .context(format_args!("writing {}", path.display()))?;
        set_mode(&path, 0o755)?;
        Ok(self.client("askpass"))
    }

    /// Starts the server of this row.
    pub(crate) fn start(&self, ctx: &mut Ctx<'_>, srv: &Srv) -> Result<RunningSshd> {
        let server = self.server.clone();
        self.start_program(ctx, srv, &server)
    }

    /// `rsshd` inside the peer (whichever way the row goes), copied there
    /// when it is a file of this machine.
    pub(crate) fn rsshd(&self) -> Result<String> {
        match binaries::locate(Bin::Rsshd)? {
            Location::Peer(p) => Ok(p),
            Location::Host(p) => {
                binaries::copy_into_peer(&p, &self.scratch_host, &self.scratch_peer)
            }
        }
    }

    /// Starts `program` (a path inside the peer: OpenSSH's `sshd` or
    /// `rsshd`) as a server of this row, and writes the known hosts file
    /// for its port.
    pub(crate) fn start_program(
        &self,
        ctx: &mut Ctx<'_>,
        srv: &Srv,
        program: &str,
    ) -> Result<RunningSshd> {
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
        if program == OPENSSH_SSHD {
            // OpenSSH's sshd; ours need not know the keyword.
            c.push_str("PidFile none\n");
        }
        if !srv.extra.iter().any(|l| l.starts_with("LogLevel ")) {
            // The first value wins: a row's own level replaces this one.
            c.push_str("LogLevel DEBUG1\n");
        }
        c.push_str("AuthorizedKeysFile .ssh/authorized_keys\n");
        let _ = writeln!(c, "PasswordAuthentication {}", yes(srv.password));
        let _ = writeln!(c, "KbdInteractiveAuthentication {}", yes(srv.kbd));
        let _ = writeln!(c, "UsePAM {}", yes(srv.pam));
        if let Some(ca) = &srv.ca {
            let _ = writeln!(c, "TrustedUserCAKeys {ca}");
        }
        if !srv.extra.iter().any(|l| l.starts_with("Subsystem sftp ")) {
            // A row may name its own (sshd refuses a subsystem defined twice).
            c.push_str("Subsystem sftp /usr/lib/openssh/sftp-server\n");
        }
        for line in &srv.extra {
            c.push_str(line);
            c.push('\n');
        }
        let running = ctx.server(program, &c)?;
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
    pub(crate) fn host_key(&self, t: HostKeyType) -> Result<String> {
        let path = self.scratch_host.join(format!("{}.pub", t.file_name()));
        let text = fs::read_to_string(&path).context(format_args!("reading {}", path.display()))?;
        let mut f = text.split_whitespace();
        match (f.next(), f.next()) {
            (Some(a), Some(b)) => Ok(format!("{a} {b}")),
            _ => bail!("{} is not a public key", path.display()),
        }
    }

    /// The client command for `call` against `port`.
    pub(crate) fn command(&self, ctx: &Ctx<'_>, port: u16, call: &Call) -> Command {
        let kh = call
            .known_hosts
            .clone()
            .unwrap_or_else(|| self.client("known_hosts"));
        let mut args: Vec<String> = vec![
            "-F".into(),
            call.config.clone().unwrap_or_else(|| "/dev/null".into()),
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
            "XAUTHORITY",
        ] {
            cmd.env_remove(var);
        }
        for (k, v) in &call.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs the client; its stderr is kept for the failure report.
    pub(crate) fn run(&self, ctx: &mut Ctx<'_>, port: u16, call: &Call) -> Result<Output> {
        let cmd = self.command(ctx, port, call);
        let label = client_label(&cmd);
        let out = peer::run_with_timeout(cmd, &call.stdin, call.timeout)?;
        ctx.record(format!("{label} (exit {})", out.status), &out.stderr);
        Ok(out)
    }

    /// Runs the client and requires exit status 0.
    pub(crate) fn run_ok(&self, ctx: &mut Ctx<'_>, port: u16, call: &Call) -> Result<Output> {
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
pub(crate) fn client_label(cmd: &Command) -> String {
    let line = util::describe(cmd);
    match line.find(" ssh ") {
        Some(at) if line.starts_with("unshare") => line.get(at + 1..).unwrap_or(&line).to_owned(),
        _ => line,
    }
}

/// The last lines of a client's stderr.
pub(crate) fn tail(text: &[u8]) -> String {
    let text = String::from_utf8_lossy(text);
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(15);
    lines.get(from..).unwrap_or_default().join("\n")
}

pub(crate) fn set_mode(path: &std::path::Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .context(format_args!("chmod {}", path.display()))
}

/// The server's log must show `what` accepted for the account, with
/// `needle` on the same line (a fingerprint, `CERT`).
pub(crate) fn accepted(server: &RunningSshd, what: &str, needle: &str) -> Result<()> {
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
pub(crate) fn with_key(ctx: &mut Ctx<'_>, srv: &Srv) -> Result<(Setup, RunningSshd, Call)> {
    let setup = Setup::new(ctx, true)?;
    let line = setup.keygen("id", "ed25519", "")?;
    setup.account(ctx, &line)?;
    let server = setup.start(ctx, srv)?;
    let call = Call::default().opt("-i").opt(&setup.client("id"));
    Ok((setup, server, call))
}

#[cfg(test)]
mod tests {
    use super::*;

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
