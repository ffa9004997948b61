#!/usr/bin/env bash
# Side by side, one run: Apache Flume vs Sluice as the edge tier in front of a
# Flume aggregator.
#
#   Flume:  TAILDIR -> file channel   -> avro sink        \
#                                                          >  Flume AvroSource -> memory -> null
#   Sluice: taildir -> SQLite channel -> flume_avro sink  /   (the same receiver, restarted per run)
#
# Same input file (LINES lines of 200 bytes, log-like), batches of 1000 on both.
# For the sending agent: events/s (first to last event at the receiver, and
# from launch), CPU seconds, peak RSS (VmHWM), bytes written to disk
# (/proc/PID/io write_bytes); then the ratios.
#
# usage: tests/bench/flume_vs_sluice.sh [LINES]      (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/../.."
LINES=${1:-1000000}
FLUME=$PWD/tests/interop/flume
cargo build --release -q -p sluice-cli
BIN=$PWD/target/release/sluice
bash "$FLUME/fetch.sh" >/dev/null
WORK=$(mktemp -d)
cleanup() {
  for w in "$WORK"/recv* "$WORK"/flume; do [[ -f $w/flume.pid ]] && bash "$FLUME/agent.sh" kill "$w" >/dev/null 2>&1; done
  [[ -n ${SLUICE_PID:-} ]] && { kill -9 "$SLUICE_PID"; wait "$SLUICE_PID"; } 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }

python3 - "$WORK/input.log" "$LINES" <<'PY'
import random, sys
path, n = sys.argv[1], int(sys.argv[2])
random.seed(11)
paths = ["/api/v1/orders", "/api/v1/users/42", "/static/app.js", "/health", "/login", "/cart/checkout"]
agents = ["Mozilla/5.0 (X11; Linux x86_64)", "curl/8.5.0", "okhttp/4.12.0", "Go-http-client/1.1"]
with open(path, "w") as f:
    for i in range(n):
        line = (f"10.{random.randint(0,255)}.{random.randint(0,255)}.{random.randint(1,254)} - - "
                f"[26/Nov/2026:02:{i // 60000 % 60:02d}:{i // 1000 % 60:02d} +0000] "
                f"\"{random.choice(['GET', 'POST', 'PUT'])} {random.choice(paths)}?id={random.getrandbits(40):010x} HTTP/1.1\" "
                f"{random.choice([200, 200, 200, 201, 304, 404, 500])} {random.randint(100, 99999)} "
                f"\"{random.choice(agents)}\" rt={random.random():.4f} seq={i}")
        f.write((line + " " + "-" * 200)[:199] + "\n")
PY
echo "input: $LINES lines of 200 bytes ($(stat -c %s "$WORK/input.log") bytes)"

# A fresh receiver: AvroSource -> memory channel -> null, with Flume's JSON metrics.
RECV_PORT=$(port)
start_receiver() { # name
  local w=$WORK/$1 mport
  mport=$(port)
  mkdir -p "$w"
  sed -e "s/@PORT@/$RECV_PORT/" -e "s/@COMPRESSION@/none/" "$FLUME/avro-to-null.properties" \
    | sed -e 's/^a1.channels.c1.capacity = .*/a1.channels.c1.capacity = 200000/' > "$w/a1.properties"
  FLUME_MONITORING_PORT=$mport bash "$FLUME/agent.sh" start a1 "$w/a1.properties" "$w" 1g >/dev/null
  echo "$mport"
}
taken() { # metrics port -> events the receiver's null sink took
  curl -s "http://127.0.0.1:$1/metrics" | python3 -c \
    'import json,sys; print(json.load(sys.stdin)["CHANNEL.c1"]["EventTakeSuccessCount"])' 2>/dev/null || echo 0
}
# Wait for all events at the receiver; sets FIRST and LAST (times of first and last seen).
await_all() { # metrics port, timeout s
  local mport=$1 deadline n
  deadline=$(( $(date +%s) + $2 ))
  FIRST=""
  while :; do
    n=$(taken "$mport")
    [[ -z $FIRST && $n -gt 0 ]] && FIRST=$(now)
    if (( n >= LINES )); then LAST=$(now); return 0; fi
    (( $(date +%s) > deadline )) && { echo "timed out at $n of $LINES events" >&2; return 1; }
    sleep 0.1
  done
}
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15 + $16 + $17) / hz }' "/proc/$1/stat"; }
hwm_kib() { awk '/VmHWM/ { print $2 }' "/proc/$1/status"; }
written() { awk '/^write_bytes/ { print $2 }' "/proc/$1/io"; }

report() { # label pid launch
  local pid=$2 launch=$3
  local cpu rss wb eps_flow eps_wall
  cpu=$(cpu_s "$pid"); rss=$(hwm_kib "$pid"); wb=$(written "$pid")
  eps_flow=$(python3 -c "print(round($LINES / ($LAST - $FIRST)))")
  eps_wall=$(python3 -c "print(round($LINES / ($LAST - $launch)))")
  printf '%-7s %12s ev/s (first to last)  %12s ev/s (from launch)  %8s CPU s  %8s MiB peak RSS  %8s MiB written\n' \
    "$1" "$eps_flow" "$eps_wall" "$cpu" "$((rss / 1024))" "$((wb / 1048576))"
  echo "$1 $eps_flow $eps_wall $cpu $rss $wb" >> "$WORK/results"
}

# --- Flume ---
mport=$(start_receiver recv-flume)
mkdir -p "$WORK/flume"
sed -e "s/@PORT@/$RECV_PORT/" -e "s/@COMPRESSION@/none/" -e "s#@DIR@#$WORK/flume#" -e "s#@INPUT@#$WORK/input.log#" \
  "$FLUME/taildir-to-avro.properties" > "$WORK/flume/a1.properties"
launch=$(now)
bash "$FLUME/agent.sh" start a1 "$WORK/flume/a1.properties" "$WORK/flume" 1g >/dev/null
await_all "$mport" 900
report flume "$(cat "$WORK/flume/flume.pid")" "$launch"
bash "$FLUME/agent.sh" kill "$WORK/flume" >/dev/null
bash "$FLUME/agent.sh" kill "$WORK/recv-flume" >/dev/null

# --- Sluice ---
mport=$(start_receiver recv-sluice)
mkdir -p "$WORK/sluice"
cat > "$WORK/sluice/agent.toml" <<TOML
[agent]
data_dir = "$WORK/sluice/data"
[channels.main]
type = "sqlite"
max_bytes = "4GiB"
max_events = 100000000
[sources.files]
type = "taildir"
channels = ["main"]
paths = ["$WORK/input.log"]
batch_size = 1000
[sinks.aggregator]
type = "flume_avro"
channel = "main"
address = "127.0.0.1:$RECV_PORT"
batch = { max_events = 1000 }
TOML
launch=$(now)
SLUICE_LOG=warn "$BIN" run -c "$WORK/sluice/agent.toml" 2> "$WORK/sluice/sluice.log" &
SLUICE_PID=$!
await_all "$mport" 900
report sluice "$SLUICE_PID" "$launch"

python3 - "$WORK/results" <<'PY'
import sys
rows = {line.split()[0]: [float(x) for x in line.split()[1:]] for line in open(sys.argv[1])}
f, s = rows["flume"], rows["sluice"]
print(f"ratio   events/s (first to last) {s[0] / f[0]:.1f}x   from launch {s[1] / f[1]:.1f}x   "
      f"CPU s {f[2] / s[2]:.1f}x less   peak RSS 1/{f[3] / s[3]:.0f}   bytes written 1/{f[4] / max(s[4], 1):.1f}")
PY
