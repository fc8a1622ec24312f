#!/bin/sh
# Serial execution's cost and exploration's reach, medians of RUNS runs,
# variants interleaved so that machine noise hits them alike:
#  1. bench/lock_loop.py (4 threads, `with lock: n += 1`) and
#     bench/queue_pc.py (2 producers, 2 consumers, one bounded Queue):
#     plain, under `run --serial --record`, and `replay` of that record,
#     whole-process wall time;
#  2. explore on an AB/BA with no barrier (tests/progs/abba_race.c and
#     tests/serial/abba_window.py): runs until the deadlock, for SEEDS
#     seeds, beside PLAIN plain runs of the same program and how many of
#     them deadlocked (a run still going after 10 s);
#  3. whether rr (record and replay, 1.2-1.4x by its authors) runs here.
# Usage: bench/serial.sh [RUNS]  (after scripts/build.sh)
# Environment: COUNT (lock loop per thread, default 100000), ITEMS (queue
# items per producer, default 20000), SEEDS (default 15), PLAIN (default
# 1000), PYTHONS (default: scripts/pythons.sh), PARTS (default "cost
# explore rr": which parts to run).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-5}
bin="$top/build"
count=${COUNT:-100000}
items=${ITEMS:-20000}
seeds=${SEEDS:-15}
plain_n=${PLAIN:-1000}
pythons=${PYTHONS:-$(sh "$top/scripts/pythons.sh")}
[ -x "$bin/pydeadlock" ] ||
	{ echo "needs build/pydeadlock: run scripts/build.sh" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
trap 'exit 1' HUP INT TERM PIPE
cp "$bin/pydeadlock" "$out/pydeadlock"
cp "$bin/tracer/shim/.libs/libpydeadlock.so" "$out/libpydeadlock.so"
export PYDEADLOCK_SHIM="$out/libpydeadlock.so"
pd="$out/pydeadlock"
. "$top/bench/lib.sh"	# ms, median
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
goal() { awk -v r="$1" -v l="$2" 'BEGIN { print (r <= l) ? "met" : "MISSED" }'; }

echo "# bench/serial.sh, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, medians of $runs runs"
echo
parts=${PARTS:-cost explore rr}
case " $parts " in *" cost "*) ;; *) pythons_cost="" ;; esac
echo "## --serial and replay, whole-process wall time (ms)"
echo
echo "| interpreter | program | plain | --serial | replay | serial/plain (goal <= 3) | replay/serial (goal <= 1.2) |"
echo "|---|---|---|---|---|---|---|"
for py in ${pythons_cost-$pythons}; do
	name=$("$py" -c 'import sys, sysconfig; print("%d.%d.%d%s" % (sys.version_info[:3] + ("t" if sysconfig.get_config_var("Py_GIL_DISABLED") else "",)))')
	[ "$py" = /usr/bin/python3.11 ] && name="$name (Debian, static)"
	for prog in "lock_loop.py $count" "queue_pc.py $items"; do
		set -- $prog
		: > "$out/p"; : > "$out/s"; : > "$out/r"
		for i in $(seq 1 "$runs"); do
			ms "$py" "$top/bench/$1" "$2" >> "$out/p"
			ms "$pd" run --serial --seed="$i" --record="$out/t$i" -- "$py" "$top/bench/$1" "$2" >> "$out/s"
			ms "$pd" replay "$out/t$i" -- "$py" "$top/bench/$1" "$2" >> "$out/r"
		done
		p=$(median < "$out/p"); s=$(median < "$out/s"); r=$(median < "$out/r")
		rs=$(ratio "$s" "$p"); rr=$(ratio "$r" "$s")
		echo "| $name | $1 | $((p / 1000)) | $((s / 1000)) | $((r / 1000)) | $rs ($(goal "$rs" 3)) | $rr ($(goal "$rr" 1.2)) |"
	done
done

case " $parts " in *" explore "*) ;; *) seeds=0 ;; esac
echo
echo "## explore on an AB/BA with no barrier"
echo
echo "Runs until explore found the deadlock ($seeds seeds, at most 400 runs each;"
echo "400+ when it did not), and how many of $plain_n plain runs deadlocked."
echo
echo "| program | runs to find, median (goal <= 20) | runs to find, each seed | plain runs deadlocked |"
echo "|---|---|---|---|"
gcc -O2 -pthread -D_GNU_SOURCE -o "$out/abba_race" "$top/tests/progs/abba_race.c"
explore_row() {
	label=$1
	shift
	: > "$out/found"
	for k in $(seq 1 "$seeds"); do
		"$pd" explore --runs=400 --seed=$((k * 1000)) --save="$out/x.trace" -- "$@" \
			> /dev/null 2> "$out/ex.err" || true
		n=$(sed -n 's/^pydeadlock: explore: a deadlock in run \([0-9]*\).*/\1/p' "$out/ex.err")
		echo "${n:-401}" >> "$out/found"
		# three seeds of 400 runs and none found: not the place to look longer
		[ "$k" = 3 ] && [ "$(grep -cx 401 "$out/found")" = 3 ] && break
	done
	hung=0
	for k in $(seq 1 "$plain_n"); do
		timeout -s KILL 10 "$@" > /dev/null 2>&1 || hung=$((hung + 1))
	done
	m=$(median < "$out/found")
	each=$(sed 's/^401$/400+/' "$out/found" | tr '\n' ' ')
	med=$(echo "$m" | sed 's/^401$/400+/')
	echo "| $label | $med ($(goal "$m" 20)) | $each| $hung of $plain_n |"
}
[ "$seeds" -gt 0 ] && explore_row "C (abba_race.c)" "$out/abba_race"
[ "$seeds" -gt 0 ] && for py in $pythons; do
	name=$("$py" -c 'import sys, sysconfig; print("%d.%d.%d%s" % (sys.version_info[:3] + ("t" if sysconfig.get_config_var("Py_GIL_DISABLED") else "",)))')
	[ "$py" = /usr/bin/python3.11 ] && name="$name (Debian, static)"
	explore_row "Python $name (abba_window.py)" "$py" "$top/tests/serial/abba_window.py"
done

case " $parts " in *" rr "*) ;; *) exit 0 ;; esac
echo
echo "## rr"
echo
if command -v rr > /dev/null 2>&1; then
	if rr record -n -o "$out/rr" /bin/true > "$out/rr.log" 2>&1; then
		echo "$(rr --version 2>/dev/null | head -n 1): records here."
	else
		echo "$(rr --version 2>/dev/null | head -n 1) does not run here: $(grep -m1 -o 'FATAL.*' "$out/rr.log" || tail -n 1 "$out/rr.log")"
	fi
else
	echo "rr is not installed (Debian: apt-get install rr)."
fi
