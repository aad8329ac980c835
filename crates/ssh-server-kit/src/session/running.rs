//! A started program's life: its bytes moved between the channel and its
//! pipes or terminal, the requests that reach it while it runs
//! (`window-change`, `signal`), the hang-up of a terminal whose channel
//! went, and its exit status or signal as the session's end.

use std::sync::Arc;

use futures::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt};
use ssh_async::{AlignedBuf, Channel, Error, IncomingRequest, runtime};
use ssh_os::process::{self, ExitStatus};
use ssh_os::pty::PtyControl;
use ssh_os::signal::Signal;
use ssh_wire::messages::ChannelRequestKind;

use super::records::Recorded;
use super::win;

/// A started program and what the session moves for it.
pub(super) struct Running {
    pub(super) child: process::Child,
    pub(super) io: Io,
    /// The terminal session's login records, to close when it ends.
    pub(super) record: Option<Recorded>,
}

pub(super) enum Io {
    Pipes,
    Pty(PtyControl, ssh_os::pty::PtyReader, ssh_os::pty::PtyWriter),
}

/// What a pump reads first: a terminal's or a quiet program's output
/// keeps a buffer this small.
const PUMP_FIRST: usize = 32 * 1024;
/// The most a pump reads at once. A read that fills the buffer doubles
/// it up to this: a bulk download through a pipe then takes the pipe's
/// whole 64 KiB per read, half the reads of 32 KiB ones (each one wakes
/// the writer on the other end of the pipe, and each write of ours seals
/// several packets at once). Measured on `head -c 1G /dev/zero` over
/// aes128-gcm and chacha20: 7-12% more download throughput.
const PUMP_MAX: usize = 256 * 1024;

/// Copies `from` to `to` until `from` ends; errors of either end it too.
async fn pump<R, W>(mut from: R, mut to: W) -> u64
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    // Aligned: see `AlignedBuf` (reads out of a pipe into malloc's large
    // buffers ran at a third of the speed).
    let mut buf = AlignedBuf::new(PUMP_FIRST);
    let mut total = 0u64;
    loop {
        let n = match futures::io::AsyncReadExt::read(&mut from, &mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let Some(chunk) = buf.get(..n) else { break };
        if to.write_all(chunk).await.is_err() {
            break;
        }
        total += n as u64;
        if n == buf.len() && buf.len() < PUMP_MAX {
            // Grown between reads: nothing in it is kept.
            buf = AlignedBuf::new((buf.len() * 2).min(PUMP_MAX));
        }
    }
    total
}

/// Copies a channel's data to a program's stdin until the channel's EOF:
/// written from the channel's own buffer, without a copy into one of
/// ours (that copy was 3.5% of the session thread on an upload).
async fn pump_from_channel<R, W>(mut from: R, mut to: W) -> u64
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut total = 0u64;
    loop {
        let n = match from.fill_buf().await {
            Ok([]) | Err(_) => break,
            Ok(chunk) => {
                if to.write_all(chunk).await.is_err() {
                    break;
                }
                chunk.len()
            }
        };
        from.consume_unpin(n);
        total += n as u64;
    }
    total
}

pub(super) async fn run(ch: Channel, mut running: Running) -> Result<(), Error> {
    let wait = running.child.wait();
    let mut outputs: Vec<futures::future::BoxFuture<'static, u64>> = Vec::new();
    let mut hang_up: Vec<futures::future::AbortHandle> = Vec::new();
    let control = match running.io {
        Io::Pipes => {
            if let Some(stdin) = running.child.stdin.take() {
                let reader = ch.reader();
                drop(runtime::spawn(async move {
                    let mut stdin = stdin;
                    pump_from_channel(reader, &mut stdin).await;
                    // EOF from the client: the program's stdin ends.
                    let _ = stdin.close().await;
                }));
            }
            if let Some(out) = running.child.stdout.take() {
                outputs.push(Box::pin(runtime::spawn(pump(out, ch.writer()))));
            }
            if let Some(err) = running.child.stderr.take() {
                outputs.push(Box::pin(runtime::spawn(pump(err, ch.stderr_writer()))));
            }
            None
        }
        Io::Pty(control, r, w) => {
            // Both pumps hold the terminal's master: abortable, so that a
            // channel that goes away can close it (see below).
            let reader = ch.reader();
            let (input, abort) = futures::future::abortable(pump(reader, w));
            hang_up.push(abort);
            drop(runtime::spawn(input));
            let (output, abort) = futures::future::abortable(pump(r, ch.writer()));
            hang_up.push(abort);
            outputs.push(Box::pin(runtime::spawn(async move {
                output.await.unwrap_or(0)
            })));
            Some(control)
        }
    };
    // Requests while the program runs: window-change and signal.
    let child = Arc::new(running.child);
    let requests = {
        let ch = ch.control();
        let child = child.clone();
        async move {
            while let Some(req) = ch.next_request().await {
                handle_running_request(&ch, &req, control.as_ref(), &child);
            }
        }
    };
    let requests = runtime::spawn(requests);
    // A PTY program outliving its channel (the client closed it, or the
    // connection ended without a word) is hung up as sshd does: the
    // master closes (the pumps and the request task drop their handles),
    // and the kernel sends SIGHUP to the terminal's session. Without a
    // PTY the program keeps running until it notices its pipes closed,
    // also as under sshd.
    let status = if hang_up.is_empty() {
        wait.await
    } else {
        let mut wait = core::pin::pin!(wait);
        let closed = ch.control();
        let closed = core::pin::pin!(closed.wait_closed());
        match futures::future::select(wait.as_mut(), closed).await {
            futures::future::Either::Left((status, _)) => status,
            futures::future::Either::Right(_) => {
                tracing::debug!("session channel gone: hanging up its terminal");
                for a in &hang_up {
                    a.abort();
                }
                wait.await
            }
        }
    };
    for o in outputs {
        o.await;
    }
    drop(requests);
    if let Some(record) = &running.record {
        record.logout();
    }
    match status {
        Ok(ExitStatus::Code(c)) => ch.exit_status(c).await?,
        Ok(ExitStatus::Signal { name, core_dumped }) => {
            ch.exit_signal(name, core_dumped, "").await?
        }
        Err(e) => tracing::info!("waiting for the session's program: {e}"),
    }
    ch.send_eof()?;
    ch.close()?;
    Ok(())
}

