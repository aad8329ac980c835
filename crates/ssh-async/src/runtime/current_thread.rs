//! A runtime of one thread (feature `async-std`): every task spawned on
//! it runs on the thread that calls [`CurrentThread::block_on`], which
//! also waits on the sockets itself (async-io's reactor), so a
//! connection's driver and the application's tasks hand buffers to each
//! other without waking another thread. For a program with one
//! connection's worth of work, as a client: measured with `perf stat` on
//! a 1 GiB download, the multi-threaded executor cost about 38,000
//! context switches and 45,000 futex calls per GiB, nearly all of them
//! hand-offs between the driver's thread and the application's.

use core::cell::RefCell;
use core::future::Future;
use core::task::{Context, Poll, Waker};

use futures::future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Wake;
use std::time::Instant;

use super::{Runtime, Sleep, Task};

type Executor = async_executor::Executor<'static>;

thread_local! {
    /// The executor this thread runs inside [`CurrentThread::block_on`].
    static CURRENT: RefCell<Option<Arc<Executor>>> = const { RefCell::new(None) };
}

/// The executor of the [`CurrentThread::block_on`] this thread is in, if
/// any: [`super::AsyncStd`] and [`super::spawn`] put tasks there, so that
/// what a connection's tasks spawn stays on their thread.
pub(super) fn current() -> Option<Arc<Executor>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Restores the thread's previous executor when a `block_on` ends.
struct Enter(Option<Arc<Executor>>);

impl Drop for Enter {
    fn drop(&mut self) {
        let previous = self.0.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// The waker of the future given to [`CurrentThread::block_on`]: records
/// that it fired, and wakes the thread if it waits.
struct Flag {
    woken: AtomicBool,
    waiting: Mutex<Option<Waker>>,
}

impl Default for Flag {
    fn default() -> Self {
        // Set: the future is polled once at the start.
        Self {
            woken: AtomicBool::new(true),
            waiting: Mutex::new(None),
        }
    }
}

impl Flag {
    /// Ready once the future was woken; else `cx` is woken when it is.
    fn wait(&self, cx: &Context<'_>) -> Poll<()> {
        *self.waiting.lock().unwrap_or_else(PoisonError::into_inner) = Some(cx.waker().clone());
        if self.woken.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        let waiting = self
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(w) = waiting {
            w.wake();
        }
    }
}

/// One thread's executor. Tasks spawned on it run only while some thread
/// is inside [`CurrentThread::block_on`] (a connection whose driver is
/// spawned here stalls when nobody is).
#[derive(Clone, Default)]
pub struct CurrentThread {
    executor: Arc<Executor>,
}

impl core::fmt::Debug for CurrentThread {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("CurrentThread")
    }
}

impl CurrentThread {
    /// A new executor with no task.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `f` to completion on this thread, and with it every task
    /// spawned on this runtime (before and during the call). Meanwhile,
    /// tasks spawned on this thread through [`super::AsyncStd`] or
    /// [`super::spawn`] run here too.
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        let previous = CURRENT.with(|c| c.borrow_mut().replace(self.executor.clone()));
        let _restore = Enter(previous);
        let executor = &self.executor;
        async_io::block_on(async move {
            let mut f = core::pin::pin!(f);
            // `f` is polled when its waker fired (and first): a future
            // polled after every task whether woken or not made a writer
            // waiting for window wake the driver at each poll, and the two
            // spun (rssh uploading through a 100 ms path: 48 CPU s per GB).
            let flag = Arc::new(Flag::default());
            let waker = Waker::from(flag.clone());
            loop {
                // One task, then `f` if it was woken: `f` holds the
                // application's own work (rssh's copy of the channel to
                // stdout), which must get in between a driver's bursts.
                // `Executor::run` polls `f` only after 200 tasks or none,
                // and a driver that keeps waking itself then decrypted a
                // whole window before the window was given back: client
                // and server took turns.
                let ran = executor.try_tick();
                if flag.woken.swap(false, Ordering::AcqRel) {
                    let mut cx = Context::from_waker(&waker);
                    if let Poll::Ready(out) = f.as_mut().poll(&mut cx) {
                        return out;
                    }
                }
                if !ran {
                    // Nothing ran: wait for `f`'s waker or a task.
                    let woken = future::poll_fn(|cx| flag.wait(cx));
                    let tick = executor.tick();
                    let _ = future::select(core::pin::pin!(woken), core::pin::pin!(tick)).await;
                }
            }
        })
    }

