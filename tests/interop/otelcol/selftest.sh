#!/usr/bin/env bash
# Checks the harness itself: start the collector, POST an OTLP/JSON logs
# request plain and gzip'd, find both in logs.json, check error answers, stop.
#   tests/interop/otelcol/selftest.sh [PORT]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
S="$HERE/collector.sh"
PORT=${1:-14318}
URL="http://127.0.0.1:$PORT/v1/logs"
W=$(mktemp -d)
trap '"$S" stop "$W" >/dev/null 2>&1 || true; rm -rf "$W"' EXIT
fail() { echo "otelcol selftest: $*" >&2; exit 1; }

req() {
  printf '{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"sluice"}}]},"scopeLogs":[{"scope":{"name":"selftest"},"logRecords":[{"timeUnixNano":"1700000000000000000","severityNumber":9,"body":{"stringValue":"%s"},"attributes":[{"key":"k","value":{"stringValue":"v"}}]}]}]}]}' "$1"
}

"$S" start "$W" "$PORT"
resp=$(req "hello plain" | curl -sS --fail-with-body -H 'Content-Type: application/json' --data-binary @- "$URL")
[[ "$resp" == '{"partialSuccess":{}}' ]] || fail "plain: unexpected response $resp"
resp=$(req "hello gzip" | gzip -c | curl -sS --fail-with-body -H 'Content-Type: application/json' \
  -H 'Content-Encoding: gzip' --data-binary @- "$URL")
[[ "$resp" == '{"partialSuccess":{}}' ]] || fail "gzip: unexpected response $resp"
code=$(curl -sS -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary '{"resourceLogs":[' "$URL")
[[ "$code" == 400 ]] || fail "invalid JSON: expected 400, got $code"

for _ in $(seq 1 100); do
  [[ -f "$W/logs.json" ]] && [[ $(grep -c '"body":{"stringValue":"hello ' "$W/logs.json") -ge 2 ]] && break
  sleep 0.05
done
grep -q '"logRecords":\[{"timeUnixNano":"1700000000000000000","severityNumber":9,"body":{"stringValue":"hello plain"},"attributes":\[{"key":"k","value":{"stringValue":"v"}}\]}\]' "$W/logs.json" \
  || fail "plain record missing from logs.json: $(cat "$W/logs.json")"
grep -q '"stringValue":"hello gzip"' "$W/logs.json" || fail "gzip record missing from logs.json"
[[ $(wc -l < "$W/logs.json") -eq 2 ]] || fail "expected 2 lines in logs.json"
"$S" stop "$W"
echo "otelcol selftest: 1 passed, 0 failed"
