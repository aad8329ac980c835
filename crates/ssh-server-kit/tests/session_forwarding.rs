//! `serve_session`'s X11 and agent forwarding, with real processes and
//! sockets, driven by our client over loopback TCP.

#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use ssh_async::{Client, ExitStatus, runtime};
use ssh_server_kit::session::SessionPolicy;
use ssh_wire::messages::{ChannelRequestKind, ChannelType};

use common::*;

const COOKIE: &str = "00112233445566778899aabbccddeeff";

fn x11_req(single_connection: bool, protocol: &str, cookie: &str) -> ChannelRequestKind {
    ChannelRequestKind::X11Req {
        single_connection,
        auth_protocol: protocol.into(),
        auth_cookie: cookie.into(),
        screen: 0,
    }
}

fn with_home(mut p: SessionPolicy, home: &std::path::Path) -> SessionPolicy {
    p.env.retain(|(k, _)| k != "HOME");
    p.env.push(("HOME".into(), home.display().to_string()));
    p
}

fn xauth_installed() -> bool {
    std::path::Path::new("/usr/bin/xauth").exists()
}

/// The display number of `localhost:N.S`.
fn display_number(display: &str) -> u32 {
    let rest = display
        .strip_prefix("localhost:")
        .unwrap_or_else(|| panic!("DISPLAY {display:?} is not localhost:N.S"));
    let (n, screen) = rest.split_once('.').unwrap();
    assert_eq!(screen, "0", "{display:?}");
    n.parse().unwrap()
}

#[test]
fn x11_connections_become_x11_channels() {
    block(async {
        let home = temp_home("x11");
        let mut p = with_home(policy(), &home);
        p.x11_forwarding = true;
        p.x11_display_offset = 10;
        if !xauth_installed() {
            println!(
                "/usr/bin/xauth is not installed: /bin/true stands in, the cookie is not checked"
            );
            p.xauth_location = "/bin/true".into();
        }
        let client = start(p).await;
        // The X server side: answers one X11 channel.
        let x_server = runtime::spawn({
            let client = client.clone();
            async move {
                let incoming = client.next_channel().await.unwrap();
                let origin = match &incoming.channel_type {
                    ChannelType::X11 {
                        originator_address,
                        originator_port,
                    } => (originator_address.clone(), *originator_port),
                    other => panic!("unexpected channel {other:?}"),
                };
                let ch = incoming.accept().unwrap();
                let mut ping = [0u8; 5];
                ch.reader().read_exact(&mut ping).await.unwrap();
                assert_eq!(&ping, b"ping\n");
                ch.writer().write_all(b"pong\n").await.unwrap();
                let mut rest = Vec::new();
                ch.reader().read_to_end(&mut rest).await.unwrap();
                let _ = ch.close();
                origin
            }
        });
        let ch = client.open_session().await.unwrap();
        assert!(
            ch.request(x11_req(true, "MIT-MAGIC-COOKIE-1", COOKIE), true)
                .await
                .unwrap()
        );
        let list = if xauth_installed() {
            "xauth list \"$DISPLAY\""
        } else {
            "true"
        };
        let script = format!(
            "echo \"$DISPLAY\"; n=${{DISPLAY#localhost:}}; n=${{n%.*}}; port=$((6000+n)); \
             exec 3<>/dev/tcp/127.0.0.1/$port || exit 3; echo ping >&3; read -r line <&3; \
             echo \"got:$line\"; exec 3>&-; \
             if (exec 4<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then echo second:accepted; \
             else echo second:refused; fi; {list}"
        );
        ch.exec(&format!("exec bash -c '{script}'")).await.unwrap();
        let mut out = String::new();
        ch.reader().read_to_string(&mut out).await.unwrap();
        let mut err = String::new();
        ch.stderr().read_to_string(&mut err).await.unwrap();
        assert_eq!(
            ch.wait_closed().await.unwrap(),
            Some(ExitStatus::Code(0)),
            "{out}{err}"
        );
        let lines: Vec<&str> = out.lines().collect();
        let n = display_number(lines[0]);
        assert!((10..1010).contains(&n), "{out}");
        assert_eq!(lines[1], "got:pong", "{out}{err}");
        // single_connection: the display stopped listening.
        assert_eq!(lines[2], "second:refused", "{out}{err}");
        let (addr, port) = x_server.await;
        assert_eq!(addr, "127.0.0.1");
        assert_ne!(port, 0);
        if xauth_installed() {
            // `hostname/unix:N  MIT-MAGIC-COOKIE-1  <cookie>`
            let entry: Vec<&str> = lines.get(3).unwrap_or(&"").split_whitespace().collect();
            assert_eq!(entry.len(), 3, "no xauth entry: {out}{err}");
            assert!(entry[0].ends_with(&format!("/unix:{n}")), "{out}");
            assert_eq!(entry[1..], ["MIT-MAGIC-COOKIE-1", COOKIE], "{out}");
        }
        let _ = std::fs::remove_dir_all(&home);
    });
}

