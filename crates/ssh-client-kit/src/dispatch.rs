//! The server's channel opens on a client connection, routed to what was
//! set up: remote forwards (`-R`), the agent (`-A`), X11 (`-X`/`-Y`).

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::io::AsyncWriteExt;
use ssh_config::client::RemoteOpenPermits;
use ssh_config::forward::Endpoint;
use ssh_wire::messages::agent::SessionBind;
use ssh_wire::messages::{ChannelType, GlobalRequestKind, OpenFailureReason};

use super::local::socks_handshake;
use super::socks;
use super::x11::X11Forwarding;
use ssh_async::runtime::net::{TcpStream, UnixStream};
use ssh_async::splice;
use ssh_async::{Channel, Client, Error, GlobalReply, IncomingChannel, runtime};

/// How long an open for an unknown forward waits while `tcpip-forward`
/// requests are unanswered (the server may open a channel for a port-0
/// forward before this side has handled its reply).
const PENDING_WAIT: Duration = Duration::from_secs(5);

/// Routes the server's channel opens (`forwarded-tcpip`,
/// `forwarded-streamlocal@openssh.com`, `auth-agent@openssh.com`, `x11`)
/// to what was set up; anything else is refused. Cheap to clone.
///
/// The dispatcher's task holds a clone of the [`Client`]: the connection
/// ends with [`Client::disconnect`] or when the server closes it.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

impl core::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Dispatcher").finish_non_exhaustive()
    }
}

struct Inner {
    client: Client,
    routes: Mutex<Routes>,
}

#[derive(Default)]
struct Routes {
    /// (address as sent in `tcpip-forward`, port bound) -> target
    /// (`None`: dynamic, SOCKS answered here).
    tcp: HashMap<(String, u32), Option<Endpoint>>,
    /// The listen endpoint as asked -> (address sent, port bound), for
    /// `cancel_remote` of port-0 forwards.
    asked: HashMap<Endpoint, (String, u32)>,
    /// Remote socket path -> target.
    unix: HashMap<String, Option<Endpoint>>,
    /// `tcpip-forward` requests waiting for their reply.
    pending: usize,
    agent: Option<PathBuf>,
    x11: Option<X11Forwarding>,
    /// `PermitRemoteOpen`: where remote dynamic forwards may connect.
    remote_open: RemoteOpenPermits,
}

impl Routes {
    /// The route to a forward's target: a dynamic one (no target) under
    /// `PermitRemoteOpen`.
    fn connect(&self, target: &Option<Endpoint>) -> Route {
        match target {
            Some(t) => Route::Connect(t.clone()),
            None => Route::Dynamic(self.remote_open.clone()),
        }
    }
}

/// What to do with an incoming channel.
enum Route {
    Connect(Endpoint),
    /// A remote dynamic forward: SOCKS answered here, limited by these.
    Dynamic(RemoteOpenPermits),
    Agent(PathBuf),
    X11(X11Forwarding),
    Refuse(OpenFailureReason, &'static str),
    /// Unknown forward while `tcpip-forward` requests are pending.
    Wait,
}

/// The address sent in `tcpip-forward` for a listen address, as OpenSSH's
/// `ssh` sends it: none -> "localhost", "*" -> "" (all addresses).
fn remote_address(bind: Option<&str>) -> String {
    match bind {
        None => "localhost".into(),
        Some("*") => String::new(),
        Some(a) => a.into(),
    }
}

impl Dispatcher {
    /// Starts routing `client`'s incoming channels (a task over
    /// [`Client::next_channel`], until the connection ends).
    pub fn start(client: &Client) -> Dispatcher {
        let d = Dispatcher {
            inner: Arc::new(Inner {
                client: client.clone(),
                routes: Mutex::new(Routes::default()),
            }),
        };
        let task = d.clone();
        drop(runtime::spawn(async move {
            while let Some(incoming) = task.inner.client.next_channel().await {
                let t = task.clone();
                drop(runtime::spawn(async move { t.handle(incoming).await }));
            }
        }));
        d
    }

