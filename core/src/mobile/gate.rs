//! The upload gate: whether the phone's state lets the sink runner use the network now.
//!
//! The app reports connectivity, power and lifecycle; the runner asks the gate
//! before every upload and sleeps on it. Nothing here polls: a closed gate
//! waits on a condition variable until the app reports a change (or, with a
//! spent metered budget, until the next UTC day).

use crate::channel::Store;
use crate::config::{MobileSpec, UploadOn};
use crate::event::now_ms;
use crate::sink::platform::PlatformUploads;
use crate::stop::Stop;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

const DAY_MS: u64 = 86_400_000;
const BUDGET_COUNTER: &str = "mobile.metered_bytes.";
/// 1 while the user has turned uploads off (kept across restarts).
const UPLOADS_OFF_COUNTER: &str = "mobile.uploads_off";

/// The connectivity the app reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// No connection: no upload is attempted, no retry scheduled.
    Offline,
    /// A metered connection (cellular): `upload_on` and the daily budget apply.
    Metered,
    /// An unmetered connection (Wi-Fi, Ethernet).
    Unmetered,
}

impl Network {
    /// The C and JVM code: 0 offline, 1 metered, 2 unmetered.
    pub fn from_code(code: i32) -> Option<Network> {
        match code {
            0 => Some(Network::Offline),
            1 => Some(Network::Metered),
            2 => Some(Network::Unmetered),
            _ => None,
        }
    }

    /// Its name in stats.
    pub fn name(self) -> &'static str {
        match self {
            Network::Offline => "offline",
            Network::Metered => "metered",
            Network::Unmetered => "unmetered",
        }
    }
}

/// Why a backoff wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The wait ran out.
    Timeout,
    /// The network came back: the backoff starts over.
    Reset,
    /// A flush (or going to background) asked for an upload now.
    Urgent,
    /// The SDK is closing.
    Closed,
}

/// What the gate knows, for stats.
#[derive(Debug, Clone)]
pub struct GateSnapshot {
    /// Reported connectivity.
    pub network: Network,
    /// Why uploads are paused now, if they are.
    pub paused: Option<&'static str>,
    /// Bytes uploaded on metered networks today (UTC).
    pub metered_bytes_today: u64,
    /// When the last batch was acknowledged (ms since the epoch).
    pub last_upload_ms: Option<u64>,
    /// The last upload failure.
    pub last_error: Option<String>,
}

#[derive(Debug)]
struct State {
    /// The policy in force.
    spec: MobileSpec,
    network: Network,
    charging: bool,
    low_battery: bool,
    /// The user's consent: off stops every upload, across restarts.
    upload_enabled: bool,
    urgent_until: Option<Instant>,
    /// Bumped when a sleeping runner should wake (urgent upload, network back, close).
    wakes: u64,
    /// Bumped when the network came back, so the backoff starts over.
    resets: u64,
    day: u64,
    metered_used: u64,
    last_upload_ms: Option<u64>,
    last_error: Option<String>,
    closed: bool,
}

/// The phone's upload policy, shared by the SDK (which reports) and the runner (which asks).
pub struct Gate {
    store: Option<Arc<Store>>,
    state: Mutex<State>,
    changed: Condvar,
    /// `State::upload_enabled`, readable without the lock.
    enabled: std::sync::atomic::AtomicBool,
    /// The app's upload queue, told the verdict before any waiter wakes.
    uploads: Mutex<Option<Arc<PlatformUploads>>>,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate").field("state", &*self.lock()).finish_non_exhaustive()
    }
}

impl Gate {
    /// A gate for `spec`; `store` keeps the metered budget across restarts.
    /// Until the app reports otherwise, the network is taken as unmetered.
    pub fn new(spec: MobileSpec, store: Option<Arc<Store>>) -> Gate {
        let day = now_ms() / DAY_MS;
        let metered_used = store.as_ref().map_or(0, |s| s.load_counter(&counter_name(day)).unwrap_or(0));
        // The user's opt-out must not be lost to a read error: off, then, with a warning.
        let uploads_off = store.as_ref().is_some_and(|s| match s.load_counter(UPLOADS_OFF_COUNTER) {
            Ok(value) => value == 1,
            Err(e) => {
                log::warn!("cannot read whether uploads were turned off ({e}): they stay off until turned on");
                true
            }
        });
        Gate {
            store,
            state: Mutex::new(State {
                spec,
                network: Network::Unmetered,
                charging: false,
                low_battery: false,
                upload_enabled: !uploads_off,
                urgent_until: None,
                wakes: 0,
                resets: 0,
                day,
                metered_used,
                last_upload_ms: None,
                last_error: None,
                closed: false,
            }),
            changed: Condvar::new(),
            enabled: std::sync::atomic::AtomicBool::new(!uploads_off),
            uploads: Mutex::new(None),
        }
    }

