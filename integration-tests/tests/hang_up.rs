//! A server that hangs up right after the session's last messages, as
//! `sshd` does once the last channel closed (found by the xtask's
//! `rssh>hostile:*` rows, whose scripted server sends the output, the exit
//! status, EOF and CLOSE back to back): what arrived before the end is
//! still the client's to read. The exec's reply, the output and the exit
//! status came before the DISCONNECT; the end must not take them away.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use integration_tests::*;
use ssh_async::{ExitStatus, Server, runtime};
use ssh_wire::messages::ChannelRequestKind;

#[test]
fn what_came_before_the_server_hung_up_is_kept() {
    runtime::block_on(async {
        let (a, b) = duplex();
        let server = runtime::spawn(async move {
            let conn = Server::accept(b, server_options(), &mut Policy).await?;
            let ch = conn
                .next_channel()
                .await
                .ok_or(ssh_async::Error::ChannelGone)?
                .accept()?;
            let req = ch
                .next_request()
                .await
                .ok_or(ssh_async::Error::ChannelGone)?;
            assert!(matches!(req.kind, ChannelRequestKind::Exec { .. }));
            // Not within the client's first poll of its exec.
            runtime::sleep(Duration::from_millis(50)).await;
            ch.reply(&req, true)?;
            ch.writer().write_all(b"last words").await?;
            ch.exit_status(7).await?;
            ch.send_eof()?;
            ch.close()?;
            // Once the client's CLOSE came (its connection layer answers
            // at once), the server hangs up: the client application has
            // read nothing yet.
            ch.wait_closed().await?;
            conn.disconnect();
            conn.closed().await
        });
        let (client, _) = connect(a, PASSWORD).await;
        let client = client.unwrap();
        let ch = client.open_session().await.unwrap();
        let exec = ch.exec("anything");
        futures::pin_mut!(exec);
        // The request goes out; its reply comes, then the end, before the
        // caller looks again.
        let first = futures::poll!(exec.as_mut());
        assert!(first.is_pending(), "{first:?}");
        let ended = runtime::timeout(LIMIT, client.closed())
            .await
            .expect("the connection did not end");
        assert!(ended.is_ok(), "{ended:?}");
        runtime::timeout(LIMIT, exec)
            .await
            .expect("exec")
            .expect("the exec's reply came before the end");
        let mut out = Vec::new();
        ch.reader().read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"last words");
        assert_eq!(ch.wait_closed().await.unwrap(), Some(ExitStatus::Code(7)));
        let served = runtime::timeout(LIMIT, server).await.expect("server");
        assert!(served.is_ok(), "{served:?}");
    });
}
