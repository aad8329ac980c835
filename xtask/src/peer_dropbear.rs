//! Dropbear (Debian's `dropbear-bin`) both ways:
//!
//! - `dbclient>rsshd:*` (and `dbclient>sshd:*`, the validation): the
//!   rows every client has ([`crate::peer_clients`]), `-L`/`-R`, and the
//!   guessed key exchange packet: `dbclient` always sends
//!   `first_kex_packet_follows` (RFC 4253 §7) with a packet for its first
//!   kex; the server's `KexAlgorithms`/`HostKeyAlgorithms` make that guess
//!   right in one row and wrong in another, and the server's log must show
//!   which case happened;
//! - `rssh>dropbear:*` (and `ssh>dropbear:*`, the validation): our client
//!   against the `dropbear` server with the backend's host keys converted
//!   by `dropbearconvert`.
//!
//! `dbclient` reads `$HOME/.ssh/known_hosts` (the case directory is its
//! `HOME`), its keys in Dropbear's format (`dropbearconvert openssh
//! dropbear`), a password from `DROPBEAR_PASSWORD`.

use std::fmt::Write as _;
use std::fs;
use std::process::Command;
use std::time::Duration;

use crate::bail;
use crate::binary_setup::{
    Call, PASSWORD, Setup, Srv, TIMEOUT, USER, Way, big_data, client_label, detail, same_data,
};
use crate::forward_util::{self as fu, Addr};
use crate::interop::{Case, Ctx};
use crate::peer::{self, HostKeyType, RunningSshd};
use crate::peer_clients::{
    self as pc, COMMON, CaseFn, Client, EXEC_DATA, FORWARDS, Kind, Run, Target, evidence,
    expect_stdout, fields, offered, prepare,
};
use crate::util::{self, Context, Result};
use crate::wire::{self, Conn};

/// Dropbear's client.
pub(crate) struct Dbclient;

/// The one instance.
pub(crate) static DBCLIENT: Dbclient = Dbclient;

/// Dropbear's server inside the peer.
const DROPBEAR: &str = "/usr/sbin/dropbear";

impl Client for Dbclient {
    fn name(&self) -> &'static str {
        "dbclient"
    }

    fn command(&self, ctx: &Ctx<'_>, setup: &Setup, port: u16, run: &Run) -> Result<Command> {
        let mut kh = String::new();
        for line in pc::host_key_lines(setup)? {
            let _ = writeln!(kh, "127.0.0.1 {line}");
        }
        let dir = setup.host(".ssh");
        fs::create_dir_all(&dir).context(format_args!("creating {}", dir.display()))?;
        fs::write(dir.join("known_hosts"), kh).context("writing dbclient's known_hosts")?;
        let port = port.to_string();
        let mut args = vec!["-p", port.as_str(), "-l", USER];
        if let Some(key) = &run.key {
            args.extend(["-i", key.as_str()]);
        }
        args.push(if run.pty { "-t" } else { "-T" });
        args.extend(run.opts.iter().map(String::as_str));
        args.extend(["127.0.0.1", run.remote.as_str()]);
        let mut cmd = ctx.backend.command("dbclient", &args);
        cmd.env("HOME", &setup.peer_dir);
        cmd.env_remove("SSH_AUTH_SOCK");
        if run.key.is_none() {
            cmd.env("DROPBEAR_PASSWORD", PASSWORD);
        }
        Ok(cmd)
    }

    fn convert_key(&self, ctx: &Ctx<'_>, setup: &Setup, name: &str) -> Result<String> {
        let out = setup.peer(&format!("{name}.dropbear"));
        util::checked_output(&mut ctx.backend.command(
            "dropbearconvert",
            &["openssh", "dropbear", &setup.peer(name), &out],
        ))?;
        Ok(out)
    }

    fn choose(&self, kind: Kind, name: &str) -> Vec<String> {
        match kind {
            Kind::Cipher => vec!["-c".into(), name.into()],
            Kind::Kex | Kind::HostKey => Vec::new(),
        }
    }

    fn forward(&self, local: bool, spec: &str) -> Option<Vec<String>> {
        Some(vec![if local { "-L" } else { "-R" }.into(), spec.into()])
    }
}

