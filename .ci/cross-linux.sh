#!/usr/bin/env bash
# Cross-builds `sluice` for the ARM Linux targets and runs an end-to-end smoke
# test of each under qemu-user: taildir -> SQLite channel -> http sink -> a
# receiver on loopback, which must get every line of the file, in order.
# Prints the stripped size of each binary. Installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."

bash .ci/prereqs.sh >/dev/null

targets=(aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf aarch64-unknown-linux-musl)
rustup target add "${targets[@]}" >/dev/null

export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_LINKER=arm-linux-gnueabihf-gcc
export CC_armv7_unknown_linux_gnueabihf=arm-linux-gnueabihf-gcc AR_armv7_unknown_linux_gnueabihf=arm-linux-gnueabihf-ar
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=aarch64-linux-musl-gcc
export CC_aarch64_unknown_linux_musl=aarch64-linux-musl-gcc AR_aarch64_unknown_linux_musl=aarch64-linux-gnu-ar

qemu_for() {
  case "$1" in
    aarch64-unknown-linux-gnu) echo "qemu-aarch64 -L /usr/aarch64-linux-gnu" ;;
    armv7-unknown-linux-gnueabihf) echo "qemu-arm -L /usr/arm-linux-gnueabihf" ;;
    aarch64-unknown-linux-musl) echo "qemu-aarch64" ;;
  esac
}
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
failed=()
for target in "${targets[@]}"; do
  echo "--- $target"
  # Without the kafka feature: the board builds measured here (rskafka and tokio add
  # ~640 KiB; BENCHMARKS.md), and a CI step 3 crates shorter.
  cargo build --profile ci-cross -q -p sluice-cli --no-default-features --features tls --target "$target"
  bin="target/$target/ci-cross/sluice"
  if command -v file >/dev/null; then file "$bin" | sed "s/^[^:]*: //" | cut -c1-100; fi
  echo "size (stripped, ci-cross profile: no LTO; release is smaller): $(stat -c %s "$bin") bytes"

  dir="$work/$target"; mkdir -p "$dir/logs"
  for i in $(seq 1 2000); do echo "line $i from $target ünïcode"; done > "$dir/expected"
  head -n 1000 "$dir/expected" > "$dir/logs/app.log"
  rp=$(port)
  python3 tests/cross/receiver.py "$rp" "$dir/received" & recv=$!
  cat > "$dir/agent.toml" <<TOML
[agent]
data_dir = "$dir/data"
[channels.main]
type = "sqlite"
[sources.files]
type = "taildir"
channels = ["main"]
paths = ["$dir/logs/*.log"]
poll_interval = "100ms"
[sinks.up]
type = "http"
channel = "main"
url = "http://127.0.0.1:$rp/"
batch = { max_events = 300, linger = "50ms" }
TOML
  # shellcheck disable=SC2046 # the qemu command line is split on purpose
  $(qemu_for "$target") "$bin" run -c "$dir/agent.toml" 2>"$dir/agent.log" & agent=$!
  sleep 1
  # Lines appended while it runs, and a rename rotation, must arrive too.
  mv "$dir/logs/app.log" "$dir/logs/app.1.log"
  tail -n 1000 "$dir/expected" > "$dir/logs/app.log"
  for _ in $(seq 1 300); do
    [ "$(wc -l < "$dir/received" 2>/dev/null || echo 0)" -ge 2000 ] && break
    sleep 0.1
  done
  kill "$agent" "$recv" 2>/dev/null || true
  wait "$agent" 2>/dev/null || true
  if cmp -s "$dir/expected" "$dir/received"; then
    echo "smoke test: 2000 of 2000 lines arrived, in order, under $(qemu_for "$target" | cut -d' ' -f1)"
  else
    echo "smoke test FAILED for $target: $(wc -l < "$dir/received" 2>/dev/null || echo 0) lines received"
    tail -n 20 "$dir/agent.log"
    failed+=("$target")
  fi
done
if ((${#failed[@]})); then
  echo "cross: failed: ${failed[*]}" >&2
  exit 1
fi

# cli/src/alloc.rs (mimalloc) is compiled only for musl: lint it there, or nothing does.
echo "--- clippy for aarch64-unknown-linux-musl (the musl-only allocator code)"
cargo clippy -q -p sluice-cli --no-default-features --features tls --target aarch64-unknown-linux-musl -- -D warnings
