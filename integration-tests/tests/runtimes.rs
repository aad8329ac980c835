//! The same exchange on every runtime the library supports: a server and
//! a client in memory, both on the runtime under test (named in their
//! options), authentication, `exec` with 1 MiB of stdin echoed back,
//! stderr, the exit status, a second command, a clean disconnect.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;

use integration_tests::*;
use ssh_async::runtime::{AsyncStd, Runtime, Smol, Tokio};
use ssh_async::{Client, ClientOptions, Error, Server};

/// Serves channels one after the other (no spawning: the only tasks are
/// the drivers, spawned through `rt`).
async fn server(stream: End, rt: Arc<dyn Runtime>) -> Result<(), Error> {
    let mut options = server_options();
    options.runtime = Some(rt);
    let conn = Server::accept(stream, options, &mut Policy).await?;
    while let Some(incoming) = conn.next_channel().await {
        serve_channel(incoming.accept()?).await?;
    }
    conn.closed().await
}

async fn client(stream: End, rt: Arc<dyn Runtime>) -> Vec<ssh_async::ExecOutput> {
    let (mut handler, _) = client_handler(PASSWORD);
    let mut options = ClientOptions::new("alice", handler.methods());
    options.runtime = Some(rt);
    let client = Client::connect(stream, options, &mut handler)
        .await
        .unwrap();
    let data = stdin_data(MIB);
    let first = client.exec_with_stdin("echo", &data).await.unwrap();
    let second = client.exec("nonsense").await.unwrap();
    client.disconnect().await.unwrap();
    vec![first, second]
}

/// Both sides, joined.
async fn exchange(rt: Arc<dyn Runtime>) {
    let (a, b) = duplex();
    let (served, outs) = futures::join!(server(b, rt.clone()), client(a, rt));
    check(&outs, MIB);
    assert!(matches!(served, Ok(())), "{served:?}");
}

#[test]
fn on_async_std() {
    async_std::task::block_on(async_std::future::timeout(
        LIMIT,
        exchange(Arc::new(AsyncStd)),
    ))
    .expect("timed out");
}

#[test]
fn on_smol() {
    smol::block_on(async {
        let limit = async {
            smol::Timer::after(LIMIT).await;
            panic!("timed out");
        };
        futures::future::select(Box::pin(exchange(Arc::new(Smol))), Box::pin(limit)).await;
    });
}

#[test]
fn on_tokio() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        tokio::time::timeout(LIMIT, exchange(Arc::new(Tokio::current().unwrap())))
            .await
            .expect("timed out");
    });
}

/// Inside a Tokio runtime, with no runtime named, connections run on it:
/// the default is Tokio's even with the async-std feature on.
#[test]
fn the_default_inside_tokio_is_tokio() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let picked = ssh_async::runtime::default_runtime().unwrap();
        assert!(format!("{picked:?}").starts_with("Tokio"), "{picked:?}");
    });
    let outside = ssh_async::runtime::default_runtime().unwrap();
    assert_eq!(format!("{outside:?}"), "AsyncStd");
}
