//! A hostile client against servers, end to end: `hostile>rsshd:*`
//! attacks our `rsshd` (privilege-separated, run by root in the peer),
//! `hostile>sshd:*` the same attack on the peer's OpenSSH `sshd`, which
//! validates the row: its checks hold there too, so it tests the server
//! and not the harness.
//!
//! Each row, around its attack ([`crate::hostile_watch`]): a bystander
//! session opened before it streams through `cat` and loses nothing, the
//! server's memory comes back within the tolerance, and a fresh login
//! works after it. The attacks themselves are in
//! [`crate::hostile_attacks`]; what each must meet is in its row's `about`.

use std::net::SocketAddr;

use crate::binary_setup::{Call, OPENSSH_SSHD, PASSWORD, Setup, Srv, USER, set_mode};
use crate::hostile_peer::{Hostile, Opened};
use crate::hostile_watch::{Bystander, Marker, Memory, RSS_TOLERANCE_KIB, alive};
use crate::interop::{Case, Ctx};
use crate::util::{Context, Result};

/// What an attack gets.
pub(crate) struct Target<'a> {
    /// The row's name.
    pub(crate) name: &'static str,
    /// The row's files and client.
    pub(crate) setup: &'a Setup,
    /// The server.
    pub(crate) addr: SocketAddr,
    /// Where a smuggled command would leave its mark.
    pub(crate) marker: Marker,
    /// The server's processes.
    pub(crate) memory: Memory,
    /// Their memory before the attack, KiB.
    pub(crate) before_kib: u64,
    /// What the attack saw, for the report.
    pub(crate) notes: Vec<String>,
}

impl Target<'_> {
    /// Keeps a line for the row's log.
    pub(crate) fn note(&mut self, line: impl Into<String>) {
        self.notes.push(line.into());
    }
}

