//! In-memory client/server pairs for every method.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod pair;

use pair::*;

#[test]
fn publickey_every_key_type() {
    let mut rng = StdRng::seed_from_u64(9);
    let keys = [
        ed25519(1),
        PrivateKey::generate(KeyType::Ecdsa(EcdsaCurve::NistP256), &mut rng).unwrap(),
        PrivateKey::generate(KeyType::Ecdsa(EcdsaCurve::NistP384), &mut rng).unwrap(),
        PrivateKey::generate(KeyType::Ecdsa(EcdsaCurve::NistP521), &mut rng).unwrap(),
        PrivateKey::generate_rsa(2048, &mut rng).unwrap(),
    ];
    for key in keys {
        let (mut c, mut s, now) = pair(
            vec![ClientMethod::PublicKey(key.public().clone())],
            ServerConfig::default(),
        );
        let mut sa = ServerApp {
            approved: vec![key.public().clone()],
            ..ServerApp::default()
        };
        let mut ca = ClientApp {
            keys: vec![key],
            ..ClientApp::default()
        };
        let out = run(&mut c, &mut ca, &mut s, &mut sa, now);
        out.client.unwrap();
        out.server.unwrap();
        assert!(c.is_authenticated() && s.is_authenticated());
        assert_eq!(ca.events.last(), Some(&ClientEvent::Success));
        // none, then a query, then the signed request.
        let verify: Vec<bool> = sa
            .events
            .iter()
            .filter_map(|e| match e {
                ServerEvent::VerifyPublicKey { query_only, .. } => Some(*query_only),
                _ => None,
            })
            .collect();
        assert_eq!(verify, vec![true, false]);
        assert_eq!(successes(&sa.events), 1);
    }
}

#[test]
fn rsa_hash_follows_server_sig_algs() {
    let mut rng = StdRng::seed_from_u64(10);
    let key = PrivateKey::generate_rsa(2048, &mut rng).unwrap();
    let only_256 = Some(vec![SignatureAlgorithm::RsaSha256]);
    for (algs, accepted, expected) in [
        (
            "rsa-sha2-256,ssh-ed25519",
            None,
            Some(SignatureAlgorithm::RsaSha256),
        ),
        (
            "rsa-sha2-512,rsa-sha2-256",
            None,
            Some(SignatureAlgorithm::RsaSha512),
        ),
        ("ssh-rsa,ssh-ed25519", None, None),
        // The client's PubkeyAcceptedAlgorithms narrows the choice.
        (
            "rsa-sha2-512,rsa-sha2-256",
            only_256.clone(),
            Some(SignatureAlgorithm::RsaSha256),
        ),
        ("rsa-sha2-512,ssh-ed25519", only_256.clone(), None),
    ] {
        let (_, mut s, now) = pair(Vec::new(), ServerConfig::default());
        let mut config =
            ClientConfig::new("alice", vec![ClientMethod::PublicKey(key.public().clone())]);
        config.signature_algorithms = accepted;
        let mut c = ClientAuth::new(config, SID);
        c.set_server_sig_algs(NameList::parse(algs).unwrap());
        // Driven by hand: the RSA key is borrowed, not moved into an app.
        let mut rng2 = StdRng::seed_from_u64(1);
        let mut got = None;
        for _ in 0..20 {
            while let Some(p) = c.poll_outgoing() {
                s.handle_payload(now, &p).unwrap();
            }
            while let Some(ev) = s.poll_event() {
                if let ServerEvent::VerifyPublicKey { .. } = ev {
                    s.answer_public_key(now, true).unwrap();
                }
            }
            while let Some(p) = s.poll_outgoing(now) {
                let _ = c.handle_payload(&p);
            }
            while let Some(ev) = c.poll_event() {
                if let ClientEvent::NeedSignature {
                    algorithm, data, ..
                } = ev
                {
                    got = Some(algorithm);
                    c.signature(key.sign(algorithm, &data, &mut rng2).unwrap())
                        .unwrap();
                }
            }
        }
        assert_eq!(got, expected, "{algs}");
        assert_eq!(s.is_authenticated(), expected.is_some(), "{algs}");
    }
}

