//! The monitor's state checks, each shown refusing a worker that breaks
//! it, with real exchange hash requests from a transport pair.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use rand::SeedableRng;
use rand::rngs::StdRng;
use ssh_keys::{PrivateKey, RemoteKey, SignatureAlgorithm};
use ssh_privsep::{ConnId, Ledger, Limits, Method, Refusal};
use ssh_transport::kex::ExchangeHashRequest;
use ssh_transport::{Config, Event, HostKey, Transport};
use ssh_wire::Encode;
use ssh_wire::messages::userauth::{AuthMethod, UserauthRequest};

fn host() -> PrivateKey {
    PrivateKey::from_ed25519_seed(&[7; 32])
}

fn user_key() -> PrivateKey {
    PrivateKey::from_ed25519_seed(&[9; 32])
}

fn rng(seed: u64) -> Box<StdRng> {
    Box::new(StdRng::seed_from_u64(seed))
}

/// A client and a server (host key held "elsewhere") up to the server's
/// first signature request; `answer` also completes the exchange and
/// forces a re-key, returning the re-key's request too.
struct Exchange {
    c: Transport,
    s: Transport,
}

impl Exchange {
    fn new(seed: u64) -> Self {
        let remote = RemoteKey::new(host().public().clone(), None);
        Self {
            c: Transport::client(Config::default(), rng(seed)).unwrap(),
            s: Transport::server(
                Config::server_default(),
                vec![Box::new(remote) as HostKey],
                rng(seed + 1),
            )
            .unwrap(),
        }
    }

    /// Moves bytes until the server asks for a signature; returns the
    /// request as the monitor receives it (encoded and decoded).
    fn until_request(&mut self) -> ExchangeHashRequest {
        let now = std::time::Instant::now();
        for _ in 0..100 {
            let mut buf = Vec::new();
            self.c.poll_transmit(&mut buf);
            let mut at = 0;
            while at < buf.len() {
                at += self.s.handle_input(now, &buf[at..]).unwrap();
                while self.s.poll_incoming().unwrap().is_some() {}
            }
            while let Some(e) = self.s.poll_event() {
                if e == Event::SignExchangeHash {
                    let bytes = self.s.exchange_hash_request().unwrap().encode();
                    return ExchangeHashRequest::decode(&bytes).unwrap();
                }
            }
            let mut buf = Vec::new();
            self.s.poll_transmit(&mut buf);
            let mut at = 0;
            while at < buf.len() {
                at += self.c.handle_input(now, &buf[at..]).unwrap();
                while self.c.poll_incoming().unwrap().is_some() {}
                while let Some(e) = self.c.poll_event() {
                    if let Event::HostKey { .. } = e {
                        self.c.accept_host_key().unwrap();
                    }
                }
            }
        }
        panic!("no signature request");
    }

    fn answer(&mut self, request: &ExchangeHashRequest) {
        let sig = request.sign(&host(), &mut *rng(5)).unwrap();
        self.s.answer_exchange_hash_signature(sig).unwrap();
    }
}

/// A connection of `ledger` past its first exchange, with its request.
fn started(ledger: &mut Ledger, conn: ConnId, seed: u64) -> (Exchange, ExchangeHashRequest) {
    let mut x = Exchange::new(seed);
    let request = x.until_request();
    ledger.sign_exchange_hash(conn, &request).unwrap();
    (x, request)
}

fn signed_publickey(session_id: &[u8], user: &str) -> Vec<u8> {
    let key = user_key();
    let mut request = UserauthRequest {
        user: user.into(),
        service: "ssh-connection".into(),
        method: AuthMethod::PublicKey {
            algorithm: "ssh-ed25519".into(),
            public_key: key.public().to_blob(),
            signature: None,
        },
    };
    let data = request.publickey_signed_data(session_id).unwrap();
    let sig = key
        .sign(SignatureAlgorithm::Ed25519, &data, &mut *rng(3))
        .unwrap();
    if let AuthMethod::PublicKey { signature, .. } = &mut request.method {
        *signature = Some(sig);
    }
    request.to_bytes()
}

#[test]
fn the_first_exchange_sets_the_session_id_once() {
    let mut ledger = Ledger::default();
    let conn = ConnId(1);
    let (mut x, first) = started(&mut ledger, conn, 10);
    assert_eq!(ledger.session_id(conn), Some(&first.exchange_hash()[..]));
    // The signature the monitor makes is over that H and completes the
    // exchange.
    x.answer(&first);
    // A worker that presents another "first" exchange for the same
    // connection (to change the session id) is refused, and the
    // connection is forgotten.
    let other = Exchange::new(20).until_request();
    assert_eq!(
        ledger.sign_exchange_hash(conn, &other),
        Err(Refusal::SecondFirstExchange)
    );
    assert!(ledger.session_id(conn).is_none());
}

