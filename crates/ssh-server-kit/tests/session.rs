//! `host::serve_session` with real processes, driven by our client over
//! loopback TCP: exec with pipes, a PTY with its size, env filtering,
//! signals, subsystems, forced commands.

#![cfg(unix)]
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
use ssh_async::ssh_keys::PrivateKey;
use ssh_async::{
    Client, ClientOptions, ExitStatus, Server, ServerHandler, ServerOptions, SimpleHandler, runtime,
};
use ssh_os::user::User;
use ssh_server_kit::session::{SessionPolicy, serve_session};
use ssh_wire::messages::{ChannelRequestKind, ChannelType, PtyRequest, TerminalModes};

const LIMIT: Duration = Duration::from_secs(30);

struct Anyone;
impl ServerHandler for Anyone {
    async fn password(&mut self, _user: &str, password: &str) -> bool {
        password == "pw"
    }
}

fn policy() -> SessionPolicy {
    let user = User::current().unwrap();
    SessionPolicy {
        env: vec![
            ("HOME".into(), user.home.display().to_string()),
            ("PATH".into(), "/usr/bin:/bin".into()),
        ],
        user,
        switch_user: false,
        accept_env: vec!["LANG".into(), "LC_*".into()],
        permit_tty: true,
        subsystems: vec![("upper".into(), "tr a-z A-Z".into())],
        force_command: None,
        x11_forwarding: false,
        x11_display_offset: 10,
        x11_use_localhost: true,
        xauth_location: "/usr/bin/xauth".into(),
        agent_forwarding: false,
        nologin: None,
        sockets: None,
    }
}

/// Starts a server whose sessions follow `policy`; returns a client.
async fn start(policy: SessionPolicy) -> Client {
    start_with_socket(policy).await.0
}

/// [`start`], also returning the client's socket (to cut it).
async fn start_with_socket(policy: SessionPolicy) -> (Client, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let policy = Arc::new(policy);
    drop(runtime::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let key = PrivateKey::from_ed25519_seed(&[9; 32]);
        let conn = Server::accept(stream, ServerOptions::new(vec![Box::new(key)]), &mut Anyone)
            .await
            .unwrap();
        while let Some(incoming) = conn.next_channel().await {
            let ch = incoming.accept().unwrap();
            drop(runtime::spawn(serve_session(
                ch,
                policy.clone(),
                conn.clone(),
            )));
        }
    }));
    let stream = TcpStream::connect(addr).await.unwrap();
    let mut handler = SimpleHandler {
        host_key_check: Box::new(|_| true),
        keys: Vec::new(),
        password: Some("pw".into()),
    };
    let options = ClientOptions::new("me", handler.methods());
    let socket = stream.clone();
    let client = Client::connect(stream, options, &mut handler)
        .await
        .unwrap();
    (client, socket)
}

fn block<F: std::future::Future<Output = ()>>(f: F) {
    runtime::block_on(async { runtime::timeout(LIMIT, f).await.expect("timed out") });
}

#[test]
fn exec_keeps_stdout_stderr_and_status_apart() {
    block(async {
        let client = start(policy()).await;
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let out = client
            .exec_with_stdin("cat; echo to-stderr >&2; exit 42", &data)
            .await
            .unwrap();
        assert!(out.stdout == data, "stdout differs");
        assert_eq!(out.stderr, b"to-stderr\n");
        assert_eq!(out.exit_status, Some(42));
    });
}

#[test]
fn a_program_killed_by_a_signal_reports_it() {
    block(async {
        let client = start(policy()).await;
        let out = client.exec("kill -TERM $$").await.unwrap();
        assert_eq!(out.exit_status, None);
        assert_eq!(out.exit_signal.as_deref(), Some("TERM"));
    });
}

#[test]
fn a_signal_request_reaches_the_program() {
    block(async {
        let client = start(policy()).await;
        let ch = client.open_session().await.unwrap();
        ch.exec("echo ready; sleep 30").await.unwrap();
        let mut r = ch.reader();
        let mut buf = [0u8; 6];
        r.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ready\n");
        ch.signal("KILL").await.unwrap();
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).await.unwrap();
        let exit = ch.wait_closed().await.unwrap();
        assert!(
            matches!(&exit, Some(ExitStatus::Signal { name, .. }) if name == "KILL"),
            "{exit:?}"
        );
    });
}

