//! Open SDK instances by number, for the bindings.
//!
//! A binding hands the app a number, never a pointer: a handle used after
//! close (or a made-up one) finds nothing and gets an error, where a freed
//! pointer would crash the app. Numbers are never reused.

use super::Sdk;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

static OPEN: RwLock<BTreeMap<u64, Arc<Sdk>>> = RwLock::new(BTreeMap::new());
static NEXT: AtomicU64 = AtomicU64::new(1);

/// Keeps `sdk` open under a new number (never 0).
pub fn insert(sdk: Sdk) -> u64 {
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    OPEN.write().unwrap_or_else(|p| p.into_inner()).insert(id, Arc::new(sdk));
    id
}

/// The instance numbered `id`, if it is open.
pub fn get(id: u64) -> Option<Arc<Sdk>> {
    OPEN.read().unwrap_or_else(|p| p.into_inner()).get(&id).cloned()
}

/// Forgets `id`, returning its instance for closing; `None` if it was not open.
pub fn remove(id: u64) -> Option<Arc<Sdk>> {
    OPEN.write().unwrap_or_else(|p| p.into_inner()).remove(&id)
}

/// Closes instance `id`, as both bindings' `close` do. A number that was handed
/// out and is closed already is fine (a second close does nothing); one never
/// handed out is an [`ErrorKind::Closed`](crate::ErrorKind::Closed) error.
///
/// The instance is closed before it leaves the table, so the app's uploader
/// loop can still finish a request in flight while the close waits for it.
///
/// # Errors
/// `id` was never an instance's number.
pub fn close(id: u64) -> crate::Result<()> {
    match get(id) {
        Some(sdk) => {
            sdk.close();
            remove(id);
            Ok(())
        }
        None if id != 0 && id < NEXT.load(Ordering::Relaxed) => Ok(()),
        None => Err(crate::Error::new(crate::ErrorKind::Closed, format!("handle {id} was never opened"))),
    }
}
