//! `log` records to logcat (tag `sluice`) on Android, to stderr elsewhere (host tests).

use log::{Level, LevelFilter, Log, Metadata, Record};

struct Logcat;

impl Log for Logcat {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            write(record.level(), &format!("{}", record.args()));
        }
    }

    fn flush(&self) {}
}

/// Routes `log` here once per process; later calls do nothing.
pub fn install() {
    if log::set_logger(&Logcat).is_ok() {
        log::set_max_level(LevelFilter::Info);
    }
}

#[cfg(target_os = "android")]
fn write(level: Level, text: &str) {
    use std::ffi::{c_char, c_int, CString};
    #[link(name = "log")]
    extern "C" {
        fn __android_log_write(prio: c_int, tag: *const c_char, text: *const c_char) -> c_int;
    }
    // android/log.h priorities.
    let prio = match level {
        Level::Error => 6,
        Level::Warn => 5,
        Level::Info => 4,
        Level::Debug => 3,
        Level::Trace => 2,
    };
    let Ok(text) = CString::new(text.replace('\0', " ")) else { return };
    // SAFETY: both pointers are valid NUL-terminated strings for the duration of the call.
    unsafe {
        __android_log_write(prio, c"sluice".as_ptr(), text.as_ptr());
    }
}

#[cfg(not(target_os = "android"))]
fn write(level: Level, text: &str) {
    if level <= Level::Warn {
        eprintln!("sluice {level}: {text}");
    }
}
