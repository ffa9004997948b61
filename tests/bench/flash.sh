#!/usr/bin/env bash
# Bytes the agent makes the storage device write, per event, and memory after a
# burst (issue 20). taildir -> SQLite channel (durability = "process") -> http
# sink (gzip flume_json) -> loopback receiver, EVENTS varied access-log lines of
# ~200 bytes, two cases:
#
#   a  the upstream keeps up: the receiver runs from the start;
#   b  the upstream is down for the first half: the first half of the lines is
#      written, the receiver starts once the channel holds it all, then the
#      second half is written.
#
# Per case: events/s (first line read to last event acknowledged), CPU seconds,
# peak RSS, RSS 10 s after the last acknowledgement, and from /proc/PID/io after
# 40 s idle (so writeback that was only deferred is counted): write_bytes (pages
# dirtied), cancelled_write_bytes (dirty pages truncated or deleted before
# writeback) and net = write - cancelled, per event and per byte ingested. Also
# the idle RSS of a fresh agent on the same config. The naive one-row-per-event
# layout is measured beside the store in `cargo bench -p sluice --bench channel`.
#
# usage: tests/bench/flash.sh [EVENTS] [CASES]      (defaults 1000000 "a b")
#        SLUICE_BIN: another build of the agent to measure.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-1000000}
CASES=${2:-a b}
IDLE_S=${FLASH_IDLE_S:-40}
cargo build --release -q -p sluice-cli -p sluice-tests --bins
BIN=target/release
AGENT_BIN=${SLUICE_BIN:-$BIN/sluice}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; [[ -n ${FLASH_KEEP:-} ]] || rm -rf "$WORK"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
py() { python3 -c "print($1)"; }
metric() { curl -s "http://127.0.0.1:$1/metrics.json" | python3 -c "import json,sys; print(json.load(sys.stdin)['$2']['$3'])" 2>/dev/null || echo 0; }
count() { curl -s "http://127.0.0.1:$1/count" 2>/dev/null || echo 0; }
io() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/io"; }
cpu_s() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$1/stat"; }
kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

# Varied access-log lines (~200 bytes): addresses, paths, statuses, sizes, agents.
gen() { # file first count
  python3 - "$@" <<'PY'
import random, sys
path, first, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(first)
paths = ["/api/v1/orders", "/api/v1/users/{}", "/static/app.{}.js", "/login", "/cart/{}/items", "/search?q={}"]
agents = ["Mozilla/5.0 (X11; Linux x86_64) Firefox/{}.0", "curl/8.{}.0", "okhttp/4.{}.2", "Dalvik/2.1.0 (Linux; U; Android 1{})"]
with open(path, "a") as f:
    for i in range(first, first + n):
        ip = f"10.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(256)}"
        p = rnd.choice(paths).format(rnd.randrange(100000))
        a = rnd.choice(agents).format(rnd.randrange(10, 130))
        line = (f'{ip} - - [03/Dec/2026:10:{i // 60000 % 60:02d}:{i // 1000 % 60:02d} +0000] '
                f'"{rnd.choice(["GET", "GET", "POST", "PUT"])} {p} HTTP/1.1" {rnd.choice([200, 200, 200, 201, 304, 404, 500])} '
                f'{rnd.randrange(100, 90000)} "-" "{a}" rt={rnd.random():.3f} id={i:08d}')
        f.write(line[:202].ljust(202) + "\n")
PY
}

config() { # dir metrics_port receiver_port
  cat > "$1/agent.toml" <<TOML
[agent]
data_dir = "$1/data"
metrics_listen = "127.0.0.1:$2"
[channels.main]
type = "sqlite"
max_bytes = "2GiB"
max_events = 10000000
[sources.files]
type = "taildir"
channels = ["main"]
paths = ["$1/logs/*.log"]
batch_size = 2000
[sinks.up]
type = "http"
channel = "main"
url = "http://127.0.0.1:$3/"
format = "flume_json"
compression = "gzip"
batch = { max_events = 5000, max_bytes = "4MiB", linger = "50ms" }
retry = { initial = "200ms", max = "1s" }
TOML
}

# A fresh agent's idle RSS: same config, nothing to read.
fresh_rss() {
  local d=$WORK/fresh MP RP pid
  mkdir -p "$d/logs"; MP=$(port); RP=$(port)
  config "$d" "$MP" "$RP"
  SLUICE_LOG=warn "$AGENT_BIN" run -c "$d/agent.toml" 2>"$d/agent.log" & pid=$!
  sleep 5
  kib "$pid" VmRSS
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
}

run_case() { # case
  local c=$1 d=$WORK/$1 MP RP agent recv start end half
  mkdir -p "$d/logs"; MP=$(port); RP=$(port)
  config "$d" "$MP" "$RP"
  half=$((N / 2))
  if [[ $c == a ]]; then
    gen "$d/logs/app.log" 0 "$N"
    $BIN/receiver "127.0.0.1:$RP" & recv=$!
  else
    gen "$d/logs/app.log" 0 "$half"
  fi
  local bytes; bytes=$(stat -c %s "$d/logs/app.log")
  SLUICE_LOG=warn "$AGENT_BIN" run -c "$d/agent.toml" 2>"$d/agent.log" & agent=$!
  start=$(date +%s.%N)
  if [[ $c == b ]]; then
    until [ "$(metric "$MP" CHANNEL.main ChannelSize)" -ge "$half" ] 2>/dev/null; do sleep 0.05; done
    $BIN/receiver "127.0.0.1:$RP" & recv=$!
    gen "$d/logs/app.log" "$half" "$((N - half))"
    bytes=$(stat -c %s "$d/logs/app.log")
  fi
  until [ "$(count "$RP")" -ge "$N" ] 2>/dev/null; do sleep 0.05; done
  end=$(date +%s.%N)
  local cpu hwm rss10 wb cwb got
  cpu=$(cpu_s "$agent"); hwm=$(kib "$agent" VmHWM)
  sleep 10
  rss10=$(kib "$agent" VmRSS)
  sleep $((IDLE_S - 10))
  wb=$(io "$agent" write_bytes); cwb=$(io "$agent" cancelled_write_bytes)
  got=$(count "$RP")
  ls -l "$d/data" | awk 'NR > 1 { printf "  %s %d", $NF, $5 } END { print "" }' >"$d/files"
  kill -TERM "$agent"; wait "$agent" 2>/dev/null || true
  kill "$recv" 2>/dev/null; wait "$recv" 2>/dev/null || true
  local net=$((wb - cwb))
  printf '%-4s %9s %7s %9s %11s %12s %12s %12s %9s %9s\n' "$c" \
    "$(py "round($N / ($end - $start))")" "$cpu" "$((hwm / 1024))" "$(py "round($rss10 / 1024, 1)")" \
    "$wb" "$cwb" "$net" "$(py "round($net / $N, 1)")" "$(py "round($net / $bytes, 3)")"
  echo "     store files after the run:$(cat "$d/files")"
  [[ $got -eq $N ]] || echo "case $c: the receiver counted $got events, not $N" >&2
}

echo "events: $N (~203-byte access-log lines); idle wait $IDLE_S s; agent $AGENT_BIN"
fresh=$(fresh_rss)
echo "fresh agent idle RSS: $(py "round($fresh / 1024, 1)") MiB"
printf '%-4s %9s %7s %9s %11s %12s %12s %12s %9s %9s\n' case events/s cpu_s peak_MiB idle10s_MiB \
  write_bytes cancelled net net/event net/byte
for c in $CASES; do run_case "$c"; done
