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
    p.subsystems = vec![("sftp".into(), "internal-sftp -R  -u 022".into())];
    p
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
        let out = client
            .exec_with_stdin("internal-sftp -e -d /x", &data)
            .await
            .unwrap();
        assert!(out.stdout == data.to_ascii_uppercase(), "stdout differs");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("-e,-d,/x home={home}\n")
        );
        assert_eq!(out.exit_status, Some(300_000));

        // As a subsystem, its words split as sshd splits them.
        let ch = client.open_session().await.unwrap();
        ch.subsystem("sftp").await.unwrap();
        let mut w = ch.writer();
        w.write_all(b"hello").await.unwrap();
        w.close().await.unwrap();
        let mut out = String::new();
        ch.reader().read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "HELLO");
        let mut err = String::new();
        ch.stderr().read_to_string(&mut err).await.unwrap();
        assert!(err.starts_with("-R,-u,022 "), "{err:?}");
        assert_eq!(ch.wait_closed().await.unwrap(), Some(ExitStatus::Code(5)));

        // Anything else is a program as before.
        let out = client.exec("echo $((6 * 7))").await.unwrap();
        assert_eq!(out.stdout, b"42\n");
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
        let out = client
            .exec_with_stdin("internal-sftp", b"ok")
            .await
            .unwrap();
        assert_eq!(out.stdout, b"OK");
        assert_eq!(out.exit_status, Some(2));
        let ch = client.open_session().await.unwrap();
        assert!(ch.exec("echo escaped").await.is_err());
        let ch = client.open_session().await.unwrap();
        assert!(ch.shell().await.is_err());
    });
}
