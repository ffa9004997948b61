#!/usr/bin/env bash
# Builds an OpenTelemetry Collector (otlp receiver, file + debug exporters)
# from Go modules into the interop cache. Idempotent: a marker file makes a
# second run return at once. Prints the binary's path on stdout.
#
#   tests/interop/otelcol/fetch.sh            -> $CACHE/otelcol/bin/otelcol-sluice
#
# Needs: go (1.24+), the Go module proxy. Uses its own GOPATH/GOCACHE under
# the cache, so it neither reads nor pollutes ~/go.
set -euo pipefail
# One fetch at a time: CI prefetches in the background while a test may ask too.
mkdir -p "${SLUICE_INTEROP_CACHE:-$HOME/.cache/sluice-interop}"
exec 9>"${SLUICE_INTEROP_CACHE:-$HOME/.cache/sluice-interop}/.lock-otelcol"
flock 9

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${SLUICE_INTEROP_CACHE:-$HOME/.cache/sluice-interop}"
BUILDER_VERSION=v0.161.0
OUT="$CACHE/otelcol"
BIN="$OUT/bin/otelcol-sluice"
# The marker names the builder version and a hash of the manifest, so editing
# builder-config.yaml triggers a rebuild.
STAMP="$BUILDER_VERSION-$(sha256sum "$HERE/builder-config.yaml" | cut -c1-16)"
MARKER="$OUT/.built-$STAMP"

if [[ -f "$MARKER" && -x "$BIN" ]]; then
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null || { echo "fetch.sh: go not found" >&2; exit 1; }
mkdir -p "$OUT/bin" "$OUT/src"

export GOPATH="$CACHE/go"
export GOCACHE="$CACHE/go-build"
export GOBIN="$OUT/bin"
export GOFLAGS="-modcacherw -buildvcs=false"
export CGO_ENABLED=0

start=$(date +%s)
if [[ ! -x "$OUT/bin/builder" ]] || ! "$OUT/bin/builder" version 2>/dev/null | grep -q "${BUILDER_VERSION#v}"; then
  echo "fetch.sh: installing ocb $BUILDER_VERSION" >&2
  nice -n 10 go install "go.opentelemetry.io/collector/cmd/builder@$BUILDER_VERSION" >&2
fi

sed "s|@OUTPUT_PATH@|$OUT/src|" "$HERE/builder-config.yaml" > "$OUT/builder-config.yaml"
echo "fetch.sh: building collector (this takes a few minutes the first time)" >&2
# ocb runs `go mod tidy` and `go build` in output_path; -s -w keeps the binary smaller.
nice -n 10 "$OUT/bin/builder" --config "$OUT/builder-config.yaml" --ldflags "-s -w" >&2
cp "$OUT/src/otelcol-sluice" "$BIN.tmp"
mv "$BIN.tmp" "$BIN"
"$BIN" --version >&2
rm -f "$OUT"/.built-*
touch "$MARKER"
echo "fetch.sh: built in $(( $(date +%s) - start ))s, $(du -h "$BIN" | cut -f1)" >&2
echo "$BIN"
