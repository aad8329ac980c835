//! The attacks the auth state machines must refuse, and edge cases.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod pair;

use pair::*;

/// Sends one request by hand and lets the server app approve `approved`.
fn attack(
    s: &mut ServerAuth,
    now: Instant,
    req: &UserauthRequest,
    approved: &[PublicKey],
) -> Vec<u8> {
    s.handle_payload(now, &req.to_bytes()).unwrap();
    while let Some(ev) = s.poll_event() {
        if let ServerEvent::VerifyPublicKey { key, .. } = ev {
            s.answer_public_key(now, approved.contains(&key)).unwrap();
        }
    }
    s.handle_timeout(now + Duration::from_secs(1)).unwrap();
    let mut last = Vec::new();
    while let Some(p) = s.poll_outgoing(now + Duration::from_secs(1)) {
        last = p;
    }
    last
}

fn signed_request(
    user: &str,
    claimed: &PublicKey,
    signer: &PrivateKey,
    sid: &[u8],
) -> UserauthRequest {
    let mut rng = StdRng::seed_from_u64(4);
    let mut req = UserauthRequest {
        user: user.into(),
        service: "ssh-connection".into(),
        method: AuthMethod::PublicKey {
            algorithm: "ssh-ed25519".into(),
            public_key: claimed.to_blob(),
            signature: None,
        },
    };
    let data = req.publickey_signed_data(sid).unwrap();
    let sig = signer
        .sign(SignatureAlgorithm::Ed25519, &data, &mut rng)
        .unwrap();
    if let AuthMethod::PublicKey { signature, .. } = &mut req.method {
        *signature = Some(sig);
    }
    req
}

const FAILURE: u8 = 51;
const SUCCESS: u8 = 52;
const PK_OK: u8 = 60;

#[test]
fn key_offered_is_not_key_proven() {
    let (a, b) = (ed25519(1), ed25519(2));
    let now = Instant::now();
    let approved = [a.public().clone()];

    // Query for A (approved: PK_OK), then a signature by B claiming A.
    let mut s = ServerAuth::new(ServerConfig::default(), SID, now);
    let query = UserauthRequest {
        user: "alice".into(),
        service: "ssh-connection".into(),
        method: AuthMethod::PublicKey {
            algorithm: "ssh-ed25519".into(),
            public_key: a.public().to_blob(),
            signature: None,
        },
    };
    assert_eq!(attack(&mut s, now, &query, &approved)[0], PK_OK);
    let forged = signed_request("alice", a.public(), &b, SID);
    assert_eq!(attack(&mut s, now, &forged, &approved)[0], FAILURE);
    // Then B's own signed request: B was never approved.
    let other = signed_request("alice", b.public(), &b, SID);
    assert_eq!(attack(&mut s, now, &other, &approved)[0], FAILURE);
    // A signature by A over another session's id.
    let replay = signed_request("alice", a.public(), &a, b"another session");
    assert_eq!(attack(&mut s, now, &replay, &approved)[0], FAILURE);
    assert!(!s.is_authenticated());
    // The genuine one works.
    let good = signed_request("alice", a.public(), &a, SID);
    assert_eq!(attack(&mut s, now, &good, &approved)[0], SUCCESS);
    assert!(s.is_authenticated());
}

#[test]
fn signature_by_unapproved_key_fails() {
    // A valid signature over this session by a key the application did
    // not approve: the signature is never even checked, and it fails.
    let c = ed25519(3);
    let now = Instant::now();
    let mut s = ServerAuth::new(ServerConfig::default(), SID, now);
    let req = signed_request("alice", c.public(), &c, SID);
    assert_eq!(attack(&mut s, now, &req, &[])[0], FAILURE);
    assert!(!s.is_authenticated());
}

#[test]
fn client_sent_server_messages_are_fatal() {
    let now = Instant::now();
    for payload in [
        vec![SUCCESS],
        vec![FAILURE, 0, 0, 0, 0, 0],
        vec![PK_OK],
        vec![53, 0, 0, 0, 0, 0, 0, 0, 0],
    ] {
        let mut s = ServerAuth::new(ServerConfig::default(), SID, now);
        let err = s.handle_payload(now, &payload).unwrap_err();
        assert_eq!(
            err.disconnect_reason(),
            Some(DisconnectReason::PROTOCOL_ERROR),
            "{payload:?}"
        );
        assert!(!s.is_authenticated());
        // Stays failed.
        assert_eq!(s.handle_payload(now, &payload), Err(err));
    }
}

