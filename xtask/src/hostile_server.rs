//! A hostile server against clients, end to end: `rssh>hostile:*` runs
//! our `rssh` here against a scripted server ([`Hostile`], real crypto,
//! listening on loopback), `ssh>hostile:*` the peer's OpenSSH `ssh`
//! against the same script, which validates the row.
//!
//! The script accepts any authentication, confirms the session channel
//! and its `exec`, then misbehaves as the row says: channels the client
//! never asked for (agent, X11, `forwarded-tcpip`: each must be refused
//! with CHANNEL_OPEN_FAILURE, and the session goes on), terminal escape
//! sequences in the banner, in a DISCONNECT, in the lines before the
//! version and in the version line, or a flood of lines before it. What
//! the client prints on stderr must carry no escape sequence: no ESC, no
//! C1 control, no control character but the ones OpenSSH's own `strnvis`
//! (`VIS_SAFE`) lets through (tab, newline, CR, BEL, BS).

use std::net::TcpListener;
use std::thread;

use ssh_transport::Config;
use ssh_wire::Encode;
use ssh_wire::messages::{
    ChannelClose, ChannelData, ChannelEof, ChannelFailure, ChannelOpen, ChannelOpenConfirmation,
    ChannelRequest, ChannelRequestKind, ChannelSuccess, ChannelType, ConnectionMessage,
    DisconnectReason, UserauthBanner,
};
use ssh_wire::msg;

use crate::bail;
use crate::binary_setup::{Call, Setup, tail};
use crate::hostile_peer::{End, Hostile};
use crate::interop::{Case, Ctx};
use crate::util::{Context, Result};

/// What the session prints when all went as scripted.
const GREETING: &str = "hostile server says ok";
/// Escape sequences: clear the screen, set the window title (OSC ended by
/// BEL), a C1 CSI (U+009B) setting red, a cursor move.
const ESCAPES: &str = "\x1b[2J\x1b]0;pwned\x07\u{9b}31m\x1b[1;1H";

/// What the script does after the session's `exec`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Script {
    /// Opens channels of these types, each to be refused.
    Open(&'static [&'static str]),
    /// Sends a banner with escape sequences before SUCCESS.
    Banner,
    /// Sends a DISCONNECT whose description carries escape sequences.
    Disconnect,
    /// Lines with escape sequences before a version line with some.
    Version,
    /// 2,000 lines before the version line.
    PreBannerFlood,
}

/// The rows: (name, about, script).
const ROWS: &[(&str, &str, Script)] = &[
    (
        "agent-open",
        "the server opens auth-agent@openssh.com and agent-connect channels nobody asked for: both refused (CHANNEL_OPEN_FAILURE), the session goes on",
        Script::Open(&["auth-agent@openssh.com", "agent-connect"]),
    ),
    (
        "x11-open",
        "the server opens an x11 channel without X11 forwarding: refused, the session goes on",
        Script::Open(&["x11"]),
    ),
    (
        "tcpip-open",
        "the server opens forwarded-tcpip for a port never forwarded (-R): refused, the session goes on",
        Script::Open(&["forwarded-tcpip"]),
    ),
    (
        "banner-escapes",
        "USERAUTH_BANNER with terminal escapes (ESC, OSC, C1 CSI): shown without them on stderr",
        Script::Banner,
    ),
    (
        "disconnect-escapes",
        "a DISCONNECT after exec whose description carries terminal escapes: exit 255, printed without them",
        Script::Disconnect,
    ),
    (
        "version-escapes",
        "terminal escapes in lines before the version line and in the version line (-v): stderr without them",
        Script::Version,
    ),
    (
        "pre-banner-flood",
        "2,000 lines before the version line: the client gives up (exit 255), printing at most 64 KiB, without escapes",
        Script::PreBannerFlood,
    ),
];

