//! async-std as the runtime (feature `async-std`, the default), and what
//! the host crates and binaries take from it: sockets, sleeping, blocking
//! on a future.

use core::future::Future;
use std::time::{Duration, Instant};

use super::{Runtime, Sleep, Task};

/// async-std's global executor and its timers; but inside
/// [`super::CurrentThread::block_on`], that thread's executor (what a
/// connection running there spawns stays on its thread).
#[derive(Debug, Default, Clone, Copy)]
pub struct AsyncStd;

impl Runtime for AsyncStd {
    fn now(&self) -> Instant {
        now()
    }

    fn sleep_until(&self, deadline: Instant) -> Sleep {
        let d = deadline.saturating_duration_since(now());
        Box::pin(async_std::task::sleep(d))
    }

    fn spawn(&self, task: Task) {
        match super::current_thread::current() {
            Some(executor) => executor.spawn(task).detach(),
            None => drop(async_std::task::spawn(task)),
        }
    }
}

/// The current time.
pub fn now() -> Instant {
    Instant::now()
}

/// Waits for `d`.
pub async fn sleep(d: Duration) {
    async_std::task::sleep(d).await;
}

/// Runs `f` on async-std's executor, or inside
/// [`super::CurrentThread::block_on`] on that thread's; the returned
/// future yields its output (dropping it detaches the task).
pub fn spawn<F, T>(f: F) -> impl Future<Output = T> + Send + Unpin + 'static
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    match super::current_thread::current() {
        Some(executor) => {
            let (tx, rx) = futures::channel::oneshot::channel();
            executor
                .spawn(async move {
                    let _ = tx.send(f.await);
                })
                .detach();
            JoinHandle::Local(rx)
        }
        None => JoinHandle::Pool(async_std::task::spawn(f)),
    }
}

/// What [`spawn`] returns.
enum JoinHandle<T> {
    /// A task of the thread's [`super::CurrentThread`].
    Local(futures::channel::oneshot::Receiver<T>),
    /// A task of async-std's pool.
    Pool(async_std::task::JoinHandle<T>),
}

impl<T> Future for JoinHandle<T> {
    type Output = T;

    fn poll(
        self: core::pin::Pin<&mut Self>,
        cx: &mut core::task::Context<'_>,
    ) -> core::task::Poll<T> {
        use core::task::Poll;
        match self.get_mut() {
            Self::Local(rx) => match core::pin::Pin::new(rx).poll(cx) {
                Poll::Ready(Ok(v)) => Poll::Ready(v),
                // The executor went away with the task: no output ever.
                Poll::Ready(Err(_)) | Poll::Pending => Poll::Pending,
            },
            Self::Pool(handle) => core::pin::Pin::new(handle).poll(cx),
        }
    }
}

/// Runs `f` to completion on the current thread.
pub fn block_on<F: Future>(f: F) -> F::Output {
    async_std::task::block_on(f)
}

/// `f`, or `None` if it did not finish within `d`.
pub async fn timeout<F: Future>(d: Duration, f: F) -> Option<F::Output> {
    async_std::future::timeout(d, f).await.ok()
}

/// Sockets: TCP and Unix listeners and streams (futures-io streams).
pub mod net {
    pub use async_std::net::{TcpListener, TcpStream, ToSocketAddrs};
    #[cfg(unix)]
    pub use async_std::os::unix::net::{UnixListener, UnixStream};
}

/// `shutdown(Write)` when `stream` is one of [`net`]'s TCP or Unix
/// streams (their `poll_close` only flushes); `None` for other streams.
pub fn shutdown_write(stream: &dyn core::any::Any) -> Option<std::io::Result<()>> {
    use std::net::Shutdown;
    if let Some(s) = stream.downcast_ref::<net::TcpStream>() {
        return Some(s.shutdown(Shutdown::Write));
    }
    #[cfg(unix)]
    if let Some(s) = stream.downcast_ref::<net::UnixStream>() {
        return Some(s.shutdown(Shutdown::Write));
    }
    None
}
