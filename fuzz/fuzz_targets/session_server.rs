//! A whole `ServerSession` (`ssh-session`) driven by arbitrary client
//! bytes, with the key exchange's signature check and the packet
//! protection replaced by stand-ins under `cfg(fuzzing)` (see
//! `ssh-transport`'s `fuzzing` module), so that the fuzzer reaches
//! authentication and channels. The first byte picks the chunk size.
//!
//! What must hold: no panic; the session authenticates only through the
//! password `pass` (public keys are accepted by the application but need
//! a signature the fuzzer cannot make); no connection-layer message
//! (80-127) goes out before USERAUTH_SUCCESS did; a failed session stays
//! failed; the output stays bounded.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;
use rand::rngs::StdRng;
use ssh_auth::server::{
    AccountVerdict, KeyboardInteractiveAnswer, PasswordVerdict, ServerConfig, ServerEvent,
};
use ssh_session::{ServerSession, ServerSessionEvent};

#[path = "../common/host_key.rs"]
mod host_key;
#[path = "../common/session.rs"]
mod session;

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let chunk = 1 + usize::from(first) * 16;
    let now = Instant::now();
    let auth = ServerConfig {
        failure_delay: Duration::ZERO,
        check_account: first & 1 == 1,
        banner: (first & 2 == 2).then(|| "welcome\n".to_owned()),
        ..ServerConfig::default()
    };
    let mut s = ServerSession::new(
        now,
        session::transport_config(true),
        vec![host_key::host_key()],
        auth,
        session::connection_config(),
        Box::new(StdRng::seed_from_u64(1)),
    )
    .unwrap();
    let mut packets = session::Packets::default();
    let mut out = Vec::new();
    let mut total_out = 0usize;
    let mut success_sent = false;
    let mut good_password = false;
    let mut failed = false;
    let mut rest = input;
    while !rest.is_empty() && !failed {
        let piece = &rest[..rest.len().min(chunk)];
        match s.handle_input(now, piece) {
            Ok(n) => rest = &rest[n..],
            Err(_) => failed = true,
        }
        while let Some(ev) = s.poll_event() {
            let r = match ev {
                ServerSessionEvent::Auth(ServerEvent::VerifyPublicKey { .. }) => {
                    s.answer_public_key(now, true)
                }
                ServerSessionEvent::Auth(ServerEvent::VerifyPassword { password, .. }) => {
                    let ok = password == "pass";
                    good_password |= ok;
                    s.answer_password(
                        now,
                        if ok {
                            PasswordVerdict::Accept
                        } else {
                            PasswordVerdict::Reject
                        },
                    )
                }
                ServerSessionEvent::Auth(
                    ServerEvent::KeyboardInteractive { .. } | ServerEvent::InfoResponse { .. },
                ) => s.answer_keyboard_interactive(now, KeyboardInteractiveAnswer::Reject),
                ServerSessionEvent::Auth(ServerEvent::CheckAccount { .. }) => {
                    s.answer_account(now, AccountVerdict::Allow)
                }
                ServerSessionEvent::Authenticated => {
                    assert!(good_password, "authenticated without the password");
                    Ok(())
                }
                ServerSessionEvent::Connection(ev) => {
                    assert!(s.is_authenticated());
                    if let Some(conn) = s.connection_mut() {
                        session::serve_connection(conn, ev);
                    }
                    Ok(())
                }
                _ => Ok(()),
            };
            failed |= r.is_err();
        }
        out.clear();
        s.poll_transmit(&mut out);
        total_out += out.len();
        for number in packets.feed(&out) {
            if number == 52 {
                success_sent = true;
            }
            if (80..=127).contains(&number) {
                assert!(
                    success_sent,
                    "message {number} sent before USERAUTH_SUCCESS"
                );
            }
        }
        if failed {
            assert!(s.error().is_some() || s.handle_input(now, b"x").is_err());
        }
    }
    if success_sent {
        assert!(s.is_authenticated() && good_password);
    }
    assert!(
        total_out <= 64 * 1024 + 8 * input.len(),
        "{total_out} bytes out for {} in",
        input.len()
    );
});