    fn routes(&self) -> MutexGuard<'_, Routes> {
        self.inner
            .routes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `-R`: `tcpip-forward` for a TCP `listen` (bind `None` is sent as
    /// "localhost", "*" as "", as OpenSSH does) or
    /// `streamlocal-forward@openssh.com` for a Unix one. `target` `None`
    /// is a dynamic forward (SOCKS answered here, connections made
    /// locally). `Ok(Some(port))`: the port the server allocated for a
    /// port-0 request; `Ok(None)`: accepted;
    /// `Err(Error::RequestRefused(..))` when the server said no.
    pub async fn request_remote(
        &self,
        listen: &Endpoint,
        target: Option<Endpoint>,
    ) -> Result<Option<u16>, Error> {
        match listen {
            Endpoint::Tcp { bind, port } => {
                let address = remote_address(bind.as_deref());
                let port = u32::from(*port);
                // A forward of this address and port already (asked
                // again): put back if the server refuses this one.
                let previous = {
                    let mut r = self.routes();
                    r.pending += 1;
                    if port != 0 {
                        r.tcp.insert((address.clone(), port), target.clone())
                    } else {
                        None
                    }
                };
                let res = self
                    .inner
                    .client
                    .global_request(GlobalRequestKind::TcpipForward {
                        address: address.clone(),
                        port,
                    })
                    .await;
                let mut r = self.routes();
                r.pending = r.pending.saturating_sub(1);
                let bound = match res {
                    Ok(GlobalReply::BoundPort(p)) if port == 0 => p,
                    Ok(GlobalReply::Success | GlobalReply::BoundPort(_)) if port != 0 => port,
                    Ok(GlobalReply::Failure) | Err(_) | Ok(_) => {
                        if port != 0 {
                            match previous {
                                Some(p) => r.tcp.insert((address, port), p),
                                None => r.tcp.remove(&(address, port)),
                            };
                        }
                        return match res {
                            Err(e) => Err(e),
                            Ok(_) => Err(Error::RequestRefused("tcpip-forward")),
                        };
                    }
                };
                let Ok(bound16) = u16::try_from(bound) else {
                    return Err(Error::Io(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("the server bound port {bound}, not a TCP port"),
                    )));
                };
                r.tcp.insert((address.clone(), bound), target);
                r.asked.insert(listen.clone(), (address, bound));
                Ok((port == 0).then_some(bound16))
            }
            Endpoint::Unix(path) => {
                let socket_path = path.to_string_lossy().into_owned();
                let previous = self.routes().unix.insert(socket_path.clone(), target);
                let res = self
                    .inner
                    .client
                    .global_request(GlobalRequestKind::StreamlocalForward {
                        socket_path: socket_path.clone(),
                    })
                    .await;
                match res {
                    Ok(GlobalReply::Success) => Ok(None),
                    other => {
                        let mut r = self.routes();
                        match previous {
                            Some(p) => r.unix.insert(socket_path, p),
                            None => r.unix.remove(&socket_path),
                        };
                        drop(r);
                        match other {
                            Err(e) => Err(e),
                            Ok(_) => Err(Error::RequestRefused("streamlocal-forward@openssh.com")),
                        }
                    }
                }
            }
        }
    }

    /// Cancels a forward made with [`Dispatcher::request_remote`] (the
    /// same `listen`; for port 0 the allocated port is cancelled).
    pub async fn cancel_remote(&self, listen: &Endpoint) -> Result<(), Error> {
        let (request, what) = match listen {
            Endpoint::Tcp { bind, port } => {
                let known = self.routes().asked.get(listen).cloned();
                let (address, port) =
                    known.unwrap_or_else(|| (remote_address(bind.as_deref()), u32::from(*port)));
                (
                    GlobalRequestKind::CancelTcpipForward { address, port },
                    "cancel-tcpip-forward",
                )
            }
            Endpoint::Unix(path) => (
                GlobalRequestKind::CancelStreamlocalForward {
                    socket_path: path.to_string_lossy().into_owned(),
                },
                "cancel-streamlocal-forward@openssh.com",
            ),
        };
        let reply = self.inner.client.global_request(request.clone()).await?;
        if reply == GlobalReply::Failure {
            return Err(Error::RequestRefused(what));
        }
        let mut r = self.routes();
        match request {
            GlobalRequestKind::CancelTcpipForward { address, port } => {
                r.tcp.remove(&(address, port));
                r.asked.remove(listen);
            }
            GlobalRequestKind::CancelStreamlocalForward { socket_path } => {
                r.unix.remove(&socket_path);
            }
            _ => {}
        }
        Ok(())
    }

    /// `-A`: `auth-agent@openssh.com` (and RFC 9987 `agent-connect`)
    /// channels are relayed to this agent socket, each bound to the
    /// session first (`session-bind@openssh.com`).
    pub fn enable_agent(&self, socket: PathBuf) {
        self.routes().agent = Some(socket);
    }

    /// `PermitRemoteOpen`: the destinations remote dynamic forwards may
    /// connect to (any by default); others are refused and the channel
    /// closed, as `ssh` does.
    pub fn permit_remote_open(&self, permits: RemoteOpenPermits) {
        self.routes().remote_open = permits;
    }

