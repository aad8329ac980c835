//! The hostile client's attacks on a server, one function per row of
//! [`crate::hostile_cases`]. Each plays its attack with [`Hostile`] and
//! returns `Ok` when the server refused it as the row says; the checks
//! around it (bystander, memory, a fresh login) are the row's.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use ssh_transport::Config;
use ssh_wire::messages::{
    ChannelWindowAdjust, GlobalRequest, GlobalRequestKind, Ignore, Ping, UnknownMessage,
};
use ssh_wire::{Encode, NameList, msg};

use crate::bail;
use crate::binary_setup::{PASSWORD, USER};
use crate::hostile_cases::Target;
use crate::hostile_peer::{End, Flood, Hostile, Opened, exec};
use crate::util::{Context, Result};

/// How long a server may take to end a connection it must end.
const END_WITHIN: Duration = Duration::from_secs(10);
/// How much a flood sends while it does not read.
const FLOOD_BYTES: usize = 32 * 1024 * 1024;
/// How much the server's memory may grow during a flood: half of it.
/// Without a bound what a server owes grows with the flood (rsshd grew by
/// 24 to 34 MB before it stopped reading such a peer); OpenSSH's sshd
/// grows by about 6.5 MB before it stops reading, rsshd now by about 9
/// (twice `max_queued_bytes` of answers, one copy being written).
const FLOOD_BOUND_KIB: u64 = 16 * 1024;

/// An error unless the connection ended with a DISCONNECT.
fn disconnect(end: &End) -> Result<()> {
    match end {
        End::Disconnect { .. } => Ok(()),
        other => bail!("the server ended the connection without a DISCONNECT: {other}"),
    }
}

/// After messages the server must not obey: runs until it ended the
/// connection or refused each of the last `n` (UNIMPLEMENTED,
/// CHANNEL_OPEN_FAILURE); an error if it confirmed a channel or a
/// request, or if the smuggled command ran.
fn refused(
    t: &mut Target<'_>,
    h: &mut Hostile,
    from: usize,
    unimplemented: usize,
    n: usize,
) -> Result<()> {
    let answered = h.until_or_end("the refusal", |h| {
        h.unimplemented >= unimplemented + n
            || h.find(from, msg::SSH_MSG_CHANNEL_OPEN_FAILURE).is_some()
            || h.find(from, msg::SSH_MSG_CHANNEL_OPEN_CONFIRMATION)
                .is_some()
            || h.find(from, msg::SSH_MSG_CHANNEL_SUCCESS).is_some()
    })?;
    for (number, what) in [
        (
            msg::SSH_MSG_CHANNEL_OPEN_CONFIRMATION,
            "confirmed the channel",
        ),
        (msg::SSH_MSG_CHANNEL_SUCCESS, "accepted the exec"),
        (msg::SSH_MSG_CHANNEL_DATA, "sent channel data"),
    ] {
        if h.find(from, number).is_some() {
            bail!("the server {what}");
        }
    }
    match &h.end {
        Some(end) => t.note(format!("refused: {end}")),
        None if answered => t.note(format!(
            "refused: {} UNIMPLEMENTED, open failure: {}",
            h.unimplemented - unimplemented,
            h.find(from, msg::SSH_MSG_CHANNEL_OPEN_FAILURE).is_some()
        )),
        None => {}
    }
    // A command that ran would have had time to.
    h.linger(Duration::from_millis(300))?;
    t.marker.absent()
}

/// Our client with strict kex as configured.
fn client(t: &Target<'_>, strict_kex: bool) -> Result<Hostile> {
    let config = Config {
        strict_kex,
        ..Config::default()
    };
    Hostile::connect(t.addr, config)
}

/// A client logged in with the account's password.
fn logged_in(t: &Target<'_>, config: Config) -> Result<Hostile> {
    let mut h = Hostile::connect(t.addr, config)?;
    h.handshake()?;
    if !h.login(USER, PASSWORD)? {
        bail!("the server refused the account's password");
    }
    Ok(h)
}

