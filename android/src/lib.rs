//! JNI exports of Sluice for Android: the native half of `dev.sluice.Sluice`
//! (Kotlin, in `kotlin/`).
//!
//! Three thin layers: these exports, [`convert`] (JVM values to Rust values)
//! and [`error`] (errors and panics thrown as `SluiceException`). Behaviour
//! lives in `sluice::mobile`. A handle is a number in the core's table, so a
//! closed instance throws instead of touching freed memory.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod convert;
pub mod error;
mod logcat;
pub mod upload;

use jni::objects::{JByteArray, JClass, JString};
use jni::sys::{jboolean, jint, jlong, jstring, JNI_TRUE};
use jni::JNIEnv;
use sluice::mobile::{handles, status, Sdk};
use std::path::Path;
use std::time::Duration;

/// `Native.open(dir, config)`: the handle of a new instance.
#[no_mangle]
pub extern "system" fn Java_dev_sluice_Native_open<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    dir: JString<'local>,
    config: JString<'local>,
) -> jlong {
    logcat::install();
    error::guard(&mut env, 0, |env| {
        let dir = convert::string(env, &dir, "dir")?;
        let config = convert::string(env, &config, "config")?;
        let sdk = Sdk::open(Path::new(&dir), &config)?;
        Ok(i64::try_from(handles::insert(sdk)).unwrap_or(0))
    })
}

/// `Native.record(handle, body, packedHeaders, priority, sync)`.
#[no_mangle]
pub extern "system" fn Java_dev_sluice_Native_record<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
    body: JByteArray<'local>,
    headers: JByteArray<'local>,
    priority: jint,
    sync: jboolean,
) {
    error::guard(&mut env, (), |env| {
        let sdk = convert::sdk(handle)?;
        let body = convert::bytes(env, &body)?;
        let headers = convert::headers(env, &headers)?;
        let event = Sdk::event(body, headers, status::priority(priority)?)?;
        if sync == JNI_TRUE {
            sdk.record_sync(event)
        } else {
            sdk.record(event)
        }
    })
}

/// `Native.flush(handle, timeoutMillis)`: whether everything was acknowledged.
#[no_mangle]
pub extern "system" fn Java_dev_sluice_Native_flush<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
    timeout_ms: jlong,
) -> jboolean {
    error::guard(&mut env, 0, |_| {
        let timeout = Duration::from_millis(u64::try_from(timeout_ms).unwrap_or(0));
        Ok(u8::from(convert::sdk(handle)?.flush(timeout)?))
    })
}

/// `Native.setNetwork(handle, code)`.
#[no_mangle]
pub extern "system" fn Java_dev_sluice_Native_setNetwork<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
    network: jint,
) {
    error::guard(&mut env, (), |_| {
        convert::sdk(handle)?.set_network(status::network(network)?);
        Ok(())
    })
}

/// `Native.setPower(handle, charging, lowBattery)`.
#[no_mangle]
pub extern "system" fn Java_dev_sluice_Native_setPower<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
    charging: jboolean,
    low_battery: jboolean,
) {
    error::guard(&mut env, (), |_| {
        convert::sdk(handle)?.set_power(charging == JNI_TRUE, low_battery == JNI_TRUE);
        Ok(())
    })
}

/// `Native.setForeground(handle, foreground)`.
#[no_mangle]
pub extern "system" fn Java_dev_sluice_Native_setForeground<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
    foreground: jboolean,
) {
    error::guard(&mut env, (), |_| {
        convert::sdk(handle)?.set_foreground(foreground == JNI_TRUE);
        Ok(())
    })
}

/// `Native.setConfig(handle, config)`: the SDK moves to a new configuration.
#[no_mangle]
pub extern "system" fn Java_dev_sluice_Native_setConfig<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
    config: JString<'local>,
) {
    error::guard(&mut env, (), |env| {
        let config = convert::string(env, &config, "config")?;
        convert::sdk(handle)?.set_config(&config)?;
        Ok(())
    })
}

/// `Native.stats(handle)`: counters as JSON.
#[no_mangle]
pub extern "system" fn Java_dev_sluice_Native_stats<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> jstring {
    error::guard(&mut env, std::ptr::null_mut(), |env| {
        let json = convert::sdk(handle)?.stats_json();
        let s = env.new_string(json).map_err(|e| sluice::Error::new(sluice::ErrorKind::Other, e.to_string()))?;
        Ok(s.into_raw())
    })
}

/// `Native.close(handle)`.
#[no_mangle]
pub extern "system" fn Java_dev_sluice_Native_close<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    error::guard(&mut env, (), |_| {
        let closed = || sluice::Error::new(sluice::ErrorKind::Closed, "this Sluice instance is already closed");
        let id = u64::try_from(handle).map_err(|_| closed())?;
        let sdk = handles::get(id).ok_or_else(closed)?;
        // Closed before it leaves the table, so the uploader loop can still
        // finish a request in flight while the close waits for it; only the
        // close that closed removes it (a concurrent second one gets Closed).
        sdk.close()?;
        handles::remove(id);
        Ok(())
    })
}