    /// The app's upload queue follows this gate from now on: when uploads are
    /// paused it hands nothing to the app's uploader, and it is told before the
    /// runner wakes, so a runner woken by the network's return finds it open.
    pub fn attach(&self, uploads: Arc<PlatformUploads>) {
        let state = self.lock();
        uploads.set_paused(self.paused(&state));
        *self.uploads.lock().unwrap_or_else(|p| p.into_inner()) = Some(uploads);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn changed(&self, mut state: MutexGuard<'_, State>) {
        state.wakes += 1;
        self.tell_uploads(&state);
        drop(state);
        self.changed.notify_all();
    }

    /// Tells the attached upload queue the verdict of `state`.
    fn tell_uploads(&self, state: &State) {
        if let Some(uploads) = &*self.uploads.lock().unwrap_or_else(|p| p.into_inner()) {
            uploads.set_paused(self.paused(state));
        }
    }

    /// The app reports connectivity. Coming back from offline resets the backoff.
    pub fn set_network(&self, network: Network) {
        let mut state = self.lock();
        if state.network == Network::Offline && network != Network::Offline {
            state.resets += 1;
        }
        state.network = network;
        self.changed(state);
    }

    /// The app reports power.
    pub fn set_power(&self, charging: bool, low_battery: bool) {
        let mut state = self.lock();
        state.charging = charging;
        state.low_battery = low_battery;
        self.changed(state);
    }

    /// The user turns uploads on or off (consent); persisted before it returns
    /// when the gate has a store.
    ///
    /// # Errors
    /// The store could not record it; the gate follows it for this run anyway.
    pub fn set_upload_enabled(&self, enabled: bool) -> crate::error::Result<()> {
        let mut state = self.lock();
        state.upload_enabled = enabled;
        self.enabled.store(enabled, std::sync::atomic::Ordering::Relaxed);
        self.changed(state);
        match &self.store {
            Some(store) => store.save_counter(UPLOADS_OFF_COUNTER, u64::from(!enabled), UPLOADS_OFF_COUNTER),
            None => Ok(()),
        }
    }

    /// Whether the user lets uploads happen. Asked by every `record`: an atomic
    /// mirror of the state's flag, so recording threads never take the gate's lock.
    pub fn upload_enabled(&self) -> bool {
        self.enabled.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Which networks the policy lets uploads use.
    pub fn upload_on(&self) -> UploadOn {
        self.lock().spec.upload_on
    }

    /// The app went to background: upload at once (no linger, no backoff wait)
    /// for `flush_on_background`, if the policy has one.
    pub fn went_to_background(&self) {
        let bound = self.lock().spec.flush_on_background;
        if let Some(bound) = bound {
            self.urgent_for(bound);
        }
    }

    /// Uploads now, skipping linger and the current backoff wait, for `window`.
    pub fn urgent_for(&self, window: Duration) {
        let mut state = self.lock();
        state.urgent_until = Some(Instant::now() + window);
        self.changed(state);
    }

    /// Follows `spec` from now on (a new configuration): waiters look again at once.
    pub fn set_policy(&self, spec: MobileSpec) {
        let mut state = self.lock();
        state.spec = spec;
        self.changed(state);
    }

    /// Wakes every waiter to look at its stop token: a reload is stopping a runner.
    pub fn nudge(&self) {
        let _state = self.lock();
        self.changed.notify_all();
    }

    /// Wakes every waiter for good: the SDK is closing.
    pub fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        self.changed(state);
    }

    /// Whether an upload was asked for now (linger is skipped).
    pub fn is_urgent(&self) -> bool {
        self.lock().urgent_until.is_some_and(|t| Instant::now() < t)
    }

    /// Blocks while uploads are not allowed. Returns how many bytes may be
    /// uploaded now (the rest of the metered budget, or `u64::MAX`), or `None`
    /// once closed or once `stop` is set (and [`Gate::nudge`] called).
    pub fn wait_open(&self, stop: &Stop) -> Option<u64> {
        let mut state = self.lock();
        loop {
            if state.closed || stop.is_stopped() {
                return None;
            }
            self.roll_day(&mut state);
            match self.paused(&state) {
                None => {
                    // A new day may have lifted a spent budget without any report from the app.
                    self.tell_uploads(&state);
                    return Some(self.allowance(&state));
                }
                Some("metered_budget_spent") => {
                    let next_day_ms = (state.day + 1) * DAY_MS;
                    let wait = Duration::from_millis(next_day_ms.saturating_sub(now_ms()).max(1));
                    state = self.changed.wait_timeout(state, wait).unwrap_or_else(|p| p.into_inner()).0;
                }
                Some(_) => state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner()),
            }
        }
    }