#[test]
fn env_is_filtered_by_accept_env() {
    block(async {
        let client = start(policy()).await;
        let ch = client.open_session().await.unwrap();
        ch.set_env("LANG", b"C.UTF-8").await.unwrap();
        ch.set_env("LC_ALL", b"C").await.unwrap();
        ch.set_env("EVIL", b"1").await.unwrap();
        ch.exec("echo \"$LANG/$LC_ALL/${EVIL-unset}/$HOME\"")
            .await
            .unwrap();
        let mut out = String::new();
        ch.reader().read_to_string(&mut out).await.unwrap();
        let home = User::current().unwrap().home.display().to_string();
        assert_eq!(out, format!("C.UTF-8/C/unset/{home}\n"));
    });
}

/// A client cannot grow a session's environment without bound: sshd's
/// 128 variables, and at most 256 KiB in all; setting a variable again
/// replaces it and does not count twice.
#[test]
fn env_is_bounded_in_count_and_size() {
    block(async {
        let client = start(policy()).await;
        let ch = client.open_session().await.unwrap();
        let env = |name: String, len: usize| ChannelRequestKind::Env {
            name,
            value: vec![b'x'; len],
        };
        let mut accepted = 0;
        for i in 0..200 {
            accepted += usize::from(ch.request(env(format!("LC_{i}"), 10), true).await.unwrap());
        }
        assert_eq!(accepted, 128, "count");
        // Replacing one that is set is still allowed.
        assert!(ch.request(env("LC_5".into(), 20), true).await.unwrap());
        let ch2 = client.open_session().await.unwrap();
        let mut accepted = 0;
        for i in 0..20 {
            accepted += usize::from(
                ch2.request(env(format!("LC_{i}"), 32 * 1024), true)
                    .await
                    .unwrap(),
            );
        }
        assert_eq!(accepted, 7, "256 KiB of 32 KiB values (names included)");
        ch.exec("echo ${#LC_5} ${LC_127:+set} ${LC_128-unset}")
            .await
            .unwrap();
        let mut out = String::new();
        ch.reader().read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "20 set unset\n");
    });
}

#[test]
fn a_pty_session_has_a_terminal_of_the_requested_size() {
    block(async {
        let client = start(policy()).await;
        let ch = client.open_session().await.unwrap();
        ch.request_pty(PtyRequest {
            term: "xterm".into(),
            cols: 100,
            rows: 31,
            width_px: 0,
            height_px: 0,
            modes: TerminalModes::default(),
        })
        .await
        .unwrap();
        ch.exec("tty; stty size; echo $TERM; test -n \"$SSH_TTY\" && echo has-ssh-tty; stty size")
            .await
            .unwrap();
        let mut out = String::new();
        ch.reader().read_to_string(&mut out).await.unwrap();
        let lines: Vec<&str> = out.lines().map(str::trim_end).collect();
        assert!(lines[0].starts_with("/dev/pts/"), "{out:?}");
        assert_eq!(lines[1], "31 100", "{out:?}");
        assert_eq!(lines[2], "xterm");
        assert_eq!(lines[3], "has-ssh-tty");
        assert_eq!(ch.wait_closed().await.unwrap(), Some(ExitStatus::Code(0)));
    });
}

/// True while process `pid` exists and is not a zombie.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}

/// A PTY program whose client vanished (no CLOSE, no EOF: the connection
/// just ends, as when `ssh` is killed) is hung up like under sshd: the
/// terminal closes and the program gets SIGHUP, even when idle.
#[test]
fn a_pty_program_is_hung_up_when_its_connection_goes() {
    block(async {
        let (client, socket) = start_with_socket(policy()).await;
        let ch = client.open_session().await.unwrap();
        ch.request_pty(PtyRequest {
            term: "xterm".into(),
            cols: 80,
            rows: 24,
            width_px: 0,
            height_px: 0,
            modes: TerminalModes::default(),
        })
        .await
        .unwrap();
        ch.exec("echo pid=$$; exec sleep 1000").await.unwrap();
        let mut r = ch.reader();
        let mut seen = Vec::new();
        let pid = loop {
            let mut buf = [0u8; 256];
            let n = r.read(&mut buf).await.unwrap();
            assert!(n > 0, "no pid line: {:?}", String::from_utf8_lossy(&seen));
            seen.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&seen);
            if let Some(line) = text
                .lines()
                .find(|l| l.starts_with("pid=") && text.contains('\n'))
            {
                break line
                    .trim_end()
                    .trim_start_matches("pid=")
                    .parse::<u32>()
                    .unwrap();
            }
        };
        assert!(alive(pid));
        // The client vanishes: its socket is cut, nothing more is said.
        socket.shutdown(std::net::Shutdown::Both).unwrap();
        for _ in 0..100 {
            if !alive(pid) {
                return;
            }
            runtime::sleep(Duration::from_millis(100)).await;
        }
        panic!("the program {pid} outlived its connection by 10 s");
    });
}

