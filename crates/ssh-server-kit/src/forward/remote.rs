//! The client's remote forwards on one connection (`tcpip-forward`,
//! `streamlocal-forward@openssh.com` and their cancels): listeners made
//! as the user, each accepted connection opened back to the client and
//! spliced.

use std::net::SocketAddr;
use std::os::unix::fs::FileTypeExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use futures::channel::oneshot;
use ssh_connection::GlobalReply;
use ssh_wire::messages::{ChannelType, GlobalRequestKind};

use super::policy::ForwardPolicy;
use ssh_async::runtime::net::{TcpListener, UnixListener};
use ssh_async::{Error, IncomingGlobalRequest, ServerConnection, runtime};
use ssh_os::sockets::Sockets;

/// The most listeners (forwards) one connection may hold.
const MAX_FORWARDS: usize = 256;

/// What identifies a forward for its cancel: the address as the client
/// sent it and the bound port, or the socket path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    Tcp { address: String, port: u16 },
    Unix(String),
}

/// A running forward: dropping `stop` (or sending on it) ends its task,
/// which closes the listeners, removes a socket file, then completes
/// `done`.
#[derive(Debug)]
struct Active {
    key: Key,
    stop: oneshot::Sender<()>,
    done: oneshot::Receiver<()>,
}

/// The remote forwards of one connection. Dropping it stops them all
/// (asynchronously); [`RemoteForwards::close_all`] waits until they are
/// closed.
#[derive(Debug)]
pub struct RemoteForwards {
    conn: ServerConnection,
    policy: Arc<ForwardPolicy>,
    sockets: Sockets,
    active: Mutex<Vec<Active>>,
}

impl RemoteForwards {
    /// Forwards of `conn`'s client under `policy`, listening through
    /// `sockets` (as the user).
    pub fn new(
        conn: ServerConnection,
        policy: Arc<ForwardPolicy>,
        sockets: Sockets,
    ) -> RemoteForwards {
        RemoteForwards {
            conn,
            policy,
            sockets,
            active: Mutex::new(Vec::new()),
        }
    }

    /// Answers the client's global requests until the connection ends,
    /// then closes every listener. Requests other than the four of
    /// forwarding are refused.
    pub async fn run(self) {
        while let Some(req) = self.conn.next_global_request().await {
            // Boxed: the answer's state (a listener being set up) exists
            // only while a request is answered, and this task waits for
            // the connection's whole life (an idle connection's memory is
            // what a server holds per user).
            match Box::pin(self.handle(req)).await {
                Ok(None) => {}
                Ok(Some(other)) => {
                    tracing::debug!("global request {:?} refused", other.request);
                    let _ = other.reject();
                }
                Err(e) => tracing::debug!("global request: {e}"),
            }
        }
        self.close_all().await;
    }

    /// How many forwards are active.
    pub fn len(&self) -> usize {
        self.active.lock().map(|a| a.len()).unwrap_or(0)
    }

    /// Whether no forward is active.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Answers `req` if it is `tcpip-forward`,
    /// `cancel-tcpip-forward`, `streamlocal-forward@openssh.com` or
    /// `cancel-streamlocal-forward@openssh.com`; gives any other request
    /// back unanswered.
    pub async fn handle(
        &self,
        req: IncomingGlobalRequest,
    ) -> Result<Option<IncomingGlobalRequest>, Error> {
        match req.request.clone() {
            GlobalRequestKind::TcpipForward { address, port } => {
                self.tcpip_forward(req, address, port).await?;
            }
            GlobalRequestKind::CancelTcpipForward { address, port } => {
                let key = u16::try_from(port)
                    .ok()
                    .map(|port| Key::Tcp { address, port });
                self.cancel(req, key).await?;
            }
            GlobalRequestKind::StreamlocalForward { socket_path } => {
                self.streamlocal_forward(req, socket_path).await?;
            }
            GlobalRequestKind::CancelStreamlocalForward { socket_path } => {
                self.cancel(req, Some(Key::Unix(socket_path))).await?;
            }
            _ => return Ok(Some(req)),
        }
        Ok(None)
    }

