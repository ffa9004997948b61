//! A small pool of named threads for blocking work called from async code.
//!
//! Unlike a general-purpose blocking pool that parks idle threads with a
//! timeout (and so wakes twice a second forever after its first job), these
//! threads block on their queue without a timeout: an idle agent does not wake.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of worker threads sharing one queue.
#[derive(Clone)]
pub struct Workers {
    queue: mpsc::Sender<Job>,
}

impl Workers {
    /// Starts `n` threads named `sluice-<name>-<i>`.
    ///
    /// # Errors
    /// A thread cannot be spawned.
    pub fn new(name: &str, n: usize) -> std::io::Result<Workers> {
        let (queue, jobs) = mpsc::channel::<Job>();
        let jobs = Arc::new(Mutex::new(jobs));
        for i in 0..n.max(1) {
            let jobs = jobs.clone();
            std::thread::Builder::new().name(format!("sluice-{name}-{i}")).spawn(move || loop {
                // The lock is held only while waiting for the next job, not while running it.
                let job = jobs.lock().unwrap_or_else(|p| p.into_inner()).recv();
                match job {
                    Ok(job) => job(),
                    Err(_) => break,
                }
            })?;
        }
        Ok(Workers { queue })
    }

    /// Runs `f` on a worker; resolves with its result.
    ///
    /// # Errors
    /// `None` if the pool is gone (every worker exited).
    pub async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let (tx, rx) = smol::channel::bounded(1);
        let job: Job = Box::new(move || {
            let _ = tx.try_send(f());
        });
        self.queue.send(job).ok()?;
        rx.recv().await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_jobs_and_returns_results() -> std::io::Result<()> {
        let pool = Workers::new("test", 2)?;
        let results: Vec<Option<u32>> = smol::block_on(async { vec![pool.run(|| 1).await, pool.run(|| 2).await] });
        assert_eq!(results, vec![Some(1), Some(2)]);
        Ok(())
    }
}
