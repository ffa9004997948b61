//! Errors and panics become `dev.sluice.SluiceException(code, message)`; nothing
//! unwinds into the JVM. Codes are the C ABI's (`SLUICE_ERR_*`).

use jni::objects::JValue;
use jni::JNIEnv;
use sluice::mobile::status;
use sluice::Error;
use std::panic::{catch_unwind, AssertUnwindSafe};

const EXCEPTION: &str = "dev/sluice/SluiceException";

/// Throws `SluiceException(code, message)` (or, should that fail, leaves the JVM's own pending exception).
pub fn throw(env: &mut JNIEnv<'_>, code: i32, message: &str) {
    if env.exception_check().unwrap_or(false) {
        return;
    }
    let Ok(text) = env.new_string(message) else { return };
    let thrown = env
        .new_object(EXCEPTION, "(ILjava/lang/String;)V", &[JValue::Int(code), JValue::Object(&text)])
        .and_then(|e| env.throw(jni::objects::JThrowable::from(e)));
    if thrown.is_err() && !env.exception_check().unwrap_or(false) {
        let _ = env.throw_new("java/lang/RuntimeException", message);
    }
}

/// Runs `f` at the boundary: an error or a panic is thrown as `SluiceException`
/// and `fallback` returned to the JVM (which ignores it while the exception is pending).
pub fn guard<'local, T>(
    env: &mut JNIEnv<'local>,
    fallback: T,
    f: impl FnOnce(&mut JNIEnv<'local>) -> Result<T, Error>,
) -> T {
    match catch_unwind(AssertUnwindSafe(|| f(env))) {
        Ok(Ok(value)) => value,
        Ok(Err(e)) => {
            throw(env, status::of(&e), &e.to_string());
            fallback
        }
        Err(panic) => {
            throw(env, status::PANIC, &status::panic_message(panic.as_ref()));
            fallback
        }
    }
}

/// Runs a call that never throws at the app (`record`): true when it succeeded;
/// an error or a caught panic is false (the core counted and logged it).
pub fn quiet<'local>(env: &mut JNIEnv<'local>, f: impl FnOnce(&mut JNIEnv<'local>) -> Result<(), Error>) -> u8 {
    match catch_unwind(AssertUnwindSafe(|| f(env))) {
        Ok(Ok(())) => 1,
        Ok(Err(_)) => 0,
        Err(panic) => {
            log::error!("{}", status::panic_message(panic.as_ref()));
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use sluice::mobile::stats::PAUSE_REASONS;
    use sluice::mobile::status;

    fn kotlin(file: &str) -> String {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("kotlin/src/main/kotlin/dev/sluice").join(file);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Kotlin's copies of the status codes are the core's (their one home).
    #[test]
    fn kotlin_status_codes_are_the_cores() {
        let source = kotlin("SluiceException.kt");
        let table = [
            ("DISABLED", status::DISABLED),
            ("ARGUMENT", status::ARGUMENT),
            ("CLOSED", status::CLOSED),
            ("CONFIG", status::CONFIG),
            ("STORAGE", status::STORAGE),
            ("FULL", status::FULL),
            ("PANIC", status::PANIC),
            ("OTHER", status::OTHER),
        ];
        for (name, code) in table {
            let line = format!("const val {name} = {code}");
            assert!(source.contains(&line), "SluiceException.kt lacks `{line}`");
        }
    }

    /// Kotlin's `PauseReason` lists the core's reasons in the core's order (its ordinal + 1 is the code).
    #[test]
    fn kotlin_pause_reasons_are_the_cores_in_order() {
        let source = kotlin("Stats.kt");
        let body = source.split("enum class PauseReason {").nth(1).and_then(|s| s.split('}').next()).unwrap_or("");
        let names: Vec<String> = body
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("/**") && !l.starts_with('*'))
            .map(|l| l.trim_end_matches(',').to_lowercase())
            .collect();
        assert_eq!(names, PAUSE_REASONS[1..].to_vec(), "PauseReason in Stats.kt");
    }
}
