//! The session channel: PTY, environment, the command, and the bytes
//! between the local stdin/stdout/stderr and the channel.

use std::future::Future;
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::time::Duration;

use futures::channel::mpsc;
use futures::io::{AsyncReadExt as _, AsyncWriteExt};
use futures::{SinkExt, StreamExt};
use ssh_async::{Channel, Client, ExitStatus, runtime};
use ssh_auth::pattern::wildcard_match;
use ssh_os::{signal, terminal};
use ssh_wire::messages::{ChannelRequestKind, PtyRequest, TerminalModes};

use crate::escape::{Action, EscapeFilter, Piece};
use crate::log::eol;

/// What the session does.
#[derive(Debug, Clone, Default)]
pub struct SessionSpec {
    /// The command (or the subsystem name).
    pub command: Option<String>,
    /// `-s`.
    pub subsystem: bool,
    /// Request a PTY.
    pub tty: bool,
    /// `-n`.
    pub null_stdin: bool,
    /// The escape character (with a PTY).
    pub escape: Option<u8>,
    /// `SendEnv` patterns.
    pub send_env: Vec<String>,
    /// `SetEnv`.
    pub set_env: Vec<(String, String)>,
    /// The host name for "Connection to ... closed.".
    pub host: String,
    /// The address and port connected to, for the messages of an end.
    pub peer: crate::connect::Peer,
    /// Print "Connection to ... closed." (INFO and above).
    pub verbose_close: bool,
    /// The `x11-req` to send (`-X`/`-Y`).
    pub x11: Option<ChannelRequestKind>,
    /// Send `auth-agent-req@openssh.com` (`-A`).
    pub agent: bool,
    /// What `~C` command lines act on.
    pub commands: Option<crate::forwarding::Forwarder>,
}

/// How the session ended.
enum Outcome {
    Closed(Result<Option<ExitStatus>, ssh_async::Error>),
    EscapeDisconnect,
    Signal(i32),
}

type Boxed<'a> = Pin<Box<dyn Future<Output = Outcome> + 'a>>;

/// The variables of our environment that `SendEnv` patterns select.
pub fn env_to_send(patterns: &[String]) -> Vec<(String, String)> {
    if patterns.is_empty() {
        return Vec::new();
    }
    let mut v: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| patterns.iter().any(|p| wildcard_match(k, p)))
        .collect();
    v.sort();
    v
}

/// The size of a chunk of stdin.
const STDIN_CHUNK: usize = 64 * 1024;

/// Stdin in chunks: read on this thread without blocking when it is a
/// pipe or a socket ([`ssh_os::stdio::AsyncStdin`]: a thread would hand
/// every chunk over with a wake-up, two context switches per 64 KiB), else
/// on a thread of its own (a terminal or a file cannot be read
/// asynchronously everywhere) through a bounded channel. Either way the
/// chunks' buffers come back through [`StdinChunks::recycle`], so an
/// upload allocates none per chunk (perf put the copy into a fresh vector
/// and its page faults at 6% of rssh's time on an upload).
pub(crate) enum StdinChunks {
    /// Nothing to read (`-n`).
    Null,
    /// Read here.
    Async {
        stdin: ssh_os::stdio::AsyncStdin,
        spare: Option<Vec<u8>>,
        done: bool,
    },
    /// Read by a thread.
    Thread {
        rx: mpsc::Receiver<Vec<u8>>,
        back: std::sync::mpsc::SyncSender<Vec<u8>>,
    },
}

