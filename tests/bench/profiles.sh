#!/usr/bin/env bash
# Release profile trade-off: binary size and channel throughput for
# opt-level 3, "s" and "z" (all with fat LTO, codegen-units = 1, panic = abort, strip).
#
# usage: tests/bench/profiles.sh [EVENTS]   (default 500000)
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-500000}
for level in 3 s z; do
  export CARGO_PROFILE_RELEASE_OPT_LEVEL=$level CARGO_PROFILE_BENCH_OPT_LEVEL=$level
  cargo build --release -q -p sluice-cli
  size=$(stat -c %s target/release/sluice)
  bench=$(cargo bench -q -p sluice --bench channel -- "$N" 2>/dev/null | grep '^sluice')
  printf 'opt-level %-2s  binary %9d bytes   %s\n' "$level" "$size" "$bench"
done
