//! The client: connect, authenticate, run commands.

use std::collections::VecDeque;

use futures::io::{AsyncRead, AsyncWrite};
use rand::rngs::StdRng;
use ssh_auth::client::{ClientConfig, ClientEvent, ClientMethod};
use ssh_connection::{Connection, Event, GlobalReply};
use ssh_keys::{PrivateKey, PublicKey};
use ssh_session::{ClientSession, ClientSessionEvent};
use ssh_wire::messages::{ChannelRequestKind, ChannelType, OpenFailureReason};

use crate::Error;
use crate::driver::Driver;

/// Decides whether a host key is trusted.
pub type HostKeyCheck = Box<dyn FnMut(&PublicKey) -> bool + Send>;

/// How [`Client::connect`] authenticates.
pub struct ClientOptions {
    /// The user name.
    pub user: String,
    /// Called with the server's host key once the server proved it holds
    /// it; `false` ends the connection with [`Error::HostKeyRejected`].
    pub host_key_check: HostKeyCheck,
    /// The password, tried after the keys.
    pub password: Option<String>,
    /// Keys for `publickey`, tried in order before the password.
    pub keys: Vec<PrivateKey>,
}

impl core::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

/// What a command wrote and how it ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// Channel data.
    pub stdout: Vec<u8>,
    /// Extended data of any type (type 1 is stderr).
    pub stderr: Vec<u8>,
    /// The `exit-status` the server sent, if any.
    pub exit_status: Option<u32>,
}

/// An authenticated client connection over stream `S`.
pub struct Client<S> {
    /// Boxed: a session is large, and futures holding it live on the
    /// stack of whoever polls them.
    session: Box<ClientSession>,
    driver: Driver<S>,
    /// Connection events not consumed yet.
    events: VecDeque<Event>,
}