/// The guess rows: (name, about, detail).
const GUESS: &[(&str, &str, CaseFn, &str)] = &[
    (
        "kex-guess-right",
        "the server prefers dbclient's first kex and host key: its guessed packet is used (the server's log says so)",
        guess,
        "right",
    ),
    (
        "kex-guess-wrong",
        "the server allows another kex only: dbclient's guessed packet is ignored (the server's log says so), the exchange completes",
        guess,
        "wrong",
    ),
];

/// Rows of the server side: (name, about, function, detail).
const SERVER: &[(&str, &str, CaseFn, &str)] = &[
    (
        "exec",
        "`cat` echoes 2 MiB sent on stdin; SHA-256 of what comes back",
        srv_exec,
        "",
    ),
    (
        "exit-code",
        "`exit 42` makes the client exit 42",
        srv_exit_code,
        "",
    ),
    (
        "pty",
        "-tt under a 33x101 terminal: remote `stty size` and `tty`",
        srv_pty,
        "",
    ),
    (
        "password",
        "password authentication (SSH_ASKPASS); dropbear logs it succeeded",
        srv_password,
        "",
    ),
    (
        "pubkey-ed25519",
        "publickey with an ed25519 key file; dropbear logs the fingerprint",
        srv_pubkey,
        "ed25519",
    ),
    (
        "pubkey-ecdsa256",
        "publickey with an ecdsa-sha2-nistp256 key file",
        srv_pubkey,
        "ecdsa256",
    ),
    (
        "pubkey-rsa",
        "publickey with an RSA key file",
        srv_pubkey,
        "rsa-sha2-256",
    ),
    (
        "kex",
        "every kex dropbear offers and the client has, chosen by the client's -o, named in its -vv log",
        srv_algorithms,
        "kex",
    ),
    (
        "cipher",
        "every cipher dropbear offers and the client has, each alone",
        srv_algorithms,
        "cipher",
    ),
    (
        "fwd-L",
        "-L port:127.0.0.1:echo: 4 MiB echoed through dropbear, SHA-256 equal",
        srv_forward,
        "L",
    ),
    (
        "fwd-R",
        "-R port:127.0.0.1:echo: 4 MiB through dropbear's listener, SHA-256 equal",
        srv_forward,
        "R",
    ),
];

/// Every Dropbear row, in table order.
pub fn cases() -> Vec<Case> {
    let mut out = pc::rows("dbclient", COMMON);
    out.extend(pc::rows("dbclient", FORWARDS));
    out.extend(pc::rows("dbclient", GUESS));
    for (name, about, run, d) in SERVER {
        // OpenSSH's ssh (inside the peer) first, then rssh (here).
        for (client, way) in [("ssh", "b"), ("rssh", "a")] {
            out.push(Case {
                name: Box::leak(format!("{client}>dropbear:{name}").into_boxed_str()),
                about,
                run: *run,
                param: Box::leak(format!("{way}:{d}").into_boxed_str()),
            });
        }
    }
    out
}