/// Reads the connection setup an X client sends first and returns the
/// authorization protocol name and data.
async fn read_x_setup(ch: &ssh_async::Channel) -> (String, Vec<u8>) {
    let mut head = [0u8; 12];
    ch.reader().read_exact(&mut head).await.unwrap();
    let u16_at = |i: usize| match head[0] {
        b'l' => u16::from_le_bytes([head[i], head[i + 1]]),
        b'B' => u16::from_be_bytes([head[i], head[i + 1]]),
        other => panic!("byte order {other:#x}"),
    };
    let (name_len, data_len) = (usize::from(u16_at(6)), usize::from(u16_at(8)));
    let pad = |n: usize| n.div_ceil(4) * 4;
    let mut rest = vec![0u8; pad(name_len) + pad(data_len)];
    ch.reader().read_exact(&mut rest).await.unwrap();
    let name = String::from_utf8(rest[..name_len].to_vec()).unwrap();
    let data = rest[pad(name_len)..pad(name_len) + data_len].to_vec();
    (name, data)
}

#[test]
fn x_clients_send_the_cookie_over_tcp_and_the_unix_socket() {
    if !xauth_installed() || !std::path::Path::new("/usr/bin/xdpyinfo").exists() {
        println!("skipped: needs /usr/bin/xauth and /usr/bin/xdpyinfo (xauth, x11-utils)");
        return;
    }
    block(async {
        let home = temp_home("xdpyinfo");
        let mut p = with_home(policy(), &home);
        p.x11_forwarding = true;
        let client = start(p).await;
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        drop(runtime::spawn({
            let client = client.clone();
            let seen = seen.clone();
            async move {
                while let Some(incoming) = client.next_channel().await {
                    let ChannelType::X11 {
                        originator_address, ..
                    } = incoming.channel_type.clone()
                    else {
                        panic!("unexpected channel {:?}", incoming.channel_type);
                    };
                    let ch = incoming.accept().unwrap();
                    let auth = read_x_setup(&ch).await;
                    // No answer: the X client gives up.
                    ch.close().unwrap();
                    seen.lock().unwrap().push((originator_address, auth));
                }
            }
        }));
        let ch = client.open_session().await.unwrap();
        assert!(
            ch.request(x11_req(false, "MIT-MAGIC-COOKIE-1", COOKIE), true)
                .await
                .unwrap()
        );
        ch.exec(
            "n=${DISPLAY#localhost:}; n=${n%.*}; xdpyinfo >/dev/null 2>&1; \
             if test -S /tmp/.X11-unix/X$n; then xdpyinfo -display :$n >/dev/null 2>&1; \
             echo unix-socket; else echo no-unix-socket; fi",
        )
        .await
        .unwrap();
        let mut out = String::new();
        ch.reader().read_to_string(&mut out).await.unwrap();
        ch.wait_closed().await.unwrap();
        let connections = if out.trim() == "no-unix-socket" {
            println!("no /tmp/.X11-unix socket could be made: only TCP is checked");
            1
        } else {
            assert_eq!(out.trim(), "unix-socket");
            2
        };
        let want = (
            "MIT-MAGIC-COOKIE-1".to_owned(),
            (0..16u8).map(|i| 0x11 * i).collect::<Vec<u8>>(),
        );
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), connections, "{seen:?}");
        for (i, (origin, auth)) in seen.iter().enumerate() {
            assert_eq!(origin, "127.0.0.1");
            assert_eq!(auth, &want, "connection {i}");
        }
        let _ = std::fs::remove_dir_all(&home);
    });
}