#[test]
fn a_rekey_needs_the_first_exchange() {
    let mut ledger = Ledger::default();
    let conn = ConnId(1);
    let (mut x, first) = started(&mut ledger, conn, 10);
    x.answer(&first);
    let mut now = std::time::Instant::now();
    // Finish the first exchange, then re-key.
    for _ in 0..4 {
        let mut buf = Vec::new();
        x.s.poll_transmit(&mut buf);
        x.c.handle_input(now, &buf).unwrap();
        while x.c.poll_incoming().unwrap().is_some() {}
        while let Some(e) = x.c.poll_event() {
            if let Event::HostKey { .. } = e {
                x.c.accept_host_key().unwrap();
            }
        }
        let mut buf = Vec::new();
        x.c.poll_transmit(&mut buf);
        x.s.handle_input(now, &buf).unwrap();
        while x.s.poll_incoming().unwrap().is_some() {}
        now += std::time::Duration::from_millis(1);
    }
    assert!(x.s.is_established() && x.c.is_established());
    x.c.set_authenticated().unwrap();
    x.s.set_authenticated().unwrap();
    x.c.force_rekey().unwrap();
    let rekey = x.until_request();
    assert!(!rekey.first());
    // On another connection number (unknown to the ledger): refused.
    assert_eq!(
        ledger.sign_exchange_hash(ConnId(2), &rekey),
        Err(Refusal::UnknownConnection)
    );
    // On its own: allowed, and the session id stays the first H.
    ledger.sign_exchange_hash(conn, &rekey).unwrap();
    assert_eq!(ledger.session_id(conn), Some(&first.exchange_hash()[..]));

    // Handed over to a user's session process, whose ledger adopts it:
    // its re-keys are signed there, never a second first exchange, and
    // no authentication is asked for it.
    let mut session = Ledger::default();
    let moved = ConnId(40);
    session
        .adopt(moved, first.exchange_hash(), "alice")
        .unwrap();
    session.sign_exchange_hash(moved, &rekey).unwrap();
    assert_eq!(session.session_id(moved), Some(&first.exchange_hash()[..]));
    assert_eq!(
        session.password(moved, "alice"),
        Err(Refusal::AlreadyHandedOver)
    );
    session
        .adopt(moved, first.exchange_hash(), "alice")
        .unwrap();
    assert_eq!(
        session.sign_exchange_hash(moved, &first),
        Err(Refusal::SecondFirstExchange)
    );
    assert_eq!(session.adopt(moved, first.exchange_hash(), "alice"), Ok(()));
    assert_eq!(
        session.adopt(moved, first.exchange_hash(), "alice"),
        Err(Refusal::SecondFirstExchange)
    );
    assert_eq!(
        session.sign_exchange_hash(moved, &rekey),
        Err(Refusal::UnknownConnection)
    );
}

#[test]
fn authentication_before_the_key_exchange_is_refused() {
    let mut ledger = Ledger::default();
    assert_eq!(
        ledger.password(ConnId(3), "alice"),
        Err(Refusal::NoSessionYet)
    );
    assert_eq!(
        ledger.query_public_key(ConnId(3), "alice"),
        Err(Refusal::NoSessionYet)
    );
    assert_eq!(
        ledger.public_key_proof(ConnId(3), &signed_publickey(b"x", "alice")),
        Err(Refusal::NoSessionYet)
    );
}

#[test]
fn the_user_cannot_change() {
    let mut ledger = Ledger::default();
    let conn = ConnId(1);
    started(&mut ledger, conn, 10);
    ledger.password(conn, "alice").unwrap();
    ledger.record(conn, Method::Password, false);
    assert_eq!(
        ledger.password(conn, "root"),
        Err(Refusal::UserChanged {
            was: "alice".into(),
            now: "root".into()
        })
    );
    assert!(ledger.session_id(conn).is_none(), "forgotten");
}

#[test]
fn failed_attempts_are_counted_by_the_monitor() {
    let mut ledger = Ledger::new(Limits {
        max_attempts: 3,
        ..Limits::default()
    });
    let conn = ConnId(1);
    started(&mut ledger, conn, 10);
    for _ in 0..3 {
        ledger.password(conn, "alice").unwrap();
        ledger.record(conn, Method::Password, false);
    }
    assert_eq!(
        ledger.password(conn, "alice"),
        Err(Refusal::TooManyAttempts)
    );
}

#[test]
fn a_publickey_signature_is_checked_over_the_monitors_session_id() {
    let mut ledger = Ledger::default();
    let conn = ConnId(1);
    let (_x, first) = started(&mut ledger, conn, 10);
    let session_id = first.exchange_hash();
    // Signed over the real session id: verifies against the data the
    // monitor builds.
    let proof = ledger
        .public_key_proof(conn, &signed_publickey(&session_id, "alice"))
        .unwrap();
    assert_eq!(proof.user, "alice");
    let key = ssh_keys::PublicKey::from_blob(&proof.key).unwrap();
    key.verify(
        SignatureAlgorithm::Ed25519,
        &proof.signed_data,
        &proof.signature,
    )
    .unwrap();
    // Signed over another session id (a signature replayed from another
    // connection): it does not verify against the monitor's data.
    let proof = ledger
        .public_key_proof(conn, &signed_publickey(b"another session", "alice"))
        .unwrap();
    assert!(
        key.verify(
            SignatureAlgorithm::Ed25519,
            &proof.signed_data,
            &proof.signature
        )
        .is_err()
    );
}

