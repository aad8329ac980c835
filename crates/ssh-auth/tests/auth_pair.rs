//! In-memory client/server pairs for every method, and the attacks the
//! state machines must refuse.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use ssh_auth::AuthError;
use ssh_auth::cert::{CertType, Certificate};
use ssh_auth::client::{ClientAuth, ClientConfig, ClientEvent, ClientMethod};
use ssh_auth::keyfile::KeyPair;
use ssh_auth::server::{
    KeyboardInteractiveAnswer, PasswordVerdict, ServerAuth, ServerConfig, ServerEvent,
};
use ssh_keys::{EcdsaCurve, KeyType, PrivateKey, PublicKey, SignatureAlgorithm, VerifyPolicy};
use ssh_wire::messages::DisconnectReason;
use ssh_wire::messages::userauth::{AuthMethod, InfoPrompt, UserauthRequest};
use ssh_wire::{Encode, NameList};

const SID: &[u8] = b"session id: exchange hash H of the first kex";

fn ed25519(seed: u8) -> PrivateKey {
    PrivateKey::from_ed25519_seed(&[seed; 32])
}

/// What the client side knows and types.
#[derive(Default)]
struct ClientApp {
    keys: Vec<PrivateKey>,
    passwords: Vec<String>,
    new_password: Option<String>,
    last_password: String,
    ki_answers: Vec<Vec<String>>,
    events: Vec<ClientEvent>,
    sig_algs: Vec<SignatureAlgorithm>,
}

/// What the server side accepts.
struct ServerApp {
    approved: Vec<PublicKey>,
    trusted_cas: Vec<PublicKey>,
    password: String,
    expired: bool,
    ki_rounds: Vec<Vec<InfoPrompt>>,
    ki_expected: Vec<Vec<String>>,
    ki_round: usize,
    events: Vec<ServerEvent>,
}

impl Default for ServerApp {
    fn default() -> Self {
        Self {
            approved: Vec::new(),
            trusted_cas: Vec::new(),
            password: "correct horse".into(),
            expired: false,
            ki_rounds: Vec::new(),
            ki_expected: Vec::new(),
            ki_round: 0,
            events: Vec::new(),
        }
    }
}

struct Outcome {
    client: Result<(), AuthError>,
    server: Result<(), AuthError>,
    now: Instant,
}

fn answer_client(c: &mut ClientAuth, app: &mut ClientApp, ev: ClientEvent, rng: &mut StdRng) {
    app.events.push(ev.clone());
    match ev {
        ClientEvent::NeedSignature {
            key,
            algorithm,
            data,
        } => {
            app.sig_algs.push(algorithm);
            let k = app.keys.iter().find(|k| k.public() == &key).unwrap();
            c.signature(k.sign(algorithm, &data, rng).unwrap()).unwrap();
        }
        ClientEvent::PasswordPrompt => {
            if app.passwords.is_empty() {
                c.skip().ok();
            } else {
                let p = app.passwords.remove(0);
                c.password(&p).unwrap();
                app.last_password = p;
            }
        }
        ClientEvent::PasswordChangeRequest { .. } => {
            let new = app.new_password.clone().unwrap();
            let old = app.last_password.clone();
            c.change_password(&old, &new).unwrap();
        }
        ClientEvent::InfoRequest { prompts, .. } => {
            let answers = app.ki_answers.remove(0);
            assert_eq!(answers.len(), prompts.len());
            c.info_response(answers).unwrap();
        }
        _ => {}
    }
}

fn answer_server(s: &mut ServerAuth, app: &mut ServerApp, now: Instant, ev: ServerEvent) {
    app.events.push(ev.clone());
    match ev {
        ServerEvent::VerifyPublicKey {
            key,
            certificate,
            user,
            ..
        } => {
            let ok = match certificate {
                Some(cert) => cert
                    .validate(
                        CertType::User,
                        &user,
                        1_800_000_000,
                        &app.trusted_cas,
                        &VerifyPolicy::default(),
                    )
                    .is_ok(),
                None => app.approved.contains(&key),
            };
            s.answer_public_key(now, ok).ok();
        }
        ServerEvent::VerifyPassword {
            password,
            new_password,
            ..
        } => {
            let verdict = if password != app.password {
                PasswordVerdict::Reject
            } else if app.expired && new_password.is_none() {
                PasswordVerdict::ChangeRequired {
                    prompt: "expired".into(),
                }
            } else {
                PasswordVerdict::Accept
            };
            s.answer_password(now, verdict).ok();
        }
        ServerEvent::KeyboardInteractive { .. } => {
            let prompts = app.ki_rounds[0].clone();
            s.answer_keyboard_interactive(
                now,
                KeyboardInteractiveAnswer::Prompts {
                    name: "n".into(),
                    instruction: "i".into(),
                    prompts,
                },
            )
            .ok();
        }
        ServerEvent::InfoResponse { responses, .. } => {
            let round = app.ki_round;
            let answer = if responses != app.ki_expected[round] {
                KeyboardInteractiveAnswer::Reject
            } else if round + 1 < app.ki_rounds.len() {
                app.ki_round += 1;
                KeyboardInteractiveAnswer::Prompts {
                    name: String::new(),
                    instruction: String::new(),
                    prompts: app.ki_rounds[round + 1].clone(),
                }
            } else {
                KeyboardInteractiveAnswer::Accept
            };
            s.answer_keyboard_interactive(now, answer).ok();
        }
        _ => {}
    }
}

