//! `ssh_client_kit` against an in-process server: remote forwards
//! (`-R`), the agent and X11 relays, and the bind rules of listeners.

#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod forward_common;

use std::net::Shutdown;
use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use ssh_async::runtime::{
    self,
    net::{TcpListener, UnixListener},
};
use ssh_async::{Error, ServerConnection};
use ssh_client_kit::Dispatcher;
use ssh_client_kit::Listeners;
use ssh_client_kit::x11::X11Forwarding;
use ssh_config::forward::Endpoint;
use ssh_wire::messages::{ChannelRequestKind, ChannelType, OpenFailureReason};

use forward_common::*;

fn forwarded(address: &str, port: u32) -> ChannelType {
    ChannelType::ForwardedTcpip {
        address: address.into(),
        port,
        originator_address: "192.0.2.1".into(),
        originator_port: 5555,
    }
}

/// The server side opens `kind`, sends `data`, EOF, and reads to the end.
async fn server_roundtrip(
    conn: &ServerConnection,
    kind: ChannelType,
    data: &[u8],
) -> Result<Vec<u8>, Error> {
    let ch = conn.open_channel(kind).await?;
    Ok(send_and_collect(ch.reader(), ch.writer(), data).await)
}

#[test]
fn remote_forward_port_0_reaches_a_local_target() {
    block(async {
        let (client, conn) = start().await;
        let echo = echo_server().await;
        let d = Dispatcher::start(&client);
        let listen = Endpoint::Tcp {
            bind: None,
            port: 0,
        };
        let port = d
            .request_remote(&listen, Some(tcp("127.0.0.1", echo)))
            .await
            .unwrap();
        assert_eq!(port, Some(ALLOCATED as u16));
        // OpenSSH's servers name the address the client sent: "localhost".
        let data = pattern(2 << 20, 6);
        let got = server_roundtrip(&conn, forwarded("localhost", ALLOCATED), &data)
            .await
            .unwrap();
        assert!(got == data);
        // Several at once.
        let many = (0..10).map(|i| {
            let conn = conn.clone();
            async move {
                let data = pattern(50_000, i);
                let got = server_roundtrip(&conn, forwarded("localhost", ALLOCATED), &data)
                    .await
                    .unwrap();
                assert!(got == data, "connection {i}");
            }
        });
        futures::future::join_all(many).await;
        // A port nobody asked for is refused.
        let e = conn
            .open_channel(forwarded("localhost", 9))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::ChannelOpenFailed { .. }), "{e:?}");
        // Cancelled: refused from then on.
        d.cancel_remote(&listen).await.unwrap();
        let e = conn
            .open_channel(forwarded("localhost", ALLOCATED))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::ChannelOpenFailed { .. }), "{e:?}");
    });
}

#[test]
fn remote_forward_fixed_port_unix_target_and_refusals() {
    block(async {
        let (client, conn) = start().await;
        let dir = temp_dir("remote");
        let sock = dir.join("echo.sock");
        unix_echo_server(&sock).await;
        let d = Dispatcher::start(&client);
        // A fixed port, "*" sent as "", to a Unix socket.
        let listen = Endpoint::Tcp {
            bind: Some("*".into()),
            port: 7001,
        };
        let port = d
            .request_remote(&listen, Some(Endpoint::Unix(sock.clone())))
            .await
            .unwrap();
        assert_eq!(port, None);
        let got = server_roundtrip(&conn, forwarded("", 7001), b"to unix")
            .await
            .unwrap();
        assert_eq!(got, b"to unix");
        // A remote Unix socket forward.
        let remote = Endpoint::Unix("/run/remote.sock".into());
        assert_eq!(
            d.request_remote(&remote, Some(Endpoint::Unix(sock.clone())))
                .await
                .unwrap(),
            None
        );
        let kind = ChannelType::ForwardedStreamlocal {
            socket_path: "/run/remote.sock".into(),
        };
        let got = server_roundtrip(&conn, kind, b"streamlocal").await.unwrap();
        assert_eq!(got, b"streamlocal");
        // Refusals by the server.
        let e = d
            .request_remote(&tcp("refused.invalid", 80), Some(tcp("127.0.0.1", 1)))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::RequestRefused("tcpip-forward")), "{e:?}");
        let e = d
            .request_remote(&Endpoint::Unix("/refused".into()), None)
            .await
            .unwrap_err();
        assert!(
            matches!(e, Error::RequestRefused("streamlocal-forward@openssh.com")),
            "{e:?}"
        );
        // The refused forward's address is not routed.
        let e = conn
            .open_channel(forwarded("refused.invalid", 80))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::ChannelOpenFailed { .. }));
        // A target that is not listening: refused with CONNECT_FAILED.
        let closed = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap().port()
        };
        d.request_remote(&tcp("127.0.0.1", 7002), Some(tcp("127.0.0.1", closed)))
            .await
            .unwrap();
        match conn.open_channel(forwarded("127.0.0.1", 7002)).await {
            Err(Error::ChannelOpenFailed { reason, .. }) => {
                assert_eq!(reason, OpenFailureReason::CONNECT_FAILED);
            }
            other => panic!("{other:?}"),
        }
        let _ = std::fs::remove_dir_all(&dir);
    });
}

