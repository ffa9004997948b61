#!/usr/bin/env bash
# Sluice's mobile record() against Mozilla's Glean SDK (Rust core v71, rkv and
# sqlite storage), in one run, one process per measurement:
#   - record() latency (p50/p99) and durable throughput, 1 and 4 threads, from Rust;
#   - record() latency from C (sluice.h) and from the JVM (Kotlin API through JNI);
#   - peak RSS during the burst, bytes written to disk per event;
#   - release library sizes and idle wake-ups.
# Usage: bash tests/bench/mobile.sh [N] [REPETITIONS]      (defaults 100000, 3)
set -euo pipefail
cd "$(dirname "$0")/../.."
n="${1:-100000}" reps="${2:-3}"
work="$(mktemp -d)"
trap 'kill "${receiver_pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build -q --release -p sluice-tests --bin receiver
cargo build -q --profile mobile -p sluice-ios -p sluice-android
(cd tests/bench/mobile && cargo build -q --release && cargo build -q --release --features glean-sqlite --target-dir target-sqlite)
bench=tests/bench/mobile/target/release/sluice-mobile-bench
bench_sqlite=tests/bench/mobile/target-sqlite/release/sluice-mobile-bench
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
target/release/receiver "127.0.0.1:$port" & receiver_pid=$!
sleep 0.3

results="$work/results.jsonl"
for rep in $(seq "$reps"); do
  for threads in 1 4; do
    for who in sluice glean glean-sqlite; do
      rm -rf "$work/data"
      case "$who" in
        sluice) "$bench" sluice "$threads" "$n" "$work/data" "http://127.0.0.1:$port/" ;;
        glean) "$bench" glean "$threads" "$n" "$work/data" ;;
        glean-sqlite) "$bench_sqlite" glean "$threads" "$n" "$work/data" | sed 's/"sdk":"glean"/"sdk":"glean-sqlite"/' ;;
      esac 2>/dev/null >> "$results"
    done
  done
done

# C: the same events through sluice.h.
gcc -O2 -Iios/include ios/tests/c/record_bench.c target/mobile/libsluice_ios.a -lpthread -ldl -lm -o "$work/record_bench"
for rep in $(seq "$reps"); do
  for threads in 1 4; do
    rm -rf "$work/data"; "$work/record_bench" "$work/data" "$threads" "$n" >> "$results"
  done
done

# JVM: the Kotlin API through JNI (classes compiled by the Kotlin tests' Maven build).
mvn -B -q -f android/kotlin/pom.xml test-compile dependency:build-classpath -Dmdep.outputFile="$work/cp.txt" >/dev/null
cp="android/kotlin/target/classes:android/kotlin/target/test-classes:$(cat "$work/cp.txt")"
for rep in $(seq "$reps"); do
  for threads in 1 4; do
    rm -rf "$work/data"
    java -Djava.library.path=target/mobile -cp "$cp" dev.sluice.RecordBench "$work/data" "$threads" "$n" >> "$results"
  done
done

python3 - "$results" "$n" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
n = int(sys.argv[2])
def med(sdk, threads, key):
    vals = [r[key] for r in rows if r["sdk"] == sdk and r["threads"] == threads and key in r]
    return statistics.median(vals) if vals else None
print(f"N = {n} events, median of the repetitions")
print()
print("| sdk | threads | record p50 ns | record p99 ns | persisted events/s | peak RSS in burst KiB | disk B/event (all) | disk B/event (persist) |")
print("|---|---|---|---|---|---|---|---|")
for threads in (1, 4):
    for sdk in ("sluice", "sluice-c", "sluice-jvm", "glean", "glean-sqlite"):
        p50 = med(sdk, threads, "p50_ns")
        if p50 is None:
            continue
        fmt = lambda v, f="{:,.0f}": "-" if v is None else f.format(v)
        wb, wp, w0 = med(sdk, threads, "write_bytes"), med(sdk, threads, "write_bytes_persisted"), med(sdk, threads, "write_bytes_at_init")
        per_all = None if wb is None else (wb - (w0 or 0)) / n
        per_persist = None if wp is None else (wp - (w0 or 0)) / n
        print(f"| {sdk} | {threads} | {fmt(p50)} | {fmt(med(sdk, threads, 'p99_ns'))} | {fmt(med(sdk, threads, 'persisted_eps'))} "
              f"| {fmt(med(sdk, threads, 'peak_rss_burst_kib'))} | {fmt(per_all, '{:.0f}')} | {fmt(per_persist, '{:.0f}')} |")
