//! Readiness per stream: stdout and stderr of one channel each have their
//! own reader and writer, and each must be woken on its own.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use integration_tests::*;
use ssh_async::runtime;

/// More than the default 2 MiB channel window.
const BIG: usize = 6 * 1024 * 1024;

/// Two tasks write stdout and stderr of one channel at once, each more
/// than the window: both must finish (each blocked writer is woken when
/// the window opens, not only the one that blocked last).
#[test]
fn stdout_and_stderr_writers_blocked_on_the_window_both_finish() {
    runtime::block_on(async {
        let client = exec_pair(|ch, _| async move {
            let mut out = ch.writer();
            let mut err = ch.stderr_writer();
            let a = runtime::spawn(async move { out.write_all(&vec![b'o'; BIG]).await });
            let b = runtime::spawn(async move { err.write_all(&vec![b'e'; BIG]).await });
            let (a, b) = futures::join!(a, b);
            a?;
            b?;
            // EOF only once both streams are written (EOF ends both).
            ch.send_eof()?;
            ch.exit_status(0).await?;
            ch.close()
        })
        .await;
        let work = async {
            let ch = client.open_session().await.unwrap();
            ch.exec("both").await.unwrap();
            let mut out = Vec::new();
            let mut err = Vec::new();
            let mut r = ch.reader();
            let mut e = ch.stderr();
            let (ro, re) = futures::join!(r.read_to_end(&mut out), e.read_to_end(&mut err));
            ro.unwrap();
            re.unwrap();
            (out.len(), err.len())
        };
        let got = runtime::timeout(Duration::from_secs(20), work).await;
        assert_eq!(
            got,
            Some((BIG, BIG)),
            "a writer blocked on the window was never woken"
        );
    });
}

/// The peer writes a little stderr, then more stdout than the window; the
/// application reads stdout to its end before it looks at stderr. Stdout
/// must keep flowing: stderr sitting unread must not stop stdout's reader
/// from being woken.
#[test]
fn a_reader_of_stdout_alone_is_woken_while_stderr_sits_unread() {
    runtime::block_on(async {
        let client = exec_pair(|ch, _| async move {
            ch.stderr_writer().write_all(b"a warning\n").await?;
            let mut out = ch.writer();
            out.write_all(&vec![b'o'; BIG]).await?;
            out.close().await?;
            ch.exit_status(0).await?;
            ch.close()
        })
        .await;
        let work = async {
            let ch = client.open_session().await.unwrap();
            ch.exec("stdout").await.unwrap();
            let mut out = Vec::new();
            ch.reader().read_to_end(&mut out).await.unwrap();
            let mut err = Vec::new();
            ch.stderr().read_to_end(&mut err).await.unwrap();
            (out.len(), err)
        };
        let got = runtime::timeout(Duration::from_secs(20), work).await;
        assert_eq!(
            got,
            Some((BIG, b"a warning\n".to_vec())),
            "stdout's reader was not woken while stderr was unread"
        );
    });
}

/// Two tasks wait on one channel's events at once: one for the peer's
/// next request, one for the close. Both are woken when the peer closes
/// (a single waker slot kept only the last one, and the other task slept
/// for ever: a session's request task beside its hang-up watch).
#[test]
fn a_request_waiter_and_a_close_waiter_are_both_woken() {
    runtime::block_on(async {
        let (done_tx, done_rx) = futures::channel::oneshot::channel();
        let client = exec_pair(|ch, _| async move {
            let requests = {
                let ch = ch.control();
                runtime::spawn(async move {
                    let mut n = 0;
                    while ch.next_request().await.is_some() {
                        n += 1;
                    }
                    n
                })
            };
            // The request task is waiting before the close watch starts.
            runtime::sleep(Duration::from_millis(200)).await;
            let closed = ch.wait_closed();
            let both = async { futures::join!(requests, closed) };
            let got = runtime::timeout(Duration::from_secs(10), both).await;
            let _ = done_tx.send(got.map(|(n, c)| (n, c.is_ok())));
            Ok(())
        })
        .await;
        let ch = client.open_session().await.unwrap();
        ch.exec("wait").await.unwrap();
        runtime::sleep(Duration::from_millis(500)).await;
        ch.close().unwrap();
        let got = runtime::timeout(Duration::from_secs(20), done_rx).await;
        assert_eq!(
            got.map(Result::ok),
            Some(Some(Some((0, true)))),
            "a waiter was not woken"
        );
    });
}
