//! Drives an ssh-connection `Connection` with arbitrary payloads interleaved
//! with application calls. It must never panic; a connection that failed
//! stays failed; everything it sends decodes as a connection message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ssh_connection::{
    ApiError, ChannelHandle, Config, Connection, Error, Event, GlobalReply, Role,
};
use ssh_wire::messages::{ChannelRequestKind, ChannelType, ConnectionMessage, OpenFailureReason};

fuzz_target!(|data: &[u8]| {
    let Some((&first, mut rest)) = data.split_first() else {
        return;
    };
    let role = if first & 1 == 0 {
        Role::Client
    } else {
        Role::Server
    };
    let config = Config {
        window: if first & 2 == 0 {
            4096
        } else {
            2 * 1024 * 1024
        },
        max_packet: 1024,
        max_channels: 8,
        max_sessions: 2,
        max_pending_requests: 4,
        max_queued_bytes: 64 * 1024,
        ..Config::default()
    };
    let mut conn = Connection::new(role, config);
    let mut handles: Vec<ChannelHandle> = Vec::new();
    let mut channel_reqs = Vec::new();
    let mut global_reqs = Vec::new();
    let mut failed = false;
    let mut out = Vec::new();
    let mut buf = [0u8; 2048];

    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        let pick = |k: u8| handles.get(usize::from(k) % handles.len().max(1)).copied();
        let arg = rest.first().copied().unwrap_or(0);
        match op % 12 {
            // A payload: two length bytes, then the bytes.
            0..=4 => {
                let len = usize::from(u16::from_be_bytes([
                    rest.first().copied().unwrap_or(0),
                    rest.get(1).copied().unwrap_or(0),
                ]));
                let body = rest.get(2..).unwrap_or_default();
                let len = len.min(body.len());
                let (payload, after) = body.split_at(len);
                rest = after;
                match conn.handle_payload(payload) {
                    Ok(()) => assert!(!failed, "a failed connection must stay failed"),
                    Err(Error::Protocol(e)) => {
                        failed = true;
                        assert_eq!(conn.failure(), Some(&e));
                    }
                    Err(Error::Unimplemented { .. }) => assert!(!failed),
                    Err(_) => {}
                }
            }
            5 => {
                let kind = if arg & 1 == 0 {
                    ChannelType::Session
                } else {
                    ChannelType::AuthAgent
                };
                if let Ok(h) = conn.open_channel(kind) {
                    handles.push(h);
                }
            }
            6 => {
                if let Some(h) = pick(arg) {
                    let n = conn.send_data(h, &[arg; 3000]);
                    if let Ok(n) = n {
                        assert!(n <= 3000);
                    }
                }
            }
            7 => {
                if let Some(h) = pick(arg) {
                    let _ = conn.read(h, &mut buf);
                    let _ = conn.read_extended(h, &mut buf);
                }
            }
            8 => {
                if let Some(h) = pick(arg) {
                    let _ = match arg % 4 {
                        0 => conn.send_eof(h),
                        1 => conn.close(h),
                        2 => conn.release(h),
                        _ => conn.set_receive_window(h, u32::from(arg) * 1000),
                    };
                }
            }
            9 => {
                if let Some(h) = pick(arg) {
                    let _ = conn.channel_request(h, ChannelRequestKind::Shell, arg & 1 == 0);
                }
            }
            10 => {
                if let Some((h, id)) = channel_reqs.pop() {
                    let _ = conn.answer_channel_request(h, id, arg & 1 == 0);
                }
                if let Some(id) = global_reqs.pop() {
                    let reply = match arg % 3 {
                        0 => GlobalReply::Failure,
                        1 => GlobalReply::Success,
                        _ => GlobalReply::BoundPort(u32::from(arg)),
                    };
                    let _ = conn.answer_global_request(id, reply);
                }
            }
            _ => {
                if let Some(h) = pick(arg) {
                    let _ = if arg & 1 == 0 {
                        conn.accept(h)
                    } else {
                        conn.reject(h, OpenFailureReason::CONNECT_FAILED, "no")
                    };
                }
            }
        }
        if failed {
            assert_eq!(
                conn.open_channel(ChannelType::Session),
                Err(ApiError::ConnectionFailed)
            );
        }
        while conn.poll_outgoing(&mut out) {
            let m = ConnectionMessage::decode(&out).expect("our payloads decode");
            if let ConnectionMessage::Data(d) = m {
                assert!(d.data.len() <= 32 * 1024);
            }
        }
        while let Some(e) = conn.poll_event() {
            match e {
                Event::OpenRequest { handle, .. } => handles.push(handle),
                Event::ChannelRequest {
                    handle,
                    id: Some(id),
                    ..
                } => channel_reqs.push((handle, id)),
                Event::GlobalRequest { id: Some(id), .. } => global_reqs.push(id),
                _ => {}
            }
        }
        if handles.len() > 64 {
            handles.drain(..32);
        }
    }
});
