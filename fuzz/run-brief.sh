#!/usr/bin/env bash
# Builds every fuzz target and runs each for N seconds (default 30), one at a time.
# Exits non-zero if any target crashes, leaks, times out or fails to build; the
# reproducer is left in fuzz/artifacts/<target>/.
#
#   bash fuzz/run-brief.sh [SECONDS]
#
# Needs the nightly toolchain and cargo-fuzz; installs cargo-fuzz if it is missing.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-30}"
case "$seconds" in '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;; esac

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

# --dev: an unoptimised build compiles minutes faster, and its overflow checks
# are stricter; the long runs (issue notes) use the default optimised build.
cargo +nightly fuzz build --dev

# Read-only seed folders per target, after the writable corpus.
seeds() {
    case "$1" in
        config) echo ../conf ;;
        toml_reader) echo "seeds/toml_reader ../conf" ;;
        http_decode) echo seeds/http_decode ;;
        intake_decode) echo seeds/intake_decode ;;
        flume_convert) echo ../tests/data/flume ;;
        avro_reply) echo seeds/avro_reply ;;
        zlib_stream) echo seeds/zlib_stream ;;
    esac
}

failed=()
for target in $(cargo +nightly fuzz list); do
    printf '\n=== fuzz %s for %ss (%s)\n' "$target" "$seconds" "$(date +%T)"
    mkdir -p "corpus/$target"
    # shellcheck disable=SC2046 # seeds() prints zero or more folder names
    if ! cargo +nightly fuzz run --dev "$target" "corpus/$target" $(seeds "$target") -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=25 -print_final_stats=1; then
        failed+=("$target")
    fi
done

if ((${#failed[@]})); then
    echo "fuzz: crashed: ${failed[*]} (reproducers in fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz: no crash in $seconds s per target"
