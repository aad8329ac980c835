//! `AsyncBufRead` on channel readers: the channel's buffer changes hands
//! instead of being copied, the window re-opens as the consumer goes, and
//! a reader dropped with bytes in hand loses none of them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Duration;

use futures::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use integration_tests::*;
use ssh_async::runtime;

/// Three default channel windows: a reader that never re-opened the window
/// would stall after the first.
const BIG: usize = 6 * 1024 * 1024;

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

async fn serve_pattern(len: usize) -> ssh_async::Client {
    exec_pair(move |ch, _| async move {
        let mut out = ch.writer();
        out.write_all(&pattern(len)).await?;
        ch.send_eof()?;
        ch.exit_status(0).await?;
        ch.close()
    })
    .await
}

/// Consumed in odd-sized steps straight from the lent buffer, more than a
/// window in all: every byte arrives, in order.
#[test]
fn fill_buf_and_consume_read_more_than_a_window_in_order() {
    runtime::block_on(async {
        let client = serve_pattern(BIG).await;
        let work = async {
            let ch = client.open_session().await.unwrap();
            ch.exec("pattern").await.unwrap();
            let mut r = ch.reader();
            let mut got = Vec::with_capacity(BIG);
            let mut fills = 0usize;
            loop {
                let buf = r.fill_buf().await.unwrap();
                if buf.is_empty() {
                    break;
                }
                fills += 1;
                let n = buf.len().min(7919);
                got.extend_from_slice(&buf[..n]);
                r.consume_unpin(n);
            }
            (got, fills)
        };
        let (got, fills) = runtime::timeout(Duration::from_secs(30), work)
            .await
            .expect("the buffered reader stalled");
        assert_eq!(got.len(), BIG);
        assert!(got == pattern(BIG), "bytes out of order or changed");
        assert!(fills >= BIG / 7919, "{fills}");
    });
}

/// A reader that takes the channel's bytes, uses some and is dropped puts
/// the rest back: the next reader continues exactly where it stopped.
/// Reads through `AsyncRead` after `fill_buf` use the bytes in hand first.
#[test]
fn a_dropped_buffered_reader_puts_its_bytes_back() {
    const LEN: usize = 100_000;
    runtime::block_on(async {
        let client = serve_pattern(LEN).await;
        let work = async {
            let ch = client.open_session().await.unwrap();
            ch.exec("pattern").await.unwrap();
            let mut got = Vec::new();
            {
                let mut r = ch.reader();
                let buf = r.fill_buf().await.unwrap();
                assert!(!buf.is_empty());
                let n = buf.len().min(10);
                got.extend_from_slice(&buf[..n]);
                r.consume_unpin(n);
                // Plain reads take from the bytes in hand first.
                let mut small = [0u8; 5];
                r.read_exact(&mut small).await.unwrap();
                got.extend_from_slice(&small);
                // Dropped with the rest of its fill in hand.
            }
            let mut rest = Vec::new();
            ch.reader().read_to_end(&mut rest).await.unwrap();
            got.extend_from_slice(&rest);
            got
        };
        let got = runtime::timeout(Duration::from_secs(30), work)
            .await
            .expect("the second reader stalled");
        assert_eq!(got.len(), LEN);
        assert!(got == pattern(LEN), "bytes lost or reordered");
    });
}
