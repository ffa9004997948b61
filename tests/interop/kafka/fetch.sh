#!/usr/bin/env bash
# Downloads the Apache Kafka broker (org.apache.kafka:kafka_2.13), kafka-tools
# (console producer/consumer, topic tool) and a log4j2 backend, with their
# runtime dependencies, from Maven Central into the interop cache.
# Idempotent: a marker file makes a second run return at once.
# Prints the lib directory (a classpath of jars: "$LIB/*") on stdout.
#
# Needs: java 17+, mvn.
set -euo pipefail
# One fetch at a time: CI prefetches in the background while a test may ask too.
mkdir -p "${SLUICE_INTEROP_CACHE:-$HOME/.cache/sluice-interop}"
exec 9>"${SLUICE_INTEROP_CACHE:-$HOME/.cache/sluice-interop}/.lock-kafka"
flock 9

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${SLUICE_INTEROP_CACHE:-$HOME/.cache/sluice-interop}"
OUT="$CACHE/kafka"
LIB="$OUT/lib"
# The marker carries a hash of pom.xml: editing the pom (e.g. the Kafka
# version) triggers a fresh copy.
STAMP="$(sha256sum "$HERE/pom.xml" | cut -c1-16)"
MARKER="$OUT/.fetched-$STAMP"

if [[ -f "$MARKER" && -d "$LIB" ]]; then
  echo "$LIB"
  exit 0
fi

for tool in java mvn; do
  command -v "$tool" >/dev/null || { echo "fetch.sh: $tool not found" >&2; exit 1; }
done
mkdir -p "$OUT"
start=$(date +%s)
cp "$HERE/pom.xml" "$OUT/pom.xml"
rm -rf "$LIB.tmp"
echo "fetch.sh: downloading Kafka jars with mvn (first time: about a minute)" >&2
( cd "$OUT" && nice -n 10 mvn -B -q -Dstyle.color=never -f pom.xml dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$LIB.tmp" >&2 )
rm -rf "$LIB"
mv "$LIB.tmp" "$LIB"
rm -f "$OUT"/.fetched-*
touch "$MARKER"
echo "fetch.sh: $(ls "$LIB" | wc -l) jars, $(du -sh "$LIB" | cut -f1), in $(( $(date +%s) - start ))s" >&2
echo "$LIB"