#[test]
fn a_refused_duplicate_remote_forward_leaves_the_first_one_working() {
    block(async {
        let (client, conn) = start().await;
        let dir = temp_dir("duplicate");
        let sock = dir.join("echo.sock");
        unix_echo_server(&sock).await;
        let d = Dispatcher::start(&client);
        let listen = tcp("127.0.0.1", 7003);
        d.request_remote(&listen, Some(Endpoint::Unix(sock.clone())))
            .await
            .unwrap();
        let remote = Endpoint::Unix("/run/dup.sock".into());
        d.request_remote(&remote, Some(Endpoint::Unix(sock.clone())))
            .await
            .unwrap();
        // The same forwards again (as `~C -R` may ask): the server says
        // they are in use.
        let e = d
            .request_remote(&listen, Some(tcp("127.0.0.1", 1)))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::RequestRefused("tcpip-forward")), "{e:?}");
        let e = d
            .request_remote(&remote, Some(tcp("127.0.0.1", 1)))
            .await
            .unwrap_err();
        assert!(
            matches!(e, Error::RequestRefused("streamlocal-forward@openssh.com")),
            "{e:?}"
        );
        // The first ones still lead where they led.
        let got = server_roundtrip(&conn, forwarded("127.0.0.1", 7003), b"still tcp")
            .await
            .unwrap();
        assert_eq!(got, b"still tcp");
        let kind = ChannelType::ForwardedStreamlocal {
            socket_path: "/run/dup.sock".into(),
        };
        let got = server_roundtrip(&conn, kind, b"still unix").await.unwrap();
        assert_eq!(got, b"still unix");
        let _ = std::fs::remove_dir_all(&dir);
    });
}

