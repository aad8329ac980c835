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

mod common;

use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use ssh_async::{ExitStatus, runtime};
use ssh_os::user::User;
use ssh_wire::messages::{ChannelRequestKind, PtyRequest, TerminalModes};

use common::*;

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

/// An expired password (sshd's `force_pwchange`): without a terminal no
/// program runs; sshd's two lines on stderr, status 1.
#[test]
fn an_expired_password_stops_programs_without_a_terminal() {
    block(async {
        let dir = temp_home("pwchange");
        let marker = dir.join("ran");
        let mut p = policy();
        p.password_change = true;
        let client = start(p).await;
        let out = client
            .exec(&format!("echo ran; touch {}", marker.display()))
            .await
            .unwrap();
        assert_eq!(out.stdout, b"");
        assert_eq!(
            out.stderr,
            b"WARNING: Your password has expired.\nPassword change required but no TTY available.\n"
        );
        assert_eq!(out.exit_status, Some(1));
        assert!(!marker.exists());
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