#[test]
fn password_and_password_change() {
    let (mut c, mut s, now) = pair(vec![ClientMethod::Password], ServerConfig::default());
    let mut ca = ClientApp {
        passwords: vec!["correct horse".into()],
        ..ClientApp::default()
    };
    let mut sa = ServerApp::default();
    let out = run(&mut c, &mut ca, &mut s, &mut sa, now);
    out.server.unwrap();
    assert!(s.is_authenticated() && c.is_authenticated());

    let (mut c, mut s, now) = pair(vec![ClientMethod::Password], ServerConfig::default());
    let mut ca = ClientApp {
        passwords: vec!["correct horse".into()],
        new_password: Some("battery staple".into()),
        ..ClientApp::default()
    };
    let mut sa = ServerApp {
        expired: true,
        ..ServerApp::default()
    };
    run(&mut c, &mut ca, &mut s, &mut sa, now).server.unwrap();
    assert!(s.is_authenticated());
    assert!(ca.events.contains(&ClientEvent::PasswordChangeRequest {
        prompt: "expired".into()
    }));
    assert!(sa.events.iter().any(|e| matches!(
        e,
        ServerEvent::VerifyPassword { new_password: Some(n), .. } if n == "battery staple"
    )));
}

#[test]
fn wrong_passwords_up_to_the_limit() {
    let config = ServerConfig::default();
    let delay = config.failure_delay;
    let (mut c, mut s, start) = pair(vec![ClientMethod::Password; 10], config);
    let mut ca = ClientApp {
        passwords: (0..10).map(|i| format!("guess {i}")).collect(),
        ..ClientApp::default()
    };
    let mut sa = ServerApp::default();
    let out = run(&mut c, &mut ca, &mut s, &mut sa, start);
    assert_eq!(out.server, Err(AuthError::TooManyAttempts));
    assert_eq!(
        AuthError::TooManyAttempts.disconnect_reason(),
        Some(DisconnectReason::NO_MORE_AUTH_METHODS_AVAILABLE)
    );
    // Six tries were checked, five FAILUREs reached the client after the
    // `none` one, each held back by the delay.
    let tries = sa
        .events
        .iter()
        .filter(|e| matches!(e, ServerEvent::VerifyPassword { .. }))
        .count();
    assert_eq!(tries, 6);
    let failures = ca
        .events
        .iter()
        .filter(|e| matches!(e, ClientEvent::Failure { .. }))
        .count();
    assert_eq!(failures, 1 + 5);
    assert!(out.now >= start + delay * 5, "failures were not delayed");
    assert!(!s.is_authenticated());
    // A failed machine stays failed.
    assert_eq!(s.handle_timeout(out.now), Err(AuthError::TooManyAttempts));
}

#[test]
fn failure_delay_and_deadline_are_deadlines() {
    let config = ServerConfig::default();
    let (delay, deadline) = (config.failure_delay, config.deadline);
    let now = Instant::now();
    let mut s = ServerAuth::new(config, SID, now);
    assert_eq!(s.poll_timeout(), Some(now + deadline));
    let bad = UserauthRequest {
        user: "alice".into(),
        service: "ssh-connection".into(),
        method: AuthMethod::Password {
            password: "x".into(),
            new_password: None,
        },
    };
    s.handle_payload(now, &bad.to_bytes()).unwrap();
    assert!(matches!(
        s.poll_event(),
        Some(ServerEvent::VerifyPassword { .. })
    ));
    s.answer_password(now, PasswordVerdict::Reject).unwrap();
    assert_eq!(s.poll_outgoing(now), None, "FAILURE must be held back");
    assert_eq!(s.poll_timeout(), Some(now + delay));
    s.handle_timeout(now + delay).unwrap();
    assert!(s.poll_outgoing(now + delay).is_some());
    assert_eq!(s.poll_timeout(), Some(now + deadline));
    // A `none` after another request counts like any failure (only a
    // first `none` is free): its FAILURE is held back too.
    let none = UserauthRequest {
        method: AuthMethod::None,
        ..bad.clone()
    };
    s.handle_payload(now + delay, &none.to_bytes()).unwrap();
    assert_eq!(s.poll_outgoing(now + delay), None);
    assert!(s.poll_outgoing(now + delay + delay).is_some());
    assert_eq!(s.handle_timeout(now + deadline), Err(AuthError::Timeout));
    assert_eq!(s.poll_timeout(), None);
    assert_eq!(
        s.handle_payload(now + deadline, &none.to_bytes()),
        Err(AuthError::Timeout)
    );
}

