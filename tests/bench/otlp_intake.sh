#!/usr/bin/env bash
# Intake benchmark: the same events into one agent's SQLite channel through the
# otlp_http source (OTLP/HTTP protobuf) and through the http source (Flume
# JSON), alternated ROUNDS times in one run; a null sink drains the channel.
# Reports events/s and the agent's CPU seconds per million events for each,
# and the ratio otlp / flume (the peer is our own Flume JSON intake, same run).
#
# usage: tests/bench/otlp_intake.sh [EVENTS] [ROUNDS]   (default 500000, 3)
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-500000}
ROUNDS=${2:-3}
cargo build --release -q -p sluice-cli -p sluice-tests --bins
BIN=target/release
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HP=$(port); OP=$(port)
cat > "$WORK/bench.toml" <<TOML
[agent]
data_dir = "$WORK/data"
[channels.main]
type = "sqlite"
max_bytes = "4GiB"
[sources.flume]
type = "http"
channels = ["main"]
listen = "127.0.0.1:$HP"
[sources.otlp]
type = "otlp_http"
channels = ["main"]
listen = "127.0.0.1:$OP"
[sinks.drain]
type = "null"
channel = "main"
batch = { max_events = 5000 }
TOML
$BIN/sluice run -c "$WORK/bench.toml" 2> "$WORK/agent.log" &
AGENT=$!
until (exec 3<>"/dev/tcp/127.0.0.1/$OP") 2>/dev/null; do sleep 0.05; done
ticks() { awk '{print $14 + $15}' /proc/$AGENT/stat; }
hz=$(getconf CLK_TCK)
run() { # format port -> "eps cpu_s_per_million"
  local before after out
  before=$(ticks)
  out=$(LOADGEN_FORMAT=$1 $BIN/loadgen "127.0.0.1:$2" "$N" 1000 2)
  after=$(ticks)
  python3 -c "import json,sys; r=json.loads(sys.argv[1]); print(round(r['events_per_second']), round(($after-$before)/$hz/$N*1e6, 2), r['bytes'])" "$out"
}
echo "round  flume_json eps  cpu_s/M  bytes      otlp_protobuf eps  cpu_s/M  bytes      eps ratio otlp/flume"
for r in $(seq 1 "$ROUNDS"); do
  read -r f_eps f_cpu f_bytes < <(run flume "$HP")
  read -r o_eps o_cpu o_bytes < <(run otlp "$OP")
  printf '%-6s %-15s %-8s %-10s %-18s %-8s %-10s %s\n' "$r" "$f_eps" "$f_cpu" "$f_bytes" "$o_eps" "$o_cpu" "$o_bytes" \
    "$(python3 -c "print(round($o_eps / $f_eps, 2))")"
done
kill -TERM $AGENT; wait $AGENT || true
grep -E "ERROR|WARN" "$WORK/agent.log" | head -5 || true
