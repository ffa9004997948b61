//! The core's log records handed to the app (`sluice_set_log_callback`): iOS
//! and C callers see Sluice's warnings in their own logging (`os_log`).

use log::{Level, LevelFilter, Log, Metadata, Record};
use std::ffi::{c_char, c_void, CString};
use std::sync::{OnceLock, RwLock};

/// Error: something failed that the app may want to know (a store damaged, an upload refused).
pub const SLUICE_LOG_ERROR: i32 = 1;
/// Warning: something was dropped, retried or refused.
pub const SLUICE_LOG_WARN: i32 = 2;
/// Information: opened, closed, purged, configuration changed.
pub const SLUICE_LOG_INFO: i32 = 3;
/// Debugging detail.
pub const SLUICE_LOG_DEBUG: i32 = 4;

/// Receives one log record: a `SLUICE_LOG_*` level, the message (valid for the
/// call only), and the `context` given to `sluice_set_log_callback`. Called on
/// Sluice's threads and the app's, possibly at once: it must be thread-safe and
/// quick, and must not call any `sluice_*` function (it may run while Sluice
/// holds a lock that call would need).
pub type SluiceLogCallback = Option<unsafe extern "C" fn(level: i32, message: *const c_char, context: *mut c_void)>;

#[derive(Clone, Copy)]
struct Target {
    callback: unsafe extern "C" fn(i32, *const c_char, *mut c_void),
    context: *mut c_void,
}

// SAFETY: the caller of `sluice_set_log_callback` promises the callback and its
// context may be used from any thread.
unsafe impl Send for Target {}
// SAFETY: as above.
unsafe impl Sync for Target {}

static TARGET: RwLock<Option<Target>> = RwLock::new(None);

struct Forward;

impl Log for Forward {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let Some(target) = *TARGET.read().unwrap_or_else(|p| p.into_inner()) else { return };
        let Ok(text) = CString::new(record.args().to_string().replace('\0', " ")) else { return };
        let level = match record.level() {
            Level::Error => SLUICE_LOG_ERROR,
            Level::Warn => SLUICE_LOG_WARN,
            Level::Info => SLUICE_LOG_INFO,
            Level::Debug | Level::Trace => SLUICE_LOG_DEBUG,
        };
        // SAFETY: the app gave this callback for exactly this call shape; the
        // message is a valid NUL-terminated string for the duration of the call.
        unsafe { (target.callback)(level, text.as_ptr(), target.context) };
    }

    fn flush(&self) {}
}

/// Sends the core's log records up to `max_level` (`SLUICE_LOG_*`) to `callback`
/// with `context`; NULL stops them. Once per process Sluice installs its logger
/// (unless the process already has one for the `log` crate, then this does nothing
/// and returns `SLUICE_ERR_OTHER`).
#[no_mangle]
pub extern "C" fn sluice_set_log_callback(callback: SluiceLogCallback, context: *mut c_void, max_level: i32) -> i32 {
    crate::error::guard(|| {
        let filter = match max_level {
            i32::MIN..=0 => LevelFilter::Off,
            SLUICE_LOG_ERROR => LevelFilter::Error,
            SLUICE_LOG_WARN => LevelFilter::Warn,
            SLUICE_LOG_INFO => LevelFilter::Info,
            _ => LevelFilter::Debug,
        };
        *TARGET.write().unwrap_or_else(|p| p.into_inner()) = callback.map(|callback| Target { callback, context });
        static FORWARD: Forward = Forward;
        static INSTALLED: OnceLock<bool> = OnceLock::new();
        if !*INSTALLED.get_or_init(|| log::set_logger(&FORWARD).is_ok()) {
            return Err(sluice::Error::new(sluice::ErrorKind::Other, "another logger is installed in this process"));
        }
        log::set_max_level(if callback.is_some() { filter } else { LevelFilter::Off });
        Ok(crate::error::SLUICE_OK)
    })
}
