//! Global requests both ways and channels opened by the server: what
//! forwarding is built on.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use ssh_async::runtime::net::{TcpListener, TcpStream};
use ssh_async::ssh_keys::PrivateKey;
use ssh_async::ssh_wire::messages::{ChannelType, GlobalRequestKind};
use ssh_async::{
    Client, ClientOptions, Error, GlobalReply, Server, ServerConnection, ServerHandler,
    ServerOptions, SimpleHandler, runtime,
};

const LIMIT: Duration = Duration::from_secs(30);

struct Anyone;

impl ServerHandler for Anyone {
    async fn password(&mut self, _user: &str, _password: &str) -> bool {
        true
    }
}

/// A server (global requests handed out or not) and a client to it.
async fn pair(global_requests: bool) -> (ServerConnection, Client) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = runtime::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let key = PrivateKey::from_ed25519_seed(&[5; 32]);
        let mut o = ServerOptions::new(vec![Box::new(key)]);
        o.auth.methods = vec!["password".into()];
        o.global_requests = global_requests;
        Server::accept(stream, o, &mut Anyone).await.unwrap()
    });
    let stream = TcpStream::connect(addr).await.unwrap();
    let mut h = SimpleHandler {
        host_key_check: Box::new(|_| true),
        keys: Vec::new(),
        password: Some("pw".into()),
    };
    let client = Client::connect(stream, ClientOptions::new("u", h.methods()), &mut h)
        .await
        .unwrap();
    (server.await, client)
}

fn forward(port: u32) -> GlobalRequestKind {
    GlobalRequestKind::TcpipForward {
        address: "localhost".into(),
        port,
    }
}

#[test]
fn global_requests_reach_the_server_and_answers_come_back_in_order() {
    runtime::block_on(runtime::timeout(LIMIT, async {
        let (server, client) = pair(true).await;
        let answers = runtime::spawn({
            let server = server.clone();
            async move {
                let mut seen = Vec::new();
                // The first is held until the second arrived: answers
                // must still go out in request order.
                let first = server.next_global_request().await.unwrap();
                let second = server.next_global_request().await.unwrap();
                seen.push(first.request.clone());
                seen.push(second.request.clone());
                assert!(second.wants_reply());
                second.reject().unwrap();
                first.accept(GlobalReply::BoundPort(4321)).unwrap();
                // no-more-sessions is the connection's business; the
                // cancel comes next and, dropped unanswered, is refused.
                let third = server.next_global_request().await.unwrap();
                seen.push(third.request.clone());
                drop(third);
                seen
            }
        });
        let c2 = client.clone();
        let (a, b) = futures::join!(client.global_request(forward(0)), async {
            runtime::sleep(Duration::from_millis(50)).await;
            c2.global_request(forward(22)).await
        });
        assert_eq!(a.unwrap(), GlobalReply::BoundPort(4321));
        assert_eq!(b.unwrap(), GlobalReply::Failure);
        client
            .send_global_request(GlobalRequestKind::NoMoreSessions)
            .unwrap();
        let d = client
            .global_request(GlobalRequestKind::CancelTcpipForward {
                address: "localhost".into(),
                port: 4321,
            })
            .await
            .unwrap();
        assert_eq!(d, GlobalReply::Failure);
        let seen = answers.await;
        assert_eq!(
            seen,
            vec![
                forward(0),
                forward(22),
                GlobalRequestKind::CancelTcpipForward {
                    address: "localhost".into(),
                    port: 4321,
                }
            ]
        );
    }))
    .expect("timed out");
}

#[test]
fn without_global_requests_the_server_refuses_them_all() {
    runtime::block_on(runtime::timeout(LIMIT, async {
        let (server, client) = pair(false).await;
        assert_eq!(
            client.global_request(forward(0)).await.unwrap(),
            GlobalReply::Failure
        );
        // The connection goes on.
        assert_eq!(
            client.global_request(forward(1)).await.unwrap(),
            GlobalReply::Failure
        );
        client.disconnect().await.unwrap();
        assert!(server.next_global_request().await.is_none());
    }))
    .expect("timed out");
}

#[test]
fn the_server_opens_channels_the_client_takes_once_it_asked() {
    runtime::block_on(runtime::timeout(LIMIT, async {
        let (server, client) = pair(true).await;
        let kind = ChannelType::ForwardedTcpip {
            address: "localhost".into(),
            port: 4321,
            originator_address: "127.0.0.1".into(),
            originator_port: 5555,
        };
        // The client takes no channels yet: refused, connection goes on.
        let r = server.open_channel(kind.clone()).await;
        assert!(matches!(r, Err(Error::ChannelOpenFailed { .. })), "{r:?}");
        let taker = runtime::spawn({
            let client = client.clone();
            async move {
                let incoming = client.next_channel().await.unwrap();
                let t = incoming.channel_type.clone();
                let mut ch = incoming.accept().unwrap();
                let mut buf = Vec::new();
                ch.read_to_end(&mut buf).await.unwrap();
                ch.write_all(&buf).await.unwrap();
                ch.send_eof().unwrap();
                (t, buf)
            }
        });
        // The first call of next_channel may come after our open.
        let mut ch = loop {
            match server.open_channel(kind.clone()).await {
                Ok(ch) => break ch,
                Err(_) => runtime::sleep(Duration::from_millis(20)).await,
            }
        };
        ch.write_all(b"through the forward").await.unwrap();
        ch.send_eof().unwrap();
        let mut back = Vec::new();
        ch.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, b"through the forward");
        let (t, got) = taker.await;
        assert_eq!(t, kind);
        assert_eq!(got, b"through the forward");
    }))
    .expect("timed out");
}

#[test]
fn a_request_given_up_before_its_answer_leaves_later_answers_right() {
    runtime::block_on(runtime::timeout(LIMIT, async {
        let (server, client) = pair(true).await;
        let answers = runtime::spawn({
            let server = server.clone();
            async move {
                let first = server.next_global_request().await.unwrap();
                // Answered only after the client gave up waiting.
                runtime::sleep(Duration::from_millis(200)).await;
                first.accept(GlobalReply::BoundPort(1111)).unwrap();
                let second = server.next_global_request().await.unwrap();
                second.accept(GlobalReply::BoundPort(2222)).unwrap();
            }
        });
        let gave_up =
            runtime::timeout(Duration::from_millis(50), client.global_request(forward(0))).await;
        assert!(gave_up.is_none());
        runtime::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            client.global_request(forward(0)).await.unwrap(),
            GlobalReply::BoundPort(2222)
        );
        answers.await;
    }))
    .expect("timed out");
}
