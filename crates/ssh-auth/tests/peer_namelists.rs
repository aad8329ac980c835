//! A server's USERAUTH_FAILURE whose methods end with a comma (issue 13,
//! item 1): accepted as OpenSSH's client accepts it (its `match_list` over
//! the server's list stops at the first empty name), not a protocol error.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use ssh_auth::client::{ClientAuth, ClientConfig, ClientEvent, ClientMethod};

fn failure(methods: &[u8]) -> Vec<u8> {
    let mut p = vec![51u8];
    p.extend((methods.len() as u32).to_be_bytes());
    p.extend_from_slice(methods);
    p.push(0);
    p
}

fn client() -> ClientAuth {
    let mut c = ClientAuth::new(
        ClientConfig::new(
            "alice",
            vec![
                ClientMethod::KeyboardInteractive {
                    submethods: String::new(),
                },
                ClientMethod::Password,
            ],
        ),
        b"sid",
    );
    // The `none` request goes first.
    assert!(c.poll_outgoing().is_some());
    c
}

#[test]
fn userauth_failure_with_a_trailing_comma_goes_on_to_the_allowed_method() {
    let mut c = client();
    if let Err(e) = c.handle_payload(&failure(b"publickey,password,")) {
        panic!("USERAUTH_FAILURE with a trailing comma refused: {e}");
    }
    let events: Vec<ClientEvent> = std::iter::from_fn(|| c.poll_event()).collect();
    let Some(ClientEvent::Failure { methods, .. }) = events.first() else {
        panic!("{events:?}");
    };
    assert_eq!(methods.names(), ["publickey", "password"]);
    // keyboard-interactive is not on the list: password is next.
    assert_eq!(events.get(1), Some(&ClientEvent::PasswordPrompt));
}

#[test]
fn userauth_failure_of_only_commas_allows_nothing() {
    let mut c = client();
    // As OpenSSH: no names, so no method can continue.
    let _ = c.handle_payload(&failure(b",,"));
    let events: Vec<ClientEvent> = std::iter::from_fn(|| c.poll_event()).collect();
    let Some(ClientEvent::Failure { methods, .. }) = events.first() else {
        panic!("{events:?}");
    };
    assert!(methods.is_empty());
    assert!(!events.contains(&ClientEvent::PasswordPrompt), "{events:?}");
    assert!(c.poll_outgoing().is_none());
}