#[test]
fn server_sent_client_messages_and_stray_replies_are_fatal() {
    let req = UserauthRequest {
        user: "x".into(),
        service: "ssh-connection".into(),
        method: AuthMethod::None,
    };
    let mut c = ClientAuth::new(ClientConfig::new("alice", vec![]), SID);
    assert!(matches!(
        c.handle_payload(&req.to_bytes()),
        Err(AuthError::Protocol { .. })
    ));
    // PK_OK while no key query is pending.
    let mut c = ClientAuth::new(ClientConfig::new("alice", vec![]), SID);
    assert!(c.handle_payload(&[PK_OK, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
    // SUCCESS after SUCCESS.
    let mut c = ClientAuth::new(ClientConfig::new("alice", vec![]), SID);
    c.handle_payload(&[SUCCESS]).unwrap();
    assert!(c.is_authenticated());
    assert!(c.handle_payload(&[SUCCESS]).is_err());
}

#[test]
fn change_of_user_and_wrong_service_are_refused() {
    let now = Instant::now();
    let mut s = ServerAuth::new(ServerConfig::default(), SID, now);
    let mut req = UserauthRequest {
        user: "alice".into(),
        service: "ssh-connection".into(),
        method: AuthMethod::None,
    };
    s.handle_payload(now, &req.to_bytes()).unwrap();
    req.user = "root".into();
    assert!(matches!(
        s.handle_payload(now, &req.to_bytes()),
        Err(AuthError::Protocol { .. })
    ));

    let mut s = ServerAuth::new(ServerConfig::default(), SID, now);
    req.service = "ssh-userauth".into();
    let err = s.handle_payload(now, &req.to_bytes()).unwrap_err();
    assert_eq!(
        err.disconnect_reason(),
        Some(DisconnectReason::SERVICE_NOT_AVAILABLE)
    );
}

#[test]
fn banner_and_api_misuse() {
    let config = ServerConfig {
        banner: Some("Authorized use only\n".into()),
        ..ServerConfig::default()
    };
    let (mut c, mut s, now) = pair(vec![ClientMethod::Password], config);
    assert_eq!(
        s.answer_password(now, PasswordVerdict::Accept),
        Err(AuthError::Misuse("no password is being verified"))
    );
    assert!(matches!(c.signature(vec![]), Err(AuthError::Misuse(_))));
    let mut ca = ClientApp {
        passwords: vec!["correct horse".into()],
        ..ClientApp::default()
    };
    let mut sa = ServerApp::default();
    run(&mut c, &mut ca, &mut s, &mut sa, now).server.unwrap();
    assert_eq!(
        ca.events.first(),
        Some(&ClientEvent::Banner {
            message: "Authorized use only\n".into(),
            language: String::new()
        })
    );
    assert!(s.is_authenticated());
}

fn fixture(path: &str) -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(path),
    )
    .unwrap()
}

#[test]
fn certificate_authentication() {
    let cert = Certificate::from_openssh(&fixture("certs/user_ecdsa256-cert.pub")).unwrap();
    let ca = PublicKey::from_openssh(&fixture("certs/ca_ed25519.pub"))
        .unwrap()
        .0;
    for (user, trusted, expect) in [
        ("alice", vec![ca.clone()], true),
        ("mallory", vec![ca.clone()], false),
        ("alice", vec![], false),
    ] {
        let key = KeyPair::from_file_text(&fixture("test-keys-DO-NOT-USE/ecdsa256"), None)
            .unwrap()
            .into_private_key();
        let now = Instant::now();
        let mut c = ClientAuth::new(
            ClientConfig::new(
                user,
                vec![ClientMethod::Certificate(Box::new(cert.clone()))],
            ),
            SID,
        );
        let mut s = ServerAuth::new(ServerConfig::default(), SID, now);
        let mut sa = ServerApp {
            trusted_cas: trusted,
            ..ServerApp::default()
        };
        let mut ca_app = ClientApp {
            keys: vec![key],
            ..ClientApp::default()
        };
        run(&mut c, &mut ca_app, &mut s, &mut sa, now);
        assert_eq!(s.is_authenticated(), expect, "{user}");
        let certs = sa
            .events
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    ServerEvent::VerifyPublicKey {
                        certificate: Some(_),
                        ..
                    }
                )
            })
            .count();
        assert!(certs >= 1);
    }
}

