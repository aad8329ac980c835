//! A sandboxed process's link to the monitor (a worker's, or a user's
//! session process's): its requests, each answered by a reply for the
//! same connection, and the exchange hash signatures asked through it.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, PoisonError};

use futures::channel::oneshot;
use futures::future::BoxFuture;
use ssh_async::ExchangeHashSigner;
use ssh_async::ssh_auth::cert::Certificate;
use ssh_async::ssh_keys::PublicKey;
use ssh_async::ssh_transport::kex::ExchangeHashRequest;
use ssh_os::fdpass::RecordChannel;
use ssh_privsep::{ConnId, Reply, Request, WorkerFrame};
use zeroize::Zeroizing;

/// The record socket to the monitor, and the tasks waiting for a reply
/// (one per connection at a time).
pub(crate) struct Link {
    pub(crate) chan: RecordChannel,
    pending: Mutex<HashMap<ConnId, oneshot::Sender<Reply>>>,
}

impl Link {
    pub(crate) fn new(chan: RecordChannel) -> Self {
        Self {
            chan,
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// Sends `request` for `conn` and waits for the monitor's reply.
    pub(crate) async fn ask(&self, conn: ConnId, request: Request) -> Result<Reply, String> {
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(conn, tx);
        self.chan
            .send(&request.encode(), &[])
            .await
            .map_err(|e| format!("the monitor's socket: {e}"))?;
        rx.await.map_err(|_| "the monitor went away".to_owned())
    }

    /// Gives the monitor's reply to the task waiting for it; a reply
    /// nobody asked for is an error.
    pub(crate) fn answered(&self, conn: ConnId, reply: Reply) -> Result<(), String> {
        let waiter = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&conn);
        match waiter {
            Some(tx) => {
                drop(tx.send(reply));
                Ok(())
            }
            None => Err(format!("a reply for {conn:?}, which asked nothing")),
        }
    }
}

/// Reads one frame from the monitor (`None`: it is gone).
pub(crate) async fn recv(
    chan: &RecordChannel,
) -> Result<Option<(WorkerFrame, Vec<OwnedFd>)>, String> {
    let Some((record, fds)) = chan
        .recv()
        .await
        .map_err(|e| format!("the monitor's socket: {e}"))?
    else {
        return Ok(None);
    };
    let frame = WorkerFrame::decode(super::frame_body(&record)?).map_err(|e| e.to_string())?;
    Ok(Some((frame, fds)))
}

/// The monitor's first frame: the host keys' public halves (and
/// certificates).
pub(crate) async fn host_keys(
    chan: &RecordChannel,
) -> Result<Vec<(PublicKey, Option<Certificate>)>, String> {
    match recv(chan).await? {
        Some((WorkerFrame::Start { host_keys }, _)) => host_keys
            .iter()
            .map(|(key, cert)| {
                let key = PublicKey::from_blob(key).map_err(|e| e.to_string())?;
                let cert = match cert {
                    Some(c) => Some(Certificate::from_blob(c).map_err(|e| e.to_string())?),
                    None => None,
                };
                Ok((key, cert))
            })
            .collect(),
        _ => Err("the monitor did not start with the host keys".to_owned()),
    }
}

/// Signs a connection's exchange hashes through the monitor.
pub(crate) struct MonitorSigner {
    pub(crate) conn: ConnId,
    pub(crate) link: Arc<Link>,
}

impl ExchangeHashSigner for MonitorSigner {
    fn sign(&self, request: Zeroizing<Vec<u8>>) -> BoxFuture<'static, Result<Vec<u8>, String>> {
        let (conn, link) = (self.conn, self.link.clone());
        Box::pin(async move {
            let request = ExchangeHashRequest::decode(&request).map_err(|e| e.to_string())?;
            let request = Request::SignExchangeHash {
                conn,
                request: Box::new(request),
            };
            match link.ask(conn, request).await? {
                Reply::Signature(sig) => Ok(sig),
                Reply::Refused(why) => Err(format!("the monitor refused: {why}")),
                other => Err(format!("the monitor answered {other:?}")),
            }
        })
    }
}
