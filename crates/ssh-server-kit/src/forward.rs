//! Server-side forwarding: `direct-tcpip` and
//! `direct-streamlocal@openssh.com` channels, `tcpip-forward` and
//! `streamlocal-forward@openssh.com` listeners, under a policy.
//!
//! - [`ForwardPolicy`]: sshd's forwarding settings and the key's
//!   `authorized_keys` options, combined as sshd does.
//! - [`handle_direct`]: a channel the client opened to a host and port or
//!   a Unix socket: checked, connected as the user (through
//!   [`Sockets`]), then spliced.
//! - [`RemoteForwards`]: the client's listeners on this connection
//!   (`ssh -R`), made as the user, each accepted connection opened back to
//!   the client as `forwarded-tcpip` or
//!   `forwarded-streamlocal@openssh.com`; all closed (their socket files
//!   removed) when the connection ends.

mod policy;
mod remote;

use std::io;
use std::path::Path;

use ssh_wire::messages::{ChannelType, OpenFailureReason};

use ssh_async::{Error, IncomingChannel};
use ssh_os::sockets::Sockets;

pub use policy::{ForwardPolicy, PermitEntry, PermitList, Refusal, wildcard_match};
pub use remote::RemoteForwards;

/// An I/O error as OpenSSH words it (`strerror`, without Rust's
/// "(os error N)").
pub(crate) fn error_text(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s.get(..i).unwrap_or(&s).to_owned(),
        None => s,
    }
}

/// Serves a `direct-tcpip` or `direct-streamlocal@openssh.com` channel
/// the client asked to open: refused (`SSH_OPEN_ADMINISTRATIVELY_PROHIBITED`,
/// with sshd's log line at info) when `policy` does not allow it, refused
/// with `SSH_OPEN_CONNECT_FAILED` and the system's message when the
/// connection made through `sockets` fails, otherwise accepted and
/// spliced with the connection until both ends are done. Any other channel
/// type is refused as unknown.
pub async fn handle_direct(
    incoming: IncomingChannel,
    policy: &ForwardPolicy,
    sockets: &Sockets,
) -> Result<(), Error> {
    match incoming.channel_type.clone() {
        ChannelType::DirectTcpip {
            host,
            port,
            originator_address,
            originator_port,
        } => {
            let port =
                match policy.check_direct_tcp(&host, port, &originator_address, originator_port) {
                    Ok(p) => p,
                    Err(r) => {
                        tracing::info!("{}", r.log);
                        return incoming.reject(
                            OpenFailureReason::ADMINISTRATIVELY_PROHIBITED,
                            "administratively prohibited",
                        );
                    }
                };
            tracing::debug!(
                "direct-tcpip: originator {originator_address} port {originator_port}, target {host} port {port}"
            );
            let stream = match sockets.connect_tcp(&host, port).await {
                Ok(s) => s,
                Err(e) => {
                    let text = error_text(&e);
                    tracing::info!("connect_to {host} port {port}: failed: {text}");
                    return incoming.reject(OpenFailureReason::CONNECT_FAILED, &text);
                }
            };
            let ch = incoming.accept()?;
            ssh_async::splice(ch, stream).await?;
            Ok(())
        }
        ChannelType::DirectStreamlocal { socket_path } => {
            if let Err(r) = policy.check_direct_streamlocal(&socket_path) {
                tracing::info!("{}", r.log);
                return incoming.reject(
                    OpenFailureReason::ADMINISTRATIVELY_PROHIBITED,
                    "administratively prohibited",
                );
            }
            tracing::debug!("direct-streamlocal: target {socket_path}");
            let stream = match sockets.connect_unix(Path::new(&socket_path)).await {
                Ok(s) => s,
                Err(e) => {
                    let text = error_text(&e);
                    tracing::info!("connect to unix socket {socket_path}: failed: {text}");
                    return incoming.reject(OpenFailureReason::CONNECT_FAILED, &text);
                }
            };
            let ch = incoming.accept()?;
            ssh_async::splice(ch, stream).await?;
            Ok(())
        }
        other => {
            tracing::info!("refused channel of type {other:?}");
            incoming.reject(
                OpenFailureReason::UNKNOWN_CHANNEL_TYPE,
                "unknown channel type",
            )
        }
    }
}