    /// Stops every forward and waits until its listeners are closed.
    pub async fn close_all(&self) {
        let all: Vec<Active> = match self.active.lock() {
            Ok(mut a) => a.drain(..).collect(),
            Err(_) => return,
        };
        for a in all {
            a.finish().await;
        }
    }

    fn full(&self) -> bool {
        self.len() >= MAX_FORWARDS
    }

    fn add(&self, a: Active) {
        if let Ok(mut v) = self.active.lock() {
            v.push(a);
        }
    }

    async fn tcpip_forward(
        &self,
        req: IncomingGlobalRequest,
        address: String,
        port: u32,
    ) -> Result<(), Error> {
        let port = match self.policy.check_remote_tcp(&address, port) {
            Ok(p) => p,
            Err(r) => {
                tracing::info!("{}", r.log);
                return req.reject();
            }
        };
        // sshd: an allocated port nobody is told of is no use.
        if port == 0 && !req.wants_reply() {
            tracing::info!("refused remote port forward: port 0 without want-reply");
            return req.reject();
        }
        if self.full() {
            tracing::info!("refused remote port forward: too many forwards");
            return req.reject();
        }
        let bind = self.policy.bind_address(&address);
        let listeners = match self.sockets.listen_tcp(bind.as_deref(), port).await {
            Ok(l) => l,
            Err(e) => {
                tracing::info!(
                    "remote port forwarding: cannot listen on {} port {port}: {}",
                    bind.as_deref().unwrap_or("*"),
                    super::error_text(&e)
                );
                return req.reject();
            }
        };
        let bound = match listeners.first().map(TcpListener::local_addr) {
            Some(Ok(a)) => a.port(),
            _ => return req.reject(),
        };
        for l in &listeners {
            if let Ok(a) = l.local_addr() {
                tracing::debug!(
                    "Remote forwarding listening on {} port {}.",
                    a.ip(),
                    a.port()
                );
            }
        }
        if port == 0 {
            tracing::debug!("Allocated listen port {bound}");
        }
        let (stop, stop_rx) = oneshot::channel();
        let (done_tx, done) = oneshot::channel();
        drop(runtime::spawn(serve_tcp(
            self.conn.clone(),
            listeners,
            address.clone(),
            bound,
            stop_rx,
            done_tx,
        )));
        self.add(Active {
            key: Key::Tcp {
                address,
                port: bound,
            },
            stop,
            done,
        });
        req.accept(if port == 0 {
            GlobalReply::BoundPort(u32::from(bound))
        } else {
            GlobalReply::Success
        })
    }

    async fn streamlocal_forward(
        &self,
        req: IncomingGlobalRequest,
        socket_path: String,
    ) -> Result<(), Error> {
        if let Err(r) = self.policy.check_remote_streamlocal(&socket_path) {
            tracing::info!("{}", r.log);
            return req.reject();
        }
        if socket_path.is_empty() || self.full() {
            return req.reject();
        }
        let path = PathBuf::from(&socket_path);
        if self.policy.stream_local_bind_unlink
            && std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_socket())
        {
            // sshd unlinks whatever is there; only a socket is removed
            // here (as the user), so a file of another kind makes the
            // bind fail.
            let _ = self.sockets.remove_path(&path).await;
        }
        let listener = match self.sockets.listen_unix(&path).await {
            Ok(l) => l,
            Err(e) => {
                tracing::info!(
                    "remote streamlocal forwarding: cannot listen on {socket_path}: {}",
                    super::error_text(&e)
                );
                return req.reject();
            }
        };
        tracing::debug!("Remote forwarding listening on path {socket_path}.");
        let (stop, stop_rx) = oneshot::channel();
        let (done_tx, done) = oneshot::channel();
        drop(runtime::spawn(serve_unix(
            self.conn.clone(),
            self.sockets.clone(),
            listener,
            socket_path.clone(),
            stop_rx,
            done_tx,
        )));
        self.add(Active {
            key: Key::Unix(socket_path),
            stop,
            done,
        });
        req.accept(GlobalReply::Success)
    }

    async fn cancel(&self, req: IncomingGlobalRequest, key: Option<Key>) -> Result<(), Error> {
        let found = match (&key, self.active.lock()) {
            (Some(key), Ok(mut v)) => v.iter().position(|a| &a.key == key).map(|i| v.remove(i)),
            _ => None,
        };
        match found {
            Some(a) => {
                a.finish().await;
                tracing::debug!("cancelled forward {key:?}");
                req.accept(GlobalReply::Success)
            }
            None => {
                tracing::debug!("cancel of an unknown forward {key:?}");
                req.reject()
            }
        }
    }
}

