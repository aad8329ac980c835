//! async-std as the runtime (feature `async-std`, the default), and what
//! the host crates and binaries take from it: sockets, sleeping, blocking
//! on a future.

use core::future::Future;
use std::time::{Duration, Instant};

use super::{Runtime, Sleep, Task};

/// async-std's global executor and its timers.
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
        drop(async_std::task::spawn(task));
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

/// Runs `f` on async-std's executor; the returned future yields its
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
