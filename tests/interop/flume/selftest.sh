#!/usr/bin/env bash
# ok/ko always succeed, so `test && ok || ko` is a plain if/else here.
# shellcheck disable=SC2015
# Self-test of the Flume harness against real Flume agents on 127.0.0.1:
#   1. http-to-file: POST JSON with curl, decode the file_roll output.
#   2. avro-to-file (compression none and deflate): Flume's AvroCLIClient with
#      a header file, decode the output; a mismatched client is refused.
#   3. taildir-to-avro -> avro-to-null with LINES lines of 200 bytes.
# Prints "N passed, N failed" last; exit 1 if anything failed.
# usage: tests/interop/flume/selftest.sh [LINES]   (default 100000)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
LINES=${1:-100000}
LIB=$("$HERE/fetch.sh")
CP="$LIB/*"
WORK=$(mktemp -d /tmp/sluice-flume-selftest.XXXXXX)
cleanup() {
  local pidfile
  while IFS= read -r pidfile; do
    "$HERE/agent.sh" kill "$(dirname "$pidfile")" 2>/dev/null || true
  done < <(find "$WORK" -name flume.pid)
  rm -rf "$WORK"
}
trap cleanup EXIT
pass=0 fail=0
ok() { echo "ok   - $*"; pass=$((pass + 1)); }
ko() { echo "FAIL - $*"; fail=$((fail + 1)); }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
metric() { # port group key
  curl -s "http://127.0.0.1:$1/metrics" | python3 -c "import json,sys; print(json.load(sys.stdin).get('$2',{}).get('$3','0'))" 2>/dev/null || echo 0
}
# Compile the dumper once (single-file source launch recompiles every time).
mkdir -p "$WORK/classes"
javac -nowarn -d "$WORK/classes" -cp "$CP" "$HERE/AvroDump.java"
dump() { java -cp "$WORK/classes:$CP" AvroDump "$@"; }