/// `dbclient`'s guessed kex packet, right or wrong (the detail).
fn guess(ctx: &mut Ctx<'_>) -> Result<()> {
    let right = fields(ctx).1 == "right";
    let target = Target::of(ctx);
    let (client, setup, key) = prepare(ctx)?;
    let k = offered(ctx, client, &setup)?;
    if !k.first_kex_packet_follows {
        bail!("dbclient's KEXINIT does not set first_kex_packet_follows");
    }
    let kex = pc::shared(ctx, client, &setup, Kind::Kex)?;
    let offered_kex = Kind::Kex.list(&k);
    let offered_hk = Kind::HostKey.list(&k);
    let (Some(first_kex), Some(first_hk)) = (offered_kex.first(), offered_hk.first()) else {
        bail!("dbclient offers no kex or no host key algorithm");
    };
    let hk_shared = pc::shared(ctx, client, &setup, Kind::HostKey)?;
    if !kex.contains(first_kex) || !hk_shared.contains(first_hk) {
        bail!(
            "the server lacks dbclient's first kex {first_kex} or host key {first_hk}: no right guess possible"
        );
    }
    let chosen = if right {
        first_kex.clone()
    } else {
        // Another family than the guess (not the same method under
        // another name), when there is one.
        let other = ["curve25519-sha256", "ecdh-sha2-nistp256"]
            .into_iter()
            .find(|n| *n != first_kex.as_str() && kex.iter().any(|k| k == n));
        match other
            .map(str::to_owned)
            .or_else(|| kex.iter().rev().find(|n| *n != first_kex).cloned())
        {
            Some(n) => n,
            None => {
                bail!("the server shares only {first_kex} with dbclient: no wrong guess possible")
            }
        }
    };
    let Some(t) = pc::host_key_type(first_hk) else {
        bail!("no host key type for {first_hk}");
    };
    let mut srv = Srv {
        host_keys: vec![t],
        extra: vec![
            format!("KexAlgorithms {chosen}"),
            format!("HostKeyAlgorithms {first_hk}"),
        ],
        ..Srv::default()
    };
    if target == Target::Sshd {
        // sshd logs the flag and a skipped packet at debug2.
        srv.extra.push("LogLevel DEBUG2".into());
    }
    let server = setup.start(ctx, &srv)?;
    let out = pc::run_ok(
        ctx,
        client,
        &setup,
        server.port(),
        &Run::new(Some(key), "echo ok"),
    )?;
    expect_stdout(&out, "ok\n")?;
    let log = server.stop();
    let used = evidence(target == Target::Sshd, Kind::Kex, &chosen);
    if !log.contains(&used) {
        bail!("the server's log lacks {used:?}");
    }
    let (must, must_not): (&[&str], &[&str]) = match (target, right) {
        (Target::Sshd, true) => (&["first_kex_follows 1"], &["skipped packet"]),
        (Target::Sshd, false) => (&["first_kex_follows 1", "skipped packet (type 30)"], &[]),
        (Target::Rsshd, true) => (
            &["first_kex_packet_follows, guess right"],
            &["wrongly guessed"],
        ),
        (Target::Rsshd, false) => (
            &[
                "first_kex_packet_follows, guess wrong",
                "ignored the peer's wrongly guessed key exchange packet",
            ],
            &[],
        ),
    };
    for needle in must {
        if !log.contains(needle) {
            bail!("the server's log lacks {needle:?}: the case did not happen as meant");
        }
    }
    for needle in must_not {
        if log.contains(needle) {
            bail!("the server's log has {needle:?}");
        }
    }
    println!(
        "  {}: dbclient guessed {first_kex} with {first_hk}; the server had {chosen}",
        ctx.backend.name()
    );
    Ok(())
}

// ---------------------------------------------------------------------
// The dropbear server, with rssh (here) or ssh (in the peer).

/// The host key types dropbear is given.
const DROPBEAR_KEYS: [HostKeyType; 3] = [
    HostKeyType::Ed25519,
    HostKeyType::EcdsaP256,
    HostKeyType::Rsa,
];

/// Starts `dropbear` in the foreground on a free port with the backend's
/// host keys (converted into the case directory), password logins as
/// `password` says; writes the case's known hosts file for its port.
fn start_dropbear(ctx: &mut Ctx<'_>, setup: &Setup, password: bool) -> Result<RunningSshd> {
    let mut keys = Vec::new();
    for t in DROPBEAR_KEYS {
        let out = setup.peer(&format!("db_{}", t.file_name()));
        if !setup.host(&format!("db_{}", t.file_name())).exists() {
            let src = format!("{}/{}", setup.scratch_peer, t.file_name());
            util::checked_output(
                &mut ctx
                    .backend
                    .command("dropbearconvert", &["openssh", "dropbear", &src, &out]),
            )?;
        }
        keys.push(out);
    }
    for _ in 0..5 {
        let port = peer::free_port()?;
        let listen = format!("127.0.0.1:{port}");
        let pid = setup.peer("dropbear.pid");
        let mut args = vec!["-F", "-E", "-p", &listen, "-P", &pid];
        for k in &keys {
            args.extend(["-r", k.as_str()]);
        }
        if !password {
            args.push("-s");
        }
        let cmd = ctx.backend.command(DROPBEAR, &args);
        if let Some(server) = peer::spawn_probed(cmd, port)? {
            ctx.watch(format!("dropbear on port {port}"), &server);
            let mut kh = String::new();
            for t in DROPBEAR_KEYS {
                let _ = writeln!(kh, "[127.0.0.1]:{port} {}", setup.host_key(t)?);
            }
            fs::write(setup.host("known_hosts"), kh).context("writing known_hosts")?;
            return Ok(server);
        }
    }
    bail!("dropbear found no free port in 5 attempts")
}