    /// Sleeps a backoff wait of `wait`; returns early when the network comes
    /// back, an upload is asked for, the SDK closes or `stop` is set (and
    /// [`Gate::nudge`] called).
    pub fn pause(&self, wait: Duration, stop: &Stop) -> Wake {
        let deadline = Instant::now() + wait;
        let mut state = self.lock();
        let (wakes, resets) = (state.wakes, state.resets);
        loop {
            if state.closed || stop.is_stopped() {
                return Wake::Closed;
            }
            if state.resets != resets {
                return Wake::Reset;
            }
            if state.wakes != wakes && state.urgent_until.is_some_and(|t| Instant::now() < t) {
                return Wake::Urgent;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Wake::Timeout;
            }
            state = self.changed.wait_timeout(state, left).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    /// A batch of `bytes` was acknowledged.
    pub fn uploaded(&self, bytes: u64) {
        let mut state = self.lock();
        state.last_upload_ms = Some(now_ms());
        state.last_error = None;
        if state.network != Network::Metered {
            return;
        }
        self.roll_day(&mut state);
        state.metered_used = state.metered_used.saturating_add(bytes);
        let (day, used) = (state.day, state.metered_used);
        drop(state);
        if let Some(store) = &self.store {
            if let Err(e) = store.save_counter(&counter_name(day), used, BUDGET_COUNTER) {
                log::warn!("cannot persist the metered budget: {e}");
            }
        }
    }

    /// An upload failed for `reason`.
    pub fn failed(&self, reason: &str) {
        self.lock().last_error = Some(reason.to_string());
    }

    /// What the gate knows now.
    pub fn snapshot(&self) -> GateSnapshot {
        let mut state = self.lock();
        self.roll_day(&mut state);
        GateSnapshot {
            network: state.network,
            paused: self.paused(&state),
            metered_bytes_today: state.metered_used,
            last_upload_ms: state.last_upload_ms,
            last_error: state.last_error.clone(),
        }
    }

    fn roll_day(&self, state: &mut State) {
        let day = now_ms() / DAY_MS;
        if day != state.day {
            state.day = day;
            state.metered_used = 0;
        }
    }

    fn paused(&self, state: &State) -> Option<&'static str> {
        if !state.upload_enabled {
            return Some("upload_disabled");
        }
        if state.network == Network::Offline {
            return Some("offline");
        }
        if state.spec.pause_on_low_battery && state.low_battery && !state.charging {
            return Some("low_battery");
        }
        if state.network == Network::Metered {
            if state.spec.upload_on == UploadOn::Unmetered {
                return Some("metered_network");
            }
            if state.spec.metered_daily_budget.is_some_and(|b| state.metered_used >= b) {
                return Some("metered_budget_spent");
            }
        }
        None
    }

    fn allowance(&self, state: &State) -> u64 {
        match (state.network, state.spec.metered_daily_budget) {
            (Network::Metered, Some(budget)) => budget.saturating_sub(state.metered_used),
            _ => u64::MAX,
        }
    }
}

fn counter_name(day: u64) -> String {
    format!("{BUDGET_COUNTER}{day}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(spec: MobileSpec) -> Arc<Gate> {
        Arc::new(Gate::new(spec, None))
    }

    #[test]
    fn offline_blocks_until_the_network_returns_and_resets_the_backoff() {
        let g = gate(MobileSpec::default());
        g.set_network(Network::Offline);
        let waiter = {
            let g = g.clone();
            std::thread::spawn(move || (g.wait_open(&Stop::default()), Instant::now()))
        };
        let sleeper = {
            let g = g.clone();
            std::thread::spawn(move || g.pause(Duration::from_secs(600), &Stop::default()))
        };
        std::thread::sleep(Duration::from_millis(100));
        let back = Instant::now();
        g.set_network(Network::Unmetered);
        let (allowance, opened) = waiter.join().unwrap();
        assert_eq!(allowance, Some(u64::MAX));
        assert!(opened >= back, "the gate opened before the network came back");
        assert_eq!(sleeper.join().unwrap(), Wake::Reset);
    }

    #[test]
    fn uploads_turned_off_pause_everything_and_stay_off_across_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::channel::Store::open(dir.path(), false).unwrap();
        let g = Gate::new(MobileSpec::default(), Some(store.clone()));
        assert!(g.upload_enabled());
        g.set_upload_enabled(false).unwrap();
        assert_eq!(g.snapshot().paused, Some("upload_disabled"));
        drop(g);
        let again = Gate::new(MobileSpec::default(), Some(store.clone()));
        assert_eq!(again.snapshot().paused, Some("upload_disabled"));
        again.set_upload_enabled(true).unwrap();
        assert_eq!(Gate::new(MobileSpec::default(), Some(store)).snapshot().paused, None);
    }