#[test]
fn keyboard_interactive_several_rounds() {
    let (mut c, mut s, now) = pair(
        vec![ClientMethod::KeyboardInteractive {
            submethods: String::new(),
        }],
        ServerConfig::default(),
    );
    let p = |t: &str, echo| InfoPrompt {
        prompt: t.into(),
        echo,
    };
    let mut sa = ServerApp {
        ki_rounds: vec![
            vec![p("Password: ", false)],
            vec![p("Code: ", true), p("PIN: ", false)],
        ],
        ki_expected: vec![vec!["pw".into()], vec!["123456".into(), "0000".into()]],
        ..ServerApp::default()
    };
    let mut ca = ClientApp {
        ki_answers: vec![vec!["pw".into()], vec!["123456".into(), "0000".into()]],
        ..ClientApp::default()
    };
    run(&mut c, &mut ca, &mut s, &mut sa, now).server.unwrap();
    assert!(s.is_authenticated() && c.is_authenticated());
    let info = ca
        .events
        .iter()
        .filter(|e| matches!(e, ClientEvent::InfoRequest { .. }))
        .count();
    assert_eq!(info, 2);

    // A wrong answer fails the method.
    let (mut c, mut s, now) = pair(
        vec![ClientMethod::KeyboardInteractive {
            submethods: String::new(),
        }],
        ServerConfig::default(),
    );
    sa.ki_round = 0;
    sa.events.clear();
    let mut ca = ClientApp {
        ki_answers: vec![vec!["wrong".into()]],
        ..ClientApp::default()
    };
    let out = run(&mut c, &mut ca, &mut s, &mut sa, now);
    assert_eq!(out.client, Err(AuthError::NoMoreMethods));
    assert!(!s.is_authenticated());
}

#[test]
fn partial_success_publickey_then_password() {
    let key = ed25519(5);
    let config = ServerConfig {
        required: vec![vec!["publickey".into(), "password".into()]],
        ..ServerConfig::default()
    };
    let (mut c, mut s, now) = pair(
        vec![
            ClientMethod::Password,
            ClientMethod::PublicKey(key.public().clone()),
            ClientMethod::Password,
        ],
        config,
    );
    let mut sa = ServerApp {
        approved: vec![key.public().clone()],
        ..ServerApp::default()
    };
    let mut ca = ClientApp {
        keys: vec![key],
        passwords: vec!["correct horse".into()],
        ..ClientApp::default()
    };
    run(&mut c, &mut ca, &mut s, &mut sa, now).server.unwrap();
    assert!(s.is_authenticated() && c.is_authenticated());
    // The first password is skipped (server lists only publickey); after
    // the key, a partial success lists password.
    let failures: Vec<(Vec<String>, bool)> = ca
        .events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Failure {
                methods,
                partial_success,
            } => Some((methods.names().to_vec(), *partial_success)),
            _ => None,
        })
        .collect();
    assert_eq!(
        failures,
        vec![
            (vec!["publickey".to_owned()], false),
            (vec!["password".to_owned()], true)
        ]
    );
    assert_eq!(successes(&sa.events), 1);
    assert!(matches!(
        sa.events.last(),
        Some(ServerEvent::Success { method, .. }) if method == "password"
    ));
}
