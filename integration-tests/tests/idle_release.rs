//! An idle connection gives back its buffers' memory: after
//! `IDLE_RELEASE` (5 s) without a byte either way, each side's driver
//! frees the buffers that hold nothing, once per quiet spell, and the
//! connection goes on as before. On a virtual clock, in its own test
//! binary (the count of releases is the process's).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use integration_tests::virtual_clock::{VirtualClock, settle};
use integration_tests::*;
use ssh_async::{Client, ClientOptions, Server, idle_releases, runtime};

#[test]
fn both_ends_release_their_buffers_once_per_quiet_spell_and_carry_on() {
    let clock = VirtualClock::new();
    runtime::block_on(runtime::timeout(LIMIT, async {
        let (a, b) = duplex();
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
        options.runtime = Some(rt);
        let client = Client::connect(a, options, &mut handler).await.unwrap();
        let data = stdin_data(300_000);
        let out = client.exec_with_stdin("echo", &data).await.unwrap();
        assert!(out.stdout == data);
        settle().await;

        let before = idle_releases();
        clock.advance(Duration::from_millis(4_900));
        settle().await;
        assert_eq!(idle_releases(), before, "released before 5 s of quiet");
        clock.advance(Duration::from_millis(200));
        settle().await;
        assert_eq!(idle_releases(), before + 2, "client and server, once each");
        for _ in 0..4 {
            clock.advance(Duration::from_secs(10));
            settle().await;
        }
        assert_eq!(idle_releases(), before + 2, "once per quiet spell");

        // The buffers grow again: every byte still arrives, in order.
        let out = client.exec_with_stdin("echo", &data).await.unwrap();
        assert!(out.stdout == data);
        assert_eq!(out.exit_status, Some(3));
        settle().await;
        clock.advance(Duration::from_secs(6));
        settle().await;
        assert_eq!(idle_releases(), before + 4, "a new quiet spell");

        client.disconnect().await.unwrap();
        server.await.unwrap();
    }))
    .expect("the test timed out");
}