impl StdinChunks {
    /// The next chunk; `None` at end of file (or a read error).
    pub(crate) async fn next(&mut self) -> Option<Vec<u8>> {
        match self {
            Self::Null => None,
            Self::Thread { rx, .. } => rx.next().await,
            Self::Async { stdin, spare, done } => {
                if *done {
                    return None;
                }
                let mut buf = spare.take().unwrap_or_default();
                buf.resize(STDIN_CHUNK, 0);
                loop {
                    match stdin.read(&mut buf).await {
                        Ok(n @ 1..) => {
                            buf.truncate(n);
                            return Some(buf);
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Ok(0) | Err(_) => {
                            *done = true;
                            return None;
                        }
                    }
                }
            }
        }
    }

    /// Gives a chunk's buffer back for the next read.
    pub(crate) fn recycle(&mut self, buf: Vec<u8>) {
        match self {
            Self::Null => {}
            Self::Async { spare, .. } => *spare = Some(buf),
            Self::Thread { back, .. } => {
                let _ = back.try_send(buf);
            }
        }
    }
}

/// Starts reading stdin (nothing with `null`: the chunks end at once).
pub(crate) fn stdin_chunks(null: bool) -> StdinChunks {
    if null {
        return StdinChunks::Null;
    }
    if let Some(stdin) = ssh_os::stdio::AsyncStdin::open() {
        return StdinChunks::Async {
            stdin,
            spare: None,
            done: false,
        };
    }
    let (mut tx, rx) = mpsc::channel::<Vec<u8>>(4);
    let (back, returned) = std::sync::mpsc::sync_channel::<Vec<u8>>(8);
    let spawned = std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            let mut stdin = io::stdin().lock();
            loop {
                let mut buf = returned.try_recv().unwrap_or_default();
                buf.resize(STDIN_CHUNK, 0);
                match stdin.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        buf.truncate(n);
                        if futures::executor::block_on(tx.send(buf)).is_err() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!("cannot read stdin: {e}");
    }
    StdinChunks::Thread { rx, back }
}

/// Copies a channel stream to a local one until end of file. When the
/// local side stops taking data (a closed pipe) the rest is read and
/// dropped, as OpenSSH ignores data for a closed output, so that the
/// channel's window keeps moving and the session can end.
pub(crate) async fn copy_out(mut r: ssh_async::ChannelReader, mut out: impl Write) {
    use futures::io::AsyncBufReadExt as _;
    let mut failed = false;
    loop {
        // Written from the channel's own buffer (no copy into ours: perf
        // put that copy at 5% of rssh's time on a download).
        let n = match r.fill_buf().await {
            Ok([]) | Err(_) => break,
            Ok(chunk) => {
                if !failed && out.write_all(chunk).and_then(|()| out.flush()).is_err() {
                    tracing::debug!("local output closed: remote data is dropped");
                    failed = true;
                }
                chunk.len()
            }
        };
        r.consume_unpin(n);
    }
}

/// A descriptor of our stdout or stderr written directly: std's stdout
/// is line-buffered and would scan binary data for newlines. Falls back
/// to the std handle if the descriptor cannot be duplicated.
pub(crate) fn raw_output<T: std::os::fd::AsFd + Write + 'static>(std: T) -> Box<dyn Write> {
    match std.as_fd().try_clone_to_owned() {
        Ok(fd) => Box::new(std::fs::File::from(fd)),
        Err(_) => Box::new(std),
    }
}

/// Requests the PTY with our terminal's type, size and modes.
async fn request_pty(ch: &Channel) {
    let size = terminal::size().unwrap_or_default();
    let pty = PtyRequest {
        term: std::env::var("TERM").unwrap_or_default(),
        cols: size.cols.into(),
        rows: size.rows.into(),
        width_px: size.width_px.into(),
        height_px: size.height_px.into(),
        modes: TerminalModes {
            modes: terminal::modes(),
            unparsed: Vec::new(),
        },
    };
    if ch.request_pty(pty).await.is_err() {
        tracing::error!("PTY allocation request failed on channel 0");
    }
}

