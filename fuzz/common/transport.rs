//! Shared by `transport_server` and `transport_client`: a `Transport`
//! fed arbitrary bytes, in chunks whose size the first input byte picks.
//!
//! What must hold: no panic; once failed, the transport stays failed; no
//! upper-layer payload is handed up before the first key exchange ended
//! (the fuzzer cannot finish one: it would need our keys); the output
//! stays bounded by a constant plus a small multiple of the input.

use std::sync::OnceLock;
use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;
use ssh_transport::{Config, Event, Transport};

/// Output allowed whatever the input: our version line, KEXINIT, a key
/// exchange reply with its host key and signature, a disconnect.
const FIXED_OUTPUT: usize = 16 * 1024;

pub fn run(server: bool, data: &[u8]) {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let chunk = 1 + usize::from(first) * 7;
    let rng = Box::new(StdRng::seed_from_u64(u64::from(first)));
    let mut t = if server {
        Transport::server(config(true), vec![crate::host_key::host_key()], rng).unwrap()
    } else {
        Transport::client(config(false), rng).unwrap()
    };
    let now = Instant::now();
    let mut out = Vec::new();
    let mut failed = false;
    let mut rest = input;
    let mut events = 0usize;
    while !rest.is_empty() {
        let piece = &rest[..rest.len().min(chunk)];
        let taken = match t.handle_input(now, piece) {
            Ok(n) => n,
            Err(_) => {
                failed = true;
                break;
            }
        };
        rest = &rest[taken..];
        let mut progressed = taken > 0;
        loop {
            match t.poll_incoming() {
                Ok(Some(payload)) => {
                    let number = payload.first().copied();
                    progressed = true;
                    assert!(
                        t.session_id().is_some(),
                        "a payload was handed up before the first key exchange ended"
                    );
                    assert!(
                        matches!(number, Some(50..=127)),
                        "payload {number:?} handed up"
                    );
                }
                Ok(None) => break,
                Err(_) => {
                    failed = true;
                    break;
                }
            }
            if failed {
                break;
            }
        }
        while let Some(ev) = t.poll_event() {
            events += 1;
            progressed = true;
            match ev {
                Event::HostKey { .. } => {
                    let _ = t.accept_host_key();
                }
                Event::ServiceRequest(_) => {
                    let _ = t.accept_service();
                }
                _ => {}
            }
        }
        t.poll_transmit(&mut out);
        if failed {
            break;
        }
        if !progressed {
            break;
        }
    }
    t.poll_transmit(&mut out);
    if failed {
        assert!(
            t.handle_input(now, b"x").is_err(),
            "a failed transport took input"
        );
    }
    assert!(
        out.len() <= FIXED_OUTPUT + 4 * input.len(),
        "{} bytes out for {} in",
        out.len(),
        input.len()
    );
    // Every line before the version is an event; a bound on them too.
    assert!(events <= 8 + input.len());
}

/// The default server or client configuration, made once per process
/// (building the algorithm lists costs more than a short input).
fn config(server: bool) -> Config {
    static SERVER: OnceLock<Config> = OnceLock::new();
    static CLIENT: OnceLock<Config> = OnceLock::new();
    if server {
        SERVER.get_or_init(Config::server_default).clone()
    } else {
        CLIENT.get_or_init(Config::default).clone()
    }
}
