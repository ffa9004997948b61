//! A shutdown token: components poll it and sleep on it, so stopping wakes them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// Set once when the agent shuts down.
#[derive(Debug, Default)]
pub struct Stop {
    stopped: AtomicBool,
    lock: Mutex<()>,
    woken: Condvar,
}

impl Stop {
    /// Asks every holder to stop, waking sleepers.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.woken.notify_all();
    }

    /// Whether [`Stop::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Sleeps up to `duration`; returns early (and `true`) when stopped.
    pub fn sleep(&self, duration: Duration) -> bool {
        let guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let _ = self.woken.wait_timeout_while(guard, duration, |_| !self.is_stopped());
        self.is_stopped()
    }
}