#[test]
fn publickey_hostbound() {
    let a = ed25519(1);
    let host_key = ed25519(9).public().to_blob();
    let now = Instant::now();
    let config = ServerConfig {
        host_key: Some(host_key.clone()),
        ..ServerConfig::default()
    };
    for (bound_to, expect) in [
        (host_key.clone(), SUCCESS),
        (b"other host".to_vec(), FAILURE),
    ] {
        let mut s = ServerAuth::new(config.clone(), SID, now);
        let mut req = UserauthRequest {
            user: "alice".into(),
            service: "ssh-connection".into(),
            method: AuthMethod::PublicKeyHostBound {
                algorithm: "ssh-ed25519".into(),
                public_key: a.public().to_blob(),
                host_key: bound_to,
                signature: None,
            },
        };
        let data = req.publickey_signed_data(SID).unwrap();
        let sig = a
            .sign(
                SignatureAlgorithm::Ed25519,
                &data,
                &mut StdRng::seed_from_u64(1),
            )
            .unwrap();
        if let AuthMethod::PublicKeyHostBound { signature, .. } = &mut req.method {
            *signature = Some(sig);
        }
        assert_eq!(attack(&mut s, now, &req, &[a.public().clone()])[0], expect);
    }
}

#[test]
fn pipelined_requests_wait_for_the_application() {
    let now = Instant::now();
    let mut s = ServerAuth::new(ServerConfig::default(), SID, now);
    let pw = |p: &str| {
        UserauthRequest {
            user: "alice".into(),
            service: "ssh-connection".into(),
            method: AuthMethod::Password {
                password: p.into(),
                new_password: None,
            },
        }
        .to_bytes()
    };
    s.handle_payload(now, &pw("wrong")).unwrap();
    s.handle_payload(now, &pw("right")).unwrap();
    let mut seen = Vec::new();
    while let Some(ServerEvent::VerifyPassword { password, .. }) = s.poll_event() {
        let verdict = if password == "right" {
            PasswordVerdict::Accept
        } else {
            PasswordVerdict::Reject
        };
        seen.push(password);
        s.answer_password(now, verdict).unwrap();
    }
    assert_eq!(seen, vec!["wrong", "right"]);
    assert!(s.is_authenticated());
    // The FAILURE (delayed) comes before the SUCCESS.
    let later = now + Duration::from_secs(1);
    assert_eq!(s.poll_outgoing(later).unwrap()[0], FAILURE);
    assert_eq!(s.poll_outgoing(later).unwrap()[0], SUCCESS);
    // Too many in flight is an error, not a growing queue.
    let mut s = ServerAuth::new(ServerConfig::default(), SID, now);
    let mut result = Ok(());
    for _ in 0..10 {
        result = result.and(s.handle_payload(now, &pw("x")));
    }
    assert!(matches!(result, Err(AuthError::Protocol { .. })));
}

#[test]
fn huge_configured_durations_do_not_overflow() {
    let now = Instant::now();
    let config = ServerConfig {
        deadline: Duration::MAX,
        failure_delay: Duration::MAX,
        ..ServerConfig::default()
    };
    let mut s = ServerAuth::new(config, SID, now);
    assert_eq!(s.poll_timeout(), None, "no representable deadline: none");
    let bad = UserauthRequest {
        user: "alice".into(),
        service: "ssh-connection".into(),
        method: AuthMethod::Password {
            password: "x".into(),
            new_password: None,
        },
    };
    s.handle_payload(now, &bad.to_bytes()).unwrap();
    s.poll_event().unwrap();
    s.answer_password(now, PasswordVerdict::Reject).unwrap();
    assert_eq!(s.poll_outgoing(now).unwrap()[0], FAILURE);
    s.handle_timeout(now + Duration::from_secs(1_000_000))
        .unwrap();
}

