//! Our client against our server over real loopback TCP and an in-memory
//! duplex pipe: password authentication, `exec` with 1 MiB of stdin
//! echoed back, stderr kept apart, the exit status; a wrong password.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;
use std::time::Duration;

use async_std::net::{TcpListener, TcpStream};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use integration_tests::*;
use ssh_async::ssh_transport;
use ssh_async::{
    Client, ClientOptions, ConnectionError, Error, Server, SimpleHandler, runtime, ssh_session,
};
use ssh_wire::messages::DisconnectReason;

#[test]
fn exec_over_loopback_tcp() {
    exec_over_tcp(MIB);
}

/// Three times the default 2 MiB channel window each way: the transfer
/// only completes if both sides re-open the window as data is read.
#[test]
fn exec_beyond_the_channel_window_over_tcp() {
    exec_over_tcp(6 * MIB);
}

fn exec_over_tcp(len: u32) {
    runtime::block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = runtime::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            accept_and_serve(stream).await
        });
        let stream = TcpStream::connect(addr).await.unwrap();
        let outs = runtime::timeout(LIMIT, client_side(stream, len))
            .await
            .expect("client timed out");
        check(&outs, len);
        let served = runtime::timeout(LIMIT, server)
            .await
            .expect("server timed out");
        assert!(served.is_ok(), "{served:?}");
    });
}

#[test]
fn exec_over_in_memory_duplex() {
    runtime::block_on(async {
        let (a, b) = duplex();
        let server = runtime::spawn(accept_and_serve(b));
        let outs = runtime::timeout(LIMIT, client_side(a, MIB))
            .await
            .expect("client timed out");
        check(&outs, MIB);
        let served = runtime::timeout(LIMIT, server)
            .await
            .expect("server timed out");
        assert!(served.is_ok(), "{served:?}");
    });
}

#[test]
fn wrong_password_fails_cleanly() {
    runtime::block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = runtime::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            Server::accept(stream, server_options(), &mut Policy)
                .await
                .map(|_| ())
        });
        let stream = TcpStream::connect(addr).await.unwrap();
        let start = runtime::now();
        let (result, _) = runtime::timeout(LIMIT, connect(stream, "wrong"))
            .await
            .expect("client timed out");
        // The server holds back the FAILURE for `failure_delay` (100 ms by
        // default): the driver's timer, not input, released it.
        assert!(start.elapsed() >= Duration::from_millis(100));
        match result {
            Err(Error::Session(ssh_async::ssh_session::Error::Auth(e))) => {
                assert_eq!(e, ssh_auth_no_more_methods(), "{e:?}");
            }
            other => panic!("expected an authentication failure, got {other:?}"),
        }
        // The client said why it left before dropping the stream.
        let served = runtime::timeout(LIMIT, server)
            .await
            .expect("server timed out");
        assert_peer_disconnected(served, DisconnectReason::NO_MORE_AUTH_METHODS_AVAILABLE);
    });
}

#[test]
fn rejected_host_key_stops_the_client() {
    runtime::block_on(async {
        let (a, b) = duplex();
        let server = runtime::spawn(async move {
            Server::accept(b, server_options(), &mut Policy)
                .await
                .map(|_| ())
        });
        let mut handler = SimpleHandler {
            host_key_check: Box::new(|_| false),
            password: Some(PASSWORD.into()),
            keys: Vec::new(),
        };
        let options = ClientOptions::new("alice", handler.methods());
        let result = runtime::timeout(LIMIT, Client::connect(a, options, &mut handler))
            .await
            .expect("client timed out");
        assert!(matches!(result, Err(Error::HostKeyRejected)), "{result:?}");
        let served = runtime::timeout(LIMIT, server)
            .await
            .expect("server timed out");
        assert_peer_disconnected(served, DisconnectReason::HOST_KEY_NOT_VERIFIABLE);
    });
}

fn ssh_auth_no_more_methods() -> ssh_async::ssh_session::ssh_auth::AuthError {
    ssh_async::ssh_session::ssh_auth::AuthError::NoMoreMethods
}

/// The server's accept ended because the client sent DISCONNECT with
/// `reason`.
fn assert_peer_disconnected(served: Result<(), Error>, reason: DisconnectReason) {
    match served {
        Err(Error::Session(ssh_async::ssh_session::Error::Transport(
            ssh_transport::Error::PeerDisconnected { reason: r, .. },
        ))) => assert_eq!(r, reason),
        other => panic!("expected a DISCONNECT from the client, got {other:?}"),
    }
}

