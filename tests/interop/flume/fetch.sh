#!/usr/bin/env bash
# Fetch Apache Flume (flume-ng-node + taildir source + file channel + log4j2)
# and all its runtime dependencies from Maven Central into
#   ${SLUICE_INTEROP_CACHE:-$HOME/.cache/sluice-interop}/flume/lib
# and print that directory. Idempotent: a marker file (keyed on the version and
# on pom.xml's content) makes a second run return at once.
#
# env: FLUME_VERSION   try this version first (default 1.11.0; falls back to
#                      1.10.1, 1.9.0 if it does not resolve)
#      SLUICE_INTEROP_CACHE   cache root (default ~/.cache/sluice-interop)
#      MVN             maven command (default mvn)
# usage: tests/interop/flume/fetch.sh [--force]
set -euo pipefail
# One fetch at a time: CI prefetches in the background while a test may ask too.
mkdir -p "${SLUICE_INTEROP_CACHE:-$HOME/.cache/sluice-interop}"
exec 9>"${SLUICE_INTEROP_CACHE:-$HOME/.cache/sluice-interop}/.lock-flume"
flock 9
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${SLUICE_INTEROP_CACHE:-$HOME/.cache/sluice-interop}/flume
LIB=$CACHE/lib
MARKER=$CACHE/.fetched
MVN=${MVN:-mvn}
WANT=${FLUME_VERSION:-1.11.0}

pom_sum=$(cksum <"$HERE/pom.xml" | cut -d' ' -f1)
if [[ ${1:-} != --force && -f $MARKER ]] && grep -qx "pom=$pom_sum want=$WANT" "$MARKER" \
   && compgen -G "$LIB/flume-ng-node-*.jar" >/dev/null; then
  echo "$LIB"
  exit 0
fi

command -v "$MVN" >/dev/null || { echo "fetch.sh: maven ($MVN) not found" >&2; exit 1; }
mkdir -p "$CACHE"
tmp=$(mktemp -d "$CACHE/.lib.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

got=
for v in "$WANT" 1.11.0 1.10.1 1.9.0; do
  echo "fetch.sh: resolving org.apache.flume:flume-ng-node:$v ..." >&2
  rm -rf "${tmp:?}/lib"
  if "$MVN" -B -q -f "$HERE/pom.xml" -Dflume.version="$v" \
       org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
       -DincludeScope=runtime -DoutputDirectory="$tmp/lib" >"$tmp/mvn.log" 2>&1; then
    got=$v
    break
  fi
  tail -n 20 "$tmp/mvn.log" >&2
done
[[ -n $got ]] || { echo "fetch.sh: no Flume version resolved" >&2; exit 1; }

# Safety net: drop heavy stacks should a future version pull them in.
rm -f "$tmp"/lib/hadoop-*.jar "$tmp"/lib/hbase-*.jar "$tmp"/lib/hive-*.jar "$tmp"/lib/kafka*.jar

rm -rf "$LIB"
mv "$tmp/lib" "$LIB"
printf 'pom=%s want=%s\nversion=%s\n' "$pom_sum" "$WANT" "$got" >"$MARKER"
# shellcheck disable=SC2012
echo "fetch.sh: Flume $got, $(ls "$LIB" | wc -l) jars, $(du -sh "$LIB" | cut -f1)" >&2
echo "$LIB"
