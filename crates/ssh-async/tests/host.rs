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
use ssh_async::host::{SessionPolicy, serve_session};
use ssh_async::os::user::User;
use ssh_async::ssh_keys::PrivateKey;
use ssh_async::{
    Client, ClientOptions, ExitStatus, Server, ServerHandler, ServerOptions, SimpleHandler, runtime,
};
use ssh_wire::messages::{PtyRequest, TerminalModes};

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
    }
}

/// Starts a server whose sessions follow `policy`; returns a client.
async fn start(policy: SessionPolicy) -> Client {
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
    Client::connect(stream, options, &mut handler)
        .await
        .unwrap()
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
