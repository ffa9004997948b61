#!/usr/bin/env bash
# A Python venv with the OpenTelemetry SDK and its OTLP/HTTP exporter (from
# PyPI, versions in requirements.txt) in the interop cache. Idempotent;
# prints the venv's python on stdout.
set -euo pipefail
CACHE="${SLUICE_INTEROP_CACHE:-$HOME/.cache/sluice-interop}"
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock-otelpy"
flock 9
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$CACHE/otelpy"
STAMP=$(sha256sum "$HERE/requirements.txt" | cut -c1-16)
if [[ -f "$OUT/.built-$STAMP" && -x "$OUT/venv/bin/python" ]]; then
  echo "$OUT/venv/bin/python"
  exit 0
fi
rm -rf "$OUT"
mkdir -p "$OUT"
python3 -m venv "$OUT/venv"
"$OUT/venv/bin/pip" install -q --disable-pip-version-check -r "$HERE/requirements.txt" >&2
touch "$OUT/.built-$STAMP"
echo "$OUT/venv/bin/python"
