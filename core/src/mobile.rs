//! The mobile SDK: record from any thread without blocking on the
//! network, survive the app being killed, upload only when the phone's policy allows.
//!
//! The C ABI (`ios/`) and the JNI layer (`android/`) only convert arguments and
//! map errors; everything the API does lives here. A binding keeps an [`Sdk`]
//! in [`handles`], so a handle used after close is an error, never a dangling pointer.

pub mod device;
mod gate;
pub mod handles;
mod recorder;
pub mod stats;
pub mod status;

pub use gate::{Gate, GateSnapshot, Network, Wake};
pub use recorder::{Recorder, RecorderStats, RECORD_WAIT_BOUND};
pub use stats::Stats;

use crate::agent::Agent;
use crate::channel::Channel;
use crate::config::{Config, APP_CHANNEL};
use crate::error::{Error, ErrorKind, Result};
use crate::event::{Event, Priority};
use crate::metrics::Entry;
use crate::registry::Registry;
use crate::sink::platform::PlatformUploads;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The largest event `record` takes (body plus headers): larger ones are refused
/// with an error rather than stored and then refused by every upstream.
pub const MAX_EVENT_BYTES: usize = 1 << 20;

/// Most headers on one event (the same bound as every source's).
pub const MAX_HEADERS: usize = crate::event::MAX_HEADERS;

/// How often `flush` checks whether the upload finished.
const FLUSH_POLL: Duration = Duration::from_millis(5);

/// An open SDK instance: one store, its write buffer, its uploaders.
pub struct Sdk {
    agent: Mutex<Option<Agent>>,
    recorder: Recorder,
    gate: Arc<Gate>,
    channel: Arc<dyn Channel>,
    metrics: Arc<crate::metrics::Registry>,
    uploads: Arc<PlatformUploads>,
    close_timeout: Duration,
    /// What [`Sdk::set_config`] reads a new configuration with.
    data_dir: PathBuf,
    registry: Registry,
    /// Events `record` did not take (see [`Stats::dropped`]).
    dropped: AtomicU64,
    /// Events deleted by a purge (see [`Stats::purged`]).
    purged: AtomicU64,
    /// Why the last event was not taken.
    last_drop: Mutex<Option<String>>,
    /// Held for the whole close sequence.
    closing: Mutex<()>,
}

impl std::fmt::Debug for Sdk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sdk").field("channel", &self.channel.name()).finish_non_exhaustive()
    }
}

impl Sdk {
    /// Opens (or recovers) the store in `data_dir` and starts uploading per `config_toml`.
    ///
    /// # Errors
    /// The configuration is invalid ([`ErrorKind::Config`], with line and key),
    /// the directory is in use by another instance, or the store cannot be opened.
    pub fn open(data_dir: &Path, config_toml: &str) -> Result<Sdk> {
        let uploads = Arc::new(PlatformUploads::default());
        Sdk::open_with(data_dir, config_toml, &Registry::with_platform_sinks(uploads.clone()), uploads)
    }

    /// As [`Sdk::open`], with custom sink types registered in `registry`;
    /// `uploads` is the queue its platform sinks send through (see [`Sdk::uploads`]).
    ///
    /// # Errors
    /// As [`Sdk::open`].
    pub fn open_with(
        data_dir: &Path,
        config_toml: &str,
        registry: &Registry,
        uploads: Arc<PlatformUploads>,
    ) -> Result<Sdk> {
        let config = Config::parse_mobile(config_toml, data_dir, registry)?;
        let topology = config.topology;
        let spec = topology.mobile.clone().unwrap_or_default();
        let agent = Agent::start(&topology, registry)?;
        let (Some(channel), Some(gate)) = (agent.channel(APP_CHANNEL), agent.gate().cloned()) else {
            agent.shutdown(Duration::ZERO);
            return Err(Error::new(ErrorKind::Other, "the mobile topology has no app channel"));
        };
        gate.attach(uploads.clone());
        let recorder = Recorder::start(channel.clone(), spec.buffer_events, spec.commit_interval)?;
        let metrics = agent.metrics().clone();
        let sdk = Sdk {
            agent: Mutex::new(Some(agent)),
            recorder,
            gate,
            channel,
            metrics,
            uploads,
            close_timeout: topology.agent.drain_timeout.min(Duration::from_secs(5)),
            data_dir: data_dir.to_path_buf(),
            registry: registry.clone(),
            dropped: AtomicU64::new(0),
            purged: AtomicU64::new(0),
            last_drop: Mutex::new(None),
            closing: Mutex::new(()),
        };
        // Uploads turned off in an earlier run: whatever a rollback left behind
        // then must not leave the device either.
        if !sdk.gate.upload_enabled() {
            // Uploads stay off either way; the purge is tried again when they are turned on.
            if let Err(e) = sdk.purge_store() {
                log::warn!("uploads are off; purging what a rollback left failed: {e}");
            }
        }
        Ok(sdk)
    }

