//! A shutdown token: components poll it and sleep on it, so stopping wakes them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
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

    /// A channel that closes when the agent stops, for async code to select on.
    ///
    /// One watcher thread blocks on this token (no timed wake-ups while running).
    ///
    /// # Errors
    /// The watcher thread cannot be spawned.
    pub fn closed_signal(self: &Arc<Self>) -> std::io::Result<smol::channel::Receiver<()>> {
        let (tx, rx) = smol::channel::bounded::<()>(1);
        let stop = self.clone();
        std::thread::Builder::new().name("sluice-stop".into()).spawn(move || {
            while !stop.sleep(Duration::from_secs(3600)) {}
            drop(tx);
        })?;
        Ok(rx)
    }

    /// Sleeps up to `duration`; returns early (and `true`) when stopped.
    pub fn sleep(&self, duration: Duration) -> bool {
        let guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let _ = self.woken.wait_timeout_while(guard, duration, |_| !self.is_stopped());
        self.is_stopped()
    }
}
