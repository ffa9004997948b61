//! Builds `tests/c/abi_test.c` with gcc against this crate's static library,
//! under AddressSanitizer with leak detection, and runs it against a loopback
//! receiver that then checks what arrived. The C program's own uploader loop
//! (`tests/c/uploader.c`) sends the requests, as an app's would.

use sluice_tests::receiver::Receiver;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `target/<profile>/deps`: where this test runs from, and where Cargo puts the
/// library's staticlib when building it for the test (it is copied up to
/// `target/<profile>` only when the library itself is a build target).
fn deps_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent().expect("target/<profile>/deps").to_path_buf()
}

#[test]
fn the_c_abi_from_c_under_address_sanitizer() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = deps_dir().join("libsluice_ios.a");
    assert!(lib.exists(), "{} was not built", lib.display());
    let work = tempfile::tempdir().unwrap();
    let exe = work.path().join("abi_test");
    let status = Command::new("gcc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-g", "-fsanitize=address,undefined"])
        .arg("-fno-omit-frame-pointer")
        .arg("-I")
        .arg(crate_dir.join("include"))
        .arg(crate_dir.join("tests/c/abi_test.c"))
        .arg(crate_dir.join("tests/c/uploader.c"))
        .arg(&lib)
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&exe)
        .status()
        .expect("gcc");
    assert!(status.success(), "gcc failed to build the C test against include/sluice.h");

    let receiver = Receiver::ok();
    let output = Command::new(&exe)
        .arg(receiver.url())
        .arg(work.path().join("data"))
        .env("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:exitcode=23")
        .env("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")
        .output()
        .expect("run abi_test");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "abi_test failed ({:?}):\n{stderr}", output.status);
    assert!(!stderr.contains("Sanitizer"), "sanitizer report:\n{stderr}");

    // What the C program recorded arrived, headers and all.
    let events: Vec<_> = receiver.events();
    assert_eq!(events.len(), 8114, "events received");
    // The platform section's ten went out by the background task; what consent withdrew and purge deleted never did.
    let platform = events.iter().filter(|e| e["headers"]["thread"] == "platform").count();
    assert_eq!(platform, 10, "events the background task delivered");
    for gone in ["consent", "purge"] {
        assert_eq!(
            events.iter().filter(|e| e["headers"]["thread"] == gone).count(),
            0,
            "{gone} events left the device"
        );
    }
    let at_close = events.iter().filter(|e| e["body"] == "in flight at close").count();
    assert_eq!(at_close, 1, "the batch answered during close was sent again (or lost)");
    let at_two = events.iter().filter(|e| e["body"] == "in flight at two closes").count();
    assert_eq!(at_two, 1, "the batch answered during two closes was sent again (or lost)");
    for t in 0..8 {
        let from_thread = events.iter().filter(|e| e["headers"]["thread"] == format!("t{t}")).count();
        assert_eq!(from_thread, 1000, "events from thread t{t}");
    }
    let main: Vec<_> = events.iter().filter(|e| e["headers"]["thread"] == "main").collect();
    assert_eq!(main.len(), 100);
    assert_eq!(main[42]["body"], "event 42 from main");
    assert_eq!(main[42]["headers"]["n"], "42");
    assert!(events.iter().any(|e| e["body"] == "late"), "the event recorded offline was lost across close/open");
}
