//! The allocator of static musl builds (the boards' `aarch64-unknown-linux-musl`).
//!
//! musl's own malloc takes a lock per call and returns memory eagerly; end to end
//! it made the static build 2.6× slower than glibc (BENCHMARKS.md). mimalloc
//! restores most of it (0.8× glibc, 2× musl's malloc). glibc builds keep
//! glibc's malloc: there mimalloc's gain was within the noise and its peak RSS
//! higher.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Returns freed memory to the OS at once instead of after mimalloc's default
/// 10 ms (arenas: 100 ms) delay. Delayed purges only run on later allocator
/// calls, so an agent that went idle after a burst kept its peak (42 MiB
/// against 11 MiB; `tests/bench/e2e.sh`), and a board pays for every MiB.
/// The cost: about 0.8× the throughput of the default delay.
/// `MIMALLOC_PURGE_DELAY` in the environment still wins.
pub fn tune() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: mi_option_set takes a plain enum value and a long; it only
        // stores the value in mimalloc's option table, which is thread-safe.
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    }
}

/// `mi_option_purge_delay` in v3's `mimalloc.h` (the `mi_option_t` enum); the
/// Rust bindings do not export it.
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

extern "C" {
    /// mimalloc's `void mi_option_set(mi_option_t option, long value)`, linked in
    /// by the `mimalloc` crate.
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}