pub(crate) fn terrapin_ignore(t: &mut Target<'_>) -> Result<()> {
    let mut h = client(t, true)?;
    // Version line and KEXINIT, then the IGNORE right behind it.
    h.flush()?;
    h.send_now(
        &Ignore {
            data: b"terrapin".to_vec(),
        }
        .to_bytes(),
    )?;
    let end = h.wait_end(END_WITHIN)?;
    t.note(format!("ended: {end}"));
    disconnect(&end)?;
    if h.t.kex_count() != 0 {
        bail!("a key exchange completed");
    }
    Ok(())
}

pub(crate) fn terrapin_seq(t: &mut Target<'_>) -> Result<()> {
    let mut h = client(t, true)?;
    let mut out = Vec::new();
    h.t.poll_transmit(&mut out);
    let Some(eol) = out.windows(2).position(|w| w == b"\r\n") else {
        bail!("no version line in our first bytes");
    };
    let (version, kexinit) = out.split_at(eol + 2);
    h.send_raw(version)?;
    // An IGNORE as a man in the middle adds it: unseen by our transport,
    // whose KEXINIT now arrives as the server's packet 1.
    let mut ignore = Vec::new();
    let payload = Ignore {
        data: b"terrapin".to_vec(),
    }
    .to_bytes();
    let pad = ssh_wire::packet::padding_len(
        payload.len(),
        8,
        ssh_wire::packet::Alignment::WholePacket,
        0,
    );
    ssh_wire::packet::write_plain(&mut ignore, &payload, &vec![0; pad]);
    h.send_raw(&ignore)?;
    h.send_raw(kexinit)?;
    let end = h.wait_end(END_WITHIN)?;
    t.note(format!("ended: {end}"));
    disconnect(&end)?;
    if h.t.kex_count() != 0 {
        bail!("a key exchange completed");
    }
    Ok(())
}

pub(crate) fn userauth_success(t: &mut Target<'_>) -> Result<()> {
    let mut h = client(t, true)?;
    h.handshake()?;
    let (from, unimplemented) = (h.got.len(), h.unimplemented);
    h.send(&[msg::SSH_MSG_USERAUTH_SUCCESS])?;
    h.send(&crate::hostile_peer::channel_open(0, 32768))?;
    h.send(&exec(0, &t.marker.command()))?;
    refused(t, &mut h, from, unimplemented, 3)
}

pub(crate) fn preauth_exec(t: &mut Target<'_>) -> Result<()> {
    let mut h = client(t, true)?;
    h.handshake()?;
    let (from, unimplemented) = (h.got.len(), h.unimplemented);
    h.send(&crate::hostile_peer::channel_open(0, 32768))?;
    h.send(&exec(0, &t.marker.command()))?;
    refused(t, &mut h, from, unimplemented, 2)
}

pub(crate) fn preauth_exec_plain(t: &mut Target<'_>) -> Result<()> {
    // Without strict kex, which would end it for another reason.
    let mut h = client(t, false)?;
    h.flush()?;
    h.send_now(&crate::hostile_peer::channel_open(0, 32768))?;
    h.send_now(&exec(0, &t.marker.command()))?;
    refused(t, &mut h, 0, 0, 2)
}

/// The first key exchange's flood: mostly unknown transport messages
/// (number 15, unassigned, each owed an UNIMPLEMENTED: what a server owes
/// must not pile up while the peer does not read; OpenSSH 10 ends a
/// connection that sends a number above 49 during a key exchange), with a
/// PING and an IGNORE in every 16.
fn kex_flood_message(i: usize) -> Vec<u8> {
    match i % 16 {
        0 => Ping {
            data: vec![0x50; 64],
        }
        .to_bytes(),
        1 => Ignore {
            data: vec![0x49; 64],
        }
        .to_bytes(),
        _ => UnknownMessage {
            number: 15,
            body: Vec::new(),
        }
        .to_bytes(),
    }
}