#[test]
fn only_a_signed_publickey_request_for_ssh_connection_is_verified() {
    let mut ledger = Ledger::default();
    let (_x, first) = started(&mut ledger, ConnId(1), 10);
    let sid = first.exchange_hash();
    let unsigned = UserauthRequest {
        user: "alice".into(),
        service: "ssh-connection".into(),
        method: AuthMethod::PublicKey {
            algorithm: "ssh-ed25519".into(),
            public_key: user_key().public().to_blob(),
            signature: None,
        },
    }
    .to_bytes();
    let password = UserauthRequest {
        user: "alice".into(),
        service: "ssh-connection".into(),
        method: AuthMethod::Password {
            password: "x".into(),
            new_password: None,
        },
    }
    .to_bytes();
    let mut other_service = signed_publickey(&sid, "alice");
    // "ssh-connection" -> "ssh-connectiom": same length, other service.
    let at = other_service
        .windows(14)
        .position(|w| w == b"ssh-connection")
        .unwrap();
    other_service[at + 13] = b'm';
    let mut trailing = signed_publickey(&sid, "alice");
    trailing.push(0);
    for (i, bad) in [unsigned, password, other_service, trailing, vec![50]]
        .iter()
        .enumerate()
    {
        let conn = ConnId(100 + i as u32);
        started(&mut ledger, conn, 30 + i as u64 * 2);
        assert_eq!(
            ledger.public_key_proof(conn, bad),
            Err(Refusal::NotASignedPublicKeyRequest),
            "case {i}"
        );
    }
}

#[test]
fn a_hand_over_needs_the_proofs_the_monitor_verified() {
    let mut ledger = Ledger::default();
    let conn = ConnId(1);
    started(&mut ledger, conn, 10);
    // Claimed without any proof: refused, and forgotten.
    assert_eq!(
        ledger.hand_over(conn, "alice", &[]),
        Err(Refusal::NotAuthenticated)
    );
    assert!(ledger.session_id(conn).is_none());

    started(&mut ledger, conn, 12);
    ledger.password(conn, "alice").unwrap();
    ledger.record(conn, Method::Password, true);
    // For another user than the one proven: refused.
    assert_eq!(
        ledger.hand_over(conn, "root", &[]),
        Err(Refusal::NotAuthenticated)
    );

    started(&mut ledger, conn, 14);
    ledger.password(conn, "alice").unwrap();
    ledger.record(conn, Method::Password, true);
    // AuthenticationMethods publickey,password: the password is not enough.
    let both = [vec![Method::PublicKey, Method::Password]];
    assert_eq!(
        ledger.hand_over(conn, "alice", &both),
        Err(Refusal::NotAuthenticated)
    );

    started(&mut ledger, conn, 16);
    ledger.query_public_key(conn, "alice").unwrap();
    ledger.record(conn, Method::PublicKey, true);
    ledger.password(conn, "alice").unwrap();
    ledger.record(conn, Method::Password, true);
    ledger.hand_over(conn, "alice", &both).unwrap();
    // Once only.
    assert_eq!(
        ledger.hand_over(conn, "alice", &both),
        Err(Refusal::AlreadyHandedOver)
    );
}

#[test]
fn connections_per_worker_are_bounded() {
    let mut ledger = Ledger::new(Limits {
        max_connections: 2,
        ..Limits::default()
    });
    started(&mut ledger, ConnId(1), 10);
    started(&mut ledger, ConnId(2), 12);
    let third = Exchange::new(14).until_request();
    assert_eq!(
        ledger.sign_exchange_hash(ConnId(3), &third),
        Err(Refusal::TooManyConnections)
    );
    ledger.closed(ConnId(1));
    ledger.sign_exchange_hash(ConnId(3), &third).unwrap();
    assert_eq!(ledger.len(), 2);
}

#[test]
fn a_sign_request_crosses_as_a_frame() {
    let request = Exchange::new(40).until_request();
    let h = request.exchange_hash();
    let frame = ssh_privsep::Request::SignExchangeHash {
        conn: ConnId(4),
        request: Box::new(request),
    }
    .encode();
    let mut reader = ssh_privsep::FrameReader::default();
    reader.push(&frame);
    let body = reader.next_frame().unwrap().unwrap();
    let ssh_privsep::Request::SignExchangeHash { conn, request } =
        ssh_privsep::Request::decode(&body).unwrap()
    else {
        panic!("another request");
    };
    assert_eq!(conn, ConnId(4));
    assert_eq!(request.exchange_hash(), h);
}
