//! The Kotlin API on the host JVM: `mvn test` in `android/kotlin` (Kotlin compiled
//! by Maven's Kotlin plugin, JUnit 4, Robolectric for the Android wiring) against
//! this crate's host `.so`.

use std::path::Path;
use std::process::Command;

#[test]
fn the_kotlin_api_passes_its_junit_tests_on_the_host_jvm() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Cargo builds the library's cdylib next to this test, in target/<profile>/deps
    // (it is copied up to target/<profile> only when the library itself is a build target).
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe.parent().expect("target/<profile>/deps");
    assert!(profile_dir.join("libsluice_android.so").exists(), "libsluice_android.so was not built");
    let output = Command::new("mvn")
        .args(["-B", "-q", "-f"])
        .arg(crate_dir.join("kotlin/pom.xml"))
        .arg(format!("-Dsluice.library.path={}", profile_dir.display()))
        .arg("test")
        .output()
        .expect("mvn (Maven) must be installed: .ci/run installs it");
    let report = |class: &str| {
        std::fs::read_to_string(crate_dir.join(format!("kotlin/target/surefire-reports/dev.sluice.{class}.txt")))
            .unwrap_or_default()
    };
    let (api, android) = (report("SluiceTest"), report("AndroidWiringTest"));
    assert!(
        output.status.success(),
        "mvn test failed:\n{}\n{}\n{api}\n{android}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(api.contains("Tests run: 8, Failures: 0, Errors: 0, Skipped: 0"), "JUnit summary: {api}");
    // The platform wiring under Robolectric (the real Android 14 framework classes).
    assert!(android.contains("Tests run: 7, Failures: 0, Errors: 0, Skipped: 0"), "Robolectric summary: {android}");
}
