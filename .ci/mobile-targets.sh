#!/usr/bin/env bash
# Android and iOS targets without the NDK or Xcode (neither exists on Linux CI):
#  - `cargo check` of the JNI crate for the three Android ABIs, with Debian
#    clang and cross headers standing in for the NDK compilers (the bundled
#    SQLite is C, so even `check` needs a target C compiler);
#  - `cargo check` of the C ABI crate for aarch64-apple-ios, and its static
#    library built (profile mobile). The fake SDK root below is what ring's
#    freestanding build needs when a user enables `builtin-http`; the default
#    libraries have no ring.
# A device-loadable .so needs the real NDK (android/build-aar.sh); the
# XCFramework needs Xcode (ios/build-xcframework.sh). Measured in
# ../shared/reference/cross-build.md.
set -euo pipefail
cd "$(dirname "$0")/.."
tools="$PWD/target/ci-tools"
mkdir -p "$tools/bin" "$tools/armv7-include/gnu" "$tools/iphoneos-sdk/usr/include"

rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android aarch64-apple-ios >/dev/null

# NDK-named compiler wrappers.
cat > "$tools/bin/aarch64-linux-android21-clang" <<W
#!/bin/sh
exec clang --target=aarch64-linux-android21 --sysroot=/usr/aarch64-linux-gnu "\$@"
W
# androideabi is softfp; Debian's armhf headers ask for gnu/stubs-soft.h.
cp /usr/arm-linux-gnueabihf/include/gnu/stubs-hard.h "$tools/armv7-include/gnu/stubs-soft.h"
cat > "$tools/bin/armv7a-linux-androideabi21-clang" <<W
#!/bin/sh
exec clang --target=armv7a-linux-androideabi21 --sysroot=/usr/arm-linux-gnueabihf -isystem $tools/armv7-include "\$@"
W
cat > "$tools/bin/x86_64-linux-android21-clang" <<W
#!/bin/sh
exec clang --target=x86_64-linux-android21 -isystem /usr/include/x86_64-linux-gnu -isystem /usr/include "\$@"
W
chmod +x "$tools"/bin/*
export PATH="$tools/bin:$PATH"

# The two phone ABIs. x86_64-linux-android (emulators) is left out to keep CI
# within its 45 minutes: its code is aarch64's, 64-bit little-endian, and
# `cargo check --target x86_64-linux-android` passed on every run until 2026-12-02.
for pair in aarch64-linux-android:aarch64-linux-android21-clang \
            armv7-linux-androideabi:armv7a-linux-androideabi21-clang; do
  target="${pair%%:*}" cc="${pair##*:}"
  env_target="$(echo "$target" | tr '-' '_')"
  printf -- '--- cargo check -p sluice-android --target %s\n' "$target"
  env "CC_${env_target}=$cc" "AR_${env_target}=llvm-ar" \
    cargo check -p sluice-android --target "$target"
done

# iOS: one header is all ring's freestanding build needs from the SDK.
cat > "$tools/iphoneos-sdk/usr/include/TargetConditionals.h" <<'H'
#define TARGET_OS_MAC 1
#define TARGET_OS_OSX 0
#define TARGET_OS_IPHONE 1
#define TARGET_OS_IOS 1
#define TARGET_OS_TV 0
#define TARGET_OS_WATCH 0
#define TARGET_OS_SIMULATOR 0
#define TARGET_OS_EMBEDDED 1
#define TARGET_CPU_ARM64 1
#define TARGET_CPU_X86_64 0
#define TARGET_RT_LITTLE_ENDIAN 1
#define TARGET_RT_64_BIT 1
H
export SDKROOT="$tools/iphoneos-sdk" CC_aarch64_apple_ios=clang AR_aarch64_apple_ios=llvm-ar \
  CFLAGS_aarch64_apple_ios=-DRING_CORE_NOSTDLIBINC=1
echo "--- cargo check -p sluice-ios --target aarch64-apple-ios"
cargo check -p sluice-ios --target aarch64-apple-ios
echo "--- iOS static library (profile mobile)"
cargo rustc --profile mobile -p sluice-ios --target aarch64-apple-ios --lib --crate-type staticlib
lib=target/aarch64-apple-ios/mobile/libsluice_ios.a
ls -l "$lib" | awk '{print "libsluice_ios.a (aarch64-apple-ios, mobile): " $5 " bytes"}'
# llvm-nm exits non-zero on members it cannot read (LLVM bitcode newer than
# Debian's); the count of the C ABI's functions is what must hold.
exported=$( { llvm-nm --defined-only "$lib" 2>/dev/null || true; } | grep -c ' T _sluice_' || true)
echo "exported sluice_* functions: $exported"
[ "$exported" -ge 15 ] || { echo "the iOS library does not export the C ABI" >&2; exit 1; }
