//! The allocator of static musl builds (the boards' `aarch64-unknown-linux-musl`).
//!
//! musl's own malloc takes a lock per call and returns memory eagerly; end to end
//! it made the static build 2.6× slower than glibc (BENCHMARKS.md). mimalloc
//! restores most of it (0.7–0.8× glibc, 2× musl's malloc). glibc builds keep
//! glibc's malloc: there mimalloc's gain was within the noise and its peak RSS
//! higher.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Makes mimalloc return freed memory to the OS at once instead of after its
/// default delay (1 s in v3). Delayed purges only run on later allocator calls,
/// so an agent that went idle after a burst kept its peak (42 MiB against
/// 11 MiB; `tests/bench/e2e.sh`), and a board pays for every MiB. The cost:
/// 10–20 % of the throughput of mimalloc's default (BENCHMARKS.md).
///
/// A default only: `MIMALLOC_PURGE_DELAY` (or its legacy name) in the
/// environment, read by mimalloc when the process loaded, still wins.
pub fn tune() {
    // SAFETY: a plain FFI call with an in-range option number (checked by mimalloc
    // too) and a long. It writes mimalloc's option table without a lock, so it is
    // called first thing in main, before the agent starts any thread.
    unsafe { mi_option_set_default(MI_OPTION_PURGE_DELAY, 0) };
}

/// `mi_option_purge_delay` in the `mi_option_t` enum of the v3 `mimalloc.h`
/// vendored by libmimalloc-sys 0.1.49 (pinned in Cargo.toml for this reason);
/// the Rust bindings do not export it.
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

extern "C" {
    /// mimalloc's `void mi_option_set_default(mi_option_t option, long value)`:
    /// sets the value unless the environment did. Linked in by the `mimalloc` crate.
    fn mi_option_set_default(option: std::ffi::c_int, value: std::ffi::c_long);
}
