//! The uploader loop's exports: the app's HTTP stack sends what the SDK's sinks
//! want sent (`transport = "platform"`, the default). The Kotlin side
//! (`Uploader`, `HttpURLConnectionUploader`) runs the loop on its own thread.

use crate::{convert, error};
use jni::objects::{JByteArray, JClass, JString};
use jni::sys::{jboolean, jbyteArray, jint, jlong};
use jni::JNIEnv;
use sluice::mobile::status;
use sluice::sink::platform::{Taken, UploadTask};
use std::time::Duration;

/// `Native.uploadTake(handle, waitMillis)`: the next request [packed](pack), `null`
/// when the wait passed (negative: wait until there is one), an empty array once
/// the instance is closed (the loop ends then).
#[no_mangle]
pub extern "system" fn Java_dev_sluice_Native_uploadTake<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
    wait_ms: jlong,
) -> jbyteArray {
    error::guard(&mut env, std::ptr::null_mut(), |env| {
        // Only the queue is held while waiting, not the instance.
        let packed = match convert::sdk(handle).map(|sdk| sdk.uploads()) {
            Ok(uploads) => match uploads.take(u64::try_from(wait_ms).ok().map(Duration::from_millis)) {
                Taken::Task(task) => pack(&task),
                Taken::Idle => return Ok(std::ptr::null_mut()),
                Taken::Closed => Vec::new(),
            },
            Err(e) if status::of(&e) == status::CLOSED => Vec::new(),
            Err(e) => return Err(e),
        };
        let array = env.byte_array_from_slice(&packed).map_err(convert::jni_error)?;
        Ok(array.into_raw())
    })
}

/// `Native.uploadFinish(handle, id, httpStatus, retryAfter, body, error)`: false
/// when the SDK no longer waited for this answer (the batch is sent again).
#[no_mangle]
pub extern "system" fn Java_dev_sluice_Native_uploadFinish<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
    handle: jlong,
    id: jlong,
    http_status: jint,
    retry_after: JString<'local>,
    body: JByteArray<'local>,
    error: JString<'local>,
) -> jboolean {
    error::guard(&mut env, 0, |env| {
        let uploads = convert::sdk(handle)?.uploads();
        let retry_after = convert::optional_string(env, &retry_after)?;
        let error = convert::optional_string(env, &error)?;
        let body = if body.is_null() { Vec::new() } else { convert::reply_body(env, &body)? };
        let result = status::upload_result(http_status, retry_after.as_deref(), &body, error.as_deref())?;
        let id = u64::try_from(id).map_err(|_| sluice::Error::decode(format!("upload id {id} is negative")))?;
        Ok(u8::from(uploads.finish(id, result)))
    })
}

/// A request as one array (one JNI crossing, no object per field), big-endian:
/// `u64` id, `u32` timeout ms, `u32` length + UTF-8 url, `u32` header count,
/// each key and value as `u32` length + UTF-8, then the body to the end.
pub fn pack(task: &UploadTask) -> Vec<u8> {
    let strings: usize = task.headers.iter().map(|(k, v)| 8 + k.len() + v.len()).sum();
    let mut out = Vec::with_capacity(20 + task.url.len() + strings + task.body.len());
    let put_text = |out: &mut Vec<u8>, text: &str| {
        out.extend_from_slice(&u32::try_from(text.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(text.as_bytes());
    };
    out.extend_from_slice(&task.id.to_be_bytes());
    out.extend_from_slice(&u32::try_from(task.timeout.as_millis()).unwrap_or(u32::MAX).to_be_bytes());
    put_text(&mut out, &task.url);
    out.extend_from_slice(&u32::try_from(task.headers.len()).unwrap_or(u32::MAX).to_be_bytes());
    for (key, value) in &task.headers {
        put_text(&mut out, key);
        put_text(&mut out, value);
    }
    out.extend_from_slice(&task.body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packed_request_has_the_documented_layout() {
        let task = UploadTask {
            id: 258,
            url: "http://u".into(),
            headers: vec![("k".into(), "vv".into())],
            body: b"BODY".to_vec(),
            timeout: Duration::from_millis(1000),
        };
        let mut want = vec![0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 232, 0, 0, 0, 8];
        want.extend_from_slice(b"http://u");
        want.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1, b'k', 0, 0, 0, 2, b'v', b'v']);
        want.extend_from_slice(b"BODY");
        assert_eq!(pack(&task), want);
    }
}
