//! A started program's life: its bytes moved between the channel and its
//! pipes or terminal, the requests that reach it while it runs
//! (`window-change`, `signal`), the hang-up of a terminal whose channel
//! went, and its exit status or signal as the session's end.

use std::sync::Arc;

use futures::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use ssh_async::{Channel, Error, IncomingRequest, runtime};
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

/// Copies `from` to `to` until `from` ends; errors of either end it too.
async fn pump<R, W>(mut from: R, mut to: W) -> u64
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 32 * 1024];
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
                    pump(reader, &mut stdin).await;
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