/// Runs the pair until neither side has anything to do; time advances to
/// the server's timeouts (failure delays) as needed.
fn run(
    c: &mut ClientAuth,
    ca: &mut ClientApp,
    s: &mut ServerAuth,
    sa: &mut ServerApp,
    mut now: Instant,
) -> Outcome {
    let mut rng = StdRng::seed_from_u64(3);
    let mut client = Ok(());
    let mut server = Ok(());
    for _ in 0..10_000 {
        let mut progress = false;
        while let Some(ev) = c.poll_event() {
            answer_client(c, ca, ev, &mut rng);
            progress = true;
        }
        while let Some(p) = c.poll_payload() {
            progress = true;
            if let Err(e) = s.handle_payload(now, &p) {
                server = Err(e);
            }
        }
        while let Some(ev) = s.poll_event() {
            answer_server(s, sa, now, ev);
            progress = true;
        }
        while let Some(p) = s.poll_payload(now) {
            progress = true;
            if let Err(e) = c.handle_payload(&p) {
                client = Err(e);
            }
        }
        if let Err(e) = s.handle_timeout(now) {
            server = Err(e);
        }
        if server.is_err() || client.is_err() || s.is_authenticated() && c.is_authenticated() {
            break;
        }
        if !progress {
            match s.poll_timeout() {
                // Only held FAILUREs: wait for them, never the deadline.
                Some(t) if t > now && t < now + Duration::from_secs(60) => now = t,
                _ => break,
            }
        }
    }
    while let Some(ev) = c.poll_event() {
        ca.events.push(ev);
    }
    Outcome {
        client,
        server,
        now,
    }
}

fn pair(methods: Vec<ClientMethod>, config: ServerConfig) -> (ClientAuth, ServerAuth, Instant) {
    let now = Instant::now();
    let c = ClientAuth::new(ClientConfig::new("alice", methods), SID);
    let s = ServerAuth::new(config, SID, now);
    (c, s, now)
}

fn successes(ev: &[ServerEvent]) -> usize {
    ev.iter()
        .filter(|e| matches!(e, ServerEvent::Success { .. }))
        .count()
}

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
    for (algs, expected) in [
        (
            "rsa-sha2-256,ssh-ed25519",
            Some(SignatureAlgorithm::RsaSha256),
        ),
        (
            "rsa-sha2-512,rsa-sha2-256",
            Some(SignatureAlgorithm::RsaSha512),
        ),
        ("ssh-rsa,ssh-ed25519", None),
    ] {
        let (mut c, mut s, now) = pair(
            vec![ClientMethod::PublicKey(key.public().clone())],
            ServerConfig::default(),
        );
        c.set_server_sig_algs(NameList::parse(algs).unwrap());
        // Driven by hand: the RSA key is borrowed, not moved into an app.
        let mut rng2 = StdRng::seed_from_u64(1);
        let mut got = None;
        for _ in 0..20 {
            while let Some(p) = c.poll_payload() {
                s.handle_payload(now, &p).unwrap();
            }
            while let Some(ev) = s.poll_event() {
                if let ServerEvent::VerifyPublicKey { .. } = ev {
                    s.answer_public_key(now, true).unwrap();
                }
            }
            while let Some(p) = s.poll_payload(now) {
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
    assert_eq!(s.poll_payload(now), None, "FAILURE must be held back");
    assert_eq!(s.poll_timeout(), Some(now + delay));
    s.handle_timeout(now + delay).unwrap();
    assert!(s.poll_payload(now + delay).is_some());
    assert_eq!(s.poll_timeout(), Some(now + deadline));
    // `none` is answered at once and not counted.
    let none = UserauthRequest {
        method: AuthMethod::None,
        ..bad.clone()
    };
    s.handle_payload(now + delay, &none.to_bytes()).unwrap();
    assert!(s.poll_payload(now + delay).is_some());
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
    while let Some(p) = s.poll_payload(now + Duration::from_secs(1)) {
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
    assert_eq!(s.poll_payload(later).unwrap()[0], FAILURE);
    assert_eq!(s.poll_payload(later).unwrap()[0], SUCCESS);
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
    assert_eq!(s.poll_payload(now).unwrap()[0], FAILURE);
    s.handle_timeout(now + Duration::from_secs(1_000_000))
        .unwrap();
}
