//! The binaries' authentication rows (keys, the agent, certificates,
//! passwords, keyboard-interactive) and host key rows.

use std::fs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::bail;
use crate::binary_setup::*;
use crate::interop::Ctx;
use crate::peer::HostKeyType;
use crate::util::{self, Context, Result};

/// `PubkeyAcceptedAlgorithms` for an RSA row.
pub(crate) fn rsa_alg(kind: &str) -> Option<&str> {
    kind.starts_with("rsa-").then_some(kind)
}

pub(crate) fn pubkey(ctx: &mut Ctx<'_>) -> Result<()> {
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
pub(crate) struct Agent(std::process::Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a host `ssh-agent` on `agent.sock` of the case directory and
/// adds the key file `key` of the case directory to it.
pub(crate) fn start_agent(setup: &Setup, key: &str) -> Result<Agent> {
    start_agent_with(setup, key, &[])
}

/// [`start_agent`], with `ssh-add` options (`-h` destination
/// constraints).
pub(crate) fn start_agent_with(setup: &Setup, key: &str, add_opts: &[String]) -> Result<Agent> {
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
            .args(add_opts)
            .arg(setup.host(key))
            .env("SSH_AUTH_SOCK", &sock),
    )?;
    Ok(agent)
}

/// A key added with `ssh-add -h` (a destination constraint): usable only
/// through an agent connection bound to a session with a permitted host
/// key (`session-bind@openssh.com`), so the client must bind its agent
/// before it signs. Permitted for this server: the login works; for
/// another host only: refused.
pub(crate) fn agent_destination(ctx: &mut Ctx<'_>) -> Result<()> {
    for permitted in [true, false] {
        let setup = Setup::new(ctx, true)?;
        let line = setup.keygen("id", "ed25519", "")?;
        setup.account(ctx, &line)?;
        let server = setup.start(ctx, &Srv::default())?;
        // The hosts' keys for ssh-add, without ports: this server's, or
        // another host's (a key of its own).
        let mut kh = String::new();
        if permitted {
            for t in HostKeyType::ALL {
                kh.push_str(&format!("127.0.0.1 {}\n", setup.host_key(t)?));
            }
        } else {
            let other = setup.keygen("other", "ed25519", "")?;
            let mut f = other.split_whitespace();
            let key = format!(
                "{} {}",
                f.next().unwrap_or_default(),
                f.next().unwrap_or_default()
            );
            kh.push_str(&format!("otherhost {key}\n"));
        }
        fs::write(setup.host("dest_known_hosts"), kh).context("writing dest_known_hosts")?;
        let dest = if permitted { "127.0.0.1" } else { "otherhost" };
        let opts = [
            "-H".to_owned(),
            setup.host("dest_known_hosts").display().to_string(),
            "-h".to_owned(),
            dest.to_owned(),
        ];
        let agent = start_agent_with(&setup, "id", &opts)?;
        fs::remove_file(setup.host("id")).context("removing the key file")?;
        let mut call = Call::remote("echo ok");
        call.env
            .push(("SSH_AUTH_SOCK".into(), setup.client("agent.sock")));
        let out = setup.run(ctx, server.port(), &call)?;
        drop(agent);
        match (permitted, out.status.code()) {
            (true, Some(0)) if out.stdout == b"ok\n" => {
                accepted(&server, "publickey", &setup.fingerprint("id")?)?;
            }
            (false, Some(255)) if out.stdout.is_empty() => {}
            _ => bail!(
                "a key constrained to {dest}: exit {}, stdout {:?}; stderr: {}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                tail(&out.stderr)
            ),
        }
    }
    Ok(())
}

pub(crate) fn agent(ctx: &mut Ctx<'_>) -> Result<()> {
    let kind = detail(ctx);
    let setup = Setup::new(ctx, true)?;
    let line = setup.keygen("id", kind, "")?;
    setup.account(ctx, &line)?;
    let agent = start_agent(&setup, "id")?;
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

pub(crate) fn encrypted_key(ctx: &mut Ctx<'_>) -> Result<()> {
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

pub(crate) fn cert(ctx: &mut Ctx<'_>) -> Result<()> {
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
pub(crate) fn by_askpass(ctx: &mut Ctx<'_>, method: &str, srv: &Srv, logged: &str) -> Result<()> {
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

pub(crate) fn password(ctx: &mut Ctx<'_>) -> Result<()> {
    let srv = Srv {
        password: true,
        ..Srv::default()
    };
    by_askpass(ctx, "password", &srv, "password")
}

pub(crate) fn kbd_interactive(ctx: &mut Ctx<'_>) -> Result<()> {
    let srv = Srv {
        kbd: true,
        pam: true,
        ..Srv::default()
    };
    by_askpass(ctx, "keyboard-interactive", &srv, "keyboard-interactive")
}

// Host keys (rssh only).

pub(crate) fn hostkey_unknown(ctx: &mut Ctx<'_>) -> Result<()> {
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

/// `RefuseConnection` in the client's configuration (ssh 10.1): the run
/// ends before connecting, exit 255, with ssh's "FILE line N:
/// RefuseConnection: TEXT"; the server never sees a connection.
pub(crate) fn refuse_connection_config(ctx: &mut Ctx<'_>) -> Result<()> {
    let setup = Setup::new(ctx, true)?;
    let server = setup.start(ctx, &Srv::default())?;
    fs::write(
        setup.host("ssh_config"),
        "Host 127.0.0.1\n  RefuseConnection \"xtask: use the other host\"\n",
    )
    .context("writing ssh_config")?;
    let mut call = Call::remote("echo ok");
    call.config = Some(setup.client("ssh_config"));
    let out = setup.run(ctx, server.port(), &call)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    // (The file as the client names it: a validation run of the image's
    // ssh in its root filesystem sees a shorter path.)
    let want = "/ssh_config line 2: RefuseConnection: xtask: use the other host";
    if out.status.code() != Some(255) || !out.stdout.is_empty() {
        bail!("exit status {}, expected 255 and no output", out.status);
    }
    if !stderr.contains(want) {
        bail!("stderr lacks {want:?}: {stderr:?}");
    }
    std::thread::sleep(Duration::from_millis(200));
    if server.log().contains("Connection from") {
        bail!("the client connected anyway");
    }
    Ok(())
}

pub(crate) fn hostkey_accept_new(ctx: &mut Ctx<'_>) -> Result<()> {
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

pub(crate) fn hostkey_mismatch(ctx: &mut Ctx<'_>) -> Result<()> {
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
