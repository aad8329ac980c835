//! [`SftpSession`] against a scripted server in this process: an
//! `ssh_async::Server` on loopback whose `sftp` subsystem is a fake that
//! answers READDIR with as many names as the test asks.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use ssh_async::runtime::{
    self,
    net::{TcpListener, TcpStream},
};
use ssh_async::ssh_keys::PrivateKey;
use ssh_async::{ClientOptions, Server, ServerHandler, ServerOptions, SimpleHandler};
use ssh_sftp::{Packet, PacketReader, Response, SFTP_VERSION};
use ssh_wire::messages::ChannelRequestKind;

use super::*;

const LIMIT: Duration = Duration::from_secs(60);

/// Names in one NAME reply: 13 bytes each ("f", an empty long name, no
/// attributes), so a reply stays under the 256 KiB packet limit.
const PER_REPLY: usize = 20_000;

/// What the fake server saw.
#[derive(Default)]
struct Seen {
    readdirs: AtomicUsize,
    closes: AtomicUsize,
}

struct Anyone;
impl ServerHandler for Anyone {
    async fn password(&mut self, _user: &str, password: &str) -> bool {
        password == "pw"
    }
}

fn block<F: std::future::Future<Output = ()>>(f: F) {
    runtime::block_on(async { runtime::timeout(LIMIT, f).await.expect("timed out") });
}

fn names(n: usize) -> Vec<NameEntry> {
    vec![
        NameEntry {
            filename: b"f".to_vec(),
            longname: Vec::new(),
            attrs: Attrs::new(),
        };
        n
    ]
}

/// The fake server's reply to `request`: a directory of `total` names,
/// [`PER_REPLY`] to a READDIR; `sent`: names listed so far.
fn answer(request: Request, total: usize, sent: &mut usize, seen: &Seen) -> Response {
    match request {
        Request::Opendir { .. } => Response::Handle(Handle(b"dir".to_vec())),
        Request::Readdir { .. } => {
            seen.readdirs.fetch_add(1, Ordering::Relaxed);
            let n = PER_REPLY.min(total - *sent);
            if n == 0 {
                return Response::status(StatusCode::EOF);
            }
            *sent += n;
            Response::Name(names(n))
        }
        Request::Close { .. } => {
            seen.closes.fetch_add(1, Ordering::Relaxed);
            Response::status(StatusCode::OK)
        }
        _ => Response::status(StatusCode::OP_UNSUPPORTED),
    }
}

/// Serves the scripted SFTP server on `ch` until the client goes.
async fn fake_sftp(ch: ssh_async::Channel, total: usize, seen: Arc<Seen>) {
    while let Some(req) = ch.next_request().await {
        let sftp = matches!(&req.kind, ChannelRequestKind::Subsystem { name } if name == "sftp");
        ch.reply(&req, sftp).unwrap();
        if sftp {
            break;
        }
    }
    let (mut reader, mut writer) = (ch.reader(), ch.writer());
    let mut frames = PacketReader::default();
    let mut buf = vec![0; 64 * 1024];
    let mut sent = 0;
    loop {
        let n = reader.read(&mut buf).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        frames.handle_input(&buf[..n]);
        let mut out = Vec::new();
        while let Some(body) = frames.poll_packet().unwrap() {
            let reply = match Packet::decode(body).unwrap() {
                Packet::Init { .. } => Packet::Version {
                    version: SFTP_VERSION,
                    extensions: Vec::new(),
                },
                Packet::Request { id, request } => Packet::Response {
                    id,
                    response: answer(request, total, &mut sent, &seen),
                },
                p => panic!("the client sent {p:?}"),
            };
            reply.encode(&mut out).unwrap();
        }
        if writer.write_all(&out).await.is_err() {
            return;
        }
    }
}

/// A connection to a server whose `sftp` subsystem lists `total` names
/// for any directory, and a session on it.
async fn session(total: usize) -> (SshClient, SftpSession, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let server_seen = seen.clone();
    drop(runtime::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let key = PrivateKey::from_ed25519_seed(&[5; 32]);
        let opts = ServerOptions::new(vec![Box::new(key)]);
        let conn = Server::accept(stream, opts, &mut Anyone).await.unwrap();
        if let Some(incoming) = conn.next_channel().await {
            fake_sftp(incoming.accept().unwrap(), total, server_seen).await;
        }
    }));
    let stream = TcpStream::connect(addr).await.unwrap();
    let mut handler = SimpleHandler {
        host_key_check: Box::new(|_| true),
        keys: Vec::new(),
        password: Some("pw".into()),
    };
    let options = ClientOptions::new("me", handler.methods());
    let ssh = SshClient::connect(stream, options, &mut handler)
        .await
        .unwrap();
    let sftp = SftpSession::start(&ssh, ClientConfig::default())
        .await
        .unwrap();
    (ssh, sftp, seen)
}

#[test]
fn listing_of_exactly_max_listing_entries_is_kept() {
    block(async {
        let (_ssh, mut sftp, seen) = session(MAX_LISTING).await;
        let all = sftp.list(b"/big").await.unwrap();
        assert_eq!(all.len(), MAX_LISTING);
        assert_eq!(seen.closes.load(Ordering::Relaxed), 1);
    });
}

#[test]
fn listing_longer_than_max_listing_is_an_error() {
    block(async {
        // Twice the bound stands for a server that never says EOF (and
        // keeps the test's memory bounded should the check go).
        let (_ssh, mut sftp, seen) = session(2 * MAX_LISTING).await;
        let err = sftp.list(b"/long").await.unwrap_err();
        assert!(
            err.to_string().contains(&format!(
                "directory listing longer than {MAX_LISTING} entries"
            )),
            "{err}"
        );
        // The reply that crossed the bound was the last one asked for,
        // and the handle was closed.
        assert_eq!(
            seen.readdirs.load(Ordering::Relaxed),
            MAX_LISTING / PER_REPLY + 1
        );
        assert_eq!(seen.closes.load(Ordering::Relaxed), 1);
        // The session is still in step: the next request gets its own
        // reply.
        let err = sftp.stat(b"/long").await.unwrap_err();
        assert_eq!(err.code(), Some(StatusCode::OP_UNSUPPORTED));
    });
}
