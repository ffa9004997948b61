#!/usr/bin/env bash
# Builds promlint-sluice (main.go: Prometheus's own text parser and promlint,
# the checks of `promtool check metrics`) from Go modules into the interop
# cache. Idempotent; prints the binary's path on stdout.
set -euo pipefail
CACHE="${SLUICE_INTEROP_CACHE:-$HOME/.cache/sluice-interop}"
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock-promlint"
flock 9
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$CACHE/promlint"
BIN="$OUT/promlint-sluice"
STAMP=$(cat "$HERE/main.go" "$HERE/go.mod" | sha256sum | cut -c1-16)
if [[ -f "$OUT/.built-$STAMP" && -x "$BIN" ]]; then
  echo "$BIN"
  exit 0
fi
command -v go >/dev/null || { echo "fetch.sh: go not found" >&2; exit 1; }
mkdir -p "$OUT/src"
cp "$HERE/main.go" "$HERE/go.mod" "$OUT/src/"
export GOPATH="$CACHE/go" GOCACHE="$CACHE/go-build" GOFLAGS="-modcacherw -buildvcs=false" CGO_ENABLED=0
(cd "$OUT/src" && go mod tidy >&2 && nice -n 10 go build -ldflags "-s -w" -o "$BIN.tmp" . >&2)
mv "$BIN.tmp" "$BIN"
rm -f "$OUT"/.built-*
touch "$OUT/.built-$STAMP"
echo "$BIN"
