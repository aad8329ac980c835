//! Global requests (RFC 4254 §4): ours with their replies, and the
//! peer's handed to the application.

use core::task::Poll;

use ssh_connection::{GlobalReply, RequestId};
use ssh_wire::messages::GlobalRequestKind;

use crate::Error;
use crate::state::{Shared, lock};

/// Sends `request` with want_reply and waits for the peer's answer.
pub(crate) async fn request(
    shared: &Shared,
    request: GlobalRequestKind,
) -> Result<GlobalReply, Error> {
    let id: RequestId = {
        let mut st = lock(shared);
        let id = st
            .conn()?
            .global_request(request, true)?
            .ok_or_else(|| Error::Io(std::io::Error::other("global request without an id")))?;
        st.wake_driver();
        id
    };
    let mut waiting = Waiting {
        shared,
        id,
        done: false,
    };
    futures::future::poll_fn(|cx| {
        let mut st = lock(shared);
        if let Some(r) = st.global_replies.remove(&id) {
            waiting.done = true;
            return Poll::Ready(Ok(r));
        }
        if let Some(e) = &st.ended {
            waiting.done = true;
            return Poll::Ready(Err(Error::Connection(e.clone())));
        }
        if !st.global_wakers.iter().any(|w| w.will_wake(cx.waker())) {
            st.global_wakers.push(cx.waker().clone());
        }
        Poll::Pending
    })
    .await
}

/// A reply being waited for; if the waiter goes away first, its reply
/// is dropped when it comes (not kept for nobody).
struct Waiting<'a> {
    shared: &'a Shared,
    id: RequestId,
    done: bool,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if !self.done {
            let mut st = lock(self.shared);
            if st.global_replies.remove(&self.id).is_none() {
                st.global_abandoned.insert(self.id);
            }
        }
    }
}

/// Sends `request` without want_reply.
pub(crate) fn send(shared: &Shared, request: GlobalRequestKind) -> Result<(), Error> {
    let mut st = lock(shared);
    st.conn()?.global_request(request, false)?;
    st.wake_driver();
    Ok(())
}

/// The peer's next global request; `None` once the connection ended.
/// The first call starts queueing them (before, they are refused).
pub(crate) async fn next(shared: &Shared) -> Option<IncomingGlobalRequest> {
    futures::future::poll_fn(|cx| {
        let mut st = lock(shared);
        st.accept_global = true;
        if let Some(p) = st.global_incoming.pop_front() {
            return Poll::Ready(Some(IncomingGlobalRequest {
                shared: shared.clone(),
                id: p.id,
                request: p.request,
            }));
        }
        if st.ended.is_some() {
            return Poll::Ready(None);
        }
        st.global_incoming_waker = Some(cx.waker().clone());
        Poll::Pending
    })
    .await
}

/// A global request of the peer. Dropped unanswered, it is refused.
#[derive(Debug)]
pub struct IncomingGlobalRequest {
    shared: Shared,
    id: Option<RequestId>,
    /// The request and its fields.
    pub request: GlobalRequestKind,
}

impl IncomingGlobalRequest {
    /// Whether the peer waits for an answer.
    pub fn wants_reply(&self) -> bool {
        self.id.is_some()
    }

    /// Grants the request: [`GlobalReply::Success`], or
    /// [`GlobalReply::BoundPort`] for a `tcpip-forward` of port 0.
    /// Answers go out in request order (RFC 4254 §4).
    pub fn accept(mut self, reply: GlobalReply) -> Result<(), Error> {
        self.answer(reply)
    }

    /// Refuses the request.
    pub fn reject(mut self) -> Result<(), Error> {
        self.answer(GlobalReply::Failure)
    }

    fn answer(&mut self, reply: GlobalReply) -> Result<(), Error> {
        let Some(id) = self.id.take() else {
            return Ok(());
        };
        let mut st = lock(&self.shared);
        st.conn()?.answer_global_request(id, reply)?;
        st.wake_driver();
        Ok(())
    }
}

impl Drop for IncomingGlobalRequest {
    fn drop(&mut self) {
        let _ = self.answer(GlobalReply::Failure);
    }
}