    /// A runtime whose tasks run on a thread of their own, named `name`,
    /// for the life of the process (a server's worker: connections handed
    /// to it with [`Runtime::spawn`] keep every task they spawn there).
    pub fn start_thread(name: &str) -> std::io::Result<Self> {
        let rt = Self::new();
        let on_thread = rt.clone();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || on_thread.block_on(futures::future::pending::<()>()))?;
        Ok(rt)
    }
}

impl Runtime for CurrentThread {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep_until(&self, deadline: Instant) -> Sleep {
        Box::pin(async move {
            async_io::Timer::at(deadline).await;
        })
    }

    fn spawn(&self, task: Task) {
        self.executor.spawn(task).detach();
    }
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use super::*;
    use futures::channel::oneshot;

    #[test]
    fn spawned_tasks_run_on_the_blocking_thread() {
        let rt = CurrentThread::new();
        let (tx, rx) = oneshot::channel();
        rt.spawn(Box::pin(async move {
            let _ = tx.send(std::thread::current().id());
        }));
        let here = std::thread::current().id();
        let ran_on = rt.block_on(async {
            rt.sleep_until(Instant::now() + std::time::Duration::from_millis(5))
                .await;
            rx.await
        });
        assert_eq!(ran_on, Ok(here));
    }

    #[test]
    fn the_blocked_on_future_runs_between_tasks_that_keep_waking_themselves() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let rt = CurrentThread::new();
        let spins = Arc::new(AtomicUsize::new(0));
        let counter = spins.clone();
        // A task as a driver in a long burst: it wakes itself 1,000 times.
        rt.spawn(Box::pin(future::poll_fn(move |cx| {
            if counter.fetch_add(1, Ordering::Relaxed) + 1 >= 1000 {
                Poll::Ready(())
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })));
        let seen = rt.block_on(async {
            // Ready again at once, as an application's copy loop is.
            let mut yielded = false;
            future::poll_fn(|cx| {
                if yielded {
                    Poll::Ready(())
                } else {
                    yielded = true;
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
            })
            .await;
            spins.load(Ordering::Relaxed)
        });
        // Executor::run let it spin 200 times first.
        assert!(seen <= 2, "the task ran {seen} times before us");
    }

    /// The blocked-on future is polled when woken, not after every task:
    /// a future that does something each time it is polled (a writer
    /// waiting for window wakes the driver) must not spin with the tasks.
    #[test]
    fn the_blocked_on_future_is_not_polled_unless_woken() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let rt = CurrentThread::new();
        let (tx, mut rx) = oneshot::channel::<()>();
        let mut tx = Some(tx);
        let mut left = 1000;
        // A task that wakes itself 1,000 times, then tells the future.
        rt.spawn(Box::pin(future::poll_fn(move |cx| {
            left -= 1;
            if left == 0 {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(());
                }
                Poll::Ready(())
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })));
        let polls = AtomicUsize::new(0);
        rt.block_on(future::poll_fn(|cx| {
            polls.fetch_add(1, Ordering::Relaxed);
            core::pin::Pin::new(&mut rx).poll(cx).map(drop)
        }));
        let polls = polls.load(Ordering::Relaxed);
        assert!(polls <= 3, "polled {polls} times for one wake-up");
    }

    #[test]
    fn what_tasks_spawn_through_async_std_stays_on_their_thread() {
        let rt = CurrentThread::start_thread("worker").unwrap_or_else(|e| panic!("{e}"));
        let (tx, rx) = oneshot::channel();
        rt.spawn(Box::pin(async move {
            let outer = std::thread::current().id();
            let inner = crate::runtime::spawn(async { std::thread::current().id() }).await;
            let (itx, irx) = oneshot::channel();
            crate::runtime::AsyncStd.spawn(Box::pin(async move {
                let _ = itx.send(std::thread::current().id());
            }));
            let _ = tx.send((outer, inner, irx.await));
        }));
        let (outer, inner, via_runtime) =
            futures::executor::block_on(rx).unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(outer, std::thread::current().id());
        assert_eq!(inner, outer);
        assert_eq!(via_runtime, Ok(outer));
        // Outside any CurrentThread, async-std's pool runs them.
        let pool = crate::runtime::block_on(crate::runtime::spawn(async {
            std::thread::current().name().map(str::to_owned)
        }));
        assert_ne!(pool.as_deref(), Some("worker"));
    }
}