/// Runs the session; the exit status for the process.
pub async fn run(client: &Client, spec: &SessionSpec) -> i32 {
    let ch = match client.open_session().await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("channel 0: open failed: {e}");
            return 255;
        }
    };
    if spec.tty {
        request_pty(&ch).await;
    }
    if let Some(x11) = &spec.x11 {
        tracing::debug!("Requesting X11 forwarding with authentication spoofing.");
        match ch.request(x11.clone(), true).await {
            Ok(true) => {}
            _ => tracing::error!("X11 forwarding request failed on channel 0"),
        }
    }
    if spec.agent {
        // RFC 9987's name to a server that advertised `agent-forward`
        // (OpenSSH 10.6), OpenSSH's older one otherwise, as ssh does.
        let req = if client.server_supports_agent_forward() {
            ChannelRequestKind::AgentReq
        } else {
            ChannelRequestKind::AuthAgentReq
        };
        tracing::debug!(
            "Requesting agent forwarding on channel 0 via {}",
            req.name()
        );
        if let Err(e) = ch.request(req, false).await {
            tracing::debug!("agent forwarding request: {e}");
        }
    }
    for (k, v) in env_to_send(&spec.send_env)
        .into_iter()
        .chain(spec.set_env.iter().cloned())
    {
        tracing::debug!("channel 0: setting env {k} = \"{v}\"");
        if let Err(e) = ch.set_env(&k, v.as_bytes()).await {
            tracing::debug!("env {k}: {e}");
        }
    }
    let started = match (&spec.command, spec.subsystem) {
        (Some(c), true) => {
            tracing::debug!("Sending subsystem: {c}");
            ch.subsystem(c).await.map_err(|_| "subsystem")
        }
        (Some(c), false) => {
            tracing::debug!("Sending command: {c}");
            ch.exec(c).await.map_err(|_| "exec")
        }
        (None, _) => ch.shell().await.map_err(|_| "shell"),
    };
    if let Err(what) = started {
        tracing::error!("{what} request failed on channel 0");
        return 255;
    }

    let local_tty = terminal::is_tty(io::stdin());
    let raw = if spec.tty && local_tty {
        match terminal::RawMode::enter() {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::debug!("raw mode: {e}");
                None
            }
        }
    } else {
        None
    };
    crate::log::set_raw(raw.is_some());
    let outcome = pump(client, &ch, spec, raw.is_some()).await;
    drop(raw);
    crate::log::set_raw(false);

    let code = match outcome {
        Outcome::Closed(Ok(Some(ExitStatus::Code(c)))) => (c & 0xff) as i32,
        Outcome::Closed(Ok(Some(ExitStatus::Signal { name, .. }))) => {
            tracing::debug!("remote command killed by signal {name}");
            255
        }
        Outcome::Closed(Ok(_)) => 255,
        Outcome::Closed(Err(e)) => {
            tracing::debug!("{e}");
            for line in crate::ending::messages(&e, &spec.host, &spec.peer) {
                tracing::error!("{line}");
            }
            255
        }
        Outcome::EscapeDisconnect => 255,
        Outcome::Signal(n) => {
            tracing::error!("Killed by signal {n}.");
            255
        }
    };
    if spec.tty && spec.verbose_close {
        tracing::info!("Connection to {} closed.", spec.host);
    }
    code
}

