#!/usr/bin/env bash
# Sluice into each real upstream, one run: taildir -> SQLite channel -> sink,
# the same input file (LINES lines of 200 bytes), batches of 1000. Throughput
# is events the upstream acknowledged per second (the sink's
# EventDrainSuccessCount, which counts only acknowledged events), first to last.
#
#   flume_avro -> Flume AvroSource -> memory -> null         (Apache Flume 1.11)
#   otlp_http  -> OpenTelemetry Collector -> file exporter   (otlp receiver, JSON lines)
#   kafka      -> Kafka 4.1 broker, topic of 3 partitions    (acks=all, gzip)
#
# Also the peak RSS and CPU seconds of the Sluice agent for each. Each upstream
# is run twice: one batch in flight, then `workers = 4` (label -w4).
#
# usage: tests/bench/upstreams.sh [LINES]      (default 500000)
set -euo pipefail
cd "$(dirname "$0")/../.."
LINES=${1:-500000}
I=$PWD/tests/interop
cargo build --release -q -p sluice-cli
BIN=$PWD/target/release/sluice
for peer in flume kafka otelcol; do bash "$I/$peer/fetch.sh" >/dev/null; done
WORK=$(mktemp -d)
cleanup() {
  [[ -n ${SLUICE_PID:-} ]] && { kill -9 "$SLUICE_PID"; wait "$SLUICE_PID"; } 2>/dev/null
  [[ -f $WORK/flume/flume.pid ]] && bash "$I/flume/agent.sh" kill "$WORK/flume" >/dev/null 2>&1
  [[ -f $WORK/kafka/broker.pid ]] && bash "$I/kafka/broker.sh" kill "$WORK/kafka" >/dev/null 2>&1
  [[ -f $WORK/otel/collector.pid ]] && bash "$I/otelcol/collector.sh" stop "$WORK/otel" >/dev/null 2>&1
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
with open(path, "w") as f:
    for i in range(n):
        line = (f"10.{random.randint(0,255)}.{random.randint(0,255)}.{random.randint(1,254)} - - "
                f"[26/Nov/2026:02:{i // 60000 % 60:02d}:{i // 1000 % 60:02d} +0000] "
                f"\"GET {random.choice(paths)}?id={random.getrandbits(40):010x} HTTP/1.1\" "
                f"{random.choice([200, 200, 201, 304, 404, 500])} {random.randint(100, 99999)} rt={random.random():.4f} seq={i}")
        f.write((line + " " + "-" * 200)[:199] + "\n")
PY
echo "input: $LINES lines of 200 bytes"

run() { # label, sink TOML
  local dir=$WORK/sluice-$1 mport first="" n last
  mport=$(port)
  mkdir -p "$dir"
  cat > "$dir/agent.toml" <<TOML
[agent]
data_dir = "$dir/data"
metrics_listen = "127.0.0.1:$mport"
[channels.main]
type = "sqlite"
max_bytes = "4GiB"
max_events = 100000000
[sources.files]
type = "taildir"
channels = ["main"]
paths = ["$WORK/input.log"]
batch_size = 1000
[sinks.up]
channel = "main"
batch = { max_events = 1000 }
$2
TOML
  SLUICE_LOG=warn "$BIN" run -c "$dir/agent.toml" 2> "$dir/sluice.log" &
  SLUICE_PID=$!
  local deadline=$(( $(date +%s) + 600 ))
  while :; do
    n=$(curl -s "http://127.0.0.1:$mport/metrics.json" | python3 -c \
      'import json,sys; print(json.load(sys.stdin)["SINK.up"]["EventDrainSuccessCount"])' 2>/dev/null || echo 0)
    [[ -z $first && $n -gt 0 ]] && first=$(now)
    (( n >= LINES )) && { last=$(now); break; }
    (( $(date +%s) > deadline )) && { echo "$1: timed out at $n events" >&2; tail -5 "$dir/sluice.log" >&2; return 1; }
    sleep 0.1
  done
  local cpu rss
  cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$SLUICE_PID/stat")
  rss=$(awk '/VmHWM/ { print $2 }' "/proc/$SLUICE_PID/status")
  kill -9 "$SLUICE_PID"; wait "$SLUICE_PID" 2>/dev/null || true; SLUICE_PID=""
  printf '%-12s %10s ev/s acknowledged   %6s CPU s   %6s MiB peak RSS\n' "$1" \
    "$(python3 -c "print(round($LINES / ($last - $first)))")" "$cpu" "$((rss / 1024))"
}

# Flume AvroSource -> null
fport=$(port); mkdir -p "$WORK/flume"
sed -e "s/@PORT@/$fport/" -e "s/@COMPRESSION@/none/" "$I/flume/avro-to-null.properties" \
  | sed -e 's/^a1.channels.c1.capacity = .*/a1.channels.c1.capacity = 200000/' > "$WORK/flume/a1.properties"
bash "$I/flume/agent.sh" start a1 "$WORK/flume/a1.properties" "$WORK/flume" 1g >/dev/null
run flume_avro "type = \"flume_avro\"
address = \"127.0.0.1:$fport\""
run flume_avro-w4 "type = \"flume_avro\"
address = \"127.0.0.1:$fport\"
workers = 4"
bash "$I/flume/agent.sh" kill "$WORK/flume" >/dev/null

# OpenTelemetry Collector
oport=$(port)
bash "$I/otelcol/collector.sh" start "$WORK/otel" "$oport" >/dev/null
run otlp_http "type = \"otlp_http\"
url = \"http://127.0.0.1:$oport\""
run otlp_http-w4 "type = \"otlp_http\"
url = \"http://127.0.0.1:$oport\"
workers = 4"
bash "$I/otelcol/collector.sh" stop "$WORK/otel" >/dev/null

# Kafka
kport=$(port)
bash "$I/kafka/broker.sh" start "$WORK/kafka" "$kport" >/dev/null
bash "$I/kafka/broker.sh" create-topic "$WORK/kafka" "$kport" events 3 >/dev/null
run kafka "type = \"kafka\"
brokers = [\"127.0.0.1:$kport\"]
topic = \"events\""
run kafka-w4 "type = \"kafka\"
brokers = [\"127.0.0.1:$kport\"]
topic = \"events\"
workers = 4"
bash "$I/kafka/broker.sh" kill "$WORK/kafka" >/dev/null
