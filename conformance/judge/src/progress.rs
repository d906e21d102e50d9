//! What a running case is doing right now, so a case that runs for minutes (a reaping case on a
//! deployed profile waits 5 minutes in one `sleep`) is announced with what it waits for and how
//! long, instead of leaving the console silent.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// The step a case is in.
#[derive(Debug, Clone)]
pub struct StepNow {
    /// 1-based.
    pub index: usize,
    pub of: usize,
    /// What the step does, e.g. `sleep 0.5*tcp_idle`.
    pub what: String,
    /// How long the step is known to wait, when it is (sleeps, lower bounds).
    pub wait: Option<Duration>,
    pub since: Instant,
}

/// Shared between a running case (which writes) and the console (which reads).
#[derive(Debug, Clone, Default)]
pub struct Progress(Arc<Mutex<Option<StepNow>>>);

impl Progress {
    /// The case entered step `index` of `of`.
    pub fn step(&self, index: usize, of: usize, what: String, wait: Option<Duration>) {
        if let Ok(mut now) = self.0.lock() {
            *now = Some(StepNow {
                index,
                of,
                what,
                wait,
                since: Instant::now(),
            });
        }
    }

    pub fn now(&self) -> Option<StepNow> {
        self.0.lock().ok().and_then(|n| n.clone())
    }
}
