//! A whole `ClientSession` (`ssh-session`) driven by arbitrary server
//! bytes, with the server's signature check and the packet protection
//! replaced by stand-ins under `cfg(fuzzing)` (see `ssh-transport`'s
//! `fuzzing` module), so that the fuzzer reaches authentication and
//! channels. The first byte picks the chunk size and the auth methods.
//! Once authenticated, the client opens a session channel and runs a
//! command.
//!
//! What must hold: no panic; no connection-layer message (80-127) goes
//! out before the session is authenticated, and it is authenticated only
//! after the server's USERAUTH_SUCCESS reached it; a failed session stays
//! failed; the output stays bounded.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;
use rand::rngs::StdRng;
use ssh_auth::client::{ClientConfig, ClientEvent, ClientMethod};
use ssh_session::{ClientSession, ClientSessionEvent};
use ssh_wire::messages::{ChannelRequestKind, ChannelType};

#[path = "../common/session.rs"]
mod session;

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let chunk = 1 + usize::from(first >> 1) * 16;
    let mut methods = vec![ClientMethod::Password];
    if first & 1 == 1 {
        methods.insert(
            0,
            ClientMethod::KeyboardInteractive {
                submethods: String::new(),
            },
        );
    }
    let mut c = ClientSession::new(
        session::transport_config(false),
        ClientConfig::new("me", methods),
        session::connection_config(),
        Box::new(StdRng::seed_from_u64(1)),
    )
    .unwrap();
    let now = Instant::now();
    let mut packets = session::Packets::default();
    let mut out = Vec::new();
    let mut total_out = 0usize;
    let mut failed = false;
    let mut opened = false;
    let mut rest = input;
    while !rest.is_empty() && !failed {
        let piece = &rest[..rest.len().min(chunk)];
        match c.handle_input(now, piece) {
            Ok(n) => rest = &rest[n..],
            Err(_) => failed = true,
        }
        while let Some(ev) = c.poll_event() {
            let r = match ev {
                ClientSessionEvent::HostKey { .. } => c.accept_host_key(),
                ClientSessionEvent::Auth(ClientEvent::PasswordPrompt) => c.password("pass"),
                ClientSessionEvent::Auth(ClientEvent::PasswordChangeRequest { .. }) => {
                    c.change_password("pass", "new")
                }
                ClientSessionEvent::Auth(ClientEvent::InfoRequest { .. }) => {
                    c.info_response(vec!["pass".to_owned()])
                }
                ClientSessionEvent::Auth(ClientEvent::NeedSignature { .. }) => c.skip(),
                ClientSessionEvent::Authenticated => {
                    assert!(c.is_authenticated());
                    Ok(())
                }
                ClientSessionEvent::Connection(ev) => {
                    assert!(c.is_authenticated());
                    if let Some(conn) = c.connection_mut() {
                        if let ssh_connection::Event::OpenConfirmed { handle } = ev {
                            let _ = conn.channel_request(
                                handle,
                                ChannelRequestKind::Exec {
                                    command: b"true".to_vec(),
                                },
                                true,
                            );
                        } else {
                            session::serve_connection(conn, ev);
                        }
                    }
                    Ok(())
                }
                _ => Ok(()),
            };
            failed |= r.is_err();
        }
        if c.is_authenticated() && !opened {
            opened = true;
            if let Some(conn) = c.connection_mut() {
                let _ = conn.open_channel(ChannelType::Session);
            }
        }
        out.clear();
        c.poll_transmit(&mut out);
        total_out += out.len();
        let authenticated = c.is_authenticated();
        for number in packets.feed(&out) {
            if (80..=127).contains(&number) {
                assert!(authenticated, "message {number} sent before authentication");
            }
        }
        if failed {
            assert!(c.error().is_some() || c.handle_input(now, b"x").is_err());
        }
    }
    assert!(
        total_out <= 64 * 1024 + 8 * input.len(),
        "{total_out} bytes out for {} in",
        input.len()
    );
});