#[test]
fn x11_requests_are_refused_when_denied_or_malformed() {
    block(async {
        // Forwarding off.
        let client = start(policy()).await;
        let ch = client.open_session().await.unwrap();
        assert!(
            !ch.request(x11_req(false, "MIT-MAGIC-COOKIE-1", COOKIE), true)
                .await
                .unwrap()
        );
        ch.exec("echo \"${DISPLAY-unset}\"").await.unwrap();
        let mut out = String::new();
        ch.reader().read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "unset\n");

        // No xauth program.
        let mut p = policy();
        p.x11_forwarding = true;
        p.xauth_location = "/nonexistent/xauth".into();
        let client = start(p).await;
        let ch = client.open_session().await.unwrap();
        assert!(
            !ch.request(x11_req(false, "MIT-MAGIC-COOKIE-1", COOKIE), true)
                .await
                .unwrap()
        );

        // Other protocols and cookies that are not hexadecimal.
        let mut p = policy();
        p.x11_forwarding = true;
        p.xauth_location = "/bin/true".into();
        let client = start(p).await;
        let ch = client.open_session().await.unwrap();
        for (proto, cookie) in [
            ("XDM-AUTHORIZATION-1", COOKIE),
            ("MIT-MAGIC-COOKIE-1", "0011\nadd evil"),
            ("MIT-MAGIC-COOKIE-1", "001"),
            ("MIT-MAGIC-COOKIE-1", ""),
        ] {
            assert!(
                !ch.request(x11_req(false, proto, cookie), true)
                    .await
                    .unwrap(),
                "{proto} {cookie:?}"
            );
        }
        // A good one is then accepted, a second one refused.
        assert!(
            ch.request(x11_req(false, "MIT-MAGIC-COOKIE-1", COOKIE), true)
                .await
                .unwrap()
        );
        assert!(
            !ch.request(x11_req(false, "MIT-MAGIC-COOKIE-1", COOKIE), true)
                .await
                .unwrap()
        );

        // An xauth that fails is logged; the program still runs, with
        // DISPLAY (as sshd does).
        let mut p = policy();
        p.x11_forwarding = true;
        p.xauth_location = "/bin/false".into();
        let client = start(p).await;
        let ch = client.open_session().await.unwrap();
        assert!(
            ch.request(x11_req(false, "MIT-MAGIC-COOKIE-1", COOKIE), true)
                .await
                .unwrap()
        );
        ch.exec("echo \"${DISPLAY-unset}\"").await.unwrap();
        let mut out = String::new();
        ch.reader().read_to_string(&mut out).await.unwrap();
        assert!(out.starts_with("localhost:"), "{out}");
    });
}

/// Answers one `auth-agent@openssh.com` channel as an agent without keys.
async fn empty_agent(client: Client) -> u8 {
    let incoming = client.next_channel().await.unwrap();
    assert!(
        matches!(incoming.channel_type, ChannelType::AuthAgent),
        "{:?}",
        incoming.channel_type
    );
    let ch = incoming.accept().unwrap();
    let mut len = [0u8; 4];
    ch.reader().read_exact(&mut len).await.unwrap();
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    ch.reader().read_exact(&mut body).await.unwrap();
    // SSH_AGENT_IDENTITIES_ANSWER, no keys.
    ch.writer()
        .write_all(&[0, 0, 0, 5, 12, 0, 0, 0, 0])
        .await
        .unwrap();
    let mut rest = Vec::new();
    ch.reader().read_to_end(&mut rest).await.unwrap();
    let _ = ch.close();
    body[0]
}

#[test]
fn agent_forwarding_relays_to_the_client_and_cleans_up() {
    block(async {
        let mut p = policy();
        p.agent_forwarding = true;
        let client = start(p).await;
        let agent = runtime::spawn(empty_agent(client.clone()));
        let ch = client.open_session().await.unwrap();
        assert!(
            ch.request(ChannelRequestKind::AuthAgentReq, true)
                .await
                .unwrap()
        );
        ch.exec(
            "echo \"$SSH_AUTH_SOCK\"; stat -c %a \"${SSH_AUTH_SOCK%/*}\"; \
             test -S \"$SSH_AUTH_SOCK\" && echo socket; ssh-add -l; echo \"rc=$?\"",
        )
        .await
        .unwrap();
        let mut out = String::new();
        ch.reader().read_to_string(&mut out).await.unwrap();
        ch.wait_closed().await.unwrap();
        let lines: Vec<&str> = out.lines().collect();
        let sock = std::path::PathBuf::from(lines[0]);
        let dir = sock.parent().unwrap().to_owned();
        let name = dir.file_name().unwrap().to_str().unwrap();
        assert!(
            dir.parent() == Some(std::path::Path::new("/tmp"))
                && name.starts_with("ssh-")
                && name.len() == 14,
            "{out}"
        );
        assert!(
            sock.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("agent."),
            "{out}"
        );
        assert_eq!(
            lines[1..],
            ["700", "socket", "The agent has no identities.", "rc=1"],
            "{out}"
        );
        // SSH_AGENTC_REQUEST_IDENTITIES
        assert_eq!(agent.await, 11);
        // Removed when the session ended.
        let mut gone = false;
        for _ in 0..50 {
            if std::fs::symlink_metadata(&dir).is_err() {
                gone = true;
                break;
            }
            runtime::sleep(Duration::from_millis(100)).await;
        }
        assert!(gone, "{} is still there", dir.display());
    });
}

