//! What the cross-crate tests share: an in-memory duplex stream (and one
//! that can turn into a black hole), a test server answering `exec`, a
//! client handler, and a runtime on a virtual clock ([`virtual_clock`]).
//!
//! The tests themselves are in `tests/`: our client against our server
//! over loopback and in memory, every runtime feature, the driver on a
//! virtual clock, channel wake-ups.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

pub mod virtual_clock;

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use ssh_async::ssh_keys::{PrivateKey, PublicKey};
use ssh_async::{
    Channel, Client, ClientOptions, Error, ExecOutput, Server, ServerConnection, ServerHandler,
    ServerOptions, SimpleHandler, runtime,
};
use ssh_wire::messages::ChannelRequestKind;

pub const LIMIT: Duration = Duration::from_secs(30);
pub const PASSWORD: &str = "correct horse";

pub fn host_key() -> PrivateKey {
    PrivateKey::from_ed25519_seed(&[7; 32])
}

pub struct Policy;

impl ServerHandler for Policy {
    async fn password(&mut self, user: &str, password: &str) -> bool {
        user == "alice" && password == PASSWORD
    }
}

pub fn server_options() -> ServerOptions {
    let mut o = ServerOptions::new(vec![Box::new(host_key())]);
    o.auth.methods = vec!["password".into()];
    o
}

/// Accepts, then answers every `exec` on every session channel: `echo`
/// sends stdin back with "to stderr" on stderr and status 3; anything
/// else writes "unknown: <command>" on stderr, status 127.
pub async fn accept_and_serve<S>(stream: S) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let conn = Server::accept(stream, server_options(), &mut Policy).await?;
    assert_eq!(conn.user(), "alice");
    serve(conn).await
}

pub async fn serve(conn: ServerConnection) -> Result<(), Error> {
    while let Some(incoming) = conn.next_channel().await {
        let ch = incoming.accept()?;
        drop(runtime::spawn(async move {
            let _ = serve_channel(ch).await;
        }));
    }
    conn.closed().await
}

pub async fn serve_channel(ch: Channel) -> Result<(), Error> {
    while let Some(req) = ch.next_request().await {
        let ChannelRequestKind::Exec { command } = &req.kind else {
            ch.reply(&req, false)?;
            continue;
        };
        ch.reply(&req, true)?;
        let command = String::from_utf8_lossy(command).into_owned();
        let mut stdin = Vec::new();
        ch.reader().read_to_end(&mut stdin).await?;
        let (out, err, status) = if command == "echo" {
            (stdin, b"to stderr".to_vec(), 3)
        } else {
            (Vec::new(), format!("unknown: {command}").into_bytes(), 127)
        };
        ch.writer().write_all(&out).await?;
        ch.stderr_writer().write_all(&err).await?;
        ch.exit_status(status).await?;
        ch.send_eof()?;
        ch.close()?;
    }
    Ok(())
}

pub fn client_handler(password: &str) -> (SimpleHandler, Arc<Mutex<Vec<PublicKey>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let handler = SimpleHandler {
        host_key_check: Box::new(move |key| {
            seen2.lock().unwrap().push(key.clone());
            *key == *host_key().public()
        }),
        password: Some(password.into()),
        keys: Vec::new(),
    };
    (handler, seen)
}

pub async fn connect<S>(
    stream: S,
    password: &str,
) -> (Result<Client, Error>, Arc<Mutex<Vec<PublicKey>>>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut handler, seen) = client_handler(password);
    let options = ClientOptions::new("alice", handler.methods());
    (Client::connect(stream, options, &mut handler).await, seen)
}

pub const MIB: u32 = 1024 * 1024;

/// A connected client/server pair in memory; `serve` runs on the server's
/// first channel once its `exec` request came (with the command).
pub async fn exec_pair<F, Fut>(serve: F) -> Client
where
    F: FnOnce(Channel, String) -> Fut + Send + 'static,
    Fut: core::future::Future<Output = Result<(), Error>> + Send + 'static,
{
    let (a, b) = duplex();
    drop(runtime::spawn(async move {
        let conn = Server::accept(b, server_options(), &mut Policy).await?;
        let ch = conn
            .next_channel()
            .await
            .ok_or(Error::ChannelGone)?
            .accept()?;
        while let Some(req) = ch.next_request().await {
            if let ChannelRequestKind::Exec { command } = &req.kind {
                ch.reply(&req, true)?;
                let command = String::from_utf8_lossy(command).into_owned();
                serve(ch, command).await?;
                break;
            }
            ch.reply(&req, false)?;
        }
        conn.closed().await
    }));
    let (mut handler, _) = client_handler(PASSWORD);
    let options = ClientOptions::new("alice", handler.methods());
    Client::connect(a, options, &mut handler).await.unwrap()
}

pub fn stdin_data(len: u32) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

pub async fn client_side<S>(stream: S, len: u32) -> Vec<ExecOutput>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (client, seen) = connect(stream, PASSWORD).await;
    let client = client.unwrap();
    assert_eq!(*seen.lock().unwrap(), vec![host_key().public().clone()]);
    let data = stdin_data(len);
    let first = client.exec_with_stdin("echo", &data).await.unwrap();
    // A second command on the same connection.
    let second = client.exec("nonsense").await.unwrap();
    client.disconnect().await.unwrap();
    vec![first, second]
}

pub fn check(outs: &[ExecOutput], len: u32) {
    let data = stdin_data(len);
    assert_eq!(outs[0].stdout.len(), data.len());
    assert!(outs[0].stdout == data, "stdout differs from stdin");
    assert_eq!(outs[0].stderr, b"to stderr");
    assert_eq!(outs[0].exit_status, Some(3));
    assert_eq!(outs[1].stdout, b"");
    assert_eq!(outs[1].stderr, b"unknown: nonsense");
    assert_eq!(outs[1].exit_status, Some(127));
}

/// One direction of an in-memory pipe, unbounded.
#[derive(Default)]
pub struct Pipe {
    buf: VecDeque<u8>,
    closed: bool,
    reader: Option<Waker>,
}

/// One end of an in-memory duplex stream.
pub struct End {
    rx: Arc<Mutex<Pipe>>,
    tx: Arc<Mutex<Pipe>>,
}

pub fn duplex() -> (End, End) {
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

/// A stream that can turn into a black hole: writes vanish, reads wait
/// forever, as a peer whose network went away without a FIN.
pub struct Hole {
    /// The stream underneath.
    pub inner: End,
    /// Once set, the network is gone.
    pub gone: Arc<std::sync::atomic::AtomicBool>,
}

impl AsyncRead for Hole {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if self.gone.load(std::sync::atomic::Ordering::SeqCst) {
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Hole {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.gone.load(std::sync::atomic::Ordering::SeqCst) {
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}