#[test]
fn remote_dynamic_forward_answers_socks_on_the_channel() {
    block(async {
        let (client, conn) = start().await;
        let echo = echo_server().await;
        let d = Dispatcher::start(&client);
        d.request_remote(
            &Endpoint::Tcp {
                bind: None,
                port: 1080,
            },
            None,
        )
        .await
        .unwrap();
        let ch = conn
            .open_channel(forwarded("localhost", 1080))
            .await
            .unwrap();
        let (mut r, mut w) = (ch.reader(), ch.writer());
        let p = echo.to_be_bytes();
        w.write_all(&[5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, p[0], p[1]])
            .await
            .unwrap();
        let mut reply = [0; 12];
        r.read_exact(&mut reply).await.unwrap();
        assert_eq!(reply, [5, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        let got = send_and_collect(r, w, b"dynamic").await;
        assert_eq!(got, b"dynamic");
    });
}

#[test]
fn agent_channels_reach_the_agent_socket_once_enabled() {
    use futures::StreamExt;
    block(async {
        let (client, conn) = start().await;
        let dir = temp_dir("agent");
        let sock = dir.join("agent.sock");
        let mut binds = fake_agent(&sock).await;
        let d = Dispatcher::start(&client);
        let e = conn.open_channel(ChannelType::AuthAgent).await.unwrap_err();
        assert!(matches!(e, Error::ChannelOpenFailed { .. }));
        d.enable_agent(sock);
        // OpenSSH's channel type and RFC 9987's reach the agent alike.
        for kind in [ChannelType::AuthAgent, ChannelType::AgentConnect] {
            let got = server_roundtrip(&conn, kind, b"\0\0\0\x01\x0b")
                .await
                .unwrap();
            assert_eq!(got, b"\0\0\0\x01\x0b");
            // Each connection was bound to the session first, as a
            // forwarding hop: session-bind@openssh.com with this session's
            // host key, id and signature, is_forwarding true.
            let bind = binds.next().await.unwrap();
            let expected = client.session_bind(true).unwrap().to_agent_request();
            assert_eq!(bind, expected);
            assert_eq!(bind.last(), Some(&1), "is_forwarding");
        }
        let _ = std::fs::remove_dir_all(&dir);
    });
}

/// A server opening channels the client never asked for: the agent
/// (`auth-agent@openssh.com`, `agent-connect`) without `-A`, `x11` without
/// `-X`, `forwarded-tcpip` and `forwarded-streamlocal@openssh.com` for
/// forwards never requested, and the types only a client opens
/// (`session`, `direct-tcpip`, even to a port that listens). Each is
/// refused, before the dispatcher runs and after, with nothing connected
/// for it; the requested forward and the connection go on.
#[test]
fn unsolicited_agent_x11_and_forwarded_channels_are_refused() {
    block(async {
        let (client, conn) = start().await;
        let echo = echo_server().await;
        let refused = |e: Error| match e {
            Error::ChannelOpenFailed { reason, .. } => reason,
            other => panic!("{other:?}"),
        };
        // No one takes the server's opens yet.
        let e = conn.open_channel(ChannelType::AuthAgent).await.unwrap_err();
        assert_eq!(refused(e), OpenFailureReason::ADMINISTRATIVELY_PROHIBITED);
        let d = Dispatcher::start(&client);
        d.request_remote(&tcp("127.0.0.1", 7101), Some(tcp("127.0.0.1", echo)))
            .await
            .unwrap();
        let prohibited = [
            ChannelType::AuthAgent,
            ChannelType::AgentConnect,
            x11_open(),
            forwarded("127.0.0.1", 7102),
            forwarded("", 22),
            ChannelType::ForwardedStreamlocal {
                socket_path: "/run/user/0/ssh-agent.sock".into(),
            },
        ];
        for kind in prohibited {
            let e = conn.open_channel(kind.clone()).await.unwrap_err();
            assert_eq!(
                refused(e),
                OpenFailureReason::ADMINISTRATIVELY_PROHIBITED,
                "{kind:?}"
            );
        }
        for kind in [ChannelType::Session, direct(echo)] {
            let e = conn.open_channel(kind.clone()).await.unwrap_err();
            assert!(
                [
                    OpenFailureReason::ADMINISTRATIVELY_PROHIBITED,
                    OpenFailureReason::UNKNOWN_CHANNEL_TYPE
                ]
                .contains(&refused(e)),
                "{kind:?}"
            );
        }
        // The requested forward still works, and the client's own channels.
        let got = server_roundtrip(&conn, forwarded("127.0.0.1", 7101), b"asked for")
            .await
            .unwrap();
        assert_eq!(got, b"asked for");
        let ch = client.open_channel(direct(echo)).await.unwrap();
        let got = send_and_collect(ch.reader(), ch.writer(), b"still here").await;
        assert_eq!(got, b"still here");
    });
}

/// A fake agent on a Unix socket: per connection, reads the first frame
/// (sent on the channel of its body), answers SSH_AGENT_SUCCESS, then
/// echoes.
async fn fake_agent(path: &std::path::Path) -> futures::channel::mpsc::UnboundedReceiver<Vec<u8>> {
    let l = UnixListener::bind(path).await.unwrap();
    let (tx, rx) = futures::channel::mpsc::unbounded();
    drop(runtime::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let mut len = [0u8; 4];
            s.read_exact(&mut len).await.unwrap();
            let mut body = vec![0; u32::from_be_bytes(len) as usize];
            s.read_exact(&mut body).await.unwrap();
            let _ = tx.unbounded_send(body);
            s.write_all(b"\0\0\0\x01\x06").await.unwrap();
            let mut w = s.clone();
            let _ = futures::io::copy(s.clone(), &mut w).await;
            let _ = s.shutdown(Shutdown::Write);
        }
    }));
    rx
}

