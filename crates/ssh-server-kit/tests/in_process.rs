//! `internal-sftp` served in process (`InternalSftp::InProcess`): the
//! program runs on a thread with the channel as its standard streams and
//! its status as the session's; with `ChrootDirectory` set, nothing else
//! runs.

#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::ffi::OsString;
use std::io::{Read, Write};
use std::sync::Arc;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use ssh_async::ExitStatus;
use ssh_server_kit::session::{InProcessProgram, InternalSftp, Stdio};

use common::*;

/// Upper-cases its input, says its arguments and one variable on stderr,
/// and exits with the number of bytes it read.
struct Upper;

impl InProcessProgram for Upper {
    fn run(&self, args: Vec<String>, env: Vec<(OsString, OsString)>, mut io: Stdio) -> u32 {
        let mut input = Vec::new();
        io.stdin.read_to_end(&mut input).unwrap();
        io.stdout.write_all(&input.to_ascii_uppercase()).unwrap();
        io.stdout.flush().unwrap();
        let home = env
            .iter()
            .find(|(n, _)| n == "HOME")
            .map(|(_, v)| v.to_string_lossy().into_owned())
            .unwrap_or_default();
        writeln!(io.stderr, "{} home={home}", args.join(",")).unwrap();
        u32::try_from(input.len()).unwrap()
    }
}

fn in_process_policy() -> ssh_server_kit::SessionPolicy {
    let mut p = policy();
    p.internal_sftp = InternalSftp::InProcess(Arc::new(Upper));
    p.subsystems = vec![
        ("sftp".into(), "internal-sftp -R  -u 022".into()),
        ("big".into(), "internal-sftp -e -d /x".into()),
    ];
    p
}

/// Runs subsystem `name` with `stdin` (written while the output is read):
/// stdout, stderr and the exit status; `None` when the request is refused.
async fn subsystem(
    client: &ssh_async::Client,
    name: &str,
    stdin: &[u8],
) -> Option<(Vec<u8>, String, Option<ExitStatus>)> {
    let ch = client.open_session().await.unwrap();
    if ch.subsystem(name).await.is_err() {
        return None;
    }
    let mut w = ch.writer();
    let input = async {
        w.write_all(stdin).await.unwrap();
        w.close().await.unwrap();
    };
    let (mut out, mut err) = (Vec::new(), String::new());
    let (mut r, mut e) = (ch.reader(), ch.stderr());
    let (_, a, b) = futures::join!(input, r.read_to_end(&mut out), e.read_to_string(&mut err));
    a.unwrap();
    b.unwrap();
    Some((out, err, ch.wait_closed().await.unwrap()))
}

#[test]
fn an_in_process_program_has_the_channel_for_its_streams_and_status() {
    block(async {
        let p = in_process_policy();
        let home = p.user.home.display().to_string();
        let client = start(p).await;
        // 300 KB: more than one window's worth each way.
        let data: Vec<u8> = (0..300_000u32)
            .map(|i| b"abcxyz\n"[(i % 7) as usize])
            .collect();
        let (out, err, status) = subsystem(&client, "big", &data).await.unwrap();
        assert!(out == data.to_ascii_uppercase(), "stdout differs");
        // Its words split as sshd splits them.
        assert_eq!(err, format!("-e,-d,/x home={home}\n"));
        assert_eq!(status, Some(ExitStatus::Code(300_000)));

        let (out, err, status) = subsystem(&client, "sftp", b"hello").await.unwrap();
        assert_eq!(out, b"HELLO");
        assert!(err.starts_with("-R,-u,022 "), "{err:?}");
        assert_eq!(status, Some(ExitStatus::Code(5)));

        // Anything else is a program as before, a client's own
        // `internal-sftp` too (sshd runs it through the shell).
        let out = client.exec("echo $((6 * 7))").await.unwrap();
        assert_eq!(out.stdout, b"42\n");
        let out = client.exec("internal-sftp").await.unwrap();
        assert_eq!(out.exit_status, Some(127), "{out:?}");
        assert!(out.stdout.is_empty());
    });
}

#[test]
fn with_a_chroot_only_the_in_process_program_runs() {
    block(async {
        let mut p = in_process_policy();
        // The process would already be confined there: it is not entered
        // again, and nothing is exec'd.
        p.chroot = Some("/nonexistent-chroot".into());
        let client = start(p).await;
        let (out, _, status) = subsystem(&client, "sftp", b"ok").await.unwrap();
        assert_eq!(out, b"OK");
        assert_eq!(status, Some(ExitStatus::Code(2)));
        for command in ["echo escaped", "internal-sftp"] {
            let ch = client.open_session().await.unwrap();
            assert!(ch.exec(command).await.is_err(), "{command}");
        }
        let ch = client.open_session().await.unwrap();
        assert!(ch.shell().await.is_err());
    });
}

#[test]
fn forced_internal_sftp_serves_subsystems_and_refuses_other_sessions() {
    block(async {
        let mut p = in_process_policy();
        p.force_command = Some("internal-sftp -u 077".into());
        let client = start(p).await;
        // A request of a configured subsystem gets the forced server.
        let (out, err, status) = subsystem(&client, "sftp", b"up").await.unwrap();
        assert_eq!(out, b"UP");
        assert!(err.starts_with("-u,077 "), "{err:?}");
        assert_eq!(status, Some(ExitStatus::Code(2)));
        // An exec or a shell: sshd's words and status 1, nothing run.
        let out = client.exec_with_stdin("echo escaped", b"x").await.unwrap();
        assert_eq!(out.stdout, b"This service allows sftp connections only.\n");
        assert_eq!(out.exit_status, Some(1));
        let ch = client.open_session().await.unwrap();
        ch.shell().await.unwrap();
        let mut out = Vec::new();
        ch.reader().read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"This service allows sftp connections only.\n");
        assert_eq!(ch.wait_closed().await.unwrap(), Some(ExitStatus::Code(1)));
    });
}
