//! `PermitRemoteOpen` on remote dynamic forwards and
//! `StreamLocalBindUnlink` on local Unix-socket listeners.

#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod forward_common;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use ssh_client_kit::{Dispatcher, Listeners};
use ssh_config::client::RemoteOpenPermits;
use ssh_config::forward::Endpoint;
use ssh_wire::messages::ChannelType;

use forward_common::*;

fn forwarded(port: u32) -> ChannelType {
    ChannelType::ForwardedTcpip {
        address: "localhost".into(),
        port,
        originator_address: "192.0.2.1".into(),
        originator_port: 5555,
    }
}

/// A SOCKS5 CONNECT to 127.0.0.1 `port` on a new `forwarded-tcpip`
/// channel: the reply, or what came before the channel ended.
async fn socks_connect(conn: &ssh_async::ServerConnection, port: u16) -> Vec<u8> {
    let ch = conn.open_channel(forwarded(1080)).await.unwrap();
    let (mut r, mut w) = (ch.reader(), ch.writer());
    let p = port.to_be_bytes();
    w.write_all(&[5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, p[0], p[1]])
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0; 12];
    while got.len() < 12 {
        match r.read(&mut buf[..12 - got.len()]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got
}

#[test]
fn permit_remote_open_limits_remote_dynamic_destinations() {
    block(async {
        let (client, conn) = start().await;
        let allowed = echo_server().await;
        let other = echo_server().await;
        let d = Dispatcher::start(&client);
        d.permit_remote_open(
            RemoteOpenPermits::from_config(&[format!("127.0.0.1:{allowed}")]).unwrap(),
        );
        d.request_remote(
            &Endpoint::Tcp {
                bind: None,
                port: 1080,
            },
            None,
        )
        .await
        .unwrap();
        // The permitted destination: SOCKS succeeds.
        assert_eq!(
            socks_connect(&conn, allowed).await,
            [5, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0]
        );
        // Another: the channel closes without a reply, as ssh closes it.
        assert_eq!(socks_connect(&conn, other).await, [5, 0]);
        // `none`: nothing.
        d.permit_remote_open(RemoteOpenPermits::from_config(&["none".into()]).unwrap());
        assert_eq!(socks_connect(&conn, allowed).await, [5, 0]);
    });
}

#[test]
fn stream_local_bind_unlink_replaces_a_stale_socket() {
    block(async {
        let dir = temp_dir("unlink");
        let path = dir.join("l.sock");
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        let listen = Endpoint::Unix(path.clone());
        // No: the bind fails, as ssh's does.
        let e = Listeners::bind_with(&listen, false, false)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
        // Yes: the stale socket goes and the listener binds.
        let l = Listeners::bind_with(&listen, false, true).await.unwrap();
        assert_eq!(l.unix_path(), Some(path.as_path()));
        drop(l);
        // A file of another kind is never removed.
        let file = dir.join("plain");
        std::fs::write(&file, b"keep").unwrap();
        assert!(
            Listeners::bind_with(&Endpoint::Unix(file.clone()), false, true)
                .await
                .is_err()
        );
        assert_eq!(std::fs::read(&file).unwrap(), b"keep");
        let _ = std::fs::remove_dir_all(&dir);
    });
}
