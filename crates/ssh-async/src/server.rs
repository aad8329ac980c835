//! The server: accept, authenticate by password, answer `exec`.

use std::collections::HashMap;

use futures::io::{AsyncRead, AsyncWrite};
use rand::rngs::StdRng;
use ssh_auth::server::{PasswordVerdict, ServerConfig, ServerEvent};
use ssh_connection::{ChannelHandle, Connection, Event, GlobalReply};
use ssh_session::{ServerSession, ServerSessionEvent};
use ssh_transport::HostKey;
use ssh_wire::messages::{ChannelRequestKind, ChannelType, OpenFailureReason};

use crate::Error;
use crate::driver::Driver;
use crate::runtime;

/// The most stdin one `exec` collects; a client that sends more gets its
/// channel closed without an answer.
pub const MAX_STDIN: usize = 64 * 1024 * 1024;

/// Answers one `exec`: `(command, stdin) -> (stdout, stderr, exit status)`.
pub type ExecHandler = Box<dyn Fn(&str, &[u8]) -> (Vec<u8>, Vec<u8>, u32) + Send>;

/// Checks a password: `(user, password) -> accepted`.
pub type PasswordCheck = Box<dyn Fn(&str, &str) -> bool + Send>;

/// What [`Server::accept`] needs.
pub struct ServerOptions {
    /// The host keys (at least one).
    pub host_keys: Vec<HostKey>,
    /// `(user, password) -> accepted`.
    pub password_check: PasswordCheck,
    /// The `exec` handler.
    pub exec: ExecHandler,
}

impl core::fmt::Debug for ServerOptions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ServerOptions")
            .field("host_keys", &self.host_keys.len())
            .finish_non_exhaustive()
    }
}

/// Output of a finished command, being sent.
#[derive(Debug)]
struct Output {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    status: u32,
    out_sent: usize,
    err_sent: usize,
}

#[derive(Debug, Default)]
struct Chan {
    command: Option<String>,
    stdin: Vec<u8>,
    output: Option<Output>,
    /// exit-status, EOF and CLOSE were sent (or the channel was given up).
    finished: bool,
}

/// An authenticated server connection over stream `S`.
pub struct Server<S> {
    /// Boxed: a session is large, and futures holding it live on the
    /// stack of whoever polls them.
    session: Box<ServerSession>,
    driver: Driver<S>,
    exec: ExecHandler,
    user: String,
    channels: HashMap<ChannelHandle, Chan>,
}

impl<S> core::fmt::Debug for Server<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Server")
            .field("session", &self.session)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Server<S> {
    /// Runs the handshake and `password` authentication over `stream`.
    pub async fn accept(stream: S, options: ServerOptions) -> Result<Self, Error> {
        let ServerOptions {
            host_keys,
            password_check,
            exec,
        } = options;
        let auth = ServerConfig {
            methods: vec!["password".into()],
            host_key: host_keys.first().map(|k| k.public_key().to_blob()),
            ..ServerConfig::default()
        };
        let mut session = Box::new(ServerSession::new(
            ssh_transport::Config::server_default(),
            host_keys,
            auth,
            ssh_connection::Config::default(),
            Box::new(rand::make_rng::<StdRng>()),
        )?);
        let mut driver = Driver::new(stream);
        let mut user = None;
        let mut authenticated = false;
        loop {
            while let Some(ev) = session.poll_event() {
                match ev {
                    ServerSessionEvent::Auth(ServerEvent::VerifyPassword {
                        user,
                        password,
                        ..
                    }) => {
                        let verdict = if password_check(&user, &password) {
                            PasswordVerdict::Accept
                        } else {
                            PasswordVerdict::Reject
                        };
                        session.answer_password(runtime::now(), verdict)?;
                    }
                    ServerSessionEvent::Auth(ServerEvent::VerifyPublicKey { .. }) => {
                        session.answer_public_key(runtime::now(), false)?;
                    }
                    ServerSessionEvent::Auth(ServerEvent::Success { user: u, .. }) => {
                        user = Some(u);
                    }
                    ServerSessionEvent::Authenticated => authenticated = true,
                    _ => {}
                }
            }
            if authenticated {
                return Ok(Self {
                    session,
                    driver,
                    exec,
                    user: user.unwrap_or_default(),
                    channels: HashMap::new(),
                });
            }
            if let Some(e) = session.error() {
                return Err(Error::Session(e.clone()));
            }
            if driver.eof {
                return Err(Error::Disconnected);
            }
            driver.step(&mut *session).await?;
        }
    }

    /// The authenticated user.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The session, for its getters.
    pub fn session(&self) -> &ServerSession {
        &self.session
    }

    /// Answers channels and `exec` requests until the client sends
    /// DISCONNECT or closes the stream (`Ok`), or the session fails.
    pub async fn serve(mut self) -> Result<(), Error> {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let mut events = Vec::new();
            // Connection events only come wrapped; others are informational.
            while let Some(ev) = self.session.poll_event() {
                if let ServerSessionEvent::Connection(e) = ev {
                    events.push(e);
                }
            }
            let Some(conn) = self.session.connection_mut() else {
                return Err(Error::Session(ssh_session::Error::Misuse(
                    "no connection after authentication",
                )));
            };
            for ev in events {
                handle_event(conn, &mut self.channels, ev)?;
            }
            for (h, ch) in self.channels.iter_mut() {
                progress(conn, &self.exec, *h, ch, &mut buf)?;
            }
            if let Some(e) = self.session.error() {
                return ended(Error::Session(e.clone()));
            }
            if self.driver.eof {
                return Ok(());
            }
            if let Err(e) = self.driver.step(&mut *self.session).await {
                return ended(e);
            }
        }
    }
}

