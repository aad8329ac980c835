//! Arbitrary input never panics any parser or state machine.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::Instant;

use proptest::prelude::*;
use ssh_auth::agent::AgentClient;
use ssh_auth::authorized_keys::AuthorizedKeys;
use ssh_auth::cert::Certificate;
use ssh_auth::client::{ClientAuth, ClientConfig, ClientMethod};
use ssh_auth::keyfile::{KeyPair, parse_public_key_file};
use ssh_auth::known_hosts::KnownHosts;
use ssh_auth::server::{ServerAuth, ServerConfig};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn text_parsers_never_panic(text in "\\PC{0,300}") {
        let _ = KnownHosts::parse(&text);
        let _ = AuthorizedKeys::parse(&text);
        let _ = parse_public_key_file(&text);
        let _ = KeyPair::from_file_text(&text, Some(b"pass"));
    }

    #[test]
    fn option_strings_never_panic(opts in "[a-z=\",\\\\ -]{0,80}") {
        let line = format!("{opts} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG3oSNzNz367XsYUFeUyLUrBUMvyz1Cg7wi7cWC7R9RT");
        let _ = AuthorizedKeys::parse(&line);
    }

    #[test]
    fn binary_parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = Certificate::from_blob(&bytes);
        let mut agent = AgentClient::new();
        agent.request_identities().unwrap();
        let _ = agent.handle_input(&bytes);
        let armoured = format!(
            "-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----\n",
            <base64ct::Base64 as base64ct::Encoding>::encode_string(&bytes)
        );
        let _ = KeyPair::from_file_text(&armoured, Some(b"pass"));
        let mut openssh = b"openssh-key-v1\0".to_vec();
        openssh.extend_from_slice(&bytes);
        let armoured = format!(
            "-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----\n",
            <base64ct::Base64 as base64ct::Encoding>::encode_string(&openssh)
        );
        let _ = KeyPair::from_file_text(&armoured, None);
        for label in ["RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY"] {
            let armoured = format!(
                "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
                <base64ct::Base64 as base64ct::Encoding>::encode_string(&bytes)
            );
            let _ = KeyPair::from_file_text(&armoured, Some(b"pass"));
        }
    }

    #[test]
    fn state_machines_never_panic(
        payloads in proptest::collection::vec(
            (50u8..=79, proptest::collection::vec(any::<u8>(), 0..60)), 0..6)
    ) {
        let now = Instant::now();
        let mut s = ServerAuth::new(ServerConfig::default(), b"sid", now);
        let mut c = ClientAuth::new(
            ClientConfig::new("u", vec![ClientMethod::Password, ClientMethod::KeyboardInteractive { submethods: String::new() }]),
            b"sid",
        );
        for (n, body) in payloads {
            let mut p = vec![n];
            p.extend_from_slice(&body);
            let _ = s.handle_payload(now, &p);
            let _ = c.handle_payload(&p);
            while s.poll_event().is_some() {}
            while c.poll_event().is_some() {}
            let _ = c.password("x");
        }
    }
}