fn handle_running_request(
    ch: &Channel,
    req: &IncomingRequest,
    pty: Option<&PtyControl>,
    child: &process::Child,
) {
    let ok = match &req.kind {
        ChannelRequestKind::WindowChange {
            cols,
            rows,
            width_px,
            height_px,
        } => pty.is_some_and(|p| p.resize(win(*cols, *rows, *width_px, *height_px)).is_ok()),
        ChannelRequestKind::Signal { name } => match Signal::from_ssh_name(name) {
            Some(sig) => child.signal(sig).is_ok(),
            None => false,
        },
        _ => false,
    };
    let _ = ch.reply(req, ok);
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use core::pin::Pin;
    use core::task::{Context, Poll};

    /// A program's output: `total` bytes counting up, in reads of at most
    /// `per_read`; records the size of each buffer it was given.
    struct Output {
        left: usize,
        per_read: usize,
        next: u8,
        offered: Vec<usize>,
        /// A buffer offered did not start on an `AlignedBuf::ALIGN` boundary.
        misaligned: bool,
    }

    impl AsyncRead for Output {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<std::io::Result<usize>> {
            self.offered.push(buf.len());
            self.misaligned |= !(buf.as_ptr() as usize).is_multiple_of(AlignedBuf::ALIGN);
            let n = buf.len().min(self.per_read).min(self.left);
            for b in &mut buf[..n] {
                *b = self.next;
                self.next = self.next.wrapping_add(1);
            }
            self.left -= n;
            Poll::Ready(Ok(n))
        }
    }

    fn pumped(total: usize, per_read: usize) -> (Vec<u8>, Vec<usize>) {
        let mut from = Output {
            left: total,
            per_read,
            next: 0,
            offered: Vec::new(),
            misaligned: false,
        };
        let mut to = futures::io::Cursor::new(Vec::new());
        let n = futures::executor::block_on(pump(&mut from, &mut to));
        assert_eq!(n, total as u64);
        assert!(
            !from.misaligned,
            "every buffer starts on an AlignedBuf::ALIGN boundary"
        );
        (to.into_inner(), from.offered)
    }

    #[test]
    fn a_pump_reads_more_at_once_while_reads_fill_it_and_loses_nothing() {
        let total = 2 * 1024 * 1024 + 7;
        let (out, offered) = pumped(total, usize::MAX);
        assert_eq!(out.len(), total);
        assert!(out.iter().enumerate().all(|(i, b)| *b == i as u8));
        assert_eq!(offered[..5], [32768, 65536, 131072, 262144, 262144]);
        assert!(offered.iter().all(|&n| n <= PUMP_MAX));
    }

    #[test]
    fn a_channel_pumped_from_its_own_buffer_loses_nothing() {
        // The channel's buffer, refilled in pieces of 1,000 bytes or less.
        let total = 300_007;
        let data = Output {
            left: total,
            per_read: 777,
            next: 0,
            offered: Vec::new(),
            misaligned: false,
        };
        let from = futures::io::BufReader::with_capacity(1000, data);
        let mut to = futures::io::Cursor::new(Vec::new());
        let n = futures::executor::block_on(pump_from_channel(from, &mut to));
        assert_eq!(n, total as u64);
        let out = to.into_inner();
        assert_eq!(out.len(), total);
        assert!(out.iter().enumerate().all(|(i, b)| *b == i as u8));
    }

    #[test]
    fn a_pump_whose_reads_come_short_keeps_its_first_buffer() {
        // A terminal or a quiet program: its reads never fill the buffer.
        let (out, offered) = pumped(100_000, 4096);
        assert_eq!(out.len(), 100_000);
        assert!(offered.iter().all(|&n| n == PUMP_FIRST));
    }
}