/// A peer that is not an SSH server: the client ends with a clean error,
/// never a hang.
#[test]
fn a_peer_that_is_not_ssh_gives_clean_errors() {
    runtime::block_on(async {
        // A few lines, then the stream closes: the peer left.
        let (a, mut b) = duplex();
        b.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            .await
            .unwrap();
        // Closes b's sending side only: what the client writes is still
        // taken.
        b.close().await.unwrap();
        let (result, seen) = runtime::timeout(LIMIT, connect(a, PASSWORD))
            .await
            .expect("client timed out");
        assert!(
            matches!(
                result,
                Err(Error::Connection(ConnectionError::StreamClosed))
            ),
            "{result:?}"
        );
        assert!(seen.lock().unwrap().is_empty());
        drop(b);

        // An endless line: the version line bound is a protocol error.
        let (a, mut b) = duplex();
        b.write_all(&[b'x'; 64 * 1024]).await.unwrap();
        let (result, _) = runtime::timeout(LIMIT, connect(a, PASSWORD))
            .await
            .expect("client timed out");
        match result {
            Err(Error::Session(e)) => assert!(e.is_protocol_violation(), "{e:?}"),
            other => panic!("expected a protocol error, got {other:?}"),
        }
        drop(b);
    });
}

/// Ten sessions at once on one connection (sshd's and our MaxSessions):
/// nine commands run while the tenth channel is never read; its window
/// fills, the others finish, each with its own data; then the stalled
/// one is read to its end too.
#[test]
fn ten_sessions_at_once_with_one_stalled() {
    runtime::block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = runtime::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            accept_and_serve(stream).await
        });
        let stream = TcpStream::connect(addr).await.unwrap();
        let work = async {
            let (client, _) = connect(stream, PASSWORD).await;
            let client = client.unwrap();
            // The stalled one: 5 MiB echoed, more than one window.
            let stalled = client.open_session().await.unwrap();
            stalled.exec("echo").await.unwrap();
            let big = stdin_data(5 * MIB);
            let mut w = stalled.writer();
            let feeder = {
                let big = big.clone();
                async move {
                    w.write_all(&big).await.unwrap();
                    w.close().await.unwrap();
                }
            };
            let feeder = runtime::spawn(feeder);
            let runs = (0..9u32).map(|i| {
                let client = client.clone();
                async move {
                    let data = stdin_data(1000 * (i + 1));
                    let out = client.exec_with_stdin("echo", &data).await.unwrap();
                    assert!(out.stdout == data, "channel {i}: stdout differs");
                    assert_eq!(out.exit_status, Some(3));
                }
            });
            futures::future::join_all(runs).await;
            let mut got = Vec::new();
            stalled.reader().read_to_end(&mut got).await.unwrap();
            feeder.await;
            assert!(got == big, "the stalled channel's data differs");
            let exit = stalled.wait_closed().await.unwrap();
            assert_eq!(exit, Some(ssh_async::ExitStatus::Code(3)));
            client.disconnect().await.unwrap();
        };
        runtime::timeout(LIMIT, work).await.expect("timed out");
        let served = runtime::timeout(LIMIT, server)
            .await
            .expect("server timed out");
        assert!(served.is_ok(), "{served:?}");
    });
}

/// A request the server refuses comes back as an error naming it; the
/// channel and the connection go on.
#[test]
fn a_refused_request_is_an_error_and_the_connection_goes_on() {
    runtime::block_on(async {
        let (a, b) = duplex();
        let server = runtime::spawn(accept_and_serve(b));
        let work = async {
            let (client, _) = connect(a, PASSWORD).await;
            let client = client.unwrap();
            let ch = client.open_session().await.unwrap();
            let r = ch.shell().await;
            assert!(matches!(r, Err(Error::RequestRefused("shell"))), "{r:?}");
            ch.exec("echo").await.unwrap();
            ch.send_eof().unwrap();
            let mut out = Vec::new();
            ch.reader().read_to_end(&mut out).await.unwrap();
            assert_eq!(
                ch.wait_closed().await.unwrap(),
                Some(ssh_async::ExitStatus::Code(3))
            );
            let out = client.exec("other").await.unwrap();
            assert_eq!(out.exit_status, Some(127));
            client.disconnect().await.unwrap();
        };
        runtime::timeout(LIMIT, work).await.expect("timed out");
        let served = runtime::timeout(LIMIT, server)
            .await
            .expect("server timed out");
        assert!(served.is_ok(), "{served:?}");
    });
}

