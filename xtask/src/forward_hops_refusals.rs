//! Forwarding rows over two hops, and refused ones (see
//! [`crate::forward_cases`]): `-J` through two servers (one `sshd` and one
//! `rsshd`, both orders), agent forwarding with a second hop, and each kind
//! of forwarding refused by the server's policy (the client says so and the
//! session goes on).

use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::thread;
use std::time::{Duration, Instant};

use crate::bail;
use crate::binary_auth::start_agent;
use crate::binary_setup::{Call, OPENSSH_SSHD, Setup, Srv, USER, same_data, tail};
use crate::forward_cases::{data, end_session, prepare, start};
use crate::forward_util::{self as fu, Addr, Bg, Conn, READY_TIMEOUT};
use crate::interop::Ctx;
use crate::peer::HostKeyType;
use crate::util::{Context, Result};

/// The function of a case.
type CaseFn = fn(&mut Ctx<'_>) -> Result<()>;

/// Rows in both directions: (name, about, function, detail).
pub(crate) const ROWS: &[(&str, &str, CaseFn, &str)] = &[
    (
        "jump-sshd-rsshd",
        "-J through sshd to rsshd (each hop's host key checked): 1 MiB echoed by `cat` on the target",
        jump,
        "sshd",
    ),
    (
        "jump-rsshd-sshd",
        "-J through rsshd to sshd: 1 MiB echoed by `cat` on the target",
        jump,
        "rsshd",
    ),
    (
        "agent-fwd",
        "-A: `ssh-add -l` on the server lists the client's agent key; an ssh from there logs in with it",
        agent_fwd,
        "",
    ),
    (
        "refuse-L-AllowTcpForwarding",
        "AllowTcpForwarding no: a -L connection is refused, the client says so, the session goes on",
        refuse_local,
        "AllowTcpForwarding no",
    ),
    (
        "refuse-L-PermitOpen",
        "PermitOpen 127.0.0.1:P: -L to P works, -L elsewhere is refused, the client says so, the session goes on",
        refuse_local,
        "PermitOpen",
    ),
    (
        "refuse-L-AllowStreamLocalForwarding",
        "AllowStreamLocalForwarding no: -L to a remote Unix socket is refused, the session goes on",
        refuse_local,
        "AllowStreamLocalForwarding no",
    ),
    (
        "refuse-R-AllowTcpForwarding",
        "AllowTcpForwarding no: -R is refused (nothing listens), the client says so, the session goes on",
        refuse_remote,
        "AllowTcpForwarding no",
    ),
    (
        "refuse-R-PermitListen",
        "PermitListen P: -R on P works, -R on another port is refused, the client says so, the session goes on",
        refuse_remote,
        "PermitListen",
    ),
    (
        "refuse-agent",
        "AllowAgentForwarding no: -A gives the session no agent (ssh-add -l fails), the session goes on",
        refuse_agent,
        "",
    ),
];

/// The directive of a refusal row.
fn directive(ctx: &Ctx<'_>) -> &'static str {
    crate::binary_setup::detail(ctx)
}

fn jump(ctx: &mut Ctx<'_>) -> Result<()> {
    let first = crate::binary_setup::detail(ctx);
    let (setup, jump_server, mut call) = {
        let setup = Setup::new(ctx, true)?;
        let line = setup.keygen("id", "ed25519", "")?;
        setup.account(ctx, &line)?;
        let call = Call::default().opt("-i").opt(&setup.client("id"));
        let rsshd = setup.rsshd()?;
        let (jump_prog, target_prog) = if first == "sshd" {
            (OPENSSH_SSHD.to_owned(), rsshd)
        } else {
            (rsshd, OPENSSH_SSHD.to_owned())
        };
        let jump = setup.start_program(ctx, &Srv::default(), &jump_prog)?;
        let target = setup.start_program(ctx, &Srv::default(), &target_prog)?;
        (setup, (jump, target), call)
    };
    let (jump, target) = jump_server;
    // Both servers share the peer's host keys: one known hosts file lists
    // both ports; the options reach the jump hop through -F.
    let mut kh = String::new();
    for port in [jump.port(), target.port()] {
        for t in HostKeyType::ALL {
            let _ = writeln!(kh, "[127.0.0.1]:{port} {}", setup.host_key(t)?);
        }
    }
    fs::write(setup.host("known_hosts"), kh).context("writing known_hosts")?;
    let config = format!(
        "Host *\n  IdentityFile {}\n  UserKnownHostsFile {}\n  StrictHostKeyChecking yes\n  BatchMode yes\n",
        setup.client("id"),
        setup.client("known_hosts")
    );
    fs::write(setup.host("ssh_config"), config).context("writing ssh_config")?;
    call.config = Some(setup.client("ssh_config"));
    call.opts
        .extend(["-J".into(), format!("{USER}@127.0.0.1:{}", jump.port())]);
    call.remote = "cat".into();
    let sent = data(1024 * 1024);
    call.stdin = sent.to_vec();
    let out = setup.run_ok(ctx, target.port(), &call)?;
    same_data("cat through the jump", sent, &out.stdout)?;
    for (what, server) in [("jump", &jump), ("target", &target)] {
        let logins = server.log().matches("Accepted publickey for xbin").count();
        if logins != 1 {
            bail!("the {what} server logged {logins} publickey logins, expected 1");
        }
    }
    Ok(())
}

fn agent_fwd(ctx: &mut Ctx<'_>) -> Result<()> {
    let (setup, server, mut call) = prepare(ctx, &Srv::default())?;
    let agent = start_agent(&setup, "id")?;
    // Only the agent can sign (here and, forwarded, on the far side).
    fs::remove_file(setup.host("id")).context("removing the key file")?;
    call.opts = vec!["-A".into()];
    call.env
        .push(("SSH_AUTH_SOCK".into(), setup.client("agent.sock")));
    call.remote = format!(
        "ssh-add -l; echo \"ssh-add-exit=$?\"; \
         ssh -F /dev/null -p {port} -o UserKnownHostsFile={kh} -o StrictHostKeyChecking=yes \
         -o BatchMode=yes {USER}@127.0.0.1 'echo second-hop-ok'",
        port = server.port(),
        kh = setup.peer("known_hosts"),
    );
    let out = setup.run_ok(ctx, server.port(), &call)?;
    drop(agent);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let fp = setup.fingerprint("id")?;
    if !stdout.contains(&fp) || !stdout.contains("ssh-add-exit=0") {
        bail!("`ssh-add -l` on the far side does not list {fp}: {stdout:?}");
    }
    if !stdout.contains("second-hop-ok") {
        bail!("the second hop did not log in with the forwarded agent: {stdout:?}");
    }
    let logins = server
        .log()
        .lines()
        .filter(|l| l.contains("Accepted publickey for xbin") && l.contains(&fp))
        .count();
    if logins != 2 {
        bail!("the server logged {logins} logins with {fp}, expected 2 (client, second hop)");
    }
    // OpenSSH 10.6 advertises and understands RFC 9987's names: the
    // request goes as `agent-req` both ways (and the server's channels as
    // `agent-connect`, which carried the `ssh-add -l` above).
    let new_names = crate::binary_hostcerts::openssh_version(ctx.backend.openssh_version())
        .is_some_and(|v| v >= (10, 6));
    if new_names && !server.log().contains("req agent-req") {
        bail!("OpenSSH 10.6 on the other side, but the request was not `agent-req`");
    }
    Ok(())
}

/// Waits until the client's stderr says something was refused or failed.
fn wait_refusal(bg: &mut Bg) -> Result<String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let err = bg.stderr();
        if fu::says_refused(&err) {
            return Ok(err);
        }
        if Instant::now() > deadline {
            bail!(
                "the client said nothing about the refusal within {} s; its stderr:\n{}",
                READY_TIMEOUT.as_secs(),
                tail(err.as_bytes())
            );
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// A connection through a refused forward: nothing comes back, it ends.
fn nothing_through(mut conn: Conn) -> Result<()> {
    let _ = conn.write_all(b"hello?\n");
    let mut got = Vec::new();
    let read = match &conn {
        Conn::Tcp(s) => s.set_read_timeout(Some(READY_TIMEOUT)),
        Conn::Unix(s) => s.set_read_timeout(Some(READY_TIMEOUT)),
    };
    read.context("a read timeout")?;
    match conn.read_to_end(&mut got) {
        Ok(_) if got.is_empty() => Ok(()),
        Ok(_) => bail!("{} bytes came back through a refused forward", got.len()),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(()),
        Err(e) => bail!("the refused connection was not closed: {e}"),
    }
}

/// 1 MiB through a forward the policy permits (PermitOpen, PermitListen
/// rows: the refusal is the policy's, not a missing feature).
fn permitted(bg: &mut Bg, entry: &Addr) -> Result<()> {
    let conn = bg.connect_when_ready(entry)?;
    bg.explain(fu::echo_through(
        "1 MiB through the permitted forward",
        conn,
        data(1024 * 1024),
    ))
}

fn refuse_local(ctx: &mut Ctx<'_>) -> Result<()> {
    let directive = directive(ctx);
    let echo_ok = fu::echo_tcp()?;
    let Addr::Tcp(eport_ok) = echo_ok.addr else {
        bail!("not TCP")
    };
    let line = match directive {
        "PermitOpen" => format!("PermitOpen 127.0.0.1:{eport_ok}"),
        other => other.to_owned(),
    };
    let srv = Srv {
        extra: vec![line.clone()],
        ..Srv::default()
    };
    let (setup, server, mut call) = prepare(ctx, &srv)?;
    let echo_tcp = fu::echo_tcp()?;
    let _echo_unix = fu::echo_unix(&setup.host("t.sock"))?;
    let Addr::Tcp(eport) = echo_tcp.addr else {
        bail!("not TCP")
    };
    let lport = fu::free_port()?;
    let target = if line.starts_with("AllowStreamLocal") {
        setup.peer("t.sock")
    } else {
        format!("127.0.0.1:{eport}")
    };
    call.opts.extend(["-L".into(), format!("{lport}:{target}")]);
    let lport_ok = fu::free_port()?;
    if directive == "PermitOpen" {
        call.opts
            .extend(["-L".into(), format!("{lport_ok}:127.0.0.1:{eport_ok}")]);
    }
    call.remote = fu::wait_for_go(&setup);
    let mut bg = start(&setup, ctx, server.port(), &call)?;
    let conn = bg.connect_when_ready(&Addr::Tcp(lport))?;
    bg.explain(nothing_through(conn))?;
    wait_refusal(&mut bg)?;
    if directive == "PermitOpen" {
        permitted(&mut bg, &Addr::Tcp(lport_ok))?;
    }
    end_session(&setup, ctx, bg)
}

fn refuse_remote(ctx: &mut Ctx<'_>) -> Result<()> {
    let directive = directive(ctx);
    let rport_ok = fu::free_port()?;
    let line = match directive {
        "PermitListen" => format!("PermitListen {rport_ok}"),
        other => other.to_owned(),
    };
    let srv = Srv {
        extra: vec![line],
        ..Srv::default()
    };
    let (setup, server, mut call) = prepare(ctx, &srv)?;
    let echo = fu::echo_tcp()?;
    let Addr::Tcp(eport) = echo.addr else {
        bail!("not TCP")
    };
    let rport = fu::free_port()?;
    call.opts
        .extend(["-R".into(), format!("{rport}:127.0.0.1:{eport}")]);
    if directive == "PermitListen" {
        call.opts
            .extend(["-R".into(), format!("{rport_ok}:127.0.0.1:{eport}")]);
    }
    call.remote = fu::wait_for_go(&setup);
    let mut bg = start(&setup, ctx, server.port(), &call)?;
    wait_refusal(&mut bg)?;
    if directive == "PermitListen" {
        permitted(&mut bg, &Addr::Tcp(rport_ok))?;
    }
    if Addr::Tcp(rport).connect().is_ok() {
        return bg.explain(Err(crate::util::Error(format!(
            "port {rport} accepts although the server refused the forward"
        ))));
    }
    end_session(&setup, ctx, bg)
}

fn refuse_agent(ctx: &mut Ctx<'_>) -> Result<()> {
    let srv = Srv {
        extra: vec!["AllowAgentForwarding no".into()],
        ..Srv::default()
    };
    let (setup, server, mut call) = prepare(ctx, &srv)?;
    let agent = start_agent(&setup, "id")?;
    call.opts.push("-A".into());
    call.env
        .push(("SSH_AUTH_SOCK".into(), setup.client("agent.sock")));
    call.remote =
        "ssh-add -l; echo \"ssh-add-exit=$?\"; echo \"sock=[$SSH_AUTH_SOCK]\"; echo session-ok"
            .into();
    let out = setup.run_ok(ctx, server.port(), &call)?;
    drop(agent);
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !stdout.contains("session-ok") {
        bail!("the session's output did not arrive: {stdout:?}");
    }
    if stdout.contains("ssh-add-exit=0") || !stdout.contains("sock=[]") {
        bail!("the session has an agent although AllowAgentForwarding is no: {stdout:?}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_rows_name_their_directive() {
        for (name, _, _, detail) in ROWS {
            if name.starts_with("refuse-") && !detail.is_empty() {
                let word = detail.split(' ').next().unwrap_or_default();
                assert!(name.ends_with(word), "{name} / {detail}");
            }
        }
    }
}
