//! `ssh_client_kit` against an in-process server: splice, local
//! (`-L`) and dynamic (`-D`, SOCKS) forwarding.

#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod forward_common;

use std::net::Shutdown;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use ssh_async::Client;
use ssh_async::runtime::{
    self,
    net::{TcpListener, TcpStream, UnixStream},
};
use ssh_client_kit::Listeners;
use ssh_config::forward::Endpoint;

use forward_common::*;

#[test]
fn splice_moves_8_mib_both_ways_through_a_channel() {
    block(async {
        let (client, _conn) = start().await;
        let port = echo_server().await;
        let ch = client.open_channel(direct(port)).await.unwrap();
        let data = pattern(8 << 20, 1);
        let got = send_and_collect(ch.reader(), ch.writer(), &data).await;
        assert_eq!(got.len(), data.len());
        assert!(got == data, "echoed bytes differ");
        ch.wait_closed().await.unwrap();
    });
}

#[test]
fn splice_carries_half_close_both_ways() {
    block(async {
        let (client, _conn) = start().await;
        let port = count_server().await;
        let ch = client.open_channel(direct(port)).await.unwrap();
        let data = pattern(100_000, 2);
        let got = send_and_collect(ch.reader(), ch.writer(), &data).await;
        assert_eq!(got, b"got 100000");
        ch.wait_closed().await.unwrap();
    });
}

#[test]
fn splice_reports_the_byte_counts() {
    block(async {
        let (client, conn) = start().await;
        drop(conn);
        let port = count_server().await;
        // Our own splice on the client side: a local socket pair.
        let ch = client.open_channel(direct(port)).await.unwrap();
        let (a, mut b) = UnixStream::pair().unwrap();
        let task = runtime::spawn(ssh_async::splice(ch, a));
        b.write_all(&[7; 12345]).await.unwrap();
        b.shutdown(Shutdown::Write).unwrap();
        let mut reply = Vec::new();
        b.read_to_end(&mut reply).await.unwrap();
        assert_eq!(reply, b"got 12345");
        let (down, up) = task.await.unwrap();
        assert_eq!((down, up), (9, 12345));
    });
}

#[test]
fn splice_says_why_when_bytes_cannot_be_delivered() {
    block(async {
        let (client, _conn) = start().await;
        let echo = echo_server().await;
        let ch = client.open_channel(direct(echo)).await.unwrap();
        let (a, mut b) = UnixStream::pair().unwrap();
        let task = runtime::spawn(ssh_async::splice(ch, a));
        // The local side sends 1 MiB, then goes away without reading the
        // echo: it cannot all be delivered, and splice says so.
        b.write_all(&pattern(1 << 20, 7)).await.unwrap();
        drop(b);
        // Writing fails (EPIPE) or, when the close raced the last
        // write, reading does (ECONNRESET): either way, the local side.
        let e = task.await.unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("writing the local socket") || m.contains("reading the local socket"),
            "{e}"
        );
    });
}

#[test]
fn local_forward_moves_8_mib_both_ways() {
    block(async {
        let (client, _conn) = start().await;
        let echo = echo_server().await;
        let port = local_forward(&client, tcp("127.0.0.1", echo)).await;
        let s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let data = pattern(8 << 20, 3);
        let w = s.clone();
        let got = send_and_collect(s, ShutdownOnClose(w), &data).await;
        assert_eq!(got.len(), data.len());
        assert!(got == data, "echoed bytes differ");
    });
}

/// A TCP stream whose `close` shuts down its write half.
struct ShutdownOnClose(TcpStream);

impl futures::io::AsyncWrite for ShutdownOnClose {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_close(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(self.0.shutdown(Shutdown::Write))
    }
}

#[test]
fn local_forward_half_close_still_reads_the_reply() {
    block(async {
        let (client, _conn) = start().await;
        let counter = count_server().await;
        let port = local_forward(&client, tcp("127.0.0.1", counter)).await;
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(&pattern(300_000, 4)).await.unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut reply = Vec::new();
        s.read_to_end(&mut reply).await.unwrap();
        assert_eq!(reply, b"got 300000");
    });
}

#[test]
fn local_forward_to_a_unix_socket_and_from_one() {
    block(async {
        let (client, _conn) = start().await;
        let dir = temp_dir("unix");
        let target = dir.join("echo.sock");
        unix_echo_server(&target).await;
        // TCP listener -> direct-streamlocal to the Unix socket.
        let port = local_forward(&client, Endpoint::Unix(target.clone())).await;
        let s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let data = pattern(1 << 20, 5);
        let got = send_and_collect(s.clone(), ShutdownOnClose(s), &data).await;
        assert!(got == data);
        // Unix listener -> direct-tcpip.
        let echo = echo_server().await;
        let listen = dir.join("listen.sock");
        let l = Listeners::bind(&Endpoint::Unix(listen.clone()), false)
            .await
            .unwrap();
        assert_eq!(l.local_port(), None);
        assert_eq!(l.unix_path(), Some(listen.as_path()));
        // The path exists now: a second bind fails.
        assert!(
            Listeners::bind(&Endpoint::Unix(listen.clone()), false)
                .await
                .is_err()
        );
        drop(runtime::spawn(ssh_client_kit::serve_local(
            client.clone(),
            l,
            tcp("127.0.0.1", echo),
        )));
        let mut u = UnixStream::connect(&listen).await.unwrap();
        u.write_all(b"through a unix listener").await.unwrap();
        u.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        u.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"through a unix listener");
        let _ = std::fs::remove_dir_all(&dir);
    });
}

