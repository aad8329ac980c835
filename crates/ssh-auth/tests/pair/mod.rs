//! The in-memory client/server harness shared by the auth pair tests.
#![allow(
    dead_code,
    unused_imports,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
pub use std::time::{Duration, Instant};

pub use rand::SeedableRng;
pub use rand::rngs::StdRng;
pub use ssh_auth::AuthError;
pub use ssh_auth::cert::{CertType, Certificate};
pub use ssh_auth::client::{ClientAuth, ClientConfig, ClientEvent, ClientMethod};
pub use ssh_auth::keyfile::KeyPair;
pub use ssh_auth::server::{
    AccountVerdict, KeyboardInteractiveAnswer, PasswordVerdict, ServerAuth, ServerConfig,
    ServerEvent,
};
pub use ssh_keys::{EcdsaCurve, KeyType, PrivateKey, PublicKey, SignatureAlgorithm, VerifyPolicy};
pub use ssh_wire::messages::DisconnectReason;
pub use ssh_wire::messages::userauth::{AuthMethod, InfoPrompt, UserauthRequest};
pub use ssh_wire::{Encode, NameList};

pub const SID: &[u8] = b"session id: exchange hash H of the first kex";

pub fn ed25519(seed: u8) -> PrivateKey {
    PrivateKey::from_ed25519_seed(&[seed; 32])
}

/// What the client side knows and types.
#[derive(Default)]
pub struct ClientApp {
    pub keys: Vec<PrivateKey>,
    pub passwords: Vec<String>,
    pub new_password: Option<String>,
    pub last_password: String,
    pub ki_answers: Vec<Vec<String>>,
    pub events: Vec<ClientEvent>,
    pub sig_algs: Vec<SignatureAlgorithm>,
}

/// What the server side accepts.
pub struct ServerApp {
    pub approved: Vec<PublicKey>,
    pub trusted_cas: Vec<PublicKey>,
    pub password: String,
    pub expired: bool,
    pub ki_rounds: Vec<Vec<InfoPrompt>>,
    pub ki_expected: Vec<Vec<String>>,
    pub ki_round: usize,
    /// The verdict on [`ServerEvent::CheckAccount`]; `None`: leave it
    /// unanswered.
    pub account: Option<AccountVerdict>,
    pub events: Vec<ServerEvent>,
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
            account: Some(AccountVerdict::Allow),
            events: Vec::new(),
        }
    }
}

pub struct Outcome {
    pub client: Result<(), AuthError>,
    pub server: Result<(), AuthError>,
    pub now: Instant,
}

pub fn answer_client(c: &mut ClientAuth, app: &mut ClientApp, ev: ClientEvent, rng: &mut StdRng) {
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

pub fn answer_server(s: &mut ServerAuth, app: &mut ServerApp, now: Instant, ev: ServerEvent) {
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
        ServerEvent::CheckAccount { .. } => {
            if let Some(v) = app.account.clone() {
                // A denial is also the server's error (seen by `run`
                // through `handle_timeout`).
                s.answer_account(now, v).ok();
            }
        }
        _ => {}
    }
}

/// Runs the pair until neither side has anything to do; time advances to
/// the server's timeouts (failure delays) as needed.
pub fn run(
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
        while let Some(p) = c.poll_outgoing() {
            progress = true;
            if let Err(e) = s.handle_payload(now, &p) {
                server = Err(e);
            }
        }
        while let Some(ev) = s.poll_event() {
            answer_server(s, sa, now, ev);
            progress = true;
        }
        while let Some(p) = s.poll_outgoing(now) {
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

pub fn pair(methods: Vec<ClientMethod>, config: ServerConfig) -> (ClientAuth, ServerAuth, Instant) {
    let now = Instant::now();
    let c = ClientAuth::new(ClientConfig::new("alice", methods), SID);
    let s = ServerAuth::new(config, SID, now);
    (c, s, now)
}

pub fn successes(ev: &[ServerEvent]) -> usize {
    ev.iter()
        .filter(|e| matches!(e, ServerEvent::Success { .. }))
        .count()
}