# 1. HTTP source -> file_roll (avro_event)
W=$WORK/http; mkdir -p "$W/out"; P=$(port)
sed -e "s/@PORT@/$P/" -e "s#@DIR@#$W/out#" -e "s#@STATE@#$W/state#" "$HERE/http-to-file.properties" >"$W/a1.properties"
"$HERE/agent.sh" start a1 "$W/a1.properties" "$W"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  -d '[{"headers":{"a":"b"},"body":"hi"}]' "http://127.0.0.1:$P/")
[[ $code == 200 ]] && ok "http POST -> 200" || ko "http POST -> $code"
for _ in $(seq 1 50); do dump "$W"/out/* | grep -q '"body"' && break; sleep 0.2; done
"$HERE/agent.sh" stop "$W"
f=$(ls "$W"/out/*)
[[ $(head -c 4 "$f" | od -An -c | tr -d ' ') == 'Obj001' ]] && ok "http: Avro container magic" || ko "http: no Obj\\x01 magic in $f"
dump "$f" | grep -qx '{"headers":{"a":"b"},"body":"aGk="}' && ok "http: event decoded" || { ko "http: event not found"; dump "$f"; }

# 2. Avro source -> file_roll, compression none / deflate, AvroCLIClient
for C in none deflate; do
  W=$WORK/avro-$C; mkdir -p "$W/out"; P=$(port)
  sed -e "s/@PORT@/$P/" -e "s/@COMPRESSION@/$C/" -e "s#@DIR@#$W/out#" -e "s#@STATE@#$W/state#" "$HERE/avro-to-file.properties" >"$W/a1.properties"
  "$HERE/agent.sh" start a1 "$W/a1.properties" "$W"
  printf 'hello world\nsecond line \303\274\n\nfourth\n' >"$W/in.txt"
  printf 'host=web1\nk=v with space\n' >"$W/headers.txt"
  printf 'client.type=default\nhosts=h1\nhosts.h1=127.0.0.1:%s\ncompression-type=%s\nbatch-size=1000\n' "$P" "$C" >"$W/rpc.properties"
  # AvroCLIClient exits 0 even when delivery fails: check its log.
  java -cp "$CP" org.apache.flume.client.avro.AvroCLIClient -P "$W/rpc.properties" \
    -F "$W/in.txt" -R "$W/headers.txt" >"$W/client.log" 2>&1 || true
  grep -q 'Unable to deliver' "$W/client.log" && ko "avro/$C: client failed" || ok "avro/$C: client sent"
  if [[ $C == deflate ]]; then
    java -cp "$CP" org.apache.flume.client.avro.AvroCLIClient -H 127.0.0.1 -p "$P" \
      -F "$W/in.txt" >"$W/neg.log" 2>&1 || true
    grep -q 'Unable to deliver' "$W/neg.log" && ok "avro/deflate: uncompressed client refused" \
      || ko "avro/deflate: uncompressed client accepted"
  fi
  for _ in $(seq 1 50); do [[ $(dump "$W"/out/* --quiet | tail -1) == 'records: 4' ]] && break; sleep 0.2; done
  "$HERE/agent.sh" stop "$W"
  got=$(dump "$W"/out/* | grep '^{' | tr '\n' '|')
  want='{"headers":{"host":"web1","k":"v with space"},"body":"aGVsbG8gd29ybGQ="}|{"headers":{"host":"web1","k":"v with space"},"body":"c2Vjb25kIGxpbmUgw7w="}|{"headers":{"host":"web1","k":"v with space"},"body":""}|{"headers":{"host":"web1","k":"v with space"},"body":"Zm91cnRo"}|'
  [[ $got == "$want" ]] && ok "avro/$C: 4 events byte-exact" || ko "avro/$C: got $got"
done

# 3. taildir -> file channel -> avro sink  ==>  avro source -> memory -> null
W=$WORK/pair; mkdir -p "$W/d" "$W/c"
python3 - "$W/input.log" "$LINES" <<'PY'
import sys
n = int(sys.argv[2])
with open(sys.argv[1], "w") as f:
    for i in range(n):
        f.write((f"{i:09d} " + "x" * 200)[:199] + "\n")
PY
P=$(port) MC=$(port) MD=$(port)
sed -e "s/@PORT@/$P/" -e "s/@COMPRESSION@/none/" "$HERE/avro-to-null.properties" >"$W/c/a1.properties"
sed -e "s/@PORT@/$P/" -e "s/@COMPRESSION@/none/" -e "s#@DIR@#$W/d#" -e "s#@INPUT@#$W/input.log#" \
  "$HERE/taildir-to-avro.properties" >"$W/d/a1.properties"
FLUME_MONITORING_PORT=$MC "$HERE/agent.sh" start a1 "$W/c/a1.properties" "$W/c"
t0=$SECONDS
FLUME_MONITORING_PORT=$MD "$HERE/agent.sh" start a1 "$W/d/a1.properties" "$W/d"
deadline=$((SECONDS + 300)) got=0
while ((SECONDS < deadline)); do
  got=$(metric "$MC" CHANNEL.c1 EventTakeSuccessCount)
  ((got >= LINES)) && break
  sleep 0.25
done
((got == LINES)) && ok "taildir->avro->null: $got/$LINES events in $((SECONDS - t0)) s (incl. startup)" \
  || ko "taildir->avro->null: $got/$LINES events"
rss_d=$("$HERE/agent.sh" rss "$W/d") rss_c=$("$HERE/agent.sh" rss "$W/c")
echo "#    peak RSS (VmHWM): taildir agent $((rss_d / 1024)) MiB, null agent $((rss_c / 1024)) MiB"
"$HERE/agent.sh" stop "$W/d"
"$HERE/agent.sh" stop "$W/c"

echo "$pass passed, $fail failed"
((fail == 0))