/// A re-key's flood, CVE-2025-26466 itself: PINGs of 16 KiB (OpenSSH 9.5
/// to 9.9p1 queued each PONG until the key exchange ended), an IGNORE in
/// every 8.
fn rekey_flood_message(i: usize) -> Vec<u8> {
    if i % 8 == 7 {
        Ignore {
            data: vec![0x49; 1024],
        }
        .to_bytes()
    } else {
        Ping {
            data: vec![0x50; 16 * 1024],
        }
        .to_bytes()
    }
}

/// Runs a flood of `next(i)` while watching the server's memory, from
/// just before it (the processes a connection has, OpenSSH's per
/// connection, are there already); an error if it grew past
/// [`FLOOD_BOUND_KIB`].
fn watched_flood(
    t: &mut Target<'_>,
    h: &mut Hostile,
    next: impl FnMut(usize) -> Vec<u8>,
) -> Result<Flood> {
    let memory = t.memory;
    let base = memory.kib();
    let mut peak = base;
    let start = Instant::now();
    let flood = h.flood(FLOOD_BYTES, next, || peak = peak.max(memory.kib()))?;
    t.note(format!(
        "flood: {} bytes, {} messages in {:.1} s, {}; server RSS {base} KiB before, peak {peak} KiB",
        flood.sent,
        flood.messages,
        start.elapsed().as_secs_f64(),
        if flood.stalled {
            "the server stopped reading"
        } else if flood.sent < FLOOD_BYTES {
            "the connection closed"
        } else {
            "all of it read"
        }
    ));
    if peak > base + FLOOD_BOUND_KIB {
        bail!(
            "the server's memory grew by {} KiB during the flood (bound {FLOOD_BOUND_KIB} KiB)",
            peak - base
        );
    }
    Ok(flood)
}

pub(crate) fn flood_kex(t: &mut Target<'_>) -> Result<()> {
    // Without strict kex, under which the first PING ends it.
    let mut h = client(t, false)?;
    h.until("the server's version line", |h| {
        h.t.peer_version().is_some()
    })?;
    watched_flood(t, &mut h, kex_flood_message)?;
    // Then the rest of the key exchange, and a login: the server copes.
    let coped = h.until_or_end("the first key exchange after the flood", |h| {
        h.t.kex_count() >= 1
    })?;
    if !coped {
        t.note(format!("then: {}", h.end.clone().unwrap_or(End::Closed)));
        return Ok(());
    }
    t.note(format!(
        "then the key exchange, {} UNIMPLEMENTED",
        h.unimplemented
    ));
    Ok(())
}

pub(crate) fn flood_rekey(t: &mut Target<'_>) -> Result<()> {
    let mut h = logged_in(t, Config::default())?;
    h.t.force_rekey().map_err(|e| e.to_string())?;
    h.flush()?;
    watched_flood(t, &mut h, rekey_flood_message)?;
    let coped = h.until_or_end("the re-key after the flood", |h| h.t.kex_count() >= 2)?;
    if !coped {
        t.note(format!("then: {}", h.end.clone().unwrap_or(End::Closed)));
        return Ok(());
    }
    let from = h.got.len();
    h.send(&keepalive())?;
    let answered = h.until_or_end("the answer to a request after the re-key", |h| {
        h.find(from, msg::SSH_MSG_REQUEST_FAILURE).is_some()
            || h.find(from, msg::SSH_MSG_REQUEST_SUCCESS).is_some()
    })?;
    t.note(format!(
        "then the re-key, {} PONG, request answered: {answered}",
        h.pongs
    ));
    Ok(())
}

/// `keepalive@openssh.com` wanting a reply.
fn keepalive() -> Vec<u8> {
    GlobalRequest {
        want_reply: true,
        request: GlobalRequestKind::Keepalive,
    }
    .to_bytes()
}