print()
for threads in (1, 4):
    # Glean's fastest configuration per measure.
    g = lambda key, best: best(v for v in (med("glean", threads, key), med("glean-sqlite", threads, key)) if v is not None)
    s = lambda key, sdk="sluice": med(sdk, threads, key)
    gp99 = g("p99_ns", min)
    print(f"{threads} thread(s), against Glean's best:")
    for sdk in ("sluice", "sluice-c", "sluice-jvm"):
        if s("p99_ns", sdk) is not None:
            print(f"  record p99 {sdk}: {s('p99_ns', sdk):,.0f} ns vs {gp99:,.0f} ns = {s('p99_ns', sdk) / gp99:.2f}x (bar <= 1)")
    print(f"  persisted throughput: {s('persisted_eps') / g('persisted_eps', max):.1f}x (bar >= 10)")
    print(f"  peak RSS in the burst: 1/{g('peak_rss_burst_kib', min) / s('peak_rss_burst_kib'):.1f} (bar <= 1/10)")
    gw = min((med(x, threads, "write_bytes") - (med(x, threads, "write_bytes_at_init") or 0)) for x in ("glean", "glean-sqlite"))
    sw = s("write_bytes") - (s("write_bytes_at_init") or 0)
    print(f"  disk bytes per event (whole life): {sw / n:.0f} vs {gw / n:.0f} = 1/{gw / sw:.1f} (bar <= 1/3)")
PY

echo
ls -l target/mobile/libsluice_android.so | awk '{printf "host libsluice_android.so (mobile profile, stripped; one-ABI proxy): %d bytes (%.2f MiB)\n", $5, $5/1048576}'
strip -o "$work/a.so" target/mobile/libsluice_android.so && ls -l "$work/a.so" | awk '{printf "  after strip: %d bytes (%.2f MiB)\n", $5, $5/1048576}'

# The peer's size: Glean's own core (glean-core, the crate Glean's Kotlin and
# Swift bindings load through UniFFI) built as a host cdylib with the same
# profile settings as Sluice's `mobile` profile, stripped.
glean_src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/glean-core-71.* 2>/dev/null | sort -V | tail -1)
if [ -n "$glean_src" ]; then
  cp -r "$glean_src" "$work/glean-core"
  release_settings=$(sed -n '/^\[profile.release\]/,/^\[/p' Cargo.toml | grep -E '^(opt-level|lto|codegen-units|strip|debug) *=' || true)
  printf '\n[workspace]\n[profile.release]\npanic = "unwind"\n%s\n' "$release_settings" >> "$work/glean-core/Cargo.toml"
  (cd "$work/glean-core" && cargo rustc -q --release --lib --crate-type cdylib --target-dir "$work/glean-target" 2>/dev/null) \
    && strip -o "$work/glean.so" "$work/glean-target/release/libglean_core.so" \
    && ls -l "$work/glean.so" | awk -v v="$(basename "$glean_src")" '{printf "peer: %s as a host cdylib, same profile, stripped: %d bytes (%.2f MiB)\n", v, $5, $5/1048576}' \
    || echo "peer: glean-core did not build as a cdylib here"
fi

# The static library's contribution to an app: a C program linked with it
# (dead code dropped, stripped) minus the same program without Sluice.
printf 'int main(void) { return 0; }\n' > "$work/empty.c"
gcc -O2 "$work/empty.c" -Wl,--gc-sections -s -lpthread -ldl -lm -o "$work/empty"
gcc -O2 -Iios/include ios/tests/c/record_bench.c target/mobile/libsluice_ios.a -Wl,--gc-sections -s -lpthread -ldl -lm -o "$work/linked"
echo "static library's contribution to a linked, stripped x86_64 program: $(( $(stat -c %s "$work/linked") - $(stat -c %s "$work/empty") )) bytes (bundled SQLite included; iOS links the system SQLite instead)"

# Idle: an open instance with nothing pending must not wake up, its uploader loop included.
cat > "$work/idle.c" <<'C'
#include "sluice.h"
#include "uploader.h"
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
    SluiceHandle *h;
    struct uploader up;
    if (sluice_open(argv[1], "[sinks.up]\ntype = \"http\"\nurl = \"http://127.0.0.1:9/\"\n", &h) != SLUICE_OK) return 1;
    uploader_start(&up, h);
    printf("ready\n"); fflush(stdout);
    sleep(12);
    int closed = sluice_close(h) == SLUICE_OK;
    uploader_join(&up);
    return closed && up.sent + up.failed == 0 ? 0 : 1;
}
C
gcc -O2 -Iios/include -Iios/tests/c "$work/idle.c" ios/tests/c/uploader.c target/mobile/libsluice_ios.a -lpthread -ldl -lm -o "$work/idle"
rm -rf "$work/data"
"$work/idle" "$work/data" > "$work/idle.out" & idle_pid=$!
until grep -q ready "$work/idle.out" 2>/dev/null; do sleep 0.1; done
sleep 1
switches() { cat /proc/"$idle_pid"/task/*/status | awk '/ctxt_switches/ {s += $2} END {print s}'; }
before=$(switches); sleep 10; after=$(switches)
echo "idle, nothing pending: $((after - before)) context switches in 10 s across $(ls /proc/$idle_pid/task | wc -l) threads"
wait "$idle_pid"
