#!/usr/bin/env bash
# taildir -> SQLite channel ingest, and RSS while following many files.
#
# 1. LINES lines of 100 bytes in one file; the agent reads them into a durable
#    channel (the upstream is down, so nothing drains): lines/s from the first
#    metrics poll that sees the file until the channel holds them all, and CPU
#    seconds. The peer in the same run is `wc -l` over the same file (the floor
#    of reading and splitting it) and `sqlite3`-free: the ratio says what the
#    agent costs per line on top of reading it.
# 2. FILES files being appended to: peak RSS of the agent (VmHWM).
#
# usage: tests/bench/taildir.sh [LINES] [FILES]     (defaults 1000000 100)
set -euo pipefail
cd "$(dirname "$0")/../.."
LINES=${1:-1000000}
FILES=${2:-100}
cargo build --release -q -p sluice-cli
BIN=$PWD/target/release/sluice
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
metric() { curl -s "http://127.0.0.1:$1/metrics.json" | python3 -c "import json,sys; print(json.load(sys.stdin)['$2']['$3'])" 2>/dev/null || echo 0; }

mkdir -p "$WORK/one" "$WORK/many"
python3 - "$WORK/one/app.log" "$LINES" <<'PY'
import sys
path, n = sys.argv[1], int(sys.argv[2])
import random
random.seed(7)
words = ["GET", "POST", "/api/v1/orders", "/static/app.js", "200", "404", "503", "user", "session", "latency_ms"]
with open(path, "w") as f:
    for i in range(n):
        # Log-like text: a few repeated words, a random id and numbers (compresses as logs do).
        text = f"{i:07d} {random.choice(words)} {random.choice(words)} id={random.getrandbits(64):016x} t={random.randint(0, 99999)} "
        f.write((text + "x" * 99)[:99] + "\n")
PY
config() { # dir pattern metrics_port
  cat > "$1/agent.toml" <<TOML
[agent]
data_dir = "$1/data"
metrics_listen = "127.0.0.1:$3"
[channels.main]
type = "sqlite"
max_bytes = "4GiB"
max_events = 100000000
[sources.files]
type = "taildir"
channels = ["main"]
paths = ["$2"]
batch_size = 2000
[sinks.down]
type = "http"
channel = "main"
url = "http://127.0.0.1:9/"
retry = { initial = "1h", max = "1h" }
TOML
}

# Peer: the floor of reading and splitting the file.
start=$(date +%s.%N); wc -l "$WORK/one/app.log" >/dev/null; end=$(date +%s.%N)
wc_s=$(python3 -c "print($end - $start)")

MP=$(port); config "$WORK/one" "$WORK/one/*.log" "$MP"
start=$(date +%s.%N)
"$BIN" run -c "$WORK/one/agent.toml" 2>"$WORK/one/log" & PID=$!
until [ "$(metric "$MP" CHANNEL.main ChannelSize)" -ge "$LINES" ] 2>/dev/null; do sleep 0.02; done
end=$(date +%s.%N)
cpu=$(awk '{print ($14+$15)/100}' /proc/$PID/stat)
kill $PID; wait $PID 2>/dev/null || true
secs=$(python3 -c "print($end - $start)")
python3 - "$LINES" "$secs" "$cpu" "$wc_s" "$(du -sb "$WORK/one/data" | cut -f1)" <<'PY'
import sys
n, secs, cpu, wc, disk = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
print(f"taildir -> sqlite: {n} lines in {secs:.2f} s (incl. start) = {n/secs:,.0f} lines/s; CPU {cpu:.2f} s; store {disk/n:.0f} B/line")
print(f"peer wc -l: {wc:.3f} s = {n/wc:,.0f} lines/s; ratio sluice/wc = {wc/secs:.3f}")
PY

# RSS while following FILES files that keep growing.
for i in $(seq 1 "$FILES"); do printf 'first line of %s\n' "$i" > "$WORK/many/f$i.log"; done
MP=$(port); config "$WORK/many" "$WORK/many/*.log" "$MP"
"$BIN" run -c "$WORK/many/agent.toml" 2>"$WORK/many/log" & PID=$!
for round in $(seq 1 20); do
  for i in $(seq 1 "$FILES"); do printf '%s line %s of the appending round\n' "$i" "$round" >> "$WORK/many/f$i.log"; done
  sleep 0.1
done
want=$((FILES * 21))
until [ "$(metric "$MP" CHANNEL.main ChannelSize)" -ge "$want" ] 2>/dev/null; do sleep 0.05; done
hwm=$(awk '/VmHWM/ {print $2}' /proc/$PID/status)
fds=$(ls /proc/$PID/fd | wc -l)
kill $PID; wait $PID 2>/dev/null || true
echo "following $FILES files: peak RSS ${hwm} KiB ($(python3 -c "print(round($hwm/1024,1))") MiB), $fds open fds"
