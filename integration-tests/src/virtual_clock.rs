//! A runtime whose clock the test moves: timers fire when the test
//! advances the time, not when real time passes. Tasks run on async-std's
//! executor (the executor is real, the time is not).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use ssh_async::runtime::{Runtime, Sleep, Task};

#[derive(Debug)]
struct State {
    now: Instant,
    /// Timers not yet due, with the task to wake.
    timers: Vec<(Instant, Waker)>,
}

/// The virtual clock; clones share the time.
#[derive(Debug, Clone)]
pub struct VirtualClock {
    state: Arc<Mutex<State>>,
}

impl Default for VirtualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl VirtualClock {
    /// A clock that starts at the real current time and then stands still.
    pub fn new() -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                now: Instant::now(),
                timers: Vec::new(),
            })),
        }
    }

    /// The clock's time.
    pub fn now(&self) -> Instant {
        self.state.lock().unwrap().now
    }

    /// Moves the time on by `d` and wakes every timer now due.
    pub fn advance(&self, d: Duration) {
        let due: Vec<Waker> = {
            let mut st = self.state.lock().unwrap();
            st.now += d;
            let now = st.now;
            let (due, later) = st.timers.drain(..).partition(|(at, _)| *at <= now);
            st.timers = later;
            due.into_iter().map(|(_, w)| w).collect()
        };
        for w in due {
            w.wake();
        }
    }

    /// How many timers are waiting.
    pub fn pending_timers(&self) -> usize {
        self.state.lock().unwrap().timers.len()
    }
}

struct Timer {
    clock: VirtualClock,
    deadline: Instant,
}

impl Future for Timer {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = self.clock.state.lock().unwrap();
        if st.now >= self.deadline {
            return Poll::Ready(());
        }
        st.timers.push((self.deadline, cx.waker().clone()));
        Poll::Pending
    }
}

impl Runtime for VirtualClock {
    fn now(&self) -> Instant {
        VirtualClock::now(self)
    }

    fn sleep_until(&self, deadline: Instant) -> Sleep {
        Box::pin(Timer {
            clock: self.clone(),
            deadline,
        })
    }

    fn spawn(&self, task: Task) {
        drop(async_std::task::spawn(task));
    }
}

/// Lets the tasks run until they wait for something (real time, short):
/// after [`VirtualClock::advance`], what the new time woke has run.
pub async fn settle() {
    ssh_async::runtime::sleep(Duration::from_millis(50)).await;
}
