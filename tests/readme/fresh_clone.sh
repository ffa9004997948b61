#!/usr/bin/env bash
# A new user's first minutes, from the README itself: clone the repository
# into an empty directory, run the README's first command there, type a line
# on stdin and POST the README's curl example; both must come out on stdout,
# and the data must be kept where the README says.
#
#   tests/readme/fresh_clone.sh [REPO]   (default: this checkout)
#
# CARGO_TARGET_DIR is shared with the checkout's so dependencies are not
# compiled twice; the workspace's own crates are built again from the clone.
set -euo pipefail
repo=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
readme="$repo/README.md"
work=$(mktemp -d)
agent=
cleanup() {
  [[ -n $agent ]] && kill "$agent" 2>/dev/null || true
  exec 3>&- 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
die() { echo "fresh_clone.sh: $*" >&2; exit 1; }

# The first ```sh block: its first line runs the agent, its second the tests.
run_cmd=$(awk '/^```sh/ { inside = 1; next } inside && /^```/ { exit } inside { print; exit }' "$readme" | sed 's/[[:space:]]*#.*$//')
curl_cmd=$(grep -m1 '^curl ' "$readme")
[[ $run_cmd == cargo\ run* ]] || die "the README's first command is not a cargo run: $run_cmd"
[[ -n $curl_cmd ]] || die "no curl example in the README"
echo "README first command: $run_cmd"
echo "README curl example:  $curl_cmd"

git clone -q "$repo" "$work/sluice"
cd "$work/sluice"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
cargo build -q -p sluice-cli 2>&1 | tail -n 20

mkfifo "$work/stdin"
# shellcheck disable=SC2086
bash -c "exec $run_cmd" <"$work/stdin" >"$work/out" 2>"$work/err" &
agent=$!
exec 3>"$work/stdin"
echo "hello from stdin" >&3

for _ in $(seq 1 300); do
  grep -q "listening on http://127.0.0.1:5140" "$work/err" 2>/dev/null && break
  kill -0 "$agent" 2>/dev/null || { cat "$work/err" >&2; die "the agent exited"; }
  sleep 0.2
done
answer=$(bash -c "$curl_cmd -s -w ' %{http_code}'")
[[ $answer == *" 200" ]] || { cat "$work/err" >&2; die "curl got: $answer"; }

for _ in $(seq 1 100); do
  grep -q '^hello$' "$work/out" && grep -q '^hello from stdin$' "$work/out" && break
  sleep 0.1
done
grep -q '^hello from stdin$' "$work/out" || { cat "$work/out" "$work/err" >&2; die "the stdin line did not come out"; }
grep -q '^hello$' "$work/out" || { cat "$work/out" "$work/err" >&2; die "the curl event did not come out"; }
grep -q "data in $work/sluice/sluice-data" "$work/err" || { cat "$work/err" >&2; die "startup did not say where the data is kept"; }
grep -q "reading standard input" "$work/err" || die "startup did not say it reads stdin"
[[ -f sluice-data/sluice.db ]] || die "no store in ./sluice-data"
kill -TERM "$agent"
wait "$agent" || true
agent=
grep -q "stopped cleanly" "$work/err" || { cat "$work/err" >&2; die "no clean stop on SIGTERM"; }
echo "fresh clone: the README's commands work as written"
