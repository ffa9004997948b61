//! glibc's allocator, told to hand large buffers back to the system.
//!
//! glibc serves allocations from 128 KiB up with their own mappings, returned
//! when freed, but raises that threshold to the size of each such block freed
//! (up to 32 MiB). After the first large request body, every later one of that
//! size came from the heap instead, and freed heap memory stayed with the
//! process: under a flood of large bodies the agent kept 120 MiB where the
//! in-flight budget allowed 32 (tests/flood.rs). A fixed threshold ends the
//! adjustment: blocks of 4 MiB or more (large request bodies) always get their
//! own mapping and give it back; smaller ones are reused from the heap, which the
//! budget bounds. At 1 MiB the sink's batch buffers (gzip, JSON, around a MiB)
//! were mapped and unmapped on every batch: 10-15 % of end-to-end throughput
//! (BENCHMARKS.md, 2026-12-02); at 4 MiB the cost was within the noise.

/// `M_TRIM_THRESHOLD` and `M_MMAP_THRESHOLD` of glibc's `malloc.h`.
const M_TRIM_THRESHOLD: std::ffi::c_int = -1;
const M_MMAP_THRESHOLD: std::ffi::c_int = -3;
/// Blocks of this size or more are mapped on their own and unmapped when freed.
const MMAP_THRESHOLD: std::ffi::c_int = 4 << 20;
/// Free memory at the top of the heap kept before it is returned: twice the
/// mapping threshold, as glibc's own adjustment would set it. At glibc's fixed
/// default (128 KiB) the heap was given back and faulted in again on every
/// batch.
const TRIM_THRESHOLD: std::ffi::c_int = 2 * MMAP_THRESHOLD;

extern "C" {
    /// glibc's `int mallopt(int param, int value)`.
    fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
}

/// Sets the threshold, unless `MALLOC_MMAP_THRESHOLD_` in the environment chose one.
pub fn tune() {
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some() {
        return;
    }
    // SAFETY: plain FFI calls with valid parameters and values; called first
    // thing in main, before the agent starts any thread.
    unsafe {
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
}
