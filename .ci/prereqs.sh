#!/usr/bin/env bash
# Installs what the tests and CI need on a Debian machine (run as root); what
# is there already is left alone. `.ci/run` calls it first; the README's test
# prerequisites are this list.
#
#   Debian packages: clang, lld, llvm (mobile targets, ASan for the C ABI test);
#     the aarch64/armv7 cross gcc and libc, arm64 musl, qemu-user (ARM builds
#     and their smoke tests); maven (+ the JDK it pulls; Flume, Kafka and
#     Robolectric from Maven Central); python3-venv; rsyslog (its `logger`
#     feeds the syslog tests); chromium (the status page and browser intake).
#   Rust: rustfmt, clippy, and the Android, iOS and ARM Linux targets.
#   Already on the machine and only checked here: Rust (rustup), a JDK >= 17
#   with keytool, Go >= 1.24, Python 3.
set -euo pipefail

packages=(clang lld llvm libc6-dev maven python3-venv rsyslog chromium
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-arm-linux-gnueabihf libc6-dev-armhf-cross qemu-user)
need=()
for pkg in "${packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
# aarch64 musl: the musl-gcc wrapper of the arm64 musl-dev (the glibc cross gcc fails on open64).
dpkg -s musl-dev:arm64 >/dev/null 2>&1 || need+=("musl-dev:arm64")
if ((${#need[@]})); then
  dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

rustup component add rustfmt clippy >/dev/null 2>&1 || true
rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android aarch64-apple-ios \
  aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf aarch64-unknown-linux-musl >/dev/null

missing=()
for tool in cargo java keytool mvn go python3 logger chromium qemu-aarch64; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
  echo "prereqs.sh: still missing: ${missing[*]}" >&2
  exit 1
fi
java_major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
((java_major >= 17)) || { echo "prereqs.sh: JDK $java_major, need >= 17" >&2; exit 1; }
go_minor=$(go env GOVERSION | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
((go_minor >= 24)) || { echo "prereqs.sh: $(go env GOVERSION), need go1.24 or later" >&2; exit 1; }
echo "prereqs: $(cargo --version | cut -d' ' -f1-2), JDK $java_major, $(go env GOVERSION), $(python3 --version)"