/// `UsePAM no`: while the nologin file exists, no program runs; its text
/// goes to stderr and the status is 254, as sshd's child does. Gone, the
/// next session runs.
#[test]
fn a_nologin_file_stops_programs_with_its_text_and_254() {
    block(async {
        let dir = temp_home("nologin");
        let file = dir.join("nologin");
        std::fs::write(&file, "down for maintenance\n").unwrap();
        let mut p = policy();
        p.nologin = Some(file.clone());
        let client = start(p).await;
        let out = client.exec("echo ran; touch ran").await.unwrap();
        assert_eq!(out.stdout, b"");
        assert_eq!(out.stderr, b"down for maintenance\n");
        assert_eq!(out.exit_status, Some(254));
        std::fs::remove_file(&file).unwrap();
        let out = client.exec("echo ran").await.unwrap();
        assert_eq!(out.stdout, b"ran\n");
        assert_eq!(out.exit_status, Some(0));
    });
}

#[test]
fn a_window_change_resizes_the_pty() {
    block(async {
        let client = start(policy()).await;
        let ch = client.open_session().await.unwrap();
        ch.request_pty(PtyRequest {
            term: "vt100".into(),
            cols: 80,
            rows: 24,
            width_px: 0,
            height_px: 0,
            modes: TerminalModes::default(),
        })
        .await
        .unwrap();
        // The shell reads a line, then prints the size.
        ch.exec("stty size; read x; stty size").await.unwrap();
        let mut r = ch.reader();
        let mut first = Vec::new();
        while !first.ends_with(b"\n") {
            let mut b = [0u8; 1];
            r.read_exact(&mut b).await.unwrap();
            first.push(b[0]);
        }
        assert_eq!(String::from_utf8_lossy(&first).trim_end(), "24 80");
        ch.window_change(132, 50, 0, 0).await.unwrap();
        // Give the request a moment to land before the line does.
        runtime::sleep(Duration::from_millis(200)).await;
        ch.writer().write_all(b"go\n").await.unwrap();
        let mut rest = String::new();
        r.read_to_string(&mut rest).await.unwrap();
        assert!(rest.contains("50 132"), "{rest:?}");
    });
}

#[test]
fn subsystems_and_forced_commands() {
    block(async {
        let client = start(policy()).await;
        let ch = client.open_session().await.unwrap();
        ch.subsystem("upper").await.unwrap();
        let mut w = ch.writer();
        w.write_all(b"hello").await.unwrap();
        w.close().await.unwrap();
        let mut out = String::new();
        ch.reader().read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "HELLO");
        let ch = client.open_session().await.unwrap();
        assert!(ch.subsystem("nonexistent").await.is_err());

        let mut p = policy();
        p.force_command = Some("echo forced:$SSH_ORIGINAL_COMMAND".into());
        let client = start(p).await;
        let out = client.exec("asked").await.unwrap();
        assert_eq!(out.stdout, b"forced:asked\n");
    });
}

#[test]
fn no_tty_when_the_policy_says_no() {
    block(async {
        let mut p = policy();
        p.permit_tty = false;
        let client = start(p).await;
        let ch = client.open_session().await.unwrap();
        let r = ch
            .request_pty(PtyRequest {
                term: "vt100".into(),
                cols: 80,
                rows: 24,
                width_px: 0,
                height_px: 0,
                modes: TerminalModes::default(),
            })
            .await;
        assert!(r.is_err());
        ch.exec("tty || echo no-tty").await.unwrap();
        let mut out = String::new();
        ch.reader().read_to_string(&mut out).await.unwrap();
        assert!(out.ends_with("no-tty\n"), "{out:?}");
    });
}

// ---- X11 and agent forwarding ----

const COOKIE: &str = "00112233445566778899aabbccddeeff";

fn x11_req(single_connection: bool, protocol: &str, cookie: &str) -> ChannelRequestKind {
    ChannelRequestKind::X11Req {
        single_connection,
        auth_protocol: protocol.into(),
        auth_cookie: cookie.into(),
        screen: 0,
    }
}

/// A fresh directory for HOME (xauth writes `$HOME/.Xauthority`).
fn temp_home(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ssh-async-host-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap();
    dir
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