    /// Moves the SDK to a new configuration, as `sluice run` reloads: changed
    /// upload sinks are rebuilt (an upload in flight is finished or rolled back
    /// first), a changed `[mobile]` policy applies at once, and everything
    /// recorded stays. With an upload out at the app's uploader it blocks until
    /// the answer, at most the close bound (`drain_timeout`, at most 5 s): call
    /// it off the thread that finishes uploads.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] when the text is invalid (with line and key) or
    /// changes what takes effect only when the SDK is opened again (the store's
    /// limits and durability, the record buffer): nothing changed then.
    /// [`ErrorKind::Closed`] after close. [`ErrorKind::Other`] when a changed sink
    /// could not be started; the next `set_config` tries it again.
    pub fn set_config(&self, config_toml: &str) -> Result<()> {
        let config = Config::parse_mobile(config_toml, &self.data_dir, &self.registry)?;
        let done = {
            let mut agent = self.agent.lock().unwrap_or_else(|p| p.into_inner());
            let Some(agent) = agent.as_mut() else {
                return Err(Error::new(ErrorKind::Closed, "the SDK is closed"));
            };
            agent
                .reload(&config.topology, &self.registry, self.close_timeout)
                .map_err(|why| Error::new(ErrorKind::Config, format!("<config>: {why}")))?
        };
        if !done.failures.is_empty() {
            return Err(Error::new(ErrorKind::Other, done.failures.join("; ")));
        }
        // Outside the lock: an app's log callback may call back into the SDK.
        log::info!("configuration changed: {}", done.plan.summary());
        Ok(())
    }

    /// Builds an event from what the app passed, checking it.
    ///
    /// # Errors
    /// [`ErrorKind::Decode`] for an empty or repeated header key, too many headers, or an event over [`MAX_EVENT_BYTES`].
    pub fn event(body: Vec<u8>, headers: Vec<(String, String)>, priority: Priority) -> Result<Event> {
        if headers.len() > MAX_HEADERS {
            return Err(Error::decode(format!("{} headers: at most {MAX_HEADERS} are allowed", headers.len())));
        }
        for (i, (key, _)) in headers.iter().enumerate() {
            if key.is_empty() {
                return Err(Error::decode("a header key is empty"));
            }
            if headers[..i].iter().any(|(k, _)| k == key) {
                return Err(Error::decode(format!("header {key:?} is given twice")));
            }
        }
        // The caller's vector becomes the event's: no copy on the record path.
        let mut event = Event::new(body).with_priority(priority);
        event.headers = headers;
        if event.size() > MAX_EVENT_BYTES {
            return Err(Error::decode(format!(
                "the event is {} bytes: at most {MAX_EVENT_BYTES} are allowed",
                event.size()
            )));
        }
        Ok(event)
    }

    /// What the bindings' `record` calls: builds the event from what the app
    /// passed and buffers it (`sync`: and waits for its commit). An event not
    /// taken (invalid, the buffer full past [`RECORD_WAIT_BOUND`], uploads
    /// turned off, a refused commit) is counted in [`Stats::dropped`] (a refused
    /// commit in [`Stats::refused`]) and its reason kept in `last_error`; the
    /// error says why, for the C ABI's status code. Nothing here throws at the app.
    ///
    /// # Errors
    /// Why the event was not taken; [`ErrorKind::Disabled`] while uploads are off.
    pub fn record_event(
        &self,
        body: Vec<u8>,
        headers: Vec<(String, String)>,
        priority: Priority,
        sync: bool,
    ) -> Result<()> {
        let taken = self
            .ensure_enabled()
            .and_then(|()| Sdk::event(body, headers, priority))
            .and_then(|event| self.recorder.record(event));
        match taken {
            // A refused commit is counted as refused by the recorder.
            Ok(seq) if sync => self.recorder.wait_committed(seq),
            Ok(_) => Ok(()),
            Err(e) => {
                self.not_taken(&e);
                Err(e)
            }
        }
    }