impl<S> core::fmt::Debug for Client<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    /// Runs the handshake and user authentication over `stream`.
    pub async fn connect(stream: S, mut options: ClientOptions) -> Result<Self, Error> {
        let mut methods: Vec<ClientMethod> = options
            .keys
            .iter()
            .map(|k| ClientMethod::PublicKey(k.public().clone()))
            .collect();
        if options.password.is_some() {
            methods.push(ClientMethod::Password);
        }
        let mut session = Box::new(ClientSession::new(
            ssh_transport::Config::default(),
            ClientConfig::new(&options.user, methods),
            ssh_connection::Config::default(),
            Box::new(rand::make_rng::<StdRng>()),
        )?);
        let mut sign_rng: StdRng = rand::make_rng();
        let mut driver = Driver::new(stream);
        let mut events = VecDeque::new();
        let mut authenticated = false;
        loop {
            while let Some(ev) = session.poll_event() {
                match ev {
                    ClientSessionEvent::HostKey { key, .. } => {
                        if (options.host_key_check)(&key) {
                            session.accept_host_key()?;
                        } else {
                            // The session queues its DISCONNECT; send it if
                            // the stream takes it at once, and stop.
                            let _ = session.reject_host_key();
                            driver.try_flush(&mut *session);
                            return Err(Error::HostKeyRejected);
                        }
                    }
                    ClientSessionEvent::Auth(ClientEvent::PasswordPrompt) => {
                        match &options.password {
                            Some(p) => session.password(p)?,
                            None => session.skip()?,
                        }
                    }
                    ClientSessionEvent::Auth(ClientEvent::NeedSignature {
                        key,
                        algorithm,
                        data,
                    }) => {
                        let sig = options
                            .keys
                            .iter()
                            .find(|k| *k.public() == key)
                            .and_then(|k| k.sign(algorithm, &data, &mut sign_rng).ok());
                        match sig {
                            Some(sig) => session.signature(sig)?,
                            None => session.skip()?,
                        }
                    }
                    ClientSessionEvent::Auth(
                        ClientEvent::PasswordChangeRequest { .. } | ClientEvent::InfoRequest { .. },
                    ) => session.skip()?,
                    ClientSessionEvent::Authenticated => authenticated = true,
                    ClientSessionEvent::Connection(e) => events.push_back(e),
                    _ => {}
                }
            }
            if authenticated {
                return Ok(Self {
                    session,
                    driver,
                    events,
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

    /// The session, for its getters (negotiated algorithms, session id).
    pub fn session(&self) -> &ClientSession {
        &self.session
    }

    fn conn(&mut self) -> Result<&mut Connection, Error> {
        self.session
            .connection_mut()
            .ok_or(Error::Session(ssh_session::Error::Misuse(
                "no connection after authentication",
            )))
    }

    /// Moves connection events into `self.events`; answers global
    /// requests that want a reply with a failure.
    fn collect_events(&mut self) -> Result<(), Error> {
        while let Some(ev) = self.session.poll_event() {
            match ev {
                ClientSessionEvent::Connection(Event::GlobalRequest { id: Some(id), .. }) => {
                    self.conn()?
                        .answer_global_request(id, GlobalReply::Failure)?;
                }
                ClientSessionEvent::Connection(Event::OpenRequest { handle, .. }) => {
                    // No forwarding, no agent: nothing the server may open.
                    self.conn()?.reject(
                        handle,
                        OpenFailureReason::ADMINISTRATIVELY_PROHIBITED,
                        "not supported",
                    )?;
                }
                ClientSessionEvent::Connection(e) => self.events.push_back(e),
                _ => {}
            }
        }
        Ok(())
    }

    /// Waits for I/O; fails when the session failed or the peer left.
    async fn step(&mut self) -> Result<(), Error> {
        if let Some(e) = self.session.error() {
            return Err(Error::Session(e.clone()));
        }
        if self.driver.eof {
            return Err(Error::Disconnected);
        }
        self.driver.step(&mut *self.session).await
    }

    /// Runs `command` with no input.
    pub async fn exec(&mut self, command: &str) -> Result<ExecOutput, Error> {
        self.exec_with_stdin(command, &[]).await
    }

    /// Runs `command` on a new `session` channel, sends `stdin` followed
    /// by EOF, and collects the output until the server closes the
    /// channel.
    pub async fn exec_with_stdin(
        &mut self,
        command: &str,
        stdin: &[u8],
    ) -> Result<ExecOutput, Error> {
        let h = self.conn()?.open_channel(ChannelType::Session)?;
        // Wait for the confirmation.
        loop {
            self.collect_events()?;
            let mut opened = false;
            while let Some(ev) = self.events.pop_front() {
                match ev {
                    Event::OpenConfirmed { handle } if handle == h => opened = true,
                    Event::OpenFailed {
                        handle,
                        reason,
                        description,
                    } if handle == h => {
                        return Err(Error::ChannelOpenFailed {
                            reason,
                            description,
                        });
                    }
                    _ => {}
                }
            }
            if opened {
                break;
            }
            self.step().await?;
        }

        let request = ChannelRequestKind::Exec {
            command: command.as_bytes().to_vec(),
        };
        let id = self.conn()?.channel_request(h, request, true)?;
        let mut out = ExecOutput::default();
        let mut replied = false;
        let mut sent = 0usize;
        let mut eof_sent = false;
        let mut closed = false;
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            self.collect_events()?;
            while let Some(ev) = self.events.pop_front() {
                match ev {
                    Event::ChannelReply {
                        handle,
                        id: rid,
                        success,
                    } if handle == h && Some(rid) == id => {
                        if !success {
                            // Best effort: the channel is of no use now.
                            let _ = self.conn()?.close(h);
                            return Err(Error::ExecRefused);
                        }
                        replied = true;
                    }
                    Event::ChannelRequest {
                        handle,
                        id: rid,
                        request,
                    } if handle == h => {
                        if let ChannelRequestKind::ExitStatus { status } = request {
                            out.exit_status = Some(status);
                        }
                        if let Some(rid) = rid {
                            self.conn()?.answer_channel_request(h, rid, false)?;
                        }
                    }
                    Event::Closed { handle } if handle == h => closed = true,
                    _ => {}
                }
            }
            let conn = self.conn()?;
            // Input, as the window allows, once the command was accepted.
            if replied && !closed {
                if let Some(rest) = stdin.get(sent..)
                    && !rest.is_empty()
                {
                    sent += conn.send_data(h, rest)?;
                }
                if sent >= stdin.len() && !eof_sent {
                    conn.send_eof(h)?;
                    eof_sent = true;
                }
            }
            // Output: read everything buffered (this re-opens the window).
            loop {
                let n = conn.read(h, &mut buf)?;
                out.stdout
                    .extend_from_slice(buf.get(..n).unwrap_or_default());
                let m = conn.read_extended(h, &mut buf)?;
                out.stderr
                    .extend_from_slice(buf.get(..m).unwrap_or_default());
                if n == 0 && m == 0 {
                    break;
                }
            }
            if closed {
                conn.release(h)?;
                return Ok(out);
            }
            self.step().await?;
        }
    }

    /// Queues a DISCONNECT (by application) and makes one attempt to write
    /// it without waiting (best effort); the stream is then dropped.
    pub async fn disconnect(mut self) -> Result<(), Error> {
        self.session.disconnect("bye");
        // Write until nothing is left to send (a step that moves nothing
        // more would wait for input, so stop at the first quiet point).
        futures::future::poll_fn(|cx| {
            match self.driver.poll_io(&mut *self.session, cx) {
                core::task::Poll::Ready(Ok(())) => core::task::Poll::Ready(Ok(())),
                core::task::Poll::Ready(Err(e)) => core::task::Poll::Ready(Err(e)),
                // Nothing could move now: whatever was queued was written
                // or the socket is full; do not wait.
                core::task::Poll::Pending => core::task::Poll::Ready(Ok(())),
            }
        })
        .await
    }
}
