//! Shared by `session_server` and `session_client`: reads back the
//! packets a session wrote. Under `cfg(fuzzing)` `ssh-transport` sends
//! every packet with cipher and MAC `none` (see its `fuzzing` module), and
//! the targets offer no compression, so each payload's message number can
//! be read from the output.

use std::sync::OnceLock;

use ssh_connection::Event;
use ssh_connection::{Connection, GlobalReply};

/// Reads a session's output as it grows: the version line, then binary
/// packets.
#[derive(Default)]
pub struct Packets {
    buf: Vec<u8>,
    past_version: bool,
}

impl Packets {
    /// Adds output; returns the message numbers of the complete packets.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.buf.extend_from_slice(bytes);
        let mut numbers = Vec::new();
        if !self.past_version {
            let Some(lf) = self.buf.iter().position(|&b| b == b'\n') else {
                return numbers;
            };
            assert!(
                self.buf.starts_with(b"SSH-2.0-"),
                "our first line is our version"
            );
            self.buf.drain(..=lf);
            self.past_version = true;
        }
        while self.buf.len() >= 5 {
            let len = u32::from_be_bytes(self.buf[..4].try_into().unwrap()) as usize;
            assert!(len <= 256 * 1024, "a packet of {len} bytes");
            if self.buf.len() < 4 + len {
                break;
            }
            let pad = usize::from(self.buf[4]);
            assert!(pad >= 4 && pad < len, "padding {pad} in a packet of {len}");
            numbers.push(self.buf[5]);
            self.buf.drain(..4 + len);
        }
        numbers
    }
}

/// Answers what the peer asks of the connection: channels accepted,
/// requests granted, data read and echoed, so that the fuzzer reaches
/// what comes after.
pub fn serve_connection(conn: &mut Connection, ev: Event) {
    match ev {
        Event::OpenRequest { handle, .. } => {
            let _ = conn.accept(handle);
        }
        Event::ChannelRequest {
            handle,
            id: Some(id),
            ..
        } => {
            let _ = conn.answer_channel_request(handle, id, true);
        }
        Event::GlobalRequest { id: Some(id), .. } => {
            let _ = conn.answer_global_request(id, GlobalReply::Failure);
        }
        Event::Readable { handle } => {
            let mut buf = [0u8; 512];
            if let Ok(n) = conn.read(handle, &mut buf) {
                let _ = conn.send_data(handle, &buf[..n]);
            }
        }
        Event::ReadableExtended { handle } => {
            let mut buf = [0u8; 512];
            let _ = conn.read_extended(handle, &mut buf);
        }
        Event::Eof { handle } => {
            let _ = conn.send_eof(handle);
            let _ = conn.close(handle);
        }
        Event::Closed { handle, .. } => {
            let _ = conn.release(handle);
        }
        _ => {}
    }
}

/// A transport configuration without compression (so that the output can
/// be read) and with small limits; made once per process (building the
/// algorithm lists costs more than a short input), cloned per execution.
pub fn transport_config(server: bool) -> ssh_transport::Config {
    static SERVER: OnceLock<ssh_transport::Config> = OnceLock::new();
    static CLIENT: OnceLock<ssh_transport::Config> = OnceLock::new();
    let make = || {
        let mut c = if server {
            ssh_transport::Config::server_default()
        } else {
            ssh_transport::Config::default()
        };
        c.algorithms.compression = ssh_wire::NameList::parse("none").unwrap();
        c.max_held_bytes = 64 * 1024;
        c
    };
    if server {
        SERVER.get_or_init(make).clone()
    } else {
        CLIENT.get_or_init(make).clone()
    }
}

/// Connection limits small enough that the fuzzer reaches them.
pub fn connection_config() -> ssh_connection::Config {
    ssh_connection::Config {
        window: 4096,
        max_packet: 1024,
        max_channels: 4,
        max_sessions: 2,
        max_pending_requests: 4,
        max_queued_bytes: 64 * 1024,
        ..ssh_connection::Config::default()
    }
}
