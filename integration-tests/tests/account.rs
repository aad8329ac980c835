//! The server application's account check (sshd's PAM account
//! management) runs after the methods and before SUCCESS: a denied
//! account is told why in a banner and the connection ends with a
//! DISCONNECT, never a session.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use integration_tests::*;
use ssh_async::ssh_auth::server::AccountVerdict;
use ssh_async::ssh_keys::{PublicKey, SignatureAlgorithm};
use ssh_async::{Client, ClientHandler, ClientOptions, Server, ServerHandler};
use ssh_wire::messages::DisconnectReason;

const EXPIRED: &str = "Your account has expired; please contact your system administrator.\n";

/// Accepts the password; denies the account (or not), counting the
/// questions.
struct Accounts {
    deny: bool,
    asked: Arc<Mutex<Vec<String>>>,
}

impl ServerHandler for Accounts {
    async fn password(&mut self, user: &str, password: &str) -> bool {
        user == "alice" && password == PASSWORD
    }

    async fn account(&mut self, user: &str, method: &str) -> AccountVerdict {
        self.asked.lock().unwrap().push(format!("{user}/{method}"));
        if self.deny {
            AccountVerdict::Deny {
                message: EXPIRED.into(),
            }
        } else {
            AccountVerdict::Allow
        }
    }
}

/// The client: the password, and the banners it was shown.
struct Shown {
    banners: Arc<Mutex<Vec<String>>>,
}

impl ClientHandler for Shown {
    async fn check_host_key(&mut self, key: &PublicKey) -> bool {
        *key == *host_key().public()
    }

    fn banner(&mut self, message: &str) {
        self.banners.lock().unwrap().push(message.to_owned());
    }

    async fn password(&mut self) -> Option<String> {
        Some(PASSWORD.into())
    }

    async fn sign(
        &mut self,
        _key: &PublicKey,
        _algorithm: SignatureAlgorithm,
        _data: &[u8],
    ) -> Option<Vec<u8>> {
        None
    }
}

/// The client's result, the banners it saw, the server's result, the
/// account questions asked.
type Login = (
    Result<Client, ssh_async::Error>,
    Vec<String>,
    Result<(), ssh_async::Error>,
    Vec<String>,
);

fn login(deny: bool) -> Login {
    async_std::task::block_on(async_std::future::timeout(LIMIT, async move {
        let (a, b) = duplex();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let mut policy = Accounts {
            deny,
            asked: asked.clone(),
        };
        let server = async_std::task::spawn(async move {
            Server::accept(b, server_options(), &mut policy)
                .await
                .map(|_| ())
        });
        let banners = Arc::new(Mutex::new(Vec::new()));
        let mut shown = Shown {
            banners: banners.clone(),
        };
        let options = ClientOptions::new(
            "alice",
            vec![ssh_async::ssh_auth::client::ClientMethod::Password],
        );
        let client = Client::connect(a, options, &mut shown).await;
        let server = server.await;
        let banners = banners.lock().unwrap().clone();
        let asked = asked.lock().unwrap().clone();
        (client, banners, server, asked)
    }))
    .expect("timed out")
}

#[test]
fn an_allowed_account_logs_in_after_one_question() {
    let (client, banners, server, asked) = login(false);
    client.unwrap();
    server.unwrap();
    assert!(banners.is_empty());
    assert_eq!(asked, vec!["alice/password"]);
}

#[test]
fn a_denied_account_sees_why_and_the_connection_ends() {
    let (client, banners, server, asked) = login(true);
    assert_eq!(asked, vec!["alice/password"]);
    assert_eq!(banners, vec![EXPIRED.to_owned()]);
    let e = client.expect_err("the client must not log in");
    let text = e.to_string();
    assert!(
        text.contains(&format!(
            "{}",
            DisconnectReason::NO_MORE_AUTH_METHODS_AVAILABLE.0
        )) || text.contains("access denied for user alice"),
        "the client must see the DISCONNECT: {text}"
    );
    let e = server.expect_err("the server must not hand out a connection");
    assert!(
        e.to_string().contains("access denied for user alice"),
        "{e}"
    );
}

/// A client that reaches MaxAuthTries is told so with a DISCONNECT
/// (NO_MORE_AUTH_METHODS_AVAILABLE), not just a closed stream.
#[test]
fn max_auth_tries_ends_with_a_disconnect() {
    async_std::task::block_on(async_std::future::timeout(LIMIT, async move {
        let (a, b) = duplex();
        let server = async_std::task::spawn(async move {
            let mut options = server_options();
            options.auth.max_tries = 2;
            options.auth.failure_delay = std::time::Duration::ZERO;
            Server::accept(b, options, &mut Policy).await.map(|_| ())
        });
        // Wrong passwords, as many as the client is let try.
        struct Wrong;
        impl ClientHandler for Wrong {
            async fn check_host_key(&mut self, key: &PublicKey) -> bool {
                *key == *host_key().public()
            }
            async fn password(&mut self) -> Option<String> {
                Some("wrong".into())
            }
            async fn sign(
                &mut self,
                _key: &PublicKey,
                _algorithm: SignatureAlgorithm,
                _data: &[u8],
            ) -> Option<Vec<u8>> {
                None
            }
        }
        let methods = vec![ssh_async::ssh_auth::client::ClientMethod::Password; 5];
        let options = ClientOptions::new("alice", methods);
        let client = Client::connect(a, options, &mut Wrong).await;
        let e = client.expect_err("wrong passwords must not log in");
        match &e {
            ssh_async::Error::Session(ssh_async::ssh_session::Error::Transport(
                ssh_async::ssh_transport::Error::PeerDisconnected { reason, .. },
            )) => assert_eq!(*reason, DisconnectReason::NO_MORE_AUTH_METHODS_AVAILABLE),
            other => panic!("expected the server's DISCONNECT, got {other:?}"),
        }
        server.await.expect_err("the server must refuse");
    }))
    .expect("timed out");
}

/// A handler that refuses the connection (sshd's RefuseConnection) ends
/// the handshake at once with DISCONNECT HOST_NOT_ALLOWED_TO_CONNECT.
#[test]
fn a_refusing_handler_ends_the_handshake() {
    struct Refusing;
    impl ServerHandler for Refusing {
        async fn password(&mut self, _user: &str, _password: &str) -> bool {
            true
        }
        fn refused(&self) -> Option<String> {
            Some("administratively prohibited connection".into())
        }
    }
    async_std::task::block_on(async_std::future::timeout(LIMIT, async move {
        let (a, b) = duplex();
        let server = async_std::task::spawn(async move {
            Server::accept(b, server_options(), &mut Refusing)
                .await
                .map(|_| ())
        });
        let banners = Arc::new(Mutex::new(Vec::new()));
        let mut shown = Shown { banners };
        let options = ClientOptions::new(
            "alice",
            vec![ssh_async::ssh_auth::client::ClientMethod::Password],
        );
        let e = Client::connect(a, options, &mut shown)
            .await
            .expect_err("a refused connection must not log in");
        match &e {
            ssh_async::Error::Session(ssh_async::ssh_session::Error::Transport(
                ssh_async::ssh_transport::Error::PeerDisconnected {
                    reason,
                    description,
                },
            )) => {
                assert_eq!(*reason, DisconnectReason::HOST_NOT_ALLOWED_TO_CONNECT);
                assert_eq!(description, "administratively prohibited connection");
            }
            other => panic!("expected the server's DISCONNECT, got {other:?}"),
        }
        let e = server.await.expect_err("refused");
        assert!(matches!(e, ssh_async::Error::Refused(_)), "{e:?}");
    }))
    .expect("timed out");
}