/// A fake X server on a Unix socket: for each connection, sends back
/// the authorization data it got after the 12-byte header and 20-byte
/// name ("MIT-MAGIC-COOKIE-1" padded), then echoes.
async fn fake_x_server(
    path: &std::path::Path,
) -> futures::channel::mpsc::UnboundedReceiver<Vec<u8>> {
    let l = UnixListener::bind(path).await.unwrap();
    let (tx, rx) = futures::channel::mpsc::unbounded();
    drop(runtime::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let mut setup = vec![0; 12 + 20 + 16];
            s.read_exact(&mut setup).await.unwrap();
            let _ = tx.unbounded_send(setup.clone());
            s.write_all(&setup[32..]).await.unwrap();
            let mut w = s.clone();
            let _ = futures::io::copy(s.clone(), &mut w).await;
            let _ = s.shutdown(Shutdown::Write);
        }
    }));
    rx
}

fn x11_setup(order: u8, cookie: &[u8]) -> Vec<u8> {
    let u16b = |v: u16| {
        if order == b'B' {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut v = vec![order, 0];
    v.extend_from_slice(&u16b(11));
    v.extend_from_slice(&u16b(0));
    v.extend_from_slice(&u16b(18));
    v.extend_from_slice(&u16b(cookie.len() as u16));
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(b"MIT-MAGIC-COOKIE-1\0\0");
    v.extend_from_slice(cookie);
    while v.len() % 4 != 0 {
        v.push(0);
    }
    v
}

fn x11_open() -> ChannelType {
    ChannelType::X11 {
        originator_address: "127.0.0.1".into(),
        originator_port: 40000,
    }
}

fn fake_cookie(x: &X11Forwarding) -> Vec<u8> {
    let ChannelRequestKind::X11Req { auth_cookie, .. } = x.request() else {
        panic!("not an x11-req");
    };
    (0..auth_cookie.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&auth_cookie[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn x11_channels_get_the_real_cookie_and_wrong_ones_are_refused() {
    use futures::StreamExt;
    block(async {
        let (client, conn) = start().await;
        let dir = temp_dir("x11");
        let sock = dir.join("X5");
        let mut seen = fake_x_server(&sock).await;
        let real = vec![0xa5; 16];
        let display = format!("{}:5", sock.display());
        let x = X11Forwarding::with_cookie(&display, Some(real.clone())).unwrap();
        let fake = fake_cookie(&x);
        assert_ne!(fake, real);
        let d = Dispatcher::start(&client);
        // Not enabled yet: refused.
        assert!(conn.open_channel(x11_open()).await.is_err());
        d.enable_x11(x);
        for order in [b'B', b'l'] {
            let mut data = x11_setup(order, &fake);
            data.extend_from_slice(b"requests");
            let got = server_roundtrip(&conn, x11_open(), &data).await.unwrap();
            // The X server saw the real cookie, in the client's byte order.
            let setup = seen.next().await.unwrap();
            assert_eq!(setup, x11_setup(order, &real));
            let mut expected = real.clone();
            expected.extend_from_slice(b"requests");
            assert_eq!(got, expected);
        }
        // A wrong cookie: the channel is closed, the X server sees nothing.
        let mut wrong = fake.clone();
        wrong[15] ^= 1;
        let got = server_roundtrip(&conn, x11_open(), &x11_setup(b'B', &wrong))
            .await
            .unwrap();
        assert!(got.is_empty());
        // Another protocol name with the right data.
        let mut other = x11_setup(b'l', &fake);
        other[12..30].copy_from_slice(b"XDM-AUTHORIZATION1");
        let got = server_roundtrip(&conn, x11_open(), &other).await.unwrap();
        assert!(got.is_empty());
        // Still working afterwards, and the rejected ones never reached X.
        let got = server_roundtrip(&conn, x11_open(), &x11_setup(b'l', &fake))
            .await
            .unwrap();
        assert_eq!(got, real);
        assert_eq!(seen.next().await.unwrap(), x11_setup(b'l', &real));
        assert!(
            seen.try_recv().is_err(),
            "nothing else reached the X server"
        );
        let _ = std::fs::remove_dir_all(&dir);
    });
}

#[test]
fn x11_without_xauth_data_passes_the_fake_cookie_through() {
    use futures::StreamExt;
    block(async {
        let (client, conn) = start().await;
        let dir = temp_dir("x11fake");
        let sock = dir.join("X6");
        let mut seen = fake_x_server(&sock).await;
        // An "xauth" that knows nothing.
        let xauth = dir.join("xauth");
        std::fs::write(&xauth, "#!/bin/sh\nexit 1\n").unwrap();
        set_executable(&xauth);
        let display = format!("{}:6", sock.display());
        // Trusted (-Y): ssh warns and uses the fake cookie.
        let x = X11Forwarding::new(&display, true, &xauth, Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(x.warning(), Some(ssh_client_kit::x11::NO_XAUTH_DATA));
        let fake = fake_cookie(&x);
        Dispatcher::start(&client).enable_x11(x);
        let got = server_roundtrip(&conn, x11_open(), &x11_setup(b'B', &fake))
            .await
            .unwrap();
        assert_eq!(got, fake);
        assert_eq!(seen.next().await.unwrap(), x11_setup(b'B', &fake));
        let _ = std::fs::remove_dir_all(&dir);
    });
}

#[test]
fn x11_new_reads_the_cookie_from_xauth_list() {
    block(async {
        let dir = temp_dir("xauth");
        let xauth = dir.join("xauth");
        // Prints what `xauth list unix:7` prints, and the arguments.
        std::fs::write(
            &xauth,
            format!(
                "#!/bin/sh\necho \"$@\" > {}/args\n\
                 echo 'myhost/unix:7  MIT-MAGIC-COOKIE-1  000102030405060708090a0b0c0d0e0f'\n",
                dir.display()
            ),
        )
        .unwrap();
        set_executable(&xauth);
        let x = X11Forwarding::new("localhost:7.1", true, &xauth, Duration::from_secs(1200))
            .await
            .unwrap();
        assert_eq!(x.warning(), None);
        // "localhost:N" is looked up as "unix:N", as OpenSSH does.
        let args = std::fs::read_to_string(dir.join("args")).unwrap();
        assert_eq!(args.trim(), "list unix:7.1");
        let ChannelRequestKind::X11Req { screen, .. } = x.request() else {
            panic!()
        };
        assert_eq!(screen, 1);
        let _ = std::fs::remove_dir_all(&dir);
    });
}

fn set_executable(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn listeners_follow_openssh_bind_rules() {
    block(async {
        // GatewayPorts without an address: every address.
        let l = Listeners::bind(
            &Endpoint::Tcp {
                bind: None,
                port: 0,
            },
            true,
        )
        .await
        .unwrap();
        assert!(!l.local_addrs().is_empty());
        assert!(l.local_addrs().iter().all(|a| a.ip().is_unspecified()));
        // "*" and "" are every address too, even without GatewayPorts.
        for any in ["*", ""] {
            let l = Listeners::bind(&tcp(any, 0), false).await.unwrap();
            assert!(l.local_addrs().iter().all(|a| a.ip().is_unspecified()));
        }
        // "localhost" stays loopback even with GatewayPorts.
        let l = Listeners::bind(&tcp("localhost", 0), true).await.unwrap();
        assert!(l.local_addrs().iter().all(|a| a.ip().is_loopback()));
        // An explicit address is that address only.
        let l = Listeners::bind(&tcp("127.0.0.1", 0), true).await.unwrap();
        let port = l.local_port().unwrap();
        assert_eq!(
            l.local_addrs(),
            vec![std::net::SocketAddr::from(([127, 0, 0, 1], port))]
        );
        // A port in use: an error, as for ssh's "bind: Address already in use".
        let e = Listeners::bind(&tcp("127.0.0.1", port), false)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
    });
}

/// A fake `xauth` in `dir` logging its arguments (one line per run) to
/// `dir/args`: `generate` succeeds when `generate_ok`; `-f FILE list`
/// prints the untrusted cookie `0x11 * 16`, a plain `list` the display's
/// own `0x22 * 16`.
fn fake_xauth(dir: &std::path::Path, generate_ok: bool) -> std::path::PathBuf {
    let xauth = dir.join("xauth");
    let status = if generate_ok { 0 } else { 1 };
    std::fs::write(
        &xauth,
        format!(
            "#!/bin/sh\necho \"$@\" >> {dir}/args\n\
             if [ \"$3\" = generate ]; then [ -d \"$(dirname \"$2\")\" ] || exit 2; exit {status}; fi\n\
             if [ \"$1\" = -f ]; then echo 'h/unix:8  MIT-MAGIC-COOKIE-1  {u}'; \
             else echo 'h/unix:8  MIT-MAGIC-COOKIE-1  {r}'; fi\n",
            dir = dir.display(),
            u = "11".repeat(16),
            r = "22".repeat(16),
        ),
    )
    .unwrap();
    set_executable(&xauth);
    xauth
}

#[test]
fn x11_untrusted_forwards_a_generated_cookie() {
    use futures::StreamExt;
    block(async {
        let (client, conn) = start().await;
        let dir = temp_dir("x11untrusted");
        let sock = dir.join("X8");
        let mut seen = fake_x_server(&sock).await;
        let xauth = fake_xauth(&dir, true);
        let display = format!("{}:8", sock.display());
        let x = X11Forwarding::new(&display, false, &xauth, Duration::from_secs(1200))
            .await
            .unwrap();
        assert_eq!(x.warning(), None);
        // generate into a private file (timeout: ForwardX11Timeout + 60 s),
        // then list that file; the display's own cookie is never read.
        let args = std::fs::read_to_string(dir.join("args")).unwrap();
        let lines: Vec<&str> = args.lines().collect();
        assert_eq!(lines.len(), 2, "{args}");
        let file = lines[0].split(' ').nth(1).unwrap();
        assert!(file.ends_with("/xauthfile"), "{file}");
        assert_eq!(
            lines[0],
            format!("-f {file} generate {display} MIT-MAGIC-COOKIE-1 untrusted timeout 1260")
        );
        assert_eq!(lines[1], format!("-f {file} list {display}"));
        let tmp = std::path::Path::new(file).parent().unwrap();
        assert!(!tmp.exists(), "the private directory is removed");
        // Connections get the untrusted cookie.
        let fake = fake_cookie(&x);
        Dispatcher::start(&client).enable_x11(x);
        let got = server_roundtrip(&conn, x11_open(), &x11_setup(b'B', &fake))
            .await
            .unwrap();
        assert_eq!(got, vec![0x11; 16]);
        assert_eq!(seen.next().await.unwrap(), x11_setup(b'B', &[0x11; 16]));
        let _ = std::fs::remove_dir_all(&dir);
    });
}

#[test]
fn x11_untrusted_without_a_generated_cookie_is_not_set_up() {
    block(async {
        let dir = temp_dir("x11nogen");
        let xauth = fake_xauth(&dir, false);
        let e = X11Forwarding::new(":8", false, &xauth, Duration::ZERO)
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), ssh_client_kit::x11::UNTRUSTED_FAILED);
        // ForwardX11Timeout 0: no timeout asked; and no fall back to the
        // display's own cookie.
        let args = std::fs::read_to_string(dir.join("args")).unwrap();
        assert_eq!(args.lines().count(), 1, "{args}");
        assert!(
            args.trim_end()
                .ends_with(" generate :8 MIT-MAGIC-COOKIE-1 untrusted")
        );
        // No xauth program at all: the same.
        let e = X11Forwarding::new(":8", false, &dir.join("missing"), Duration::ZERO)
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), ssh_client_kit::x11::UNTRUSTED_FAILED);
        // Trusted (-Y) reads the display's own cookie.
        let x = X11Forwarding::new(":8", true, &xauth, Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(x.warning(), None);
        let _ = std::fs::remove_dir_all(&dir);
    });
}

#[test]
fn x11_connections_after_forward_x11_timeout_are_refused() {
    block(async {
        let (client, conn) = start().await;
        let dir = temp_dir("x11timeout");
        let sock = dir.join("X9");
        let mut seen = fake_x_server(&sock).await;
        let mut x = X11Forwarding::with_cookie(&format!("{}:9", sock.display()), None).unwrap();
        x.set_refuse_time(Some(std::time::Instant::now()));
        let fake = fake_cookie(&x);
        Dispatcher::start(&client).enable_x11(x);
        let got = server_roundtrip(&conn, x11_open(), &x11_setup(b'B', &fake))
            .await
            .unwrap();
        assert!(got.is_empty());
        runtime::sleep(Duration::from_millis(100)).await;
        assert!(seen.try_recv().is_err(), "the X server saw nothing");
        let _ = std::fs::remove_dir_all(&dir);
    });
}
