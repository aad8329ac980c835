//! Our client against our server over real loopback TCP and an in-memory
//! duplex pipe: password authentication, `exec` with 1 MiB of stdin
//! echoed back, stderr kept apart, the exit status; a wrong password.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use async_std::net::{TcpListener, TcpStream};
use futures::io::{AsyncRead, AsyncWrite};
use ssh_async::ssh_keys::{PrivateKey, PublicKey};
use ssh_async::{Client, ClientOptions, Error, ExecOutput, Server, ServerOptions, runtime};
use ssh_wire::messages::DisconnectReason;

const LIMIT: Duration = Duration::from_secs(30);
const PASSWORD: &str = "correct horse";

fn host_key() -> PrivateKey {
    PrivateKey::from_ed25519_seed(&[7; 32])
}

fn server_options() -> ServerOptions {
    ServerOptions {
        host_keys: vec![Box::new(host_key())],
        password_check: Box::new(|user, password| user == "alice" && password == PASSWORD),
        exec: Box::new(|command, stdin| {
            if command == "echo" {
                (stdin.to_vec(), b"to stderr".to_vec(), 3)
            } else {
                (Vec::new(), format!("unknown: {command}").into_bytes(), 127)
            }
        }),
    }
}

fn client_options(password: &str) -> (ClientOptions, Arc<Mutex<Vec<PublicKey>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let options = ClientOptions {
        user: "alice".into(),
        host_key_check: Box::new(move |key| {
            seen2.lock().unwrap().push(key.clone());
            *key == *host_key().public()
        }),
        password: Some(password.into()),
        keys: Vec::new(),
    };
    (options, seen)
}

const MIB: u32 = 1024 * 1024;

fn stdin_data(len: u32) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

async fn client_side<S: AsyncRead + AsyncWrite + Unpin>(stream: S, len: u32) -> Vec<ExecOutput> {
    let (options, seen) = client_options(PASSWORD);
    let mut client = Client::connect(stream, options).await.unwrap();
    assert_eq!(*seen.lock().unwrap(), vec![host_key().public().clone()]);
    let data = stdin_data(len);
    let first = client.exec_with_stdin("echo", &data).await.unwrap();
    // A second command on the same connection.
    let second = client.exec("nonsense").await.unwrap();
    client.disconnect().await.unwrap();
    vec![first, second]
}

fn check(outs: &[ExecOutput], len: u32) {
    let data = stdin_data(len);
    assert_eq!(outs[0].stdout.len(), data.len());
    assert!(outs[0].stdout == data, "stdout differs from stdin");
    assert_eq!(outs[0].stderr, b"to stderr");
    assert_eq!(outs[0].exit_status, Some(3));
    assert_eq!(outs[1].stdout, b"");
    assert_eq!(outs[1].stderr, b"unknown: nonsense");
    assert_eq!(outs[1].exit_status, Some(127));
}

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
            let server = Server::accept(stream, server_options()).await.unwrap();
            assert_eq!(server.user(), "alice");
            server.serve().await
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

/// One direction of an in-memory pipe, unbounded.
#[derive(Default)]
struct Pipe {
    buf: VecDeque<u8>,
    closed: bool,
    reader: Option<Waker>,
}

/// One end of an in-memory duplex stream.
struct End {
    rx: Arc<Mutex<Pipe>>,
    tx: Arc<Mutex<Pipe>>,
}

fn duplex() -> (End, End) {
    let a = Arc::new(Mutex::new(Pipe::default()));
    let b = Arc::new(Mutex::new(Pipe::default()));
    (
        End {
            rx: a.clone(),
            tx: b.clone(),
        },
        End { rx: b, tx: a },
    )
}

impl AsyncRead for End {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut p = self.rx.lock().unwrap();
        if p.buf.is_empty() {
            if p.closed {
                return Poll::Ready(Ok(0));
            }
            p.reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = buf.len().min(p.buf.len());
        for (d, s) in buf.iter_mut().zip(p.buf.drain(..n)) {
            *d = s;
        }
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for End {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut p = self.tx.lock().unwrap();
        if p.closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        p.buf.extend(buf);
        if let Some(w) = p.reader.take() {
            w.wake();
        }
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut p = self.tx.lock().unwrap();
        p.closed = true;
        if let Some(w) = p.reader.take() {
            w.wake();
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for End {
    fn drop(&mut self) {
        for pipe in [&self.tx, &self.rx] {
            let mut p = pipe.lock().unwrap();
            p.closed = true;
            if let Some(w) = p.reader.take() {
                w.wake();
            }
        }
    }
}

#[test]
fn exec_over_in_memory_duplex() {
    runtime::block_on(async {
        let (a, b) = duplex();
        let server = runtime::spawn(async move {
            let server = Server::accept(b, server_options()).await.unwrap();
            server.serve().await
        });
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
            Server::accept(stream, server_options()).await.map(|_| ())
        });
        let stream = TcpStream::connect(addr).await.unwrap();
        let (options, _) = client_options("wrong");
        let start = runtime::now();
        let result = runtime::timeout(LIMIT, Client::connect(stream, options))
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
        let server =
            runtime::spawn(async move { Server::accept(b, server_options()).await.map(|_| ()) });
        let options = ClientOptions {
            user: "alice".into(),
            host_key_check: Box::new(|_| false),
            password: Some(PASSWORD.into()),
            keys: Vec::new(),
        };
        let result = runtime::timeout(LIMIT, Client::connect(a, options))
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
    use futures::io::AsyncWriteExt;
    runtime::block_on(async {
        // A few lines, then the stream closes: the peer left.
        let (a, mut b) = duplex();
        b.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            .await
            .unwrap();
        // Closes b's sending side only: what the client writes is still
        // taken.
        b.close().await.unwrap();
        let (options, seen) = client_options(PASSWORD);
        let result = runtime::timeout(LIMIT, Client::connect(a, options))
            .await
            .expect("client timed out");
        assert!(matches!(result, Err(Error::Disconnected)), "{result:?}");
        assert!(seen.lock().unwrap().is_empty());
        drop(b);

        // An endless line: the version line bound is a protocol error.
        let (a, mut b) = duplex();
        b.write_all(&[b'x'; 64 * 1024]).await.unwrap();
        let (options, _) = client_options(PASSWORD);
        let result = runtime::timeout(LIMIT, Client::connect(a, options))
            .await
            .expect("client timed out");
        match result {
            Err(Error::Session(e)) => assert!(e.is_protocol_violation(), "{e:?}"),
            other => panic!("expected a protocol error, got {other:?}"),
        }
        drop(b);
    });
}
