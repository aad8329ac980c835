//! A server presenting a host certificate to our client: the handler's
//! `check_host_certificate` gets it (and may refuse); a handler that does
//! not judge certificates checks the plain key, as `ssh` falls back.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::{Arc, Mutex};

use integration_tests::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use ssh_async::ssh_keys::{
    CertType, Certificate, CertificateBuilder, CertifiedKey, PrivateKey, PublicKey,
    SignatureAlgorithm,
};
use ssh_async::{Client, ClientHandler, ClientOptions, Error, Server, ServerOptions, runtime};

fn ca() -> PrivateKey {
    PrivateKey::from_ed25519_seed(&[0xca; 32])
}

fn certified_options() -> ServerOptions {
    let cert = CertificateBuilder::new(host_key().public().clone(), CertType::Host)
        .principal("host.example")
        .sign(&ca(), None, &mut StdRng::seed_from_u64(1))
        .unwrap();
    let mut o = ServerOptions::new(vec![Box::new(CertifiedKey::new(host_key(), cert).unwrap())]);
    o.auth.methods = vec!["password".into()];
    o
}

/// What the handler was asked: the key, and the certificate if any.
type Asked = Vec<(PublicKey, Option<Certificate>)>;

/// Trusts certificates signed by [`ca`] when `trust` is set; records what
/// it was asked.
struct CertJudge {
    trust: bool,
    asked: Arc<Mutex<Asked>>,
}

impl ClientHandler for CertJudge {
    async fn check_host_key(&mut self, key: &PublicKey) -> bool {
        self.asked.lock().unwrap().push((key.clone(), None));
        false
    }

    async fn check_host_certificate(&mut self, key: &PublicKey, certificate: &Certificate) -> bool {
        self.asked
            .lock()
            .unwrap()
            .push((key.clone(), Some(certificate.clone())));
        self.trust && certificate.signature_key == *ca().public()
    }

    async fn password(&mut self) -> Option<String> {
        Some(PASSWORD.into())
    }

    async fn sign(&mut self, _: &PublicKey, _: SignatureAlgorithm, _: &[u8]) -> Option<Vec<u8>> {
        None
    }
}

async fn run(trust: bool) -> (Result<Client, Error>, Asked) {
    let (a, b) = duplex();
    let server = runtime::spawn(async move {
        if let Ok(conn) = Server::accept(b, certified_options(), &mut Policy).await {
            let _ = serve(conn).await;
        }
    });
    let asked = Arc::new(Mutex::new(Vec::new()));
    let mut handler = CertJudge {
        trust,
        asked: asked.clone(),
    };
    let options = ClientOptions::new(
        "alice",
        vec![ssh_async::ssh_auth::client::ClientMethod::Password],
    );
    let client = runtime::timeout(LIMIT, Client::connect(a, options, &mut handler))
        .await
        .expect("client timed out");
    drop(server);
    let asked = asked.lock().unwrap().clone();
    (client, asked)
}

#[test]
fn the_handler_judges_the_host_certificate() {
    runtime::block_on(async {
        let (client, asked) = run(true).await;
        let client = client.unwrap();
        assert_eq!(asked.len(), 1);
        let (key, cert) = &asked[0];
        assert_eq!(key, host_key().public());
        let cert = cert.as_ref().expect("asked about the certificate");
        assert_eq!(cert.key, *key);
        assert_eq!(cert.principals, ["host.example"]);
        let out = client.exec_with_stdin("echo", b"hi").await.unwrap();
        assert_eq!(out.stdout, b"hi");
    });
}

#[test]
fn a_refused_certificate_ends_the_connection() {
    runtime::block_on(async {
        let (client, asked) = run(false).await;
        assert!(matches!(client, Err(Error::HostKeyRejected)), "{client:?}");
        assert_eq!(asked.len(), 1);
        assert!(asked[0].1.is_some());
    });
}

#[test]
fn a_simple_handler_checks_the_plain_key_of_a_certificate() {
    runtime::block_on(async {
        let (a, b) = duplex();
        let server = runtime::spawn(async move {
            if let Ok(conn) = Server::accept(b, certified_options(), &mut Policy).await {
                let _ = serve(conn).await;
            }
        });
        let (mut handler, seen) = client_handler(PASSWORD);
        let options = ClientOptions::new("alice", handler.methods());
        let client = runtime::timeout(LIMIT, Client::connect(a, options, &mut handler))
            .await
            .expect("client timed out")
            .unwrap();
        assert_eq!(
            seen.lock().unwrap().as_slice(),
            [host_key().public().clone()]
        );
        let cert = client.with_transport(|t| t.negotiated().map(|n| n.host_key.clone()));
        assert_eq!(cert.as_deref(), Some("ssh-ed25519-cert-v01@openssh.com"));
        drop(server);
    });
}