async fn pump(client: &Client, ch: &Channel, spec: &SessionSpec, raw: bool) -> Outcome {
    let mut rx = stdin_chunks(spec.null_stdin);
    let escape = spec.escape.filter(|_| spec.tty);
    let input: Boxed<'_> = Box::pin(async move {
        let mut w = ch.writer();
        let mut filter = escape.map(EscapeFilter::new);
        while let Some(chunk) = rx.next().await {
            let pieces = match &mut filter {
                Some(f) => f.feed(&chunk),
                None => vec![Piece::Data(chunk)],
            };
            for p in pieces {
                match p {
                    Piece::Data(d) => {
                        if w.write_all(&d).await.is_err() {
                            return futures::future::pending().await;
                        }
                        rx.recycle(d);
                    }
                    Piece::Action(Action::Disconnect) => return Outcome::EscapeDisconnect,
                    Piece::Action(Action::Help) => {
                        if let Some(f) = &filter {
                            eprint!("{}", f.help());
                        }
                    }
                    Piece::Action(Action::Rekey) => {
                        if let Err(e) = client.rekey() {
                            tracing::error!("rekey: {e}");
                        }
                    }
                    Piece::Action(Action::Command) => {
                        if spec.commands.is_some() {
                            eprint!("{}ssh> ", eol());
                        }
                    }
                    Piece::Echo(e) => {
                        if spec.commands.is_some() {
                            let mut err = io::stderr();
                            let _ = err.write_all(&e).and_then(|()| err.flush());
                        }
                    }
                    Piece::CommandLine(line) => {
                        if let Some(f) = &spec.commands {
                            f.command(&line).await;
                        }
                    }
                    Piece::Action(Action::ListConnections) => {
                        eprint!(
                            "The following connections are open:{0}  #0 client-session (t4 nr0 i0/0 o0/0){0}",
                            eol()
                        );
                    }
                }
            }
        }
        // End of stdin: EOF to the channel; the session goes on.
        let _ = w.close().await;
        futures::future::pending().await
    });
    let output: Boxed<'_> = Box::pin(async move {
        futures::join!(
            copy_out(ch.reader(), raw_output(io::stdout())),
            copy_out(ch.stderr(), raw_output(io::stderr()))
        );
        Outcome::Closed(ch.wait_closed().await)
    });
    let winch: Boxed<'_> = Box::pin(async move {
        if spec.tty
            && terminal::is_tty(io::stdin())
            && let Ok(mut s) = signal::winch_stream()
        {
            while s.next().await.is_some() {
                if let Some(sz) = terminal::size() {
                    let _ = ch
                        .window_change(
                            sz.cols.into(),
                            sz.rows.into(),
                            sz.width_px.into(),
                            sz.height_px.into(),
                        )
                        .await;
                }
            }
        }
        futures::future::pending().await
    });
    // In raw mode ^C is a byte for the remote side; SIGTERM and SIGINT
    // from elsewhere end us, after the terminal is restored.
    let term: Boxed<'_> = Box::pin(async move {
        if raw
            && let Ok(mut s) = signal::termination_stream()
            && let Some(sig) = s.next().await
        {
            return Outcome::Signal(sig.as_raw());
        }
        futures::future::pending().await
    });
    let (outcome, _, _) = futures::future::select_all([input, output, winch, term]).await;
    outcome
}

/// `-N` (and the end of `-f -N`): no session; waits until the
/// connection ends (255, as `ssh`) or SIGINT/SIGTERM/SIGHUP arrive (255
/// too, after a clean disconnect).
pub async fn wait_only(client: &Client, host: &str, peer: &crate::connect::Peer) -> i32 {
    let closed: Pin<Box<dyn Future<Output = Option<i32>> + '_>> = Box::pin(async move {
        let r = client.closed().await;
        tracing::debug!("{r:?}");
        if let Err(e) = r {
            for line in crate::ending::messages(&e, host, peer) {
                tracing::error!("{line}");
            }
        }
        None
    });
    let term: Pin<Box<dyn Future<Output = Option<i32>> + '_>> = Box::pin(async move {
        match signal::termination_stream() {
            Ok(mut s) => match s.next().await {
                Some(sig) => Some(sig.as_raw()),
                None => futures::future::pending().await,
            },
            Err(_) => futures::future::pending().await,
        }
    });
    match futures::future::select(closed, term).await.factor_first().0 {
        None => {}
        Some(sig) => {
            crate::log::verbose(&format!("Killed by signal {sig}."));
        }
    }
    255
}

/// Says goodbye, not waiting long.
pub async fn disconnect(client: Client) {
    let _ = runtime::timeout(Duration::from_secs(2), client.disconnect()).await;
}
