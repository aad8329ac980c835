//! Everything this crate takes from the async runtime (async-std): the
//! clock, timers, tasks. async-std is discontinued upstream
//! (RUSTSEC-2025-0052); switching to another runtime touches only this
//! module.

use core::future::Future;
use core::pin::Pin;
use std::time::{Duration, Instant};

/// The current time: the only place the workspace reads the clock.
pub fn now() -> Instant {
    Instant::now()
}

/// A boxed timer future.
pub(crate) type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A timer that completes at `deadline` (at once if it has passed).
pub(crate) fn sleep_until(deadline: Instant) -> Sleep {
    let d = deadline.saturating_duration_since(now());
    Box::pin(async_std::task::sleep(d))
}

/// Waits for `d`.
pub async fn sleep(d: Duration) {
    async_std::task::sleep(d).await;
}

/// Runs `f` on the runtime's executor; the returned future yields its
/// output.
pub fn spawn<F, T>(f: F) -> impl Future<Output = T> + Send + 'static
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    async_std::task::spawn(f)
}

/// Runs `f` to completion on the current thread.
pub fn block_on<F: Future>(f: F) -> F::Output {
    async_std::task::block_on(f)
}

/// Sockets: TCP and Unix listeners and streams (futures-io streams).
pub mod net {
    pub use async_std::net::{TcpListener, TcpStream, ToSocketAddrs};
    pub use async_std::os::unix::net::{UnixListener, UnixStream};
}

/// `f`, or `None` if it did not finish within `d`.
pub async fn timeout<F: Future>(d: Duration, f: F) -> Option<F::Output> {
    async_std::future::timeout(d, f).await.ok()
}