/// Requests that each want a reply: keepalives (answered through the
/// connection layer), and a PING in every 8.
fn reply_flood_message(i: usize) -> Vec<u8> {
    if i.is_multiple_of(8) {
        Ping {
            data: vec![0x50; 16],
        }
        .to_bytes()
    } else {
        keepalive()
    }
}

pub(crate) fn flood_replies(t: &mut Target<'_>) -> Result<()> {
    let mut h = logged_in(t, Config::default())?;
    let from = h.got.len();
    let flood = watched_flood(t, &mut h, reply_flood_message)?;
    let keepalives = (0..flood.messages).filter(|i| !i.is_multiple_of(8)).count();
    let replies = |h: &Hostile| {
        h.got
            .get(from..)
            .unwrap_or_default()
            .iter()
            .filter(|p| {
                matches!(
                    p.first().copied(),
                    Some(msg::SSH_MSG_REQUEST_FAILURE | msg::SSH_MSG_REQUEST_SUCCESS)
                )
            })
            .count()
    };
    // What was sealed but not written yet went out when reading resumed.
    let all = h.until_or_end("every reply", |h| replies(h) >= keepalives)?;
    t.note(format!(
        "then {} replies, {} PONG{}",
        replies(&h),
        h.pongs,
        h.end
            .as_ref()
            .map(|e| format!(", ended: {e}"))
            .unwrap_or_default()
    ));
    if !all && !matches!(h.end, Some(End::Disconnect { .. } | End::Closed)) {
        bail!("the replies stopped without an end");
    }
    Ok(())
}

pub(crate) fn window_adjust_overflow(t: &mut Target<'_>) -> Result<()> {
    let mut h = logged_in(t, Config::default())?;
    let Opened::Confirmed(remote) = h.open_session(0, 32768)? else {
        bail!("the server refused a plain session channel");
    };
    // The server's window towards us is the 2 MiB we granted: take it to
    // 2^32 - 1 (allowed), then one more.
    for add in [u32::MAX - 2 * 1024 * 1024, 1] {
        h.send(
            &ChannelWindowAdjust {
                recipient: remote,
                bytes_to_add: add,
            }
            .to_bytes(),
        )?;
    }
    let end = h.wait_end(END_WITHIN)?;
    t.note(format!("ended: {end}"));
    Ok(())
}

pub(crate) fn max_packet_zero(t: &mut Target<'_>) -> Result<()> {
    let mut h = logged_in(t, Config::default())?;
    let opened = h.open_session(0, 0)?;
    t.note(format!("CHANNEL_OPEN with max packet 0: {opened:?}"));
    let Opened::Confirmed(remote) = opened else {
        return Ok(());
    };
    // Confirmed (as OpenSSH does): output on it must not become endless
    // empty packets or a spinning server.
    let from = h.got.len();
    let cpu = t.memory.cpu_ticks();
    h.send(&exec(remote, "head -c 65536 /dev/zero"))?;
    h.linger(Duration::from_millis(500))?;
    let spent = t.memory.cpu_ticks().saturating_sub(cpu);
    let data: Vec<usize> = h
        .got
        .get(from..)
        .unwrap_or_default()
        .iter()
        .filter(|p| p.first() == Some(&msg::SSH_MSG_CHANNEL_DATA))
        .map(Vec::len)
        .collect();
    t.note(format!(
        "then exec: {} CHANNEL_DATA, server CPU {spent} ticks in 0.5 s{}",
        data.len(),
        h.end
            .as_ref()
            .map(|e| format!(", ended: {e}"))
            .unwrap_or_default()
    ));
    if data
        .iter()
        .any(|len| *len <= ssh_wire::messages::ChannelData::HEADER_LEN)
    {
        bail!("the server sent empty CHANNEL_DATA");
    }
    if spent > 30 {
        bail!("the server used {spent} ticks of CPU in 0.5 s: it spins");
    }
    Ok(())
}

