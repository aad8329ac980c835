//! The session and the async driver on a virtual clock: every deadline
//! the driver keeps comes from the runtime's clock, so a test moves time
//! and sees exactly what happens when, in no real time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use integration_tests::virtual_clock::{VirtualClock, settle};
use integration_tests::*;
use ssh_async::{Client, ClientOptions, ConnectionError, Error, Server, runtime, ssh_session};

/// ServerAliveInterval 15 s, ServerAliveCountMax 3: after the network
/// goes away, three probes go unanswered at 15, 30 and 45 s, and the
/// connection ends at 60 s, not a moment before; while the network was
/// there, a quiet minute kept the connection.
#[test]
fn keepalive_gives_up_after_exactly_the_count_of_intervals() {
    let clock = VirtualClock::new();
    runtime::block_on(runtime::timeout(LIMIT, async {
        let (a, b) = duplex();
        let gone = Arc::new(AtomicBool::new(false));
        let hole = Hole {
            inner: a,
            gone: gone.clone(),
        };
        let rt: Arc<dyn ssh_async::runtime::Runtime> = Arc::new(clock.clone());
        let server_rt = rt.clone();
        let server = runtime::spawn(async move {
            let mut o = server_options();
            o.runtime = Some(server_rt);
            let conn = Server::accept(b, o, &mut Policy).await?;
            serve(conn).await
        });
        let (mut handler, _) = client_handler(PASSWORD);
        let mut options = ClientOptions::new("alice", handler.methods());
        options.keepalive = Some((Duration::from_secs(15), 3));
        options.runtime = Some(rt);
        let client = Client::connect(hole, options, &mut handler).await.unwrap();
        let closed = client.clone();
        let mut ended = runtime::spawn(async move { closed.closed().await });

        // A quiet minute with the network there: probes are answered.
        for _ in 0..8 {
            clock.advance(Duration::from_millis(7_500));
            settle().await;
        }
        assert!(
            futures::poll!(&mut ended).is_pending(),
            "the connection ended while the peer answered"
        );
        let out = client.exec("other").await.unwrap();
        assert_eq!(out.exit_status, Some(127));

        // The network goes away.
        gone.store(true, Ordering::SeqCst);
        settle().await;
        for second in 1..=59 {
            clock.advance(Duration::from_secs(1));
            settle_briefly().await;
            assert!(
                futures::poll!(&mut ended).is_pending(),
                "ended after {second} s"
            );
        }
        clock.advance(Duration::from_secs(1));
        let r = runtime::timeout(Duration::from_secs(5), ended)
            .await
            .expect("not ended 60 s after the network went");
        assert!(
            matches!(
                r,
                Err(Error::Connection(ConnectionError::Session(
                    ssh_session::Error::KeepaliveTimeout { missed: 3 }
                )))
            ),
            "{r:?}"
        );
        drop(server);
    }))
    .expect("timed out");
}

/// A shorter settle for the per-second steps.
async fn settle_briefly() {
    runtime::sleep(Duration::from_millis(5)).await;
}
