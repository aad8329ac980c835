//! Programs served inside the server's own process instead of exec'd:
//! rsshd's `internal-sftp` in a session process that is already its user
//! and confined to a `ChrootDirectory`, where no program could be exec'd
//! (its loader and libraries are outside) and none needs to be.
//!
//! Each session runs the program on a thread of its own, with blocking
//! standard streams over the channel: the program's file system calls
//! never stall the connection's tasks.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use futures::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use ssh_async::{Channel, Error, runtime};

/// What serves `internal-sftp [options]` (sshd's `Subsystem sftp
/// internal-sftp`, `ForceCommand internal-sftp`).
#[derive(Clone, Default)]
pub enum InternalSftp {
    /// Nothing: `internal-sftp` is a command like any other, run through
    /// the user's shell.
    #[default]
    Shell,
    /// This program (rsshd's own binary), exec'd as `PROGRAM
    /// --internal-sftp USER HOME CHROOT options...` through the same spawn
    /// as any program; with `ChrootDirectory` it is exec'd as root and
    /// confines itself.
    Program(PathBuf),
    /// Served in this process, which must already be the user (and be in
    /// the chroot, when `ChrootDirectory` is set).
    InProcess(Arc<dyn InProcessProgram>),
}

impl std::fmt::Debug for InternalSftp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Shell => f.write_str("Shell"),
            Self::Program(p) => f.debug_tuple("Program").field(p).finish(),
            Self::InProcess(_) => f.write_str("InProcess"),
        }
    }
}

/// A program run on a thread of this process for one session.
pub trait InProcessProgram: Send + Sync {
    /// Runs one session and returns its exit status. `args` are the
    /// command's words after the program's name, `env` what an exec'd
    /// program would have been given. It blocks: it runs on a thread of
    /// its own. The streams end when the channel does.
    fn run(&self, args: Vec<String>, env: Vec<(OsString, OsString)>, io: Stdio) -> u32;
}

/// The standard streams of an in-process program: the channel's data
/// (both ways) and its extended data.
pub struct Stdio {
    /// The client's bytes; end of file when the client sent EOF or the
    /// channel closed.
    pub stdin: Box<dyn Read + Send>,
    /// To the client.
    pub stdout: Box<dyn Write + Send>,
    /// To the client's standard error.
    pub stderr: Box<dyn Write + Send>,
}

/// A program to run in process, from [`super::spawn`].
pub(super) struct Started {
    pub(super) program: Arc<dyn InProcessProgram>,
    pub(super) args: Vec<String>,
    pub(super) env: Vec<(OsString, OsString)>,
}

/// Blocking standard streams over a channel's async halves (the thread
/// waits for the connection's driver as a process waits on its pipes).
struct Blocking<T>(T);

impl<T: AsyncRead + Unpin> Read for Blocking<T> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        futures::executor::block_on(self.0.read(buf))
    }
}

impl<T: AsyncWrite + Unpin> Write for Blocking<T> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        futures::executor::block_on(self.0.write(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        futures::executor::block_on(self.0.flush())
    }
}

/// Runs `started` for the session of `ch` until it returns, then sends
/// its exit status, EOF and CLOSE. No request applies while it runs
/// (there is neither a terminal nor a process to signal): each is refused.
pub(super) async fn run(ch: Channel, started: Started) -> Result<(), Error> {
    let Started { program, args, env } = started;
    let io = Stdio {
        stdin: Box::new(Blocking(ch.reader())),
        stdout: Box::new(Blocking(ch.writer())),
        stderr: Box::new(Blocking(ch.stderr_writer())),
    };
    let (done, status) = futures::channel::oneshot::channel();
    std::thread::Builder::new()
        .name("in-process".into())
        .spawn(move || {
            let _ = done.send(program.run(args, env, io));
        })?;
    let requests = {
        let ch = ch.control();
        runtime::spawn(async move {
            while let Some(req) = ch.next_request().await {
                if ch.reply(&req, false).is_err() {
                    break;
                }
            }
        })
    };
    let status = status.await;
    drop(requests);
    match status {
        Ok(code) => ch.exit_status(code).await?,
        Err(_) => tracing::info!("an in-process program ended without a status"),
    }
    ch.send_eof()?;
    ch.close()?;
    Ok(())
}