pub(crate) fn decompression_bomb(t: &mut Target<'_>) -> Result<()> {
    let mut config = Config::default();
    config.algorithms.compression =
        NameList::parse("zlib@openssh.com").map_err(|e| e.to_string())?;
    let mut h = logged_in(t, config)?;
    let Opened::Confirmed(remote) = h.open_session(0, 32768)? else {
        bail!("the server refused a plain session channel");
    };
    let Some(negotiated) = h.t.negotiated() else {
        bail!("nothing negotiated");
    };
    if negotiated.comp_c2s != "zlib@openssh.com" {
        bail!("compression {} negotiated", negotiated.comp_c2s);
    }
    // CHANNEL_DATA of 8 MiB of zeros, compressed to a few KiB.
    let len: u32 = 8 * 1024 * 1024;
    let mut bomb = Vec::with_capacity(len as usize + 9);
    ssh_wire::messages::ChannelData::encode_header(remote, len, &mut bomb);
    bomb.resize(len as usize + 9, 0);
    let (sent_before, _) = h.t.counters();
    h.send_now(&bomb)?;
    let (sent_after, _) = h.t.counters();
    t.note(format!(
        "the bomb: {} bytes inflating to {}",
        sent_after.bytes.saturating_sub(sent_before.bytes),
        bomb.len()
    ));
    // Ended (rsshd: the inflated payload is over its limit; OpenSSH 10.6
    // too), or still answering (OpenSSH 9.2 and 10.0 drop it); its memory
    // is the row's to check.
    h.linger(Duration::from_secs(1))?;
    if let Some(end) = &h.end {
        t.note(format!("ended: {end}"));
        return Ok(());
    }
    let from = h.got.len();
    h.send(&keepalive())?;
    let answered = h.until_or_end("the answer to a request after the bomb", |h| {
        h.find(from, msg::SSH_MSG_REQUEST_FAILURE).is_some()
            || h.find(from, msg::SSH_MSG_REQUEST_SUCCESS).is_some()
    })?;
    match &h.end {
        Some(end) => t.note(format!("ended: {end}")),
        None if answered => t.note("still up: a request after it answered"),
        None => bail!("the server neither ended the connection nor answered"),
    }
    Ok(())
}

pub(crate) fn pre_banner_flood(t: &mut Target<'_>) -> Result<()> {
    let lines: Vec<u8> = b"hello, this is not a version line\r\n"
        .iter()
        .copied()
        .cycle()
        .take(64 * 1024)
        .collect();
    let line = vec![b'a'; 1024 * 1024];
    for (what, bytes) in [("lines", lines), ("one long line", line)] {
        let (sent, how) = raw_flood(t, &bytes)?;
        t.note(format!(
            "{what}: {sent} of {} bytes taken, then {how}",
            bytes.len()
        ));
    }
    Ok(())
}

/// Sends `bytes` over a plain TCP connection as a client's first bytes;
/// returns how many were taken and how the server ended the connection.
fn raw_flood(t: &Target<'_>, bytes: &[u8]) -> Result<(usize, String)> {
    let mut s = TcpStream::connect_timeout(&t.addr, END_WITHIN).context("connecting")?;
    s.set_write_timeout(Some(Duration::from_secs(2)))
        .context("timeout")?;
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .context("timeout")?;
    let mut sent = 0;
    for piece in bytes.chunks(4096) {
        match s.write(piece) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    let deadline = Instant::now() + END_WITHIN;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Ok((sent, format!("closed after {} bytes", got.len()))),
            Ok(n) => got.extend_from_slice(buf.get(..n).unwrap_or_default()),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return Ok((sent, format!("{e} after {} bytes", got.len()))),
        }
        if got.len() > 64 * 1024 {
            bail!("the server sent more than 64 KiB back");
        }
        if Instant::now() >= deadline {
            bail!(
                "the server kept the connection open {} s after {sent} bytes before a version line",
                END_WITHIN.as_secs()
            );
        }
    }
}