    #[test]
    fn unmetered_only_pauses_on_metered() {
        let g = gate(MobileSpec { upload_on: UploadOn::Unmetered, ..MobileSpec::default() });
        g.set_network(Network::Metered);
        assert_eq!(g.snapshot().paused, Some("metered_network"));
        g.set_network(Network::Unmetered);
        assert_eq!(g.snapshot().paused, None);
    }

    #[test]
    fn the_metered_budget_is_an_allowance_then_a_pause() {
        let g = gate(MobileSpec { metered_daily_budget: Some(1000), ..MobileSpec::default() });
        g.set_network(Network::Metered);
        assert_eq!(g.wait_open(&Stop::default()), Some(1000));
        g.uploaded(600);
        assert_eq!(g.wait_open(&Stop::default()), Some(400));
        g.uploaded(400);
        assert_eq!(g.snapshot().paused, Some("metered_budget_spent"));
        // Unmetered traffic does not count and is not capped.
        g.set_network(Network::Unmetered);
        assert_eq!(g.wait_open(&Stop::default()), Some(u64::MAX));
        g.uploaded(10_000);
        assert_eq!(g.snapshot().metered_bytes_today, 1000);
    }

    #[test]
    fn low_battery_pauses_unless_charging_or_disabled() {
        let g = gate(MobileSpec::default());
        g.set_power(false, true);
        assert_eq!(g.snapshot().paused, Some("low_battery"));
        g.set_power(true, true);
        assert_eq!(g.snapshot().paused, None);
        let g = gate(MobileSpec { pause_on_low_battery: false, ..MobileSpec::default() });
        g.set_power(false, true);
        assert_eq!(g.snapshot().paused, None);
    }

    #[test]
    fn background_wakes_a_backoff_wait_and_close_ends_every_wait() {
        let g = gate(MobileSpec::default());
        let sleeper = {
            let g = g.clone();
            std::thread::spawn(move || g.pause(Duration::from_secs(600), &Stop::default()))
        };
        std::thread::sleep(Duration::from_millis(50));
        g.went_to_background();
        assert_eq!(sleeper.join().unwrap(), Wake::Urgent);
        assert!(g.is_urgent());
        g.set_network(Network::Offline);
        let waiter = {
            let g = g.clone();
            std::thread::spawn(move || g.wait_open(&Stop::default()))
        };
        std::thread::sleep(Duration::from_millis(50));
        g.close();
        assert_eq!(waiter.join().unwrap(), None);
        assert_eq!(g.pause(Duration::from_secs(600), &Stop::default()), Wake::Closed);
    }
}