/// An attack: `Ok` when the server refused it as the row says.
#[derive(Clone, Copy)]
pub(crate) enum Attack {
    /// Our hostile client over the wire ([`crate::hostile_peer`]).
    Wire(fn(&mut Target<'_>) -> Result<()>),
    /// A client run (the peer's `ssh`) presenting what it is given.
    Client(fn(&mut Target<'_>, &mut Ctx<'_>) -> Result<()>),
}

/// One row.
struct Row {
    name: &'static str,
    about: &'static str,
    attack: Attack,
    /// Lines added to the server's configuration.
    config: &'static [&'static str],
}

/// The rows.
const ROWS: &[Row] = &[
    Row {
        name: "terrapin-ignore",
        about: "Terrapin (CVE-2023-48795), strict kex: an IGNORE between our KEXINIT and the key exchange ends in a DISCONNECT, no key exchange done",
        attack: Attack::Wire(crate::hostile_attacks::terrapin_ignore),
        config: &[],
    },
    Row {
        name: "terrapin-seq",
        about: "Terrapin, strict kex: an IGNORE our transport never counted (the sequence numbers shifted, as a man in the middle does) before KEXINIT ends in a DISCONNECT",
        attack: Attack::Wire(crate::hostile_attacks::terrapin_seq),
        config: &[],
    },
    Row {
        name: "userauth-success",
        about: "libssh CVE-2018-10933: a client's USERAUTH_SUCCESS, then CHANNEL_OPEN and exec `touch`: refused or disconnected, the marker absent",
        attack: Attack::Wire(crate::hostile_attacks::userauth_success),
        config: &[],
    },
    Row {
        name: "preauth-exec",
        about: "Erlang/OTP CVE-2025-32433: CHANNEL_OPEN and exec `touch` after the service was accepted, before authentication: refused or disconnected, the marker absent",
        attack: Attack::Wire(crate::hostile_attacks::preauth_exec),
        config: &[],
    },
    Row {
        name: "preauth-exec-plain",
        about: "CVE-2025-32433 as published: CHANNEL_OPEN and exec `touch` in plaintext right behind KEXINIT (no strict kex): refused or disconnected, the marker absent",
        attack: Attack::Wire(crate::hostile_attacks::preauth_exec_plain),
        config: &[],
    },
    Row {
        name: "flood-kex",
        about: "CVE-2025-26466 class: 32 MiB of PING, IGNORE and unknown messages (each owed an UNIMPLEMENTED) during the first key exchange, never reading: the server's memory grows by at most 16 MiB, and it disconnects or goes on",
        attack: Attack::Wire(crate::hostile_attacks::flood_kex),
        config: &[],
    },
    Row {
        name: "flood-rekey",
        about: "CVE-2025-26466: authenticated, 32 MiB of PINGs (16 KiB each) and IGNOREs during a re-key, never reading: memory grows by at most 16 MiB; the re-key completes and a request is answered, or the server disconnects",
        attack: Attack::Wire(crate::hostile_attacks::flood_rekey),
        config: &[],
    },
    Row {
        name: "flood-replies",
        about: "authenticated, 32 MiB of keepalive requests wanting a reply, and PINGs, never reading: memory grows by at most 16 MiB; then every reply arrives, or the server disconnects",
        attack: Attack::Wire(crate::hostile_attacks::flood_replies),
        config: &[],
    },
    Row {
        name: "window-adjust-overflow",
        about: "russh's overflow: WINDOW_ADJUST taking a channel's window to 2^32 - 1, then one more byte: the server ends the connection",
        attack: Attack::Wire(crate::hostile_attacks::window_adjust_overflow),
        config: &[],
    },
    Row {
        name: "max-packet-zero",
        about: "CHANNEL_OPEN session with maximum packet size 0: refused or disconnected, never confirmed",
        attack: Attack::Wire(crate::hostile_attacks::max_packet_zero),
        config: &[],
    },
    Row {
        name: "decompression-bomb",
        about: "zlib@openssh.com after authentication: one CHANNEL_DATA packet of 8 KiB inflating to 8 MiB: the server ends the connection, or drops it and answers a request after it (OpenSSH 9.2, 10.0)",
        attack: Attack::Wire(crate::hostile_attacks::decompression_bomb),
        config: &["Compression yes"],
    },
    Row {
        name: "pre-banner-flood",
        about: "lines before the version line (64 KiB), then 1 MiB of one line without an end: the server closes each connection",
        attack: Attack::Wire(crate::hostile_attacks::pre_banner_flood),
        config: &[],
    },
    Row {
        name: "cert-no-principals",
        about: "a user certificate without principals (valid for anyone to OpenSSH's ssh-keygen) through TrustedUserCAKeys: refused, the command not run; the same key with a certificate naming the account then logs in",
        attack: Attack::Client(crate::hostile_certs::attack),
        config: &[],
    },
    Row {
        name: "cert-expired",
        about: "a user certificate that expired (2020): refused, the command not run; a valid one then logs in",
        attack: Attack::Client(crate::hostile_certs::attack),
        config: &[],
    },
    Row {
        name: "cert-source-address",
        about: "a user certificate whose source-address (192.0.2.1/32) the client is outside of: refused, the command not run; one without the option then logs in",
        attack: Attack::Client(crate::hostile_certs::attack),
        config: &[],
    },
];

/// Every row, against `rsshd`, then against `sshd`.
pub fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for (server, run) in [
        ("rsshd", against_rsshd as fn(&mut Ctx<'_>) -> Result<()>),
        ("sshd", against_sshd),
    ] {
        for r in ROWS {
            let about = format!(
                "{}; around it a bystander's 4 MiB through cat intact, the server's RSS back within {} MiB, a fresh login",
                r.about,
                RSS_TOLERANCE_KIB / 1024
            );
            out.push(Case {
                name: Box::leak(format!("hostile>{server}:{}", r.name).into_boxed_str()),
                about: Box::leak(about.into_boxed_str()),
                run,
                param: Box::leak(format!("b:{}", r.name).into_boxed_str()),
            });
        }
    }
    out
}

fn against_rsshd(ctx: &mut Ctx<'_>) -> Result<()> {
    row(ctx, None)
}

fn against_sshd(ctx: &mut Ctx<'_>) -> Result<()> {
    row(ctx, Some(OPENSSH_SSHD))
}

/// One row: the server (ours unless `program`), the bystander, the
/// attack, then the checks.
fn row(ctx: &mut Ctx<'_>, program: Option<&str>) -> Result<()> {
    let name = crate::binary_setup::detail(ctx);
    let Some(row) = ROWS.iter().find(|r| r.name == name) else {
        crate::bail!("no hostile row {name:?}");
    };
    let setup = Setup::new(ctx, program.is_none())?;
    let line = setup.keygen("id", "ed25519", "")?;
    setup.account(ctx, &line)?;
    // A smuggled `touch` by the account could write here.
    set_mode(&setup.host_dir, 0o1777)?;
    let mut srv = Srv {
        password: true,
        extra: row.config.iter().map(|s| (*s).to_owned()).collect(),
        ..Srv::default()
    };
    if let Attack::Client(_) = row.attack {
        srv.ca = Some(crate::hostile_certs::make_ca(&setup)?);
    }
    let server = match program {
        Some(p) => setup.start_program(ctx, &srv, p)?,
        None => setup.start(ctx, &srv)?,
    };
    let Some(root) = server.pid() else {
        crate::bail!("the server has no process");
    };
    let call = Call::default().opt("-i").opt(&setup.client("id"));
    let mut bystander = Bystander::start(ctx, &setup, server.port(), &call)?;
    let memory = Memory::new(root);
    let processes = memory.processes();
    warm_up(server.addr()).context("a normal login before the attack")?;
    memory.settle(processes);
    let mut target = Target {
        name: row.name,
        setup: &setup,
        addr: server.addr(),
        marker: Marker {
            host: setup.host("marker"),
            peer: setup.peer("marker"),
        },
        memory,
        before_kib: memory.kib(),
        notes: Vec::new(),
    };
    bystander.stream_during();
    let attacked = match row.attack {
        Attack::Wire(attack) => attack(&mut target),
        Attack::Client(attack) => attack(&mut target, ctx),
    };
    let before = target.before_kib;
    ctx.record(
        "the attack".to_owned(),
        format!("{}\n", target.notes.join("\n")).as_bytes(),
    );
    attacked.context("the attack")?;
    bystander
        .caught_up()
        .context("the bystander during the attack")?;
    let after = memory.back_to(before)?;
    alive(ctx, &setup, server.port(), &call).context("a fresh login after the attack")?;
    bystander.finish(ctx)?;
    target.marker.absent()?;
    ctx.record(
        "memory".to_owned(),
        format!("server RSS {before} KiB before, {after} KiB after\n").as_bytes(),
    );
    Ok(())
}

/// A normal password login with a session channel, before the baseline:
/// what the server allocates once, the first time it serves one (the
/// monitor's password check and hand-over, a worker's first key
/// exchange), is not counted against the attack.
fn warm_up(addr: SocketAddr) -> Result<()> {
    let mut h = Hostile::connect(addr, ssh_transport::Config::default())?;
    h.handshake()?;
    if !h.login(USER, PASSWORD)? {
        crate::bail!("the server refused the account's password");
    }
    if let Opened::Confirmed(_) = h.open_session(0, 32768)? {
        return Ok(());
    }
    crate::bail!("the server refused a session channel")
}