/// Every row, with our client, then with OpenSSH's.
pub fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for (client, way) in [("rssh", "a"), ("ssh", "b")] {
        for (name, about, _) in ROWS {
            out.push(Case {
                name: Box::leak(format!("{client}>hostile:{name}").into_boxed_str()),
                about,
                run,
                param: Box::leak(format!("{way}:{name}").into_boxed_str()),
            });
        }
    }
    out
}

/// What the script saw.
#[derive(Debug, Default)]
struct Served {
    /// Each channel the server opened: its type and the client's answer
    /// (`true`: refused).
    opens: Vec<(&'static str, bool)>,
    /// How the connection ended, if the script did not end it.
    end: Option<End>,
}

fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    let name = crate::binary_setup::detail(ctx);
    let Some((_, _, script)) = ROWS.iter().find(|r| r.0 == name) else {
        bail!("no hostile server row {name:?}");
    };
    let script = *script;
    let setup = Setup::new(ctx, true)?;
    let listener = TcpListener::bind(("127.0.0.1", 0)).context("binding 127.0.0.1:0")?;
    let port = listener.local_addr().context("local address")?.port();
    let server = thread::spawn(move || serve(&listener, script));
    let kh = setup.host("known_hosts_hostile");
    std::fs::write(&kh, "").context("writing known_hosts")?;
    let mut call = Call::remote("true");
    call.strict = "no".to_owned();
    call.known_hosts = Some(setup.client("known_hosts_hostile"));
    call.timeout = std::time::Duration::from_secs(40);
    if script == Script::Version {
        call.opts.push("-v".to_owned());
    }

