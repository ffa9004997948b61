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
