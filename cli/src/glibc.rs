//! glibc's allocator, told to hand large buffers back to the system.
//!
//! glibc serves allocations from 128 KiB up with their own mappings, returned
//! when freed, but raises that threshold to the size of each such block freed
//! (up to 32 MiB). After the first large request body, every later one of that
//! size came from the heap instead, and freed heap memory stayed with the
//! process: under a flood of large bodies the agent kept 120 MiB where the
//! in-flight budget allowed 32 (tests/flood.rs). A fixed threshold of 1 MiB ends
//! the adjustment: buffers of a MiB or more (request bodies, not the sink's
//! batches or the channel's rows) always get their own mapping and give it back.

/// `M_MMAP_THRESHOLD` of glibc's `malloc.h`.
const M_MMAP_THRESHOLD: std::ffi::c_int = -3;
/// Blocks of this size or more are mapped on their own and unmapped when freed.
const MMAP_THRESHOLD: std::ffi::c_int = 1 << 20;

extern "C" {
    /// glibc's `int mallopt(int param, int value)`.
    fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
}

/// Sets the threshold, unless `MALLOC_MMAP_THRESHOLD_` in the environment chose one.
pub fn tune() {
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some() {
        return;
    }
    // SAFETY: a plain FFI call with a valid parameter and value; called first
    // thing in main, before the agent starts any thread.
    unsafe { mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) };
}
