#!/usr/bin/env bash
# The cost of the http source's `dedup` window: the same agent (http source ->
# SQLite channel) ingesting the same events, each with an `id` header, with
# dedup off and on, in one run; then the memory (VmHWM) and the disk each
# remembered id costs, per million ids.
#
# usage: tests/bench/dedup.sh [EVENTS]      (default 500000)
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-500000}
cargo build --release -q -p sluice-cli -p sluice-tests --bins
BIN=target/release
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
eps() { python3 -c 'import json,sys; print(round(json.load(sys.stdin)["events_per_second"]))'; }

run() { # name dedup-line -> "eps hwm_kib disk_bytes"
  local name=$1 dedup=$2 sp; sp=$(port)
  cat > "$WORK/$name.toml" <<TOML
[agent]
data_dir = "$WORK/$name"
[channels.main]
type = "sqlite"
max_bytes = "4GiB"
[sources.in]
type = "http"
channels = ["main"]
listen = "127.0.0.1:$sp"
$dedup
# An upstream that is never there: every event stays, so the two stores differ only by the ids.
[sinks.nowhere]
type = "http"
channel = "main"
url = "http://127.0.0.1:9/"
retry = { initial = "1h", max = "1h" }
TOML
  SLUICE_LOG=warn $BIN/sluice run -c "$WORK/$name.toml" 2> "$WORK/$name.log" &
  local pid=$!
  until curl -s -o /dev/null "http://127.0.0.1:$sp/health"; do sleep 0.05; done
  local rate; rate=$(LOADGEN_IDS=1 $BIN/loadgen 127.0.0.1:$sp "$N" 1000 4 | eps)
  local hwm; hwm=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
  kill -TERM $pid; wait $pid || true
  local disk; disk=$(du -sb "$WORK/$name" | cut -f1)
  echo "$rate $hwm $disk"
}

read -r off_eps off_hwm off_disk <<< "$(run off "")"
read -r on_eps on_hwm on_disk <<< "$(run on "dedup = { window = \"1h\", max_ids = 10000000 }")"
python3 - "$N" "$off_eps" "$on_eps" "$off_hwm" "$on_hwm" "$off_disk" "$on_disk" <<'PY'
import sys
n, off_eps, on_eps, off_hwm, on_hwm, off_disk, on_disk = map(int, sys.argv[1:])
print(f"events: {n} (each with an id header), http source -> SQLite, loadgen batches of 1000 on 4 connections")
print(f"ingest  dedup off: {off_eps} ev/s   dedup on: {on_eps} ev/s   on/off = {on_eps / off_eps:.2f}")
print(f"VmHWM   dedup off: {off_hwm} KiB  dedup on: {on_hwm} KiB  per million ids: {(on_hwm - off_hwm) / n * 1e6 / 1024:.1f} MiB")
print(f"disk    dedup off: {off_disk} B  dedup on: {on_disk} B  per million ids: {(on_disk - off_disk) / n * 1e6 / 2**20:.1f} MiB")
PY