    /// Counts an event the app passed that was not taken for `why` (a binding
    /// calls this for arguments it could not even convert).
    pub fn not_taken(&self, why: &Error) {
        // A closed SDK has no stats left to show.
        if why.kind() != ErrorKind::Closed {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            *self.last_drop.lock().unwrap_or_else(|p| p.into_inner()) = Some(why.to_string());
        }
    }

    /// The user turns uploads on or off (consent, Glean's `setUploadEnabled`).
    /// Off: no upload starts from now on (one already at the app's uploader
    /// finishes), everything stored is purged, a batch out at the uploader is
    /// deleted if it comes back unsent, `record` takes nothing, and the choice is
    /// persisted before this returns, so it holds after a restart.
    /// On: starts afresh, with an empty store.
    ///
    /// # Errors
    /// Off: the store could not record the choice or purge; uploads are off for
    /// this run anyway. On: the purge failed, and uploads stay off.
    pub fn set_upload_enabled(&self, enabled: bool) -> Result<()> {
        self.ensure_open()?;
        if enabled {
            // What a rolled-back upload put back while uploads were off goes first.
            self.purge_store()?;
            self.gate.set_upload_enabled(true)
        } else {
            let saved = self.gate.set_upload_enabled(false);
            if let Err(e) = self.recorder.commit_now() {
                log::warn!("commit before the purge failed: {e}");
            }
            self.purge_store()?;
            saved
        }
    }

    /// Deletes everything stored and buffered that is not at the app's
    /// uploader now, counted in [`Stats::purged`]. Uploads stay as they are.
    ///
    /// # Errors
    /// Closed, or the store failed.
    pub fn purge(&self) -> Result<u64> {
        self.ensure_open()?;
        if let Err(e) = self.recorder.commit_now() {
            log::warn!("commit before the purge failed: {e}");
        }
        self.purge_store()
    }

    fn purge_store(&self) -> Result<u64> {
        let purged = self.channel.purge()?;
        self.purged.fetch_add(purged, Ordering::Relaxed);
        Ok(purged)
    }

    fn ensure_open(&self) -> Result<()> {
        match self.agent.lock().unwrap_or_else(|p| p.into_inner()).is_some() {
            true => Ok(()),
            false => Err(Error::new(ErrorKind::Closed, "the SDK is closed")),
        }
    }

    /// The app reports the default network as the platform describes it; what
    /// that means for uploads is [`device::network_from`].
    pub fn set_network_state(&self, available: bool, validated: bool, metered: bool) {
        self.set_network(device::network_from(available, validated, metered));
    }

    /// The app reports the battery as the platform describes it (`level_percent`
    /// −1 when unknown); what counts as low is [`device::battery_low`].
    pub fn set_battery(&self, charging: bool, level_percent: i32, power_save: bool) {
        self.set_power(charging, device::battery_low(level_percent, power_save));
    }

    /// Whether the app should schedule a background delivery job now, and on
    /// which network (see [`device::background_job`]).
    pub fn background_job(&self) -> Option<device::JobNetwork> {
        let pending = self.stats().pending_events;
        device::background_job(pending, self.gate.upload_enabled(), self.gate.upload_on())
    }

    /// What a background delivery job does (Android's `JobScheduler` job, an
    /// iOS `BGTask`): flushes for at most [`device::BACKGROUND_JOB_BUDGET`] and
    /// says whether the job should run again (events still pending that may leave).
    ///
    /// # Errors
    /// Closed, or the commit of the buffer failed.
    pub fn run_background_job(&self) -> Result<bool> {
        let drained = self.flush(device::BACKGROUND_JOB_BUDGET)?;
        Ok(!drained && self.background_job().is_some())
    }

    /// Puts `event` in the write buffer; it is committed within `commit_interval`.
    /// Never waits on the network; waits on the writer only while the buffer is full.
    ///
    /// # Errors
    /// [`ErrorKind::Closed`] after [`Sdk::close`].
    pub fn record(&self, event: Event) -> Result<()> {
        self.ensure_enabled()?;
        self.recorder.record(event).map(|_| ())
    }

    fn ensure_enabled(&self) -> Result<()> {
        match self.gate.upload_enabled() {
            true => Ok(()),
            false => Err(Error::new(
                ErrorKind::Disabled,
                "uploads are turned off (set_upload_enabled): the event was not recorded",
            )),
        }
    }

    /// Records `event` and returns once it is committed to the store.
    ///
    /// # Errors
    /// Closed, or the store refused it (quota full of `high` events, storage failure).
    pub fn record_sync(&self, event: Event) -> Result<()> {
        self.ensure_enabled()?;
        self.recorder.record_sync(event)
    }