    /// `-X`/`-Y`: `x11` channels are checked (fake cookie), rewritten
    /// (real cookie) and connected to the display.
    pub fn enable_x11(&self, x11: X11Forwarding) {
        self.routes().x11 = Some(x11);
    }

    fn route(&self, kind: &ChannelType) -> Route {
        let r = self.routes();
        match kind {
            ChannelType::ForwardedTcpip { address, port, .. } => {
                if let Some(t) = r.tcp.get(&(address.clone(), *port)) {
                    return r.connect(t);
                }
                // Servers other than OpenSSH's may name the address
                // differently ("127.0.0.1" for "localhost"): a forward
                // that is the only one on this port is taken.
                let mut on_port = r.tcp.iter().filter(|((_, p), _)| p == port);
                if let (Some((_, t)), None) = (on_port.next(), on_port.next()) {
                    return r.connect(t);
                }
                if r.pending > 0 {
                    return Route::Wait;
                }
                Route::Refuse(
                    OpenFailureReason::ADMINISTRATIVELY_PROHIBITED,
                    "no such forward",
                )
            }
            ChannelType::ForwardedStreamlocal { socket_path } => match r.unix.get(socket_path) {
                Some(t) => r.connect(t),
                None => Route::Refuse(
                    OpenFailureReason::ADMINISTRATIVELY_PROHIBITED,
                    "no such forward",
                ),
            },
            ChannelType::AuthAgent | ChannelType::AgentConnect => match &r.agent {
                Some(p) => Route::Agent(p.clone()),
                None => Route::Refuse(
                    OpenFailureReason::ADMINISTRATIVELY_PROHIBITED,
                    "agent forwarding not enabled",
                ),
            },
            ChannelType::X11 { .. } => match &r.x11 {
                Some(x) => Route::X11(x.clone()),
                None => Route::Refuse(
                    OpenFailureReason::ADMINISTRATIVELY_PROHIBITED,
                    "X11 forwarding not enabled",
                ),
            },
            _ => Route::Refuse(
                OpenFailureReason::UNKNOWN_CHANNEL_TYPE,
                "unsupported channel type",
            ),
        }
    }

    async fn handle(&self, incoming: IncomingChannel) {
        let mut route = self.route(&incoming.channel_type);
        let mut waited = Duration::ZERO;
        // Backing off: a server opening unknown channels while a forward
        // request is unanswered costs a few wake-ups each, not hundreds.
        let mut step = Duration::from_millis(10);
        while matches!(route, Route::Wait) && waited < PENDING_WAIT {
            runtime::sleep(step).await;
            waited += step;
            step = (step * 2).min(Duration::from_millis(500));
            route = self.route(&incoming.channel_type);
        }
        if matches!(route, Route::Wait) {
            route = Route::Refuse(
                OpenFailureReason::ADMINISTRATIVELY_PROHIBITED,
                "no such forward",
            );
        }
        let res = match route {
            Route::Wait => return,
            Route::Refuse(reason, text) => {
                tracing::debug!("refused {:?}: {text}", incoming.channel_type);
                let _ = incoming.reject(reason, text);
                return;
            }
            Route::Connect(target) => connect_and_splice(incoming, &target).await,
            Route::Dynamic(permits) => match incoming.accept() {
                Ok(ch) => dynamic(ch, &permits).await,
                Err(e) => Err(io::Error::other(e)),
            },
            Route::Agent(path) => {
                let bind = self.inner.client.session_bind(true);
                agent_connection(incoming, &path, bind).await
            }
            Route::X11(x) => match incoming.accept() {
                Ok(ch) => x.serve_channel(ch).await,
                Err(e) => Err(io::Error::other(e)),
            },
        };
        if let Err(e) = res {
            tracing::debug!("forwarded channel: {e}");
        }
    }
}

/// Connects `target`, then accepts and splices; a failed connection is
/// refused with CONNECT_FAILED (OpenSSH's `ssh` logs it the same way).
async fn connect_and_splice(incoming: IncomingChannel, target: &Endpoint) -> io::Result<()> {
    match target {
        Endpoint::Tcp { bind, port } => {
            let host = bind.as_deref().unwrap_or("localhost");
            match TcpStream::connect((host, *port)).await {
                Ok(s) => splice(accept(incoming)?, s).await.map(drop),
                Err(e) => {
                    tracing::error!("connect_to {host} port {port}: failed.");
                    let _ = incoming.reject(OpenFailureReason::CONNECT_FAILED, &e.to_string());
                    Err(e)
                }
            }
        }
        Endpoint::Unix(path) => match UnixStream::connect(path).await {
            Ok(s) => splice(accept(incoming)?, s).await.map(drop),
            Err(e) => {
                tracing::error!("connect_to {}: failed: {e}", path.display());
                let _ = incoming.reject(OpenFailureReason::CONNECT_FAILED, &e.to_string());
                Err(e)
            }
        },
    }
}

/// A forwarded agent connection: the agent socket, bound first to this
/// session as a forwarding hop with `session-bind@openssh.com` (as ssh
/// does, so that keys added with destination constraints, `ssh-add -h`,
/// are usable only where they may be), then spliced to the channel. The
/// agent's answer is read and dropped: one without the extension says
/// FAILURE and serves as before.
async fn agent_connection(
    incoming: IncomingChannel,
    path: &std::path::Path,
    bind: Option<SessionBind>,
) -> io::Result<()> {
    let mut agent = match UnixStream::connect(path).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("connect_to {}: failed: {e}", path.display());
            let _ = incoming.reject(OpenFailureReason::CONNECT_FAILED, &e.to_string());
            return Err(e);
        }
    };
    if let Some(bind) = bind {
        match runtime::timeout(AGENT_BIND_WAIT, bind_agent(&mut agent, &bind)).await {
            Some(Ok(true)) => tracing::debug!("bound agent to hostkey"),
            Some(Ok(false)) => tracing::debug!("the agent refused session-bind"),
            Some(Err(e)) => {
                let _ = incoming.reject(OpenFailureReason::CONNECT_FAILED, &e.to_string());
                return Err(e);
            }
            None => {
                let _ = incoming.reject(OpenFailureReason::CONNECT_FAILED, "agent timed out");
                return Err(io::ErrorKind::TimedOut.into());
            }
        }
    }
    splice(accept(incoming)?, agent).await.map(drop)
}

