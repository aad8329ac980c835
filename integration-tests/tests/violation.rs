//! A client that breaks the protocol after authentication gets a
//! DISCONNECT saying why before the server closes (RFC 4253 §11.1), as it
//! does before authentication. Found by the xtask's hostile rows: after
//! a window overflow (`hostile>rsshd:window-adjust-overflow`) or a
//! decompression bomb, `rsshd` closed the socket without one. The client
//! here is a bare transport over a blocking socket, which can send what
//! our `Client` never would.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use async_std::net::TcpListener;
use integration_tests::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use ssh_async::ssh_transport::{Config, Error as TransportError, Event, Transport};
use ssh_async::{Server, runtime};
use ssh_wire::Encode;
use ssh_wire::messages::{
    AuthMethod, ChannelOpen, ChannelType, ChannelWindowAdjust, ConnectionMessage, UserauthRequest,
};

/// The window the client grants in its CHANNEL_OPEN.
const WINDOW: u32 = 2 * 1024 * 1024;

/// Logs in with the password, opens a session, takes the server's send
/// window to 2^32 - 1 and then one byte past it; returns how the
/// connection ended: the server's DISCONNECT, or `None` for a close
/// without one.
fn overflowing_client(addr: SocketAddr) -> Option<TransportError> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(LIMIT)).unwrap();
    let rng = Box::new(StdRng::seed_from_u64(5));
    let mut t = Transport::client(Config::default(), rng).unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = Instant::now() + LIMIT;
    while Instant::now() < deadline {
        let mut out = Vec::new();
        t.poll_transmit(&mut out);
        if s.write_all(&out).is_err() {
            return None;
        }
        let n = match s.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => n,
        };
        let mut at = 0;
        while at < n {
            at += t.handle_input(Instant::now(), &buf[at..n]).unwrap();
            // Payloads, then events, again until no event came (an answer
            // to one lets the transport go on with what it holds).
            let mut more = true;
            while more {
                more = false;
                loop {
                    let payload = match t.poll_incoming() {
                        Ok(Some(p)) => p.to_vec(),
                        Ok(None) => break,
                        Err(e @ TransportError::PeerDisconnected { .. }) => return Some(e),
                        Err(e) => panic!("our transport: {e}"),
                    };
                    match payload.first() {
                        // USERAUTH_SUCCESS: a session channel.
                        Some(52) => {
                            t.set_authenticated().unwrap();
                            let open = ChannelOpen {
                                sender: 0,
                                initial_window: WINDOW,
                                max_packet: 32768,
                                channel_type: ChannelType::Session,
                            };
                            t.send_payload(&open.to_bytes()).unwrap();
                        }
                        // Confirmed: the window past 2^32 - 1.
                        Some(91) => {
                            let Ok(ConnectionMessage::OpenConfirmation(c)) =
                                ConnectionMessage::decode(&payload)
                            else {
                                panic!("not a confirmation");
                            };
                            for add in [u32::MAX - WINDOW, 1] {
                                let adjust = ChannelWindowAdjust {
                                    recipient: c.sender,
                                    bytes_to_add: add,
                                };
                                t.send_payload(&adjust.to_bytes()).unwrap();
                            }
                        }
                        _ => {}
                    }
                }
                while let Some(ev) = t.poll_event() {
                    more = true;
                    match ev {
                        Event::HostKey { .. } => t.accept_host_key().unwrap(),
                        Event::KexDone { first: true, .. } => {
                            t.request_service("ssh-userauth").unwrap();
                        }
                        Event::ServiceAccepted(_) => {
                            let req = UserauthRequest {
                                user: "alice".into(),
                                service: "ssh-connection".into(),
                                method: AuthMethod::Password {
                                    password: PASSWORD.into(),
                                    new_password: None,
                                },
                            };
                            t.send_payload(&req.to_bytes()).unwrap();
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    panic!("the connection did not end within {LIMIT:?}");
}

#[test]
fn a_window_overflow_after_authentication_gets_a_disconnect() {
    runtime::block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = runtime::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let conn = Server::accept(stream, server_options(), &mut Policy).await?;
            let mut channels = Vec::new();
            while let Some(incoming) = conn.next_channel().await {
                channels.push(incoming.accept()?);
            }
            conn.closed().await
        });
        let ended = async_std::task::spawn_blocking(move || overflowing_client(addr)).await;
        match ended {
            Some(TransportError::PeerDisconnected {
                reason,
                description,
            }) => {
                assert_eq!(reason.0, 2, "{description}");
                assert!(description.contains("window"), "{description}");
            }
            other => panic!("the server closed without a DISCONNECT: {other:?}"),
        }
        let served = runtime::timeout(Duration::from_secs(5), server).await;
        assert!(matches!(served, Some(Err(_))), "{served:?}");
    });
}