/// Only a first `none` is free (it asks for the method list, as every
/// client does); repeated `none` requests count toward MaxAuthTries as
/// sshd counts them, and the last one ends the connection.
#[test]
fn repeated_none_requests_count_toward_max_tries() {
    let mut now = Instant::now();
    let mut s = ServerAuth::new(ServerConfig::default(), SID, now);
    let none = UserauthRequest {
        user: "alice".into(),
        service: "ssh-connection".into(),
        method: AuthMethod::None,
    };
    // The first `none` and five more: six failures would be counted if
    // the first counted too; with max_tries 6 the sixth counted one ends.
    let mut answered = 0;
    for _ in 0..30 {
        match s.handle_payload(now, &none.to_bytes()) {
            Ok(()) => {}
            Err(e) => {
                assert_eq!(e, ssh_auth::AuthError::TooManyAttempts);
                break;
            }
        }
        now += Duration::from_secs(1);
        s.handle_timeout(now).unwrap();
        while let Some(p) = s.poll_outgoing(now) {
            assert_eq!(p[0], FAILURE);
            answered += 1;
        }
    }
    assert_eq!(answered, 6, "1 free + 5 counted FAILUREs, then the end");
}

/// Go x/crypto CVE-2024-45337: a server application that took "the last
/// key its callback was asked about" for the key that authenticated could
/// be fooled by a client offering the victim's key (a query, or a
/// signature that does not verify) next to its own. Here the key that
/// authenticated is named by [`ServerEvent::PublicKeyVerified`], sent only
/// when its signature verified, and only for that key.
#[test]
fn cve_2024_45337_go_authenticated_key_is_verified_key() {
    let (victim, attacker) = (ed25519(1), ed25519(2));
    let now = Instant::now();
    let approved = [victim.public().clone(), attacker.public().clone()];
    let mut s = ServerAuth::new(ServerConfig::default(), SID, now);
    let mut events = Vec::new();
    // One request; the application approves `approved`; the events and
    // the first byte of the last reply.
    fn send(
        s: &mut ServerAuth,
        now: Instant,
        approved: &[PublicKey],
        events: &mut Vec<ServerEvent>,
        req: &UserauthRequest,
    ) -> u8 {
        s.handle_payload(now, &req.to_bytes()).unwrap();
        while let Some(ev) = s.poll_event() {
            if let ServerEvent::VerifyPublicKey { key, .. } = &ev {
                s.answer_public_key(now, approved.contains(key)).unwrap();
            }
            events.push(ev);
        }
        s.handle_timeout(now + Duration::from_secs(1)).unwrap();
        let mut last = Vec::new();
        while let Some(p) = s.poll_outgoing(now + Duration::from_secs(1)) {
            last = p;
        }
        last[0]
    }
    let query = |key: &PublicKey| UserauthRequest {
        user: "alice".into(),
        service: "ssh-connection".into(),
        method: AuthMethod::PublicKey {
            algorithm: "ssh-ed25519".into(),
            public_key: key.to_blob(),
            signature: None,
        },
    };
    // The victim's key offered (a query the application approves), then
    // claimed with the attacker's signature: the application was asked
    // about the victim's key with a signature, and said yes.
    assert_eq!(
        send(&mut s, now, &approved, &mut events, &query(victim.public())),
        PK_OK
    );
    let forged = signed_request("alice", victim.public(), &attacker, SID);
    assert_eq!(send(&mut s, now, &approved, &mut events, &forged), FAILURE);
    assert!(events.iter().any(|e| matches!(e,
        ServerEvent::VerifyPublicKey { key, query_only: false, .. } if key == victim.public())));
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, ServerEvent::PublicKeyVerified { .. })),
        "{events:?}"
    );
    // The attacker's own key, offered after a query of the victim's again:
    // the victim's was the last one queried, the attacker's authenticates.
    assert_eq!(
        send(
            &mut s,
            now,
            &approved,
            &mut events,
            &query(attacker.public())
        ),
        PK_OK
    );
    assert_eq!(
        send(&mut s, now, &approved, &mut events, &query(victim.public())),
        PK_OK
    );
    let own = signed_request("alice", attacker.public(), &attacker, SID);
    assert_eq!(send(&mut s, now, &approved, &mut events, &own), SUCCESS);
    assert!(s.is_authenticated());
    let verified: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::PublicKeyVerified { user, key, request } => {
                Some((user.as_str(), key, request))
            }
            _ => None,
        })
        .collect();
    // The proof handed on is the request as it came, signature included.
    assert_eq!(verified, [("alice", attacker.public(), &own.to_bytes())]);
    // Told before the success it led to.
    let at = |f: &dyn Fn(&ServerEvent) -> bool| events.iter().position(f).unwrap();
    assert!(
        at(&|e| matches!(e, ServerEvent::PublicKeyVerified { .. }))
            < at(&|e| matches!(e, ServerEvent::Success { .. }))
    );
}