    /// Commits the buffer and uploads now if the policy allows, waiting up to
    /// `timeout`. Returns whether everything recorded before the call was acknowledged.
    ///
    /// # Errors
    /// Closed, or the commit of the buffer failed.
    pub fn flush(&self, timeout: Duration) -> Result<bool> {
        self.ensure_open()?;
        let deadline = Instant::now() + timeout;
        self.recorder.commit_now()?;
        self.gate.urgent_for(timeout);
        self.channel.wake();
        loop {
            if self.channel.metrics().size.get() == 0 {
                return Ok(true);
            }
            // Closed meanwhile by another thread: say so, not "pending".
            if self.agent.lock().unwrap_or_else(|p| p.into_inner()).is_none() {
                return Err(Error::new(ErrorKind::Closed, "the SDK was closed during the flush"));
            }
            // The policy forbids uploading (offline, budget spent…), now or since
            // the flush began: nothing more will leave within the timeout.
            if self.gate.snapshot().paused.is_some() {
                return Ok(false);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            std::thread::sleep(left.min(FLUSH_POLL));
        }
    }

    /// The app reports connectivity. Once this returns with `Offline`, no
    /// request reaches the app's uploader until the network is reported back.
    pub fn set_network(&self, network: Network) {
        self.gate.set_network(network);
    }

    /// The app reports power.
    pub fn set_power(&self, charging: bool, low_battery: bool) {
        self.gate.set_power(charging, low_battery);
    }

    /// The app reports its lifecycle: going to background has the buffer
    /// committed at once and starts an upload within `flush_on_background`.
    /// It does not wait for the commit: the caller is often the main thread.
    pub fn set_foreground(&self, foreground: bool) {
        if !foreground {
            self.recorder.commit_soon();
            self.gate.went_to_background();
            self.channel.wake();
        }
    }

    /// Counters now.
    pub fn stats(&self) -> Stats {
        let (recorder, commit_error) = self.recorder.stats();
        let gate = self.gate.snapshot();
        let channel = self.channel.metrics();
        let (mut delivered, mut quarantined) = (0, 0);
        for entry in self.metrics.entries() {
            if let Entry::Sink(_, m) = entry {
                delivered += m.drain_success.get();
                quarantined += m.quarantined.get();
            }
        }
        Stats {
            pending_events: channel.size.get() + recorder.buffered,
            pending_bytes: channel.bytes.get(),
            buffered_events: recorder.buffered,
            recorded: recorder.recorded,
            delivered,
            evicted: channel.evicted.get(),
            expired: channel.expired.get(),
            refused: recorder.refused,
            quarantined,
            dropped: self.dropped.load(Ordering::Relaxed),
            purged: self.purged.load(Ordering::Relaxed),
            network: gate.network.name(),
            upload_enabled: self.gate.upload_enabled(),
            uploads_paused: gate.paused,
            metered_bytes_today: gate.metered_bytes_today,
            last_error: gate
                .last_error
                .or(commit_error)
                .or_else(|| self.last_drop.lock().unwrap_or_else(|p| p.into_inner()).clone()),
            last_upload_ms: gate.last_upload_ms,
        }
    }

    /// [`Sdk::stats`] as JSON.
    pub fn stats_json(&self) -> String {
        serde_json::to_string(&self.stats()).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The queue the app's uploader loop serves (`transport = "platform"`, the
    /// default): [`PlatformUploads::take`] a request, send it with the
    /// platform's HTTP stack, [`PlatformUploads::finish`] it. Hold this, not the
    /// [`Sdk`], while waiting, so closing is never held up.
    pub fn uploads(&self) -> Arc<PlatformUploads> {
        self.uploads.clone()
    }

    /// Commits the buffer, stops the uploaders (an upload in flight finishes or
    /// is sent again next time) and releases the store. A second close does
    /// nothing (`java.io.Closeable`'s contract).
    pub fn close(&self) {
        // A second close waits for the first to finish: when close returns, the store is released.
        let _closing = self.closing.lock().unwrap_or_else(|p| p.into_inner());
        let Some(agent) = self.agent.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return;
        };
        self.recorder.close();
        // New uploads and untaken ones fail now; one the app is sending may still finish.
        self.uploads.begin_close();
        if !agent.shutdown(self.close_timeout) {
            log::warn!("an upload was still running at close; its batch is sent again next time");
        }
        // Whatever is still unanswered is sent again next time.
        self.uploads.close();
    }
}

impl Drop for Sdk {
    fn drop(&mut self) {
        self.close();
    }
}