/// How long the agent may take to answer `session-bind@openssh.com`.
const AGENT_BIND_WAIT: Duration = Duration::from_secs(10);

/// Sends `bind` to the agent and reads its answer (through the bounded
/// agent client of `ssh-auth`): true for SUCCESS.
async fn bind_agent(agent: &mut UnixStream, bind: &SessionBind) -> io::Result<bool> {
    use futures::io::AsyncReadExt as _;
    use ssh_async::ssh_auth::agent::{AgentClient, AgentResponse};
    let mut client = AgentClient::new();
    client.session_bind(bind).map_err(io::Error::other)?;
    agent.write_all(&client.poll_transmit()).await?;
    let mut buf = [0u8; 256];
    loop {
        if let Some(answer) = client.poll_response() {
            return Ok(answer == AgentResponse::Success);
        }
        let n = agent.read(&mut buf).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        client
            .handle_input(buf.get(..n).unwrap_or_default())
            .map_err(io::Error::other)?;
    }
}

fn accept(incoming: IncomingChannel) -> io::Result<Channel> {
    incoming.accept().map_err(io::Error::other)
}

/// Remote dynamic forwarding: SOCKS on the channel, the connection made
/// here if `permits` allow its destination (else the channel is closed
/// without a reply, as `ssh`'s `rdynamic_connect_finish` does).
async fn dynamic(mut ch: Channel, permits: &RemoteOpenPermits) -> io::Result<()> {
    let (req, rest) = match socks_handshake(&mut ch).await {
        Ok(r) => r,
        Err(e) => {
            let _ = ch.close();
            return Err(e);
        }
    };
    if !permits.allows(&req.host, req.port) {
        tracing::debug!(
            "rdynamic_connect_finish: requested forward to {} port {} not permitted",
            req.host,
            req.port
        );
        let _ = ch.close();
        return Err(io::ErrorKind::PermissionDenied.into());
    }
    let s = match TcpStream::connect((req.host.as_str(), req.port)).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("connect_to {} port {}: failed.", req.host, req.port);
            let code = match e.kind() {
                io::ErrorKind::ConnectionRefused => socks::rep::CONNECTION_REFUSED,
                _ => socks::rep::HOST_UNREACHABLE,
            };
            ch.write_all(&socks::failure_reply(req.version, code))
                .await?;
            let _ = ch.send_eof();
            let _ = ch.close();
            return Err(e);
        }
    };
    ch.write_all(&socks::success_reply(req.version)).await?;
    let mut s = s;
    if !rest.is_empty() {
        s.write_all(&rest).await?;
    }
    splice(ch, s).await.map(drop)
}