/// The setting of a dropbear row: the account with an ed25519 key, the
/// server, and a call with `-i key`.
fn with_dropbear(ctx: &mut Ctx<'_>, password: bool) -> Result<(Setup, RunningSshd, Call)> {
    let setup = Setup::new(ctx, true)?;
    let line = setup.keygen("id", "ed25519", "")?;
    setup.account(ctx, &line)?;
    let server = start_dropbear(ctx, &setup, password)?;
    let call = Call::default().opt("-i").opt(&setup.client("id"));
    Ok((setup, server, call))
}

fn srv_exec(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, mut call) = with_dropbear(ctx, false)?;
    let data = big_data().get(..EXEC_DATA).unwrap_or_default();
    call.remote = "cat".into();
    call.stdin = data.to_vec();
    let out = setup.run_ok(ctx, server.port(), &call)?;
    same_data("cat", data, &out.stdout)
}

fn srv_exit_code(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, mut call) = with_dropbear(ctx, false)?;
    call.remote = "echo before; exit 42".into();
    let out = setup.run(ctx, server.port(), &call)?;
    if out.status.code() != Some(42) {
        bail!("exit status {}, expected 42", out.status);
    }
    expect_stdout(&out, "before\n")
}

fn srv_pty(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, mut call) = with_dropbear(ctx, false)?;
    call.remote = "stty size; tty".into();
    call.opts.insert(0, "-tt".into());
    call.env.push(("TERM".into(), "xterm".into()));
    let cmd = setup.command(ctx, server.port(), &call);
    let label = client_label(&cmd);
    let out = crate::binaries::run_in_pty(&cmd, (33, 101), None, TIMEOUT)?;
    let text = String::from_utf8_lossy(&out.terminal).into_owned();
    ctx.record(format!("{label} (exit {})", out.status), &out.stderr);
    if !out.status.success() {
        bail!("the client exited with {}; terminal: {text:?}", out.status);
    }
    if !text.contains("33 101") || !text.contains("/dev/pts/") {
        bail!("the remote terminal is not a 33x101 pty: {text:?}");
    }
    Ok(())
}

/// Dropbear's log line for a successful authentication of [`USER`].
fn succeeded(server: &RunningSshd, what: &str, needle: &str) -> Result<()> {
    let prefix = format!("{what} auth succeeded for '{USER}'");
    if server
        .log()
        .lines()
        .any(|l| l.contains(&prefix) && l.contains(needle))
    {
        return Ok(());
    }
    bail!("dropbear's log has no line with {prefix:?} and {needle:?}")
}

fn srv_password(ctx: &mut Ctx<'_>) -> Result<()> {
    let setup = Setup::new(ctx, true)?;
    let server = start_dropbear(ctx, &setup, true)?;
    let askpass = setup.askpass(PASSWORD)?;
    let mut call = Call::remote("echo ok")
        .opt("-o")
        .opt("PreferredAuthentications=password")
        .opt("-o")
        .opt("PubkeyAuthentication=no");
    call.batch = false;
    call.env.push(("SSH_ASKPASS".into(), askpass));
    call.env
        .push(("SSH_ASKPASS_REQUIRE".into(), "force".into()));
    let out = setup.run_ok(ctx, server.port(), &call)?;
    expect_stdout(&out, "ok\n")?;
    succeeded(&server, "Password", "")
}

fn srv_pubkey(ctx: &mut Ctx<'_>) -> Result<()> {
    let kind = detail(ctx);
    let setup = Setup::new(ctx, true)?;
    let line = pc::keygen(&setup, "id", kind)?;
    setup.account(ctx, &line)?;
    let server = start_dropbear(ctx, &setup, false)?;
    let call = Call::remote("echo ok").opt("-i").opt(&setup.client("id"));
    let out = setup.run_ok(ctx, server.port(), &call)?;
    expect_stdout(&out, "ok\n")?;
    succeeded(&server, "Pubkey", &setup.fingerprint("id")?)
}

/// What dropbear's KEXINIT offers, read once per peer.
fn dropbear_offer(server: &RunningSshd) -> Result<wire::KexInit> {
    let mut conn = Conn::connect(server.addr())?;
    conn.send_version()?;
    conn.read_server_version()?;
    let (_, payload) = conn.read_plain_packet()?;
    wire::decode_kexinit(&payload)
}

