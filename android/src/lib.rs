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
use jni::sys::{jboolean, jbyteArray, jint, jlong, jstring, JNI_TRUE};
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

/// `Native.record(handle, body, packedHeaders, priority, sync)`: whether the
/// event was taken. Never throws: what was not taken is counted in stats
/// (`dropped`) with its reason in `last_error`.
#[no_mangle]
pub extern "system" fn Java_dev_sluice_Native_record<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
    body: JByteArray<'local>,
    headers: JByteArray<'local>,
    priority: jint,
    sync: jboolean,
) -> jboolean {
    error::quiet(&mut env, |env| {
        let sdk = convert::sdk(handle)?;
        let parts = convert::bytes(env, &body)
            .and_then(|body| Ok((body, convert::headers(env, &headers)?, status::priority(priority)?)));
        match parts {
            Ok((body, headers, priority)) => sdk.record_event(body, headers, priority, sync == JNI_TRUE),
            Err(e) => {
                sdk.not_taken(&e);
                Err(e)
            }
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

/// `Native.close(handle)`: a second close does nothing.
#[no_mangle]
pub extern "system" fn Java_dev_sluice_Native_close<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    error::guard(&mut env, (), |_| handles::close(u64::try_from(handle).unwrap_or(0)))
}

/// `Native.setNetworkState(handle, available, validated, metered)`: the default
/// network as `ConnectivityManager` describes it.
#[no_mangle]
pub extern "system" fn Java_dev_sluice_Native_setNetworkState<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
    available: jboolean,
    validated: jboolean,
    metered: jboolean,
) {
    error::guard(&mut env, (), |_| {
        convert::sdk(handle)?.set_network_state(available == JNI_TRUE, validated == JNI_TRUE, metered == JNI_TRUE);
        Ok(())
    })
}

/// `Native.setBattery(handle, charging, levelPercent, powerSave)`.
#[no_mangle]
pub extern "system" fn Java_dev_sluice_Native_setBattery<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
    charging: jboolean,
    level_percent: jint,
    power_save: jboolean,
) {
    error::guard(&mut env, (), |_| {
        convert::sdk(handle)?.set_battery(charging == JNI_TRUE, level_percent, power_save == JNI_TRUE);
        Ok(())
    })
}

/// `Native.setUploadEnabled(handle, enabled)`: consent, persisted.
#[no_mangle]
pub extern "system" fn Java_dev_sluice_Native_setUploadEnabled<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
    enabled: jboolean,
) {
    error::guard(&mut env, (), |_| convert::sdk(handle)?.set_upload_enabled(enabled == JNI_TRUE))
}

/// `Native.purge(handle)`: how many stored events were deleted.
#[no_mangle]
pub extern "system" fn Java_dev_sluice_Native_purge<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> jlong {
    error::guard(&mut env, 0, |_| Ok(i64::try_from(convert::sdk(handle)?.purge()?).unwrap_or(i64::MAX)))
}

/// `Native.backgroundJob(handle)`: 0 when no background delivery job is
/// wanted, else the network it needs (1 any, 2 unmetered).
#[no_mangle]
pub extern "system" fn Java_dev_sluice_Native_backgroundJob<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> jint {
    error::guard(&mut env, 0, |_| Ok(convert::sdk(handle)?.background_job().map_or(0, |n| n as jint)))
}

/// `Native.statsPacked(handle)`: [`sluice::mobile::Stats::pack`]'s layout.
#[no_mangle]
pub extern "system" fn Java_dev_sluice_Native_statsPacked<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> jbyteArray {
    error::guard(&mut env, std::ptr::null_mut(), |env| {
        let packed = convert::sdk(handle)?.stats().pack();
        Ok(env.byte_array_from_slice(&packed).map_err(convert::jni_error)?.into_raw())
    })
}

/// `Native.runBackgroundJob(handle)`: flushes within the job's budget; whether
/// the job should run again.
#[no_mangle]
pub extern "system" fn Java_dev_sluice_Native_runBackgroundJob<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> jboolean {
    error::guard(&mut env, 0, |_| Ok(u8::from(convert::sdk(handle)?.run_background_job()?)))
}
