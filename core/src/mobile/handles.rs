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