impl Active {
    /// Stops the forward and waits until its listeners are closed.
    async fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.done.await;
    }
}

/// The peer of an accepted connection as RFC 4254 sends it: the address
/// (IPv4-mapped shown as IPv4) and port.
fn originator(peer: SocketAddr) -> (String, u32) {
    (peer.ip().to_canonical().to_string(), u32::from(peer.port()))
}

async fn serve_tcp(
    conn: ServerConnection,
    listeners: Vec<TcpListener>,
    address: String,
    port: u16,
    stop: oneshot::Receiver<()>,
    done: oneshot::Sender<()>,
) {
    let accepting = async {
        loop {
            let accepts = listeners.iter().map(|l| Box::pin(l.accept()));
            let (got, _, _) = futures::future::select_all(accepts).await;
            match got {
                Ok((stream, peer)) => {
                    let (originator_address, originator_port) = originator(peer);
                    tracing::debug!(
                        "forwarded-tcpip: listen {address} port {port}, originator {originator_address} port {originator_port}"
                    );
                    let kind = ChannelType::ForwardedTcpip {
                        address: address.clone(),
                        port: u32::from(port),
                        originator_address,
                        originator_port,
                    };
                    drop(runtime::spawn(open_and_splice(conn.clone(), kind, stream)));
                }
                Err(e) => {
                    tracing::info!("accept on forwarded port {port}: {e}");
                    runtime::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    };
    futures::select! {
        () = accepting.fuse() => {}
        _ = stop.fuse() => {}
    }
    drop(listeners);
    let _ = done.send(());
}

async fn serve_unix(
    conn: ServerConnection,
    sockets: Sockets,
    listener: UnixListener,
    path: String,
    stop: oneshot::Receiver<()>,
    done: oneshot::Sender<()>,
) {
    let accepting = async {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tracing::debug!("forwarded-streamlocal: listen {path}");
                    let kind = ChannelType::ForwardedStreamlocal {
                        socket_path: path.clone(),
                    };
                    drop(runtime::spawn(open_and_splice(conn.clone(), kind, stream)));
                }
                Err(e) => {
                    tracing::info!("accept on forwarded socket {path}: {e}");
                    runtime::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    };
    futures::select! {
        () = accepting.fuse() => {}
        _ = stop.fuse() => {}
    }
    drop(listener);
    if let Err(e) = sockets.remove_path(std::path::Path::new(&path)).await {
        tracing::debug!("remove {path}: {e}");
    }
    let _ = done.send(());
}

/// Opens `kind` to the client for one accepted connection and splices
/// them; a refusal closes the connection.
async fn open_and_splice<S>(conn: ServerConnection, kind: ChannelType, stream: S)
where
    S: futures::io::AsyncRead + futures::io::AsyncWrite + Unpin + Send + 'static,
{
    match conn.open_channel(kind).await {
        Ok(ch) => {
            if let Err(e) = ssh_async::splice(ch, stream).await {
                tracing::debug!("forwarded connection: {e}");
            }
        }
        Err(e) => tracing::debug!("forwarded connection: open failed: {e}"),
    }
}
