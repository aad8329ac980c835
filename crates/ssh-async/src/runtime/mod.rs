//! The async runtime, injected: what the driver needs of one (the clock,
//! timers, spawning a task) is the small [`Runtime`] trait, so that the
//! library runs on the application's runtime instead of starting its own,
//! and tests can run it on a virtual clock.
//!
//! Implementations behind features: [`AsyncStd`] (`async-std`, the
//! default), [`Smol`] (`smol`) and [`Tokio`] (`tokio`); and, with
//! `async-std`, [`CurrentThread`], one thread's executor for programs
//! whose hot path should not cross threads. A connection uses
//! the runtime given in its options, else [`default_runtime`].
//!
//! This module is the only place of the library that names a runtime.
//! The rest of it (with the `async-std` feature) is what the host crates
//! and binaries take from async-std: sockets, sleeping, blocking on a
//! future. async-std is discontinued upstream (RUSTSEC-2025-0052);
//! moving them to another runtime touches only this module.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

#[cfg(feature = "async-std")]
mod async_std_rt;
#[cfg(feature = "async-std")]
mod current_thread;
#[cfg(feature = "smol")]
mod smol_rt;
#[cfg(feature = "tokio")]
mod tokio_rt;

#[cfg(feature = "async-std")]
pub use async_std_rt::*;
#[cfg(feature = "async-std")]
pub use current_thread::CurrentThread;
#[cfg(feature = "smol")]
pub use smol_rt::Smol;
#[cfg(feature = "tokio")]
pub use tokio_rt::Tokio;

/// A boxed timer future.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A boxed task.
pub type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What a connection needs of an async runtime.
pub trait Runtime: Send + Sync + fmt::Debug + 'static {
    /// The current time (every deadline the driver keeps is on this
    /// clock).
    fn now(&self) -> Instant;
    /// A timer that completes at `deadline` (at once if it has passed).
    fn sleep_until(&self, deadline: Instant) -> Sleep;
    /// Runs `task` in the background until it completes (a connection's
    /// driver).
    fn spawn(&self, task: Task);
}

/// The runtime a connection uses when its options name none: Tokio's
/// when called inside a Tokio runtime (feature `tokio`), else async-std's
/// (feature `async-std`), else smol's (feature `smol`); `None` when no
/// feature gives one.
pub fn default_runtime() -> Option<Arc<dyn Runtime>> {
    #[cfg(feature = "tokio")]
    if let Some(rt) = Tokio::current() {
        return Some(Arc::new(rt));
    }
    #[cfg(feature = "async-std")]
    return Some(Arc::new(AsyncStd));
    #[cfg(all(feature = "smol", not(feature = "async-std")))]
    return Some(Arc::new(Smol));
    #[cfg(not(any(feature = "async-std", feature = "smol")))]
    None
}
