#!/usr/bin/env bash
# Checks the harness itself: start a broker, produce keyed records with
# headers, consume them back, kill -9, restart, consume again, stop.
#   tests/interop/kafka/selftest.sh [PORT]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
B="$HERE/broker.sh"
PORT=${1:-19092}
W=$(mktemp -d)
trap '"$B" kill "$W" >/dev/null 2>&1 || true; rm -rf "$W"' EXIT

"$B" start "$W" "$PORT"
"$B" create-topic "$W" "$PORT" selftest
printf 'h1:v1,trace:abc\tk1\tvalue one\nh2:v2\tk2\t{"a":1}\n' | "$B" produce "$W" "$PORT" selftest
printf 'k3\tno headers\n' | "$B" produce "$W" "$PORT" selftest --property parse.headers=false
expected=$'h1:v1,trace:abc\tk1\tvalue one\nh2:v2\tk2\t{"a":1}\nNO_HEADERS\tk3\tno headers'
got=$("$B" consume "$W" "$PORT" selftest 3)
[[ "$got" == "$expected" ]] || { echo "selftest: unexpected records:"; echo "$got"; exit 1; } >&2
"$B" kill "$W"
"$B" restart "$W"
got=$("$B" consume "$W" "$PORT" selftest 3)
[[ "$got" == "$expected" ]] || { echo "selftest: after kill -9 + restart:"; echo "$got"; exit 1; } >&2
echo "selftest: broker RSS $(( $(ps -o rss= -p "$(cat "$W/broker.pid")") / 1024 )) MiB" >&2
"$B" stop "$W"
echo "kafka selftest: 1 passed, 0 failed"
