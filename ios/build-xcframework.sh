#!/usr/bin/env bash
# Builds swift/SluiceFFI.xcframework (device + simulator static libraries and
# the C header as module SluiceFFI) for the Swift package. Needs macOS with Xcode.
# The "mobile" profile keeps panic = "unwind" so the C boundary can catch panics.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v xcodebuild >/dev/null || { echo "build-xcframework.sh needs Xcode (xcodebuild)" >&2; exit 2; }
targets=(aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios)
for t in "${targets[@]}"; do
  rustup target add "$t"
  cargo rustc --profile mobile -p sluice-ios --target "$t" --lib --crate-type staticlib
done
out=ios/swift/SluiceFFI.xcframework
headers=$(mktemp -d)
cp ios/include/sluice.h "$headers/"
cat > "$headers/module.modulemap" <<'MAP'
module SluiceFFI {
    header "sluice.h"
    export *
}
MAP
sim=$(mktemp -d)
lipo -create target/aarch64-apple-ios-sim/mobile/libsluice_ios.a target/x86_64-apple-ios/mobile/libsluice_ios.a \
  -output "$sim/libsluice_ios.a"
rm -rf "$out"
xcodebuild -create-xcframework \
  -library target/aarch64-apple-ios/mobile/libsluice_ios.a -headers "$headers" \
  -library "$sim/libsluice_ios.a" -headers "$headers" \
  -output "$out"
echo "built $out"
