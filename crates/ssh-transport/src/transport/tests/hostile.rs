//! Hostile peers, one test per class of vulnerability seen in SSH
//! implementations, at the transport: each refused, and nothing done for
//! it (nothing handed up, no reply).

use ssh_wire::version::{MAX_PRE_BANNER_LINE, MAX_PRE_BANNER_LINES};

use super::*;

/// A decompression bomb: a packet of a few KiB that inflates to 8 MiB. The
/// inflated payload stops at 256 KiB (`MAX_DECOMPRESSED_LEN`): the
/// connection ends with COMPRESSION_ERROR and nothing is handed up (that
/// the inflater never holds more than the limit is `compress.rs`'s
/// `cap_stops_a_zip_bomb`).
#[test]
fn decompression_bomb() {
    let mut c = Config::default();
    c.algorithms.compression = list("zlib");
    let mut s = Config::server_default();
    s.algorithms.compression = list("none,zlib");
    let mut p = Pair::new(c, s, all_host_keys());
    p.handshake();
    assert!(p.s.rx.decomp.is_some());
    // A payload no honest sender may send, which compresses to little.
    let mut bomb = vec![94];
    bomb.resize(8 * 1024 * 1024, 0);
    p.c.seal_payload(&bomb).unwrap();
    let mut wire = Vec::new();
    p.c.poll_transmit(&mut wire);
    assert!(wire.len() < 64 * 1024, "{} bytes on the wire", wire.len());
    let r = p.s.handle_input(p.now, &wire).and_then(|_| p.pump_server());
    let err = r.unwrap_err();
    assert_eq!(
        err.disconnect_reason(),
        Some(DisconnectReason::COMPRESSION_ERROR),
        "{err:?}"
    );
    assert!(p.s_got.is_empty(), "the bomb was handed up");
    // Failed for good; what it sends now is its DISCONNECT only.
    assert!(p.s.handle_input(p.now, b"x").is_err());
}

/// A pre-banner flood (RFC 4253 §4.2 lets a server send lines before its
/// version): bounded in line length and in count; past either the client
/// gives up, having handed the caller at most the bounded lines and never
/// a version. A client may send no such lines at all.
#[test]
fn pre_banner_flood() {
    // Too many lines.
    let mut p = Pair::default_pair();
    let mut flood = Vec::new();
    for _ in 0..=MAX_PRE_BANNER_LINES {
        flood.extend_from_slice(b"notice\r\n");
    }
    let err =
        p.c.handle_input(p.now, &flood)
            .and_then(|_| p.pump_client())
            .unwrap_err();
    assert_eq!(
        err.disconnect_reason(),
        Some(DisconnectReason::PROTOCOL_VERSION_NOT_SUPPORTED),
        "{err:?}"
    );
    let lines = p
        .c_events
        .iter()
        .filter(|e| matches!(e, Event::PreBannerLine(_)))
        .count();
    assert!(lines <= MAX_PRE_BANNER_LINES, "{lines} lines handed up");
    assert!(
        !p.c_events
            .iter()
            .any(|e| matches!(e, Event::PeerVersion(_) | Event::HostKey { .. })),
        "{:?}",
        p.c_events.last()
    );

    // One endless line: refused without waiting for its end.
    let mut p = Pair::default_pair();
    let line = vec![b'a'; MAX_PRE_BANNER_LINE + 1];
    let mut at = 0;
    let err = loop {
        match p.c.handle_input(p.now, &line[at..]) {
            Ok(n) => at += n,
            Err(e) => break e,
        }
        if let Err(e) = p.pump_client() {
            break e;
        }
        assert!(at < line.len(), "the whole line was taken");
    };
    assert_eq!(
        err.disconnect_reason(),
        Some(DisconnectReason::PROTOCOL_VERSION_NOT_SUPPORTED),
        "{err:?}"
    );
    assert!(p.c_events.is_empty(), "{:?}", p.c_events);

    // From a client, even one line is refused.
    let mut p = Pair::default_pair();
    let err =
        p.s.handle_input(p.now, b"hello\r\nSSH-2.0-x\r\n")
            .and_then(|_| p.pump_server())
            .unwrap_err();
    assert_eq!(
        err.disconnect_reason(),
        Some(DisconnectReason::PROTOCOL_VERSION_NOT_SUPPORTED),
        "{err:?}"
    );
    assert!(p.s_events.is_empty(), "{:?}", p.s_events);
}
