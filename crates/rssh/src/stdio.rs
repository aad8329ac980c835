//! `-W host:port`: stdin and stdout joined to a `direct-tcpip` (or
//! `direct-streamlocal@openssh.com`) channel, no session.

use std::io;

use futures::io::AsyncWriteExt;
use ssh_async::Client;
use ssh_async::ssh_wire::messages::ChannelType;
use ssh_config::{Endpoint, ForwardKind};

use crate::connect;
use crate::session::{copy_out, raw_output, stdin_chunks};

/// Parses the `-W` argument (`host:port`, `[v6]:port`, or a socket
/// path), as OpenSSH's "Bad stdio forwarding specification".
pub fn parse_target(spec: &str) -> Result<Endpoint, String> {
    let bad = || format!("Bad stdio forwarding specification '{spec}'");
    match ssh_config::parse_forward_spec(spec, ForwardKind::Dynamic) {
        Ok(f) => match f.listen {
            e @ Endpoint::Tcp { bind: Some(_), .. } => Ok(e),
            e @ Endpoint::Unix(_) => Ok(e),
            Endpoint::Tcp { bind: None, .. } => Err(bad()),
        },
        Err(_) => Err(bad()),
    }
}

/// Opens the channel and copies until it closes; the exit status (0
/// when the channel closed, 255 when it could not be opened, as `ssh`).
pub async fn run(client: &Client, target: &Endpoint) -> i32 {
    let kind = match target {
        Endpoint::Tcp { bind, port } => connect::stdio_target(bind.as_deref().unwrap_or(""), *port),
        Endpoint::Unix(p) => ChannelType::DirectStreamlocal {
            socket_path: p.display().to_string(),
        },
    };
    let ch = match client.open_channel(kind).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("{}", connect::open_failure(0, &e));
            tracing::error!("stdio forwarding failed");
            return 255;
        }
    };
    let mut rx = stdin_chunks(false);
    let mut w = ch.writer();
    let input = async move {
        while let Some(chunk) = rx.next().await {
            if w.write_all(&chunk).await.is_err() {
                return;
            }
            rx.recycle(chunk);
        }
        let _ = w.close().await;
    };
    let output = copy_out(ch.reader(), raw_output(io::stdout()));
    // Half-close: the channel's EOF ends only the output; stdin is still
    // sent until its end, or until the channel is closed (the input side
    // may still wait on our stdin then).
    let input = async {
        let closed = ch.wait_closed();
        futures::pin_mut!(input);
        futures::pin_mut!(closed);
        let _ = futures::future::select(input, closed).await;
    };
    futures::future::join(input, output).await;
    let _ = ch.wait_closed().await;
    tracing::debug!("stdio forwarding: done");
    0
}
