#!/bin/sh
# What `pydeadlock run` costs a program as a whole, start-up and end
# included (issue 13): each command runs plainly and under run, turn about,
# RUNS times; the medians and their difference are printed.
#  1. /bin/true: run's own start-up and how soon it notices the end;
#  2. python -c pass: the same with an interpreter (the shim's start);
#  3. a short lock-heavy Python program (bench/lock_loop.py, 4 threads,
#     COUNT iterations each, about 50 ms plainly): the whole process.
# Usage: bench/run_cost.sh [RUNS]  (after scripts/build.sh)
# Environment: PY (default pyenv's 3.11.7), COUNT (default 20000).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-21}
pd="$top/build/pydeadlock"
py=${PY:-/root/.pyenv/versions/3.11.7/bin/python}
count=${COUNT:-20000}
[ -x "$pd" ] || { echo "needs build/pydeadlock: run scripts/build.sh" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
. "$top/bench/lib.sh"

echo "run_cost: $(date -u +%Y-%m-%d), $runs runs each, plain and under run in turn, median wall time"
measure() {	# LABEL CMD...
	label=$1
	shift
	: > "$out/plain"; : > "$out/run"
	for _ in $(seq 1 "$runs"); do
		ms "$@" >> "$out/plain"
		ms "$pd" run -- "$@" >> "$out/run"
	done
	awk -v l="$label" -v p="$(median < "$out/plain")" -v r="$(median < "$out/run")" 'BEGIN {
	printf "  %-34s plain %8.2f ms   run %8.2f ms   +%.2f ms   run/plain = %.2f\n", l, p / 1000, r / 1000, (r - p) / 1000, r / p
}'
}
measure "/bin/true" /bin/true
measure "python -c pass" "$py" -c pass
measure "lock_loop.py $count x 4 threads" "$py" "$top/bench/lock_loop.py" "$count"
