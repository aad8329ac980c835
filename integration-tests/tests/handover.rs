//! Privilege separation through the async layer: a server whose host key
//! is held by a "monitor" (an `ExchangeHashSigner` that signs only the
//! exchange hash it computes from the request), stopped at
//! USERAUTH_SUCCESS and resumed in another "process" with the stream and
//! the state; the client sees one ordinary connection, re-keys included.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::future::BoxFuture;
use integration_tests::{
    LIMIT, MIB, PASSWORD, Policy, check, client_handler, duplex, host_key, serve, server_options,
    stdin_data,
};
use ssh_async::ssh_keys::{RemoteKey, Signer};
use ssh_async::ssh_transport::kex::ExchangeHashRequest;
use ssh_async::{Client, ClientOptions, Error, ExchangeHashSigner, Server, ServerOptions, runtime};

/// The monitor's part, in process: decode, compute H, sign with the key
/// the exchange names (refusing any other).
struct Monitor {
    signed: Arc<AtomicUsize>,
}

impl ExchangeHashSigner for Monitor {
    fn sign(
        &self,
        request: zeroize::Zeroizing<Vec<u8>>,
    ) -> BoxFuture<'static, Result<Vec<u8>, String>> {
        let signed = self.signed.clone();
        Box::pin(async move {
            let request = ExchangeHashRequest::decode(&request).map_err(|e| e.to_string())?;
            let sig = request
                .sign(&host_key(), &mut rand::rng())
                .map_err(|e| e.to_string())?;
            signed.fetch_add(1, Ordering::SeqCst);
            Ok(sig)
        })
    }
}

/// The worker's options: only the public half of the host key.
fn remote_options(signed: &Arc<AtomicUsize>) -> ServerOptions {
    let remote = RemoteKey::new(host_key().public_key().clone(), None);
    let mut o = ServerOptions::new(vec![Box::new(remote)]);
    o.auth.methods = vec!["password".into()];
    o.exchange_hash_signer = Some(Arc::new(Monitor {
        signed: signed.clone(),
    }));
    o
}

#[test]
fn a_connection_authenticated_in_one_process_is_served_by_another() {
    let signed = Arc::new(AtomicUsize::new(0));
    let signed2 = signed.clone();
    runtime::block_on(async move {
        let (a, b) = duplex();
        let server = runtime::spawn(async move {
            // The worker: up to SUCCESS.
            let handed =
                Server::accept_for_hand_over(b, remote_options(&signed2), &mut Policy).await?;
            assert_eq!(handed.user, "alice");
            // The session process: the stream and the state.
            let state = ssh_async::ssh_transport::TransportState::decode(&handed.state.encode())
                .map_err(|e| Error::Session(e.into()))?;
            let mut o = remote_options(&signed2);
            o.transport.rekey.bytes = Some(256 * 1024);
            let conn = Server::resume(handed.stream, o, state, handed.user).await?;
            assert_eq!(conn.user(), "alice");
            serve(conn).await
        });
        let work = async {
            let (mut handler, seen) = client_handler(PASSWORD);
            let options = ClientOptions::new("alice", handler.methods());
            let client = Client::connect(a, options, &mut handler).await.unwrap();
            assert_eq!(*seen.lock().unwrap(), vec![host_key().public().clone()]);
            let data = stdin_data(2 * MIB);
            let first = client.exec_with_stdin("echo", &data).await.unwrap();
            let second = client.exec("nonsense").await.unwrap();
            check(&[first, second], 2 * MIB);
            // The session process re-keyed by volume, each time signed by
            // the monitor.
            let kexes = client.with_transport(|t| t.kex_count());
            assert!(kexes >= 3, "only {kexes} key exchanges");
            client.disconnect().await.unwrap();
            kexes
        };
        let kexes = runtime::timeout(LIMIT, work).await.expect("timed out");
        let served = runtime::timeout(LIMIT, server)
            .await
            .expect("server timed out");
        assert!(served.is_ok(), "{served:?}");
        assert_eq!(
            signed.load(Ordering::SeqCst) as u64,
            kexes,
            "one signature per exchange"
        );
    });
}

#[test]
fn a_remote_host_key_without_a_signer_ends_the_key_exchange() {
    runtime::block_on(async {
        let (a, b) = duplex();
        let server = runtime::spawn(async move {
            let mut o = server_options();
            let remote = RemoteKey::new(host_key().public_key().clone(), None);
            o.host_keys = vec![Box::new(remote)];
            Server::accept(b, o, &mut Policy).await.map(|_| ())
        });
        let (mut handler, _) = client_handler(PASSWORD);
        let options = ClientOptions::new("alice", handler.methods());
        let client = runtime::timeout(LIMIT, Client::connect(a, options, &mut handler))
            .await
            .expect("timed out");
        let e = client.expect_err("no signature, no connection");
        let text = e.to_string();
        assert!(text.contains("key exchange"), "{text}");
        let served = runtime::timeout(LIMIT, server).await.expect("timed out");
        assert!(
            matches!(served, Err(Error::HostKeySignature(_))),
            "{served:?}"
        );
    });
}
