#!/usr/bin/env bash
# End-to-end benchmark: loadgen --HTTP--> sluice (http source -> SQLite channel ->
# http sink, gzip flume_json) --HTTP--> receiver, all on loopback.
# The peer in the same run is the direct path loadgen -> receiver (no agent):
# the ratio says what the agent costs on top of the HTTP work on both sides.
#
# usage: tests/bench/e2e.sh [EVENTS]      (default 1000000; SLUICE_BENCH_WORKERS, SLUICE_BIN)
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-1000000}
cargo build --release -q -p sluice-cli -p sluice-tests --bins
BIN=target/release
# SLUICE_BIN: another build of the agent to measure (e.g. the static musl one).
AGENT_BIN=${SLUICE_BIN:-$BIN/sluice}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
py() { python3 -c "print($1)"; }
count() { curl -s "http://127.0.0.1:$1/count"; }
wait_count() { # port target -> seconds waited
  local start=$(date +%s.%N)
  until [ "$(count "$1")" -ge "$2" ] 2>/dev/null; do sleep 0.05; done
  py "$(date +%s.%N) - $start"
}

# Peer: loadgen straight into the receiver.
RP=$(port); $BIN/receiver 127.0.0.1:$RP & sleep 0.3
direct=$($BIN/loadgen 127.0.0.1:$RP "$N" 1000 4)
direct_eps=$(echo "$direct" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["events_per_second"]))')

# Sluice in the middle.
RP2=$(port); SP=$(port)
$BIN/receiver 127.0.0.1:$RP2 & sleep 0.3
cat > "$WORK/bench.toml" <<TOML
[agent]
data_dir = "$WORK/data"
[channels.main]
type = "sqlite"
max_bytes = "2GiB"
[sources.in]
type = "http"
channels = ["main"]
listen = "127.0.0.1:$SP"
[sinks.up]
type = "http"
channel = "main"
url = "http://127.0.0.1:$RP2/"
format = "flume_json"
compression = "gzip"
batch = { max_events = 5000, max_bytes = "4MiB", linger = "50ms" }
workers = ${SLUICE_BENCH_WORKERS:-2}
TOML
SLUICE_LOG=warn $AGENT_BIN run -c "$WORK/bench.toml" 2> "$WORK/agent.log" &
AGENT=$!
until curl -s -o /dev/null "http://127.0.0.1:$SP/health"; do sleep 0.05; done
start=$(date +%s.%N)
ingest=$($BIN/loadgen 127.0.0.1:$SP "$N" 1000 4)
wait_count "$RP2" "$N" >/dev/null
end=$(date +%s.%N)
e2e_eps=$(py "round($N / ($end - $start))")
ingest_eps=$(echo "$ingest" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["events_per_second"]))')
ingest_bytes=$(echo "$ingest" | python3 -c 'import json,sys; print(json.load(sys.stdin)["bytes"])')
hwm=$(awk '/VmHWM/ {print $2}' /proc/$AGENT/status)
written=$(awk '/^write_bytes/ {print $2}' /proc/$AGENT/io)
# Idle: RSS and wake-ups over 10 s with nothing pending.
sleep 2
rss_idle=$(awk '/VmRSS/ {print $2}' /proc/$AGENT/status)
ctx() { cat /proc/$AGENT/task/*/status | awk '/ctxt_switches/ {s+=$2} END {print s}'; }
c1=$(ctx); sleep 10; c2=$(ctx)
kill -TERM $AGENT; wait $AGENT || true
# A fresh agent that never saw an event: its idle RSS and wake-ups per thread.
rm -rf "$WORK/data"
SLUICE_LOG=warn $AGENT_BIN run -c "$WORK/bench.toml" 2>> "$WORK/agent.log" &
FRESH=$!
sleep 3
fresh_rss=$(awk '/VmRSS/ {print $2}' /proc/$FRESH/status)
per_thread() { for t in /proc/$FRESH/task/*; do echo "$(cat $t/comm) $(awk '/ctxt_switches/ {s+=$2} END {print s}' $t/status)"; done | sort; }
per_thread > "$WORK/t1"; sleep 10; per_thread > "$WORK/t2"
fresh_wakeups=$(paste "$WORK/t1" "$WORK/t2" | awk '{d=$4-$2; s+=d; if (d>0) w=w" "$1"="d} END {print s" ("(w==""?"none":w)")"}')
kill -TERM $FRESH; wait $FRESH || true
size=$(stat -c %s "$AGENT_BIN")
cat <<REPORT
events:                         $N (~200-byte access-log lines, 3 headers, 1000 per request, 4 connections)
direct loadgen -> receiver:     $direct_eps events/s
through sluice, ingest (200 OK): $ingest_eps events/s
through sluice, end to end:     $e2e_eps events/s   (ratio to direct: $(py "round($e2e_eps / $direct_eps, 2)"))
agent peak RSS:                 $((hwm / 1024)) MiB
agent bytes written to disk:    $written ($(py "round($written / $ingest_bytes, 2)") per byte of request body ingested, $ingest_bytes bytes)
agent RSS after the run, idle:  $((rss_idle / 1024)) MiB ($rss_idle KiB); context switches in 10 s: $((c2 - c1))
fresh idle agent RSS:           $fresh_rss KiB; context switches in 10 s: $fresh_wakeups
sluice release binary:          $size bytes
REPORT