    let out = setup.run(ctx, port, &call)?;
    let served = match server.join() {
        Ok(r) => r?,
        Err(_) => bail!("the hostile server panicked"),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if let Some(bad) = unsafe_char(&stderr) {
        bail!(
            "the client's stderr carries {bad:?} from the server; its stderr:\n{}",
            tail(&out.stderr)
        );
    }
    match script {
        Script::Open(types) => {
            if served.opens.len() != types.len() {
                bail!("the script got {} answers: {served:?}", served.opens.len());
            }
            if let Some((t, _)) = served.opens.iter().find(|(_, refused)| !refused) {
                bail!("the client accepted a {t} channel it never asked for");
            }
            if !out.status.success() || !stdout.contains(GREETING) {
                bail!(
                    "the session did not go on ({}, stdout {stdout:?}); its stderr:\n{}",
                    out.status,
                    tail(&out.stderr)
                );
            }
        }
        Script::Banner => {
            if !out.status.success() {
                bail!(
                    "the client exited with {}; its stderr:\n{}",
                    out.status,
                    tail(&out.stderr)
                );
            }
            if !stderr.contains("hostile banner") {
                bail!("the banner is not on stderr:\n{}", tail(&out.stderr));
            }
        }
        Script::Disconnect => {
            if out.status.code() != Some(255) {
                bail!("exit status {}, expected 255", out.status);
            }
            if !stderr.contains("hostile goodbye") {
                bail!(
                    "the disconnect message is not on stderr:\n{}",
                    tail(&out.stderr)
                );
            }
        }
        Script::Version | Script::PreBannerFlood => {
            if out.status.code() != Some(255) {
                bail!(
                    "exit status {}, expected 255 (stderr:\n{})",
                    out.status,
                    tail(&out.stderr)
                );
            }
            if out.stderr.len() > 64 * 1024 {
                bail!("the client printed {} bytes on stderr", out.stderr.len());
            }
        }
    }
    Ok(())
}

/// The first character of `text` that may drive a terminal: ESC, a C1
/// control, or a control character other than tab, newline, CR, BEL and BS
/// (which OpenSSH's `strnvis` with `VIS_SAFE` passes too).
fn unsafe_char(text: &str) -> Option<char> {
    text.chars()
        .find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\x07' | '\x08'))
}

/// The scripted server: one connection on `listener`.
fn serve(listener: &TcpListener, script: Script) -> Result<Served> {
    let mut h = Hostile::accept(listener, Config::server_default())?;
    let mut served = Served::default();
    // The version exchange, changed for the rows that need it.
    let mut first = Vec::new();
    h.t.poll_transmit(&mut first);
    let Some(eol) = first.windows(2).position(|w| w == b"\r\n") else {
        bail!("no version line in our first bytes");
    };
    let (version, rest) = first.split_at(eol + 2);
    match script {
        Script::Version => {
            h.send_raw(format!("notice {ESCAPES} end\r\n").as_bytes())?;
            h.send_raw(format!("SSH-2.0-Hostile{ESCAPES}\r\n").as_bytes())?;
        }
        Script::PreBannerFlood => {
            let lines: Vec<u8> = b"flood line\r\n".repeat(2000);
            h.send_raw(&lines)?;
            h.send_raw(version)?;
        }
        _ => h.send_raw(version)?,
    }
    h.send_raw(rest)?;
    if matches!(script, Script::Version | Script::PreBannerFlood) {
        // The client gives up; whatever it does, the row looks at it.
        let _ = h.until_or_end("the client", |h| h.t.kex_count() >= 1)?;
        served.end = h.end.clone();
        return Ok(served);
    }
    // Any authentication succeeds.
    h.until("USERAUTH_REQUEST", |h| {
        h.find(0, msg::SSH_MSG_USERAUTH_REQUEST).is_some()
    })?;
    if script == Script::Banner {
        h.send(
            &UserauthBanner {
                message: format!("hostile banner {ESCAPES} end\r\n"),
                language: String::new(),
            }
            .to_bytes(),
        )?;
    }
    h.send(&[msg::SSH_MSG_USERAUTH_SUCCESS])?;
    h.t.set_authenticated().map_err(|e| e.to_string())?;
    // The session channel and its exec.
    h.until("CHANNEL_OPEN", |h| {
        h.find(0, msg::SSH_MSG_CHANNEL_OPEN).is_some()
    })?;
    let client_id = match h
        .find(0, msg::SSH_MSG_CHANNEL_OPEN)
        .map(ConnectionMessage::decode)
    {
        Some(Ok(ConnectionMessage::ChannelOpen(o))) => o.sender,
        other => bail!("not a session CHANNEL_OPEN: {other:?}"),
    };
    h.send(
        &ChannelOpenConfirmation {
            recipient: client_id,
            sender: 0,
            initial_window: 2 * 1024 * 1024,
            max_packet: 32768,
            extra: Vec::new(),
        }
        .to_bytes(),
    )?;
    answer_requests_until_exec(&mut h, client_id)?;
    if script == Script::Disconnect {
        h.t.disconnect(
            DisconnectReason::BY_APPLICATION,
            &format!("hostile goodbye {ESCAPES} end"),
        );
        h.flush()?;
        let _ = h.wait_end(std::time::Duration::from_secs(10));
        return Ok(served);
    }
    if let Script::Open(types) = script {
        for (i, t) in types.iter().enumerate() {
            let id = 100 + u32::try_from(i).unwrap_or(0);
            let refused = open_unasked(&mut h, id, t)?;
            served.opens.push((t, refused));
        }
    }
    // The session's output and its end.
    h.send(
        &ChannelData {
            recipient: client_id,
            data: format!("{GREETING}\n").as_bytes(),
        }
        .to_bytes(),
    )?;
    h.send(
        &ChannelRequest {
            recipient: client_id,
            want_reply: false,
            request: ChannelRequestKind::ExitStatus { status: 0 },
        }
        .to_bytes(),
    )?;
    h.send(
        &ChannelEof {
            recipient: client_id,
        }
        .to_bytes(),
    )?;
    h.send(
        &ChannelClose {
            recipient: client_id,
        }
        .to_bytes(),
    )?;
    let from = h.got.len();
    let _ = h.until_or_end("the client's CHANNEL_CLOSE", |h| {
        h.find(from, msg::SSH_MSG_CHANNEL_CLOSE).is_some()
    })?;
    Ok(served)
}

/// Answers the client's channel requests (FAILURE to all but `exec` and
/// `shell`, SUCCESS to those) until its `exec` or `shell`.
fn answer_requests_until_exec(h: &mut Hostile, client_id: u32) -> Result<()> {
    let mut seen = 0;
    loop {
        h.until("a CHANNEL_REQUEST", |h| {
            h.got
                .iter()
                .filter(|p| p.first() == Some(&msg::SSH_MSG_CHANNEL_REQUEST))
                .count()
                > seen
        })?;
        let requests: Vec<ChannelRequest> = h
            .got
            .iter()
            .filter_map(|p| match ConnectionMessage::decode(p) {
                Ok(ConnectionMessage::Request(r)) => Some(r),
                _ => None,
            })
            .collect();
        for r in requests.iter().skip(seen) {
            seen += 1;
            let run = matches!(
                r.request,
                ChannelRequestKind::Exec { .. } | ChannelRequestKind::Shell
            );
            if r.want_reply {
                let answer = if run {
                    ChannelSuccess {
                        recipient: client_id,
                    }
                    .to_bytes()
                } else {
                    ChannelFailure {
                        recipient: client_id,
                    }
                    .to_bytes()
                };
                h.send(&answer)?;
            }
            if run {
                return Ok(());
            }
        }
    }
}

/// Opens a channel of type `name` the client never asked for; true when
/// it was refused.
fn open_unasked(h: &mut Hostile, id: u32, name: &str) -> Result<bool> {
    let channel_type = match name {
        "auth-agent@openssh.com" => ChannelType::AuthAgent,
        "agent-connect" => ChannelType::AgentConnect,
        "x11" => ChannelType::X11 {
            originator_address: "127.0.0.1".to_owned(),
            originator_port: 40000,
        },
        _ => ChannelType::ForwardedTcpip {
            address: "127.0.0.1".to_owned(),
            port: 2222,
            originator_address: "127.0.0.1".to_owned(),
            originator_port: 40000,
        },
    };
    let from = h.got.len();
    h.send(
        &ChannelOpen {
            sender: id,
            initial_window: 2 * 1024 * 1024,
            max_packet: 32768,
            channel_type,
        }
        .to_bytes(),
    )?;
    let answer = |h: &Hostile| {
        h.got.get(from..).unwrap_or_default().iter().find_map(|p| {
            match ConnectionMessage::decode(p) {
                Ok(ConnectionMessage::OpenFailure(f)) if f.recipient == id => Some(true),
                Ok(ConnectionMessage::OpenConfirmation(c)) if c.recipient == id => Some(false),
                _ => None,
            }
        })
    };
    h.until(&format!("the answer to a {name} channel"), |h| {
        answer(h).is_some()
    })?;
    let refused = answer(h).unwrap_or(false);
    if !refused {
        // Accepted: close it again, the row fails on it anyway.
        let remote = h.got.get(from..).unwrap_or_default().iter().find_map(|p| {
            match ConnectionMessage::decode(p) {
                Ok(ConnectionMessage::OpenConfirmation(c)) if c.recipient == id => Some(c.sender),
                _ => None,
            }
        });
        if let Some(recipient) = remote {
            h.send(&ChannelClose { recipient }.to_bytes())?;
        }
    }
    Ok(refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_unsafe_and_openssh_s_safe_set_is_not() {
        assert_eq!(unsafe_char(ESCAPES), Some('\x1b'));
        assert_eq!(unsafe_char("a\u{9b}31m"), Some('\u{9b}'));
        assert_eq!(unsafe_char("tab\tcr\r\nbel\x07bs\x08"), None);
    }
}
