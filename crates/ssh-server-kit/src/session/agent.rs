//! Agent forwarding in a session (OpenSSH's `PROTOCOL.agent`), as sshd
//! does it: an `auth-agent-req@openssh.com` makes a private directory
//! `/tmp/ssh-XXXXXXXXXX` (mode 0700, the user's, made as the user) with a
//! listening socket `agent.<pid>` in it; the program gets
//! `SSH_AUTH_SOCK`, and every connection to the socket becomes an
//! `auth-agent@openssh.com` channel to the client (`agent-connect` when
//! the client asked with RFC 9987's `agent-req`).

use std::path::PathBuf;

use futures::future::AbortHandle;
use ssh_wire::messages::ChannelType;

use ssh_async::runtime::net::UnixListener;
use ssh_async::{ServerConnection, runtime};
use ssh_os::sockets::Sockets;

/// The prefix of the private directory, as OpenSSH names it.
const DIR_PREFIX: &str = "ssh-";

/// A forwarded agent socket of one session. [`AgentSocket::close`] stops
/// listening and removes the socket and its directory.
#[derive(Debug)]
pub(crate) struct AgentSocket {
    /// The socket: `SSH_AUTH_SOCK`.
    pub(crate) path: PathBuf,
    dir: PathBuf,
    abort: AbortHandle,
    sockets: Sockets,
}

/// Makes the directory and the socket and starts accepting connections,
/// each of which opens a channel of `channel_type` on `conn`.
pub(crate) async fn start(
    sockets: &Sockets,
    conn: &ServerConnection,
    channel_type: ChannelType,
) -> std::io::Result<AgentSocket> {
    let dir = sockets.create_private_dir(DIR_PREFIX).await?;
    let path = dir.join(format!("agent.{}", std::process::id()));
    let listener = match sockets.listen_unix(&path).await {
        Ok(l) => l,
        Err(e) => {
            let _ = sockets.remove_path(&dir).await;
            return Err(e);
        }
    };
    let (task, abort) = futures::future::abortable(serve(listener, conn.clone(), channel_type));
    drop(runtime::spawn(task));
    Ok(AgentSocket {
        path,
        dir,
        abort,
        sockets: sockets.clone(),
    })
}

/// Accepts until aborted or until the connection ended (a program that
/// outlives the connection keeps no listener open).
async fn serve(listener: UnixListener, conn: ServerConnection, channel_type: ChannelType) {
    use futures::FutureExt;
    let ended = conn.clone();
    let accepting = async {
        loop {
            let stream = match listener.accept().await {
                Ok((s, _)) => s,
                Err(e) => {
                    // Out of descriptors and the like: wait instead of spinning.
                    tracing::debug!("agent forwarding: accept: {e}");
                    runtime::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            let conn = conn.clone();
            let channel_type = channel_type.clone();
            drop(runtime::spawn(async move {
                match conn.open_channel(channel_type).await {
                    Ok(ch) => {
                        if let Err(e) = ssh_async::splice(ch, stream).await {
                            tracing::debug!("agent forwarding: {e}");
                        }
                    }
                    Err(e) => {
                        tracing::info!("agent forwarding: the client refused the channel: {e}")
                    }
                }
            }));
        }
    };
    futures::select! {
        () = accepting.fuse() => {}
        _ = ended.closed().fuse() => {}
    }
}

impl AgentSocket {
    /// Stops listening; removes the socket, then the directory.
    pub(crate) async fn close(self) {
        self.abort.abort();
        for p in [&self.path, &self.dir] {
            if let Err(e) = self.sockets.remove_path(p).await {
                tracing::info!("agent forwarding: removing {}: {e}", p.display());
            }
        }
    }
}
