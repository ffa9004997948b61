#!/usr/bin/env bash
# Builds libsluice_android.so for the Android ABIs into android/jniLibs/<abi>/
# with cargo-ndk, then (without --libs-only) the AAR through Gradle.
# Needs the Android NDK (ANDROID_NDK_HOME) and `cargo install cargo-ndk`.
# Profile "mobile": release, but unwinding, so the JNI boundary catches panics.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."
command -v cargo-ndk >/dev/null || { echo "needs cargo-ndk: cargo install cargo-ndk" >&2; exit 2; }
[ -n "${ANDROID_NDK_HOME:-}" ] || { echo "set ANDROID_NDK_HOME to the NDK" >&2; exit 2; }
rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android
cargo ndk -t arm64-v8a -t armeabi-v7a -t x86_64 --platform 21 -o "$here/jniLibs" \
  build --profile mobile -p sluice-android
if [ "${1:-}" != "--libs-only" ]; then
  (cd "$here" && gradle assembleRelease)
  echo "AAR: $here/build/outputs/aar/"
fi
