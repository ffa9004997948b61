#!/usr/bin/env bash
# syslog over UDP -> SQLite channel: messages/s with no loss at the socket.
#
# udpgen sends COUNT RFC 5424 messages (~110 bytes) at RATE/s to the agent's
# syslog UDP source (the upstream is down, so nothing drains); the agent must
# accept all of them. Reported: sent rate, accepted, kernel drops (from
# /proc/net/udp, as the source counts them), agent CPU seconds. The peer in the
# same run is a bare UDP reader (python, recvfrom in a loop, no parsing, no
# storage) at the same rate: what a do-nothing receiver manages here.
#
# usage: tests/bench/syslog.sh [COUNT] [RATE]     (defaults 1000000 250000)
set -euo pipefail
cd "$(dirname "$0")/../.."
COUNT=${1:-1000000}
RATE=${2:-250000}
cargo build --release -q -p sluice-cli -p sluice-tests --bins
BIN=$PWD/target/release
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
metric() { curl -s "http://127.0.0.1:$1/metrics.json" | python3 -c "import json,sys; print(json.load(sys.stdin)['$2']['$3'])" 2>/dev/null || echo 0; }

SP=$(port); MP=$(port)
cat > "$WORK/agent.toml" <<TOML
[agent]
data_dir = "$WORK/data"
metrics_listen = "127.0.0.1:$MP"
[channels.main]
type = "sqlite"
max_bytes = "4GiB"
max_events = 100000000
[sources.syslog]
type = "syslog"
channels = ["main"]
protocol = "udp"
listen = "127.0.0.1:$SP"
receive_buffer = "4MiB"
batch_size = 2000
[sinks.down]
type = "http"
channel = "main"
url = "http://127.0.0.1:9/"
retry = { initial = "1h", max = "1h" }
TOML
"$BIN/sluice" run -c "$WORK/agent.toml" 2>"$WORK/agent.log" & PID=$!
until curl -s "http://127.0.0.1:$MP/metrics.json" >/dev/null; do sleep 0.05; done
sent=$("$BIN/udpgen" "127.0.0.1:$SP" "$COUNT" "$RATE" 2)
last=-1
while :; do
  now=$(metric "$MP" SOURCE.syslog EventAcceptedCount)
  [ "$now" = "$last" ] && break
  last=$now; sleep 0.5
done
drops=$(metric "$MP" SOURCE.syslog KernelDroppedCount)
cpu=$(awk '{print ($14+$15)/100}' /proc/$PID/stat)
rss=$(awk '/VmHWM/ {print $2}' /proc/$PID/status)
kill $PID; wait $PID 2>/dev/null || true

# Peer: a bare reader at the same rate.
PP=$(port)
python3 - "$PP" "$COUNT" > "$WORK/peer" <<'PY' & READER=$!
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.settimeout(2.0)
n = 0
try:
    while True:
        s.recv(65536); n += 1
except socket.timeout:
    pass
print(n)
PY
sleep 0.3
peer_sent=$("$BIN/udpgen" "127.0.0.1:$PP" "$COUNT" "$RATE" 2)
wait $READER
peer=$(cat "$WORK/peer")
python3 - "$sent" "$now" "$drops" "$cpu" "$rss" "$peer_sent" "$peer" "$COUNT" <<'PY'
import json, sys
sent, got, drops, cpu, rss = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
psent, peer, count = json.loads(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8])
print(f"sluice syslog UDP: sent {sent['sent']:,} at {sent['per_second']:,.0f}/s; accepted {got:,} ({count-got:,} lost), kernel drops {drops:,}; CPU {cpu:.2f} s; peak RSS {rss/1024:.1f} MiB")
print(f"peer (bare python reader): sent at {psent['per_second']:,.0f}/s; read {peer:,} ({count-peer:,} lost)")
PY
