//! smol as the runtime (feature `smol`).

use std::time::Instant;

use super::{Runtime, Sleep, Task};

/// smol's global executor and its timers.
#[derive(Debug, Default, Clone, Copy)]
pub struct Smol;

impl Runtime for Smol {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep_until(&self, deadline: Instant) -> Sleep {
        Box::pin(async move {
            smol::Timer::at(deadline).await;
        })
    }

    fn spawn(&self, task: Task) {
        smol::spawn(task).detach();
    }
}