#[test]
fn agent_socket_stops_listening_when_the_connection_ends() {
    block(async {
        let mut p = policy();
        p.agent_forwarding = true;
        let client = start(p).await;
        let ch = client.open_session().await.unwrap();
        assert!(
            ch.request(ChannelRequestKind::AuthAgentReq, true)
                .await
                .unwrap()
        );
        // The program outlives the connection (no pty, its output gone).
        ch.exec("echo \"$SSH_AUTH_SOCK\"; exec sleep 10 </dev/null >/dev/null 2>&1")
            .await
            .unwrap();
        let mut line = Vec::new();
        let mut b = [0u8; 1];
        while ch.reader().read_exact(&mut b).await.is_ok() && b[0] != b'\n' {
            line.push(b[0]);
        }
        let sock = std::path::PathBuf::from(String::from_utf8(line).unwrap());
        assert!(std::os::unix::net::UnixStream::connect(&sock).is_ok());
        client.disconnect().await.unwrap();
        let mut refused = false;
        for _ in 0..50 {
            if std::os::unix::net::UnixStream::connect(&sock).is_err() {
                refused = true;
                break;
            }
            runtime::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            refused,
            "{} still accepts after the connection ended",
            sock.display()
        );
    });
}

#[test]
fn x11_display_stops_listening_when_the_connection_ends() {
    block(async {
        let home = temp_home("x11-end");
        let mut p = with_home(policy(), &home);
        p.x11_forwarding = true;
        p.x11_display_offset = 40;
        p.xauth_location = "/bin/true".into();
        let client = start(p).await;
        let ch = client.open_session().await.unwrap();
        assert!(
            ch.request(x11_req(false, "MIT-MAGIC-COOKIE-1", COOKIE), true)
                .await
                .unwrap()
        );
        // The program outlives the connection (no pty, its output gone).
        ch.exec("echo \"$DISPLAY\"; exec sleep 10 </dev/null >/dev/null 2>&1")
            .await
            .unwrap();
        let mut line = Vec::new();
        let mut b = [0u8; 1];
        while ch.reader().read_exact(&mut b).await.is_ok() && b[0] != b'\n' {
            line.push(b[0]);
        }
        let n = display_number(std::str::from_utf8(&line).unwrap());
        let port = u16::try_from(6000 + n).unwrap();
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        client.disconnect().await.unwrap();
        let mut refused = false;
        for _ in 0..50 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                refused = true;
                break;
            }
            runtime::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            refused,
            "port {port} still accepts after the connection ended"
        );
        let _ = std::fs::remove_dir_all(&home);
    });
}

#[test]
fn agent_forwarding_denied_is_refused() {
    block(async {
        let client = start(policy()).await;
        let ch = client.open_session().await.unwrap();
        assert!(
            !ch.request(ChannelRequestKind::AuthAgentReq, true)
                .await
                .unwrap()
        );
        ch.exec("echo \"${SSH_AUTH_SOCK-unset}\"").await.unwrap();
        let mut out = String::new();
        ch.reader().read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "unset\n");
    });
}

#[test]
fn without_x11_use_localhost_the_display_is_the_host_name_on_every_address() {
    block(async {
        let home = temp_home("x11-any");
        let mut p = with_home(policy(), &home);
        p.x11_forwarding = true;
        p.x11_use_localhost = false;
        p.x11_display_offset = 30;
        p.xauth_location = "/bin/true".into();
        let client = start(p).await;
        let x_server = runtime::spawn({
            let client = client.clone();
            async move {
                let incoming = client.next_channel().await.unwrap();
                assert!(matches!(incoming.channel_type, ChannelType::X11 { .. }));
                let ch = incoming.accept().unwrap();
                ch.writer().write_all(b"hi\n").await.unwrap();
                ch.send_eof().unwrap();
                let mut rest = Vec::new();
                ch.reader().read_to_end(&mut rest).await.unwrap();
            }
        });
        let ch = client.open_session().await.unwrap();
        assert!(
            ch.request(x11_req(true, "MIT-MAGIC-COOKIE-1", COOKIE), true)
                .await
                .unwrap()
        );
        // Reached through a non-loopback-only listener: 0.0.0.0 takes
        // 127.0.0.2 too.
        ch.exec(
            "exec bash -c 'echo \"$DISPLAY\"; n=${DISPLAY#*:}; n=${n%.*}; \
             exec 3<>/dev/tcp/127.0.0.2/$((6000+n)) || exit 3; read -r l <&3; echo \"$l\"'",
        )
        .await
        .unwrap();
        let mut out = String::new();
        ch.reader().read_to_string(&mut out).await.unwrap();
        x_server.await;
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        let lines: Vec<&str> = out.lines().collect();
        let (name, rest) = lines[0].split_once(':').unwrap();
        assert_eq!(name, host.trim(), "{out}");
        let n: u32 = rest.strip_suffix(".0").unwrap().parse().unwrap();
        assert!(n >= 30, "{out}");
        assert_eq!(lines[1], "hi", "{out}");
        let _ = std::fs::remove_dir_all(&home);
    });
}
