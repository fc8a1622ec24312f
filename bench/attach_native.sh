#!/bin/sh
# Attach + full report of a 100-thread deadlocked native process, side by
# side with eu-stack and gdb on the same process, median of RUNS runs each,
# interleaved so that machine noise hits all three alike.  Also the time
# the target is stopped (pydeadlock --stats).
# Usage: bench/attach_native.sh [RUNS]  (after scripts/build.sh)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-15}
bin="$top/build"
command -v eu-stack > /dev/null || { echo "needs eu-stack (elfutils)" >&2; exit 1; }
command -v gdb > /dev/null || { echo "needs gdb" >&2; exit 1; }

out=$(mktemp -d)
trap 'kill $target 2>/dev/null; rm -rf "$out"' EXIT
"$bin/tests/progs/ring" 99 > "$out/ring.out" &	# 99 ring threads + main
target=$!
until grep -q ready "$out/ring.out"; do sleep 0.05; done
sleep 0.5

. "$top/bench/lib.sh"

: > "$out/pd"; : > "$out/eu"; : > "$out/gdb"; : > "$out/stats"
for i in $(seq 1 "$runs"); do
	ms "$bin/pydeadlock" attach --stats "$target" >> "$out/pd"
	ms eu-stack -p "$target" >> "$out/eu"
	ms gdb -batch -nx -p "$target" -ex 'thread apply all bt' >> "$out/gdb"
done
threads=$(ls /proc/$target/task | wc -l)
pd=$(median < "$out/pd")
eu=$(median < "$out/eu")
gdb=$(median < "$out/gdb")
stopped=$(sed -n 's/.*target stopped \([0-9.]*\) ms.*/\1/p' "$out/stats" | median)
stopped_max=$(sed -n 's/.*target stopped \([0-9.]*\) ms.*/\1/p' "$out/stats" | sort -n | tail -n1)
"$bin/pydeadlock" attach "$target" > "$out/report" || true
echo "attach_native: $(date -u +%Y-%m-%d), $threads threads, $runs runs each, median wall time"
awk -v pd="$pd" -v eu="$eu" -v gdb="$gdb" -v st="$stopped" -v stmax="$stopped_max" 'BEGIN {
	printf "  pydeadlock attach     %8.1f ms   (target stopped: median %.3f ms, max %.3f ms)\n", pd / 1000, st, stmax
	printf "  eu-stack -p           %8.1f ms   pydeadlock/eu-stack = %.2f\n", eu / 1000, pd / eu
	printf "  gdb thread apply all  %8.1f ms   pydeadlock/gdb      = %.3f\n", gdb / 1000, pd / gdb
}'
echo "  pydeadlock verdict: $(head -n1 "$out/report")"
echo "  report lines: pydeadlock $(wc -l < "$out/report"), with file:line frames $(grep -c ' at .*:[0-9]' "$out/report")"
