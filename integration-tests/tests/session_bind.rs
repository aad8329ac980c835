//! `ClientHandler::session_established`: the session's binding for an
//! agent (`session-bind@openssh.com`, is_forwarding false) reaches the
//! handler once, after the key exchange and before authentication.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::{Arc, Mutex};

use integration_tests::*;
use ssh_async::ssh_auth::client::ClientMethod;
use ssh_async::ssh_keys::{PublicKey, SignatureAlgorithm};
use ssh_async::{Client, ClientHandler, ClientOptions, Server, runtime};
use ssh_wire::messages::agent::SessionBind;

#[derive(Debug, PartialEq)]
enum Step {
    Bound(SessionBind),
    Password,
}

struct Recorder(Arc<Mutex<Vec<Step>>>);

impl ClientHandler for Recorder {
    async fn check_host_key(&mut self, key: &PublicKey) -> bool {
        key == host_key().public()
    }

    async fn session_established(&mut self, bind: &SessionBind) {
        self.0.lock().unwrap().push(Step::Bound(bind.clone()));
    }

    async fn password(&mut self) -> Option<String> {
        self.0.lock().unwrap().push(Step::Password);
        Some(PASSWORD.into())
    }

    async fn sign(&mut self, _: &PublicKey, _: SignatureAlgorithm, _: &[u8]) -> Option<Vec<u8>> {
        None
    }
}

#[test]
fn the_handler_gets_the_binding_before_authentication() {
    runtime::block_on(async {
        let (a, b) = duplex();
        let server = runtime::spawn(async move {
            if let Ok(conn) = Server::accept(b, server_options(), &mut Policy).await {
                let _ = serve(conn).await;
            }
        });
        let steps = Arc::new(Mutex::new(Vec::new()));
        let mut handler = Recorder(steps.clone());
        let options = ClientOptions::new("alice", vec![ClientMethod::Password]);
        let client = runtime::timeout(LIMIT, Client::connect(a, options, &mut handler))
            .await
            .expect("client timed out")
            .unwrap();
        let expected = client.session_bind(false).unwrap();
        assert!(!expected.is_forwarding);
        assert_eq!(
            *steps.lock().unwrap(),
            [Step::Bound(expected), Step::Password]
        );
        let out = client.exec_with_stdin("echo", b"hi").await.unwrap();
        assert_eq!(out.stdout, b"hi");
        assert_eq!(steps.lock().unwrap().len(), 2);
        drop(server);
    });
}
