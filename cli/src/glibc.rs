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

/// `M_TRIM_THRESHOLD`, `M_MMAP_THRESHOLD` and `M_ARENA_MAX` of glibc's `malloc.h`.
const M_TRIM_THRESHOLD: std::ffi::c_int = -1;
const M_MMAP_THRESHOLD: std::ffi::c_int = -3;
const M_ARENA_MAX: std::ffi::c_int = -8;
/// One arena for all threads. glibc gives threads their own arenas (up to 8 per
/// core), and [`trim`] cannot return the free top of a thread's arena, only the
/// main one's: after a burst the agent idled at 10.6 MiB against 6.0 fresh; with
/// one arena at 7.0 (`tests/bench/flash.sh`, four runs each). The cost on this
/// 2-core machine: events/s within the noise, CPU per event ~5 % more.
const ARENA_MAX: std::ffi::c_int = 1;
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
    /// glibc's `int malloc_trim(size_t pad)`.
    fn malloc_trim(pad: usize) -> std::ffi::c_int;
}

/// Returns the free memory of the heap to the system: its top and the free
/// pages inside it. The trim threshold above kept up to 8 MiB of a burst's heap
/// for good (an agent idled at 16 MiB after a million events, against 6 MiB
/// fresh; `tests/bench/flash.sh`). Called when the agent went quiet, not per
/// request: the next burst faults the pages in again.
pub fn trim() {
    // SAFETY: a plain FFI call; malloc_trim takes the arenas' locks itself and
    // may run beside other threads' allocations.
    unsafe {
        malloc_trim(0);
    }
}

/// Sets the thresholds and the arena count, each unless the environment chose
/// it (`MALLOC_MMAP_THRESHOLD_`, `MALLOC_ARENA_MAX`).
pub fn tune() {
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
        // SAFETY: plain FFI calls with valid parameters and values; called first
        // thing in main, before the agent starts any thread.
        unsafe {
            mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
            mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD);
        }
    }
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: as above; before any thread, so no arena but the main one exists.
        unsafe {
            mallopt(M_ARENA_MAX, ARENA_MAX);
        }
    }
}
