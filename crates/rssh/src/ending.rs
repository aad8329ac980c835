//! What the user reads when an established connection ends other than
//! by the session's own close, in OpenSSH's words: the server's
//! DISCONNECT, a silent close, a keepalive timeout, or a violation this
//! side found itself (which is not the remote host closing).

use ssh_async::ConnectionError;

use crate::connect::Peer;

/// The lines to print for `e`, an error that ended the connection to
/// `host` (as the user named it) at `peer`.
pub fn messages(e: &ssh_async::Error, host: &str, peer: &Peer) -> Vec<String> {
    use ssh_async::Error as E;
    let (ip, port) = (&peer.ip, peer.port);
    let session = |e: &ssh_async::ssh_session::Error| match e {
        ssh_async::ssh_session::Error::KeepaliveTimeout { .. } => {
            vec![format!("Timeout, server {host} not responding.")]
        }
        // Found here: ssh says so through ssh_dispatch_run_fatal.
        other => vec![format!(
            "ssh_dispatch_run_fatal: Connection to {ip} port {port}: {other}"
        )],
    };
    match e {
        E::Connection(ConnectionError::PeerDisconnected {
            reason,
            description,
        }) => vec![
            format!(
                "Received disconnect from {ip} port {port}:{}: {description}",
                reason.0
            ),
            format!("Disconnected from {ip} port {port}"),
        ],
        E::Connection(ConnectionError::StreamClosed) => {
            vec![format!("Connection to {host} closed by remote host.")]
        }
        E::Connection(ConnectionError::Session(s)) | E::Session(s) => session(s),
        E::Connection(ConnectionError::Io(io)) => {
            vec![format!("Read from remote host {host}: {io}")]
        }
        E::Io(io) => vec![format!("Read from remote host {host}: {io}")],
        other => vec![format!("Connection to {host} ended: {other}")],
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use ssh_async::ssh_session::Error as S;
    use ssh_async::ssh_wire::messages::DisconnectReason;

    fn peer() -> Peer {
        Peer {
            ip: "192.0.2.1".into(),
            port: 2222,
        }
    }

    #[test]
    fn a_violation_found_here_is_not_a_remote_close() {
        let e = ssh_async::Error::Connection(ConnectionError::Session(S::Protocol {
            reason: DisconnectReason::PROTOCOL_ERROR,
            message: "CHANNEL_DATA for an unknown channel".into(),
        }));
        let m = messages(&e, "box", &peer());
        assert_eq!(m.len(), 1);
        assert!(
            m[0].starts_with("ssh_dispatch_run_fatal: Connection to 192.0.2.1 port 2222: "),
            "{m:?}"
        );
        assert!(m[0].contains("unknown channel"), "{m:?}");
        assert!(!m[0].contains("closed by remote host"));
    }

    #[test]
    fn the_remote_side_s_endings_in_openssh_s_words() {
        let closed = ssh_async::Error::Connection(ConnectionError::StreamClosed);
        assert_eq!(
            messages(&closed, "box", &peer()),
            ["Connection to box closed by remote host."]
        );
        let disconnect = ssh_async::Error::Connection(ConnectionError::PeerDisconnected {
            reason: DisconnectReason::BY_APPLICATION,
            description: "bye".into(),
        });
        assert_eq!(
            messages(&disconnect, "box", &peer()),
            [
                "Received disconnect from 192.0.2.1 port 2222:11: bye",
                "Disconnected from 192.0.2.1 port 2222"
            ]
        );
        let timeout = ssh_async::Error::Connection(ConnectionError::Session(S::KeepaliveTimeout {
            missed: 3,
        }));
        assert_eq!(
            messages(&timeout, "box", &peer()),
            ["Timeout, server box not responding."]
        );
    }
}