/// The end of [`Server::serve`]: a DISCONNECT from the client is a normal
/// end, anything else an error.
fn ended(e: Error) -> Result<(), Error> {
    match e {
        Error::Session(ssh_session::Error::Transport(ssh_transport::Error::PeerDisconnected {
            ..
        })) => Ok(()),
        e => Err(e),
    }
}

fn handle_event(
    conn: &mut Connection,
    channels: &mut HashMap<ChannelHandle, Chan>,
    ev: Event,
) -> Result<(), Error> {
    match ev {
        Event::OpenRequest {
            handle,
            channel_type: ChannelType::Session,
        } => {
            conn.accept(handle)?;
            channels.insert(handle, Chan::default());
        }
        Event::OpenRequest { handle, .. } => {
            conn.reject(
                handle,
                OpenFailureReason::ADMINISTRATIVELY_PROHIBITED,
                "only session channels",
            )?;
        }
        Event::ChannelRequest {
            handle,
            id,
            request,
        } => {
            let ok = match (channels.get_mut(&handle), request) {
                (Some(ch), ChannelRequestKind::Exec { command }) if ch.command.is_none() => {
                    ch.command = Some(String::from_utf8_lossy(&command).into_owned());
                    true
                }
                _ => false,
            };
            if let Some(id) = id {
                conn.answer_channel_request(handle, id, ok)?;
            }
        }
        Event::Closed { handle } => {
            channels.remove(&handle);
            conn.release(handle)?;
        }
        Event::GlobalRequest { id: Some(id), .. } => {
            conn.answer_global_request(id, GlobalReply::Failure)?;
        }
        _ => {}
    }
    Ok(())
}

/// Reads stdin, runs the command at EOF, sends what the window allows,
/// finishes the channel.
fn progress(
    conn: &mut Connection,
    exec: &ExecHandler,
    h: ChannelHandle,
    ch: &mut Chan,
    buf: &mut [u8],
) -> Result<(), Error> {
    if ch.finished {
        return Ok(());
    }
    loop {
        let n = conn.read(h, buf)?;
        if n == 0 {
            break;
        }
        if ch.stdin.len().saturating_add(n) > MAX_STDIN {
            ch.finished = true;
            ch.stdin = Vec::new();
            conn.close(h)?;
            return Ok(());
        }
        ch.stdin.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
    // Extended data from the client is read and dropped.
    while conn.read_extended(h, buf)? > 0 {}
    let info = conn.channel_info(h)?;
    if ch.output.is_none() && info.eof_received {
        match &ch.command {
            Some(command) => {
                let stdin = core::mem::take(&mut ch.stdin);
                let (stdout, stderr, status) = exec(command, &stdin);
                ch.output = Some(Output {
                    stdout,
                    stderr,
                    status,
                    out_sent: 0,
                    err_sent: 0,
                });
            }
            None => {
                // EOF before any exec: nothing to run.
                ch.finished = true;
                conn.close(h)?;
                return Ok(());
            }
        }
    }
    if let Some(o) = ch.output.as_mut() {
        if let Some(rest) = o.stdout.get(o.out_sent..)
            && !rest.is_empty()
        {
            o.out_sent += conn.send_data(h, rest)?;
        }
        if let Some(rest) = o.stderr.get(o.err_sent..)
            && !rest.is_empty()
        {
            o.err_sent += conn.send_extended_data(h, 1, rest)?;
        }
        if o.out_sent >= o.stdout.len() && o.err_sent >= o.stderr.len() {
            conn.send_eof(h)?;
            conn.channel_request(
                h,
                ChannelRequestKind::ExitStatus { status: o.status },
                false,
            )?;
            conn.close(h)?;
            ch.finished = true;
        }
    }
    Ok(())
}