/// Keepalive probes: answered ones keep a quiet connection up; when the
/// peer vanishes without closing, the client gives up after the count.
#[test]
fn keepalives_keep_quiet_connections_and_detect_dead_peers() {
    runtime::block_on(async {
        let (a, b) = duplex();
        let gone = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let hole = Hole {
            inner: a,
            gone: gone.clone(),
        };
        let server = runtime::spawn(accept_and_serve(b));
        let work = async {
            let (mut handler, _) = client_handler(PASSWORD);
            let mut options = ClientOptions::new("alice", handler.methods());
            options.keepalive = Some((Duration::from_millis(100), 3));
            let client = Client::connect(hole, options, &mut handler).await.unwrap();
            // Quiet for ten intervals: the server answers every probe.
            runtime::sleep(Duration::from_millis(1000)).await;
            let out = client.exec("other").await.unwrap();
            assert_eq!(out.exit_status, Some(127));
            // The network goes away.
            gone.store(true, std::sync::atomic::Ordering::SeqCst);
            let start = runtime::now();
            let r = client.closed().await;
            let waited = start.elapsed();
            assert!(
                matches!(
                    r,
                    Err(Error::Connection(ConnectionError::Session(
                        ssh_session::Error::KeepaliveTimeout { missed: 3 }
                    )))
                ),
                "{r:?}"
            );
            // Three probes unanswered, then the fourth interval ends it.
            assert!(waited >= Duration::from_millis(300), "{waited:?}");
            assert!(waited < Duration::from_secs(3), "{waited:?}");
        };
        runtime::timeout(LIMIT, work).await.expect("timed out");
        drop(server);
    });
}

/// The API's futures run on another executor (the `futures` crate's
/// single-thread one here): only the driver tasks use async-std's. The
/// handles then act on another thread than the driver's, at any moment of
/// its poll; several connections in a row make a lost wake-up likely to
/// show (a `disconnect` asked between two of the driver's steps was lost
/// about once in 300 connections, and the client waited for ever).
#[test]
fn the_api_runs_on_another_executor() {
    for _ in 0..25 {
        futures::executor::block_on(async {
            let (a, b) = duplex();
            let server = std::thread::spawn(move || {
                futures::executor::block_on(runtime::timeout(LIMIT, accept_and_serve(b)))
            });
            let outs = runtime::timeout(LIMIT, client_side(a, 100_000))
                .await
                .expect("the client timed out");
            check(&outs, 100_000);
            let served = server.join().unwrap().expect("the server timed out");
            assert!(served.is_ok(), "{served:?}");
        });
    }
}

/// A re-key every 256 KiB (both sides' limit) while 4 MiB go each way:
/// channel data waits during each exchange and nothing stalls or is lost.
#[test]
fn rekeys_every_256_kib_during_a_transfer() {
    // Both sides start exchanges of their own, sometimes at once.
    let server_limit = Some(256 * 1024);
    let client_limit = Some(256 * 1024);
    runtime::block_on(async {
        let (a, b) = duplex();
        let server = runtime::spawn(async move {
            let mut o = server_options();
            o.transport.rekey.bytes = server_limit;
            let conn = Server::accept(b, o, &mut Policy).await?;
            serve(conn).await
        });
        let work = async {
            let (mut handler, _) = client_handler(PASSWORD);
            let mut options = ClientOptions::new("alice", handler.methods());
            options.transport.rekey.bytes = client_limit;
            let client = Client::connect(a, options, &mut handler).await.unwrap();
            let data = stdin_data(4 * MIB);
            let out = client.exec_with_stdin("echo", &data).await.unwrap();
            assert!(out.stdout == data, "stdout differs");
            assert_eq!(out.exit_status, Some(3));
            // Many exchanges (both sides start them, sometimes at once,
            // and one exchange then serves both).
            let kexes = client.with_transport(|t| t.kex_count());
            assert!(kexes >= 5, "only {kexes} key exchanges");
            client.disconnect().await.unwrap();
        };
        runtime::timeout(LIMIT, work).await.expect("timed out");
        let served = runtime::timeout(LIMIT, server)
            .await
            .expect("server timed out");
        assert!(served.is_ok(), "{served:?}");
    });
}
