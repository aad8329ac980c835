//! Tokio as the runtime (feature `tokio`): tasks go to the runtime the
//! application runs, timers are Tokio's (the runtime needs its time
//! driver: `enable_time`, or `enable_all`).

use std::time::Instant;

use super::{Runtime, Sleep, Task};

/// A handle on a Tokio runtime.
#[derive(Debug, Clone)]
pub struct Tokio(tokio::runtime::Handle);

impl Tokio {
    /// The runtime this is called in; `None` outside one.
    pub fn current() -> Option<Self> {
        tokio::runtime::Handle::try_current().ok().map(Self)
    }

    /// A given runtime.
    pub fn new(handle: tokio::runtime::Handle) -> Self {
        Self(handle)
    }
}

impl Runtime for Tokio {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep_until(&self, deadline: Instant) -> Sleep {
        // A Tokio timer is bound to the runtime it is made in.
        let _entered = self.0.enter();
        Box::pin(tokio::time::sleep_until(deadline.into()))
    }

    fn spawn(&self, task: Task) {
        drop(self.0.spawn(task));
    }
}
