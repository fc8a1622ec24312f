#!/bin/sh
# What `pydeadlock attach --profile` costs the process it samples (100
# samples a second, without stopping it): bench/lock_loop.py (4 threads,
# `with lock: n += 1`) timed plainly and while sampled for its whole
# run, median of RUNS runs, interleaved; and what the sampler itself
# used of a CPU.  Goal (issue 12): the sampled loop at most 1.05x plain.
# Usage: bench/attach_profile.sh [RUNS]  (after scripts/build.sh)
# Environment: COUNT (per thread, default 400000), PYTHONS.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-7}
count=${COUNT:-400000}
pythons=${PYTHONS:-"/root/.pyenv/versions/3.11.7/bin/python /usr/bin/python3.11"}
pd="$top/build/pydeadlock"
[ -x "$pd" ] || { echo "needs build/pydeadlock: run scripts/build.sh" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
trap 'exit 1' HUP INT TERM PIPE
. "$top/bench/lib.sh"	# median
loop_ns() { sed -n 's/^ns \([0-9]*\) n .*/\1/p' "$1"; }

echo "attach_profile: $(date -u +%Y-%m-%d), $runs runs each, median; $count iterations a thread, 4 threads"
for py in $pythons; do
	[ -x "$py" ] || { echo "  $py: not found, skipped"; continue; }
	: > "$out/plain"; : > "$out/sampled"; : > "$out/cpu"; : > "$out/samples"
	for i in $(seq 1 "$runs"); do
		"$py" "$top/bench/lock_loop.py" "$count" > "$out/o"
		loop_ns "$out/o" >> "$out/plain"
		"$py" "$top/bench/lock_loop.py" "$count" > "$out/o" &
		target=$!
		# the sampler's own CPU time, from its rusage
		/usr/bin/time -f '%U %S' -o "$out/t" "$pd" attach --profile=60 --json "$target" > "$out/p.json" 2> /dev/null &
		sampler=$!
		wait "$target"
		wait "$sampler" || true
		loop_ns "$out/o" >> "$out/sampled"
		awk '{ print $1 + $2 }' "$out/t" >> "$out/cpu"
		sed -n 's/^{[^[]*"samples":\([0-9]*\),.*/\1/p' "$out/p.json" | head -n1 >> "$out/samples"
	done
	p=$(median < "$out/plain"); s=$(median < "$out/sampled")
	echo "  $("$py" -c 'import sys; print("Python", sys.version.split()[0])') ($py)"
	awk -v p="$p" -v s="$s" -v c="$(median < "$out/cpu")" -v n="$(median < "$out/samples")" 'BEGIN {
	r = s / p
	printf "    plain %.1f ms   sampled %.1f ms (%.0f samples)   sampled/plain = %.3f  (goal <= 1.05: %s)\n", p / 1e6, s / 1e6, n, r, r <= 1.05 ? "met" : "MISSED"
	printf "    the sampler used %.2f s of CPU over %.2f s: %.0f%% of one CPU\n", c, s / 1e9, 100 * c / (s / 1e9)
}'
done