/// Every name of the row's kind that dropbear offers and the client has,
/// each chosen alone by the client (`-o`), its `-vv` log naming it.
fn srv_algorithms(ctx: &mut Ctx<'_>) -> Result<()> {
    let Some(kind) = Kind::from_name(detail(ctx)) else {
        bail!("no algorithm kind in {:?}", ctx.param);
    };
    let openssh = Way::from_param(ctx.param) == Way::Rsshd;
    let (setup, server, call) = with_dropbear(ctx, false)?;
    let offer = kind.list(&dropbear_offer(&server)?);
    // ssh (the validation) goes through the same names, where it has them.
    let mut ours = kind.ours();
    if openssh {
        let ssh = ctx.backend.query(kind.query())?;
        ours.retain(|n| ssh.contains(n));
    }
    let names: Vec<&String> = offer.iter().filter(|n| ours.contains(n)).collect();
    if names.is_empty() {
        bail!("no {} shared: dropbear offers {offer:?}", kind.name());
    }
    let mut failures = Vec::new();
    for name in &names {
        let mut c = call.clone();
        c.remote = "echo ok".into();
        c.opts.insert(0, "-vv".into());
        c.opts
            .extend(["-o".into(), format!("{}={name}", kind.keyword())]);
        let needle = evidence(openssh, kind, name);
        match setup.run_ok(ctx, server.port(), &c) {
            Err(e) => failures.push(format!("{name}: {e}")),
            Ok(out) if out.stdout != b"ok\n" => failures.push(format!(
                "{name}: stdout {:?}",
                String::from_utf8_lossy(&out.stdout)
            )),
            Ok(out) if !String::from_utf8_lossy(&out.stderr).contains(&needle) => {
                failures.push(format!("{name}: the client's log lacks {needle:?}"));
            }
            Ok(_) => {}
        }
    }
    let names: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
    println!(
        "  {}: {}>dropbear {}: {}",
        ctx.backend.name(),
        if openssh { "ssh" } else { "rssh" },
        kind.name(),
        names.join(" ")
    );
    if !failures.is_empty() {
        bail!(
            "{} of {} failed:\n{}",
            failures.len(),
            names.len(),
            failures.join("\n")
        );
    }
    Ok(())
}

fn srv_forward(ctx: &mut Ctx<'_>) -> Result<()> {
    let local = detail(ctx) == "L";
    let (setup, server, mut call) = with_dropbear(ctx, false)?;
    let echo = fu::echo_tcp()?;
    let Addr::Tcp(eport) = echo.addr else {
        bail!("not TCP")
    };
    let port = fu::free_port()?;
    call.opts.extend([
        if local { "-L" } else { "-R" }.into(),
        format!("127.0.0.1:{port}:127.0.0.1:{eport}"),
    ]);
    call.remote = fu::wait_for_go(&setup);
    let cmd = setup.command(ctx, server.port(), &call);
    let label = client_label(&cmd);
    let mut bg = fu::Bg::spawn(cmd, label)?;
    let conn = bg.connect_when_ready(&Addr::Tcp(port))?;
    let data = big_data().get(..pc::FORWARD_DATA).unwrap_or_default();
    bg.explain(fu::echo_through("4 MiB through the forward", conn, data))?;
    fu::go(&setup)?;
    let out = bg.finish(ctx, Duration::from_secs(60))?;
    if !out.status.success() || !String::from_utf8_lossy(&out.stdout).contains("session-ok") {
        bail!(
            "the client exited with {}, stdout {:?}",
            out.status,
            String::from_utf8_lossy(&out.stdout)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_rows_are_validated_by_ssh_first() {
        let cases = cases();
        let names: Vec<&str> = cases.iter().map(|c| c.name).collect();
        let ssh = names.iter().position(|n| *n == "ssh>dropbear:exec");
        let rssh = names.iter().position(|n| *n == "rssh>dropbear:exec");
        assert!(ssh.is_some() && rssh.is_some() && ssh < rssh, "{names:?}");
        assert!(names.contains(&"dbclient>rsshd:kex-guess-wrong"));
        assert!(names.contains(&"dbclient>sshd:kex-guess-right"));
        for c in &cases {
            let want = if c.name.starts_with("rssh>") || c.name.contains(">sshd:") {
                Way::Rssh
            } else {
                Way::Rsshd
            };
            assert_eq!(Way::from_param(c.param), want, "{}", c.name);
        }
    }
}