#[test]
fn a_refused_open_closes_only_that_connection() {
    block(async {
        let (client, _conn) = start().await;
        let refused = local_forward(&client, tcp("refused.invalid", 1)).await;
        let echo = echo_server().await;
        let ok = local_forward(&client, tcp("127.0.0.1", echo)).await;
        for _ in 0..3 {
            let mut s = TcpStream::connect(("127.0.0.1", refused)).await.unwrap();
            let mut got = Vec::new();
            // The forwarder closes the connection without a byte.
            s.read_to_end(&mut got).await.unwrap();
            assert!(got.is_empty());
            let s = TcpStream::connect(("127.0.0.1", ok)).await.unwrap();
            let got = send_and_collect(s.clone(), ShutdownOnClose(s), b"still fine").await;
            assert_eq!(got, b"still fine");
        }
    });
}

/// `-D 0` on loopback; returns its port.
async fn dynamic_forward(client: &Client) -> u16 {
    let l = Listeners::bind(&tcp("127.0.0.1", 0), false).await.unwrap();
    let port = l.local_port().unwrap();
    drop(runtime::spawn(ssh_client_kit::serve_dynamic(
        client.clone(),
        l,
    )));
    port
}

/// Sends `hello`, reads `reply_len` bytes of SOCKS reply, then echoes a
/// line through.
async fn socks_roundtrip(proxy: u16, hello: &[u8], reply_len: usize) -> (Vec<u8>, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", proxy)).await.unwrap();
    s.write_all(hello).await.unwrap();
    let mut reply = vec![0; reply_len];
    s.read_exact(&mut reply).await.unwrap();
    let granted = if reply_len == 8 {
        reply[1] == 90
    } else {
        reply[3] == 0
    };
    if !granted {
        return (reply, Vec::new());
    }
    s.write_all(b"ping through socks").await.unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).await.unwrap();
    (reply, got)
}

#[test]
fn socks5_with_a_domain_name_reaches_the_echo_server() {
    block(async {
        let (client, _conn) = start().await;
        let echo = echo_server().await;
        let proxy = dynamic_forward(&client).await;
        let mut hello = vec![5, 1, 0, 5, 1, 0, 3, 9];
        hello.extend_from_slice(b"localhost");
        hello.extend_from_slice(&echo.to_be_bytes());
        // The method choice (2 bytes) and the reply (10 bytes).
        let (reply, got) = socks_roundtrip(proxy, &hello, 12).await;
        assert_eq!(reply, [5, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(got, b"ping through socks");
    });
}

#[test]
fn socks4_and_socks4a_reach_the_echo_server() {
    block(async {
        let (client, _conn) = start().await;
        let echo = echo_server().await;
        let proxy = dynamic_forward(&client).await;
        let p = echo.to_be_bytes();
        let v4 = [4, 1, p[0], p[1], 127, 0, 0, 1, b'u', 0];
        let (reply, got) = socks_roundtrip(proxy, &v4, 8).await;
        assert_eq!(reply[..2], [0, 90]);
        assert_eq!(got, b"ping through socks");
        let mut v4a = vec![4, 1, p[0], p[1], 0, 0, 0, 1, 0];
        v4a.extend_from_slice(b"localhost\0");
        let (reply, got) = socks_roundtrip(proxy, &v4a, 8).await;
        assert_eq!(reply[..2], [0, 90]);
        assert_eq!(got, b"ping through socks");
    });
}

#[test]
fn socks_to_an_unreachable_target_gets_the_failure_reply() {
    block(async {
        let (client, _conn) = start().await;
        let proxy = dynamic_forward(&client).await;
        // A port nothing listens on: bind one and close it.
        let closed = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap().port()
        };
        let p = closed.to_be_bytes();
        let v5 = [5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, p[0], p[1]];
        let (reply, got) = socks_roundtrip(proxy, &v5, 12).await;
        assert_eq!(reply[..2], [5, 0]);
        assert_eq!(reply[2], 5);
        assert_ne!(reply[3], 0, "a failure code, not success");
        assert!(got.is_empty());
        let v4 = [4, 1, p[0], p[1], 127, 0, 0, 1, 0];
        let (reply, _) = socks_roundtrip(proxy, &v4, 8).await;
        assert_eq!(reply[..2], [0, 91]);
        // Refused by the server's policy: "not allowed".
        let mut v5 = vec![5, 1, 0, 5, 1, 0, 3, 15];
        v5.extend_from_slice(b"refused.invalid");
        v5.extend_from_slice(&[0, 80]);
        let (reply, _) = socks_roundtrip(proxy, &v5, 12).await;
        assert_eq!(reply[3], 2);
        // Not SOCKS at all: closed without a reply.
        let mut s = TcpStream::connect(("127.0.0.1", proxy)).await.unwrap();
        s.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).await.unwrap();
        assert!(got.is_empty());
    });
}
