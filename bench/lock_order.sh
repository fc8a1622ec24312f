#!/bin/sh
# The cost of `pydeadlock run --lock-order` and `run --profile`, median of
# RUNS runs,
# interleaved so that machine noise hits every variant alike:
#  1. Python: bench/lock_loop.py (4 threads, `with lock: n += 1`: nothing
#     held, no order to add), and nested (`with outer: with inner: n +=
#     1`: an order at every inner acquisition),
#     plain, under run, run --lock-order and run --profile; beside them, helgrind
#     twice at 1/VG_DIV of the count;
#  2. C: bench/lock_nest.c (4 threads, outer then inner mutex), plain,
#     under run, run --lock-order, run --profile, built with -fsanitize=thread, and
#     under helgrind at 1/VG_DIV of the count.
# Times are the loops' own (start-up excluded).
# Usage: bench/lock_order.sh [RUNS]  (after scripts/build.sh)
# Environment: COUNT (per thread, default 200000), VG_DIV (default 20),
# PYTHONS (default: pyenv 3.11.7 and Debian's python3.11).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-7}
bin="$top/build"
bb="$bin/bench"
count=${COUNT:-200000}
vg_div=${VG_DIV:-20}
pythons=${PYTHONS:-"/root/.pyenv/versions/3.11.7/bin/python /usr/bin/python3.11"}
[ -x "$bin/pydeadlock" ] || { echo "needs build/pydeadlock: run scripts/build.sh" >&2; exit 1; }
mkdir -p "$bb"
gcc -O2 -pthread -Wall -o "$bb/lock_nest" "$top/bench/lock_nest.c"
have_tsan=1
gcc -O2 -pthread -fsanitize=thread -o "$bb/lock_nest_tsan" "$top/bench/lock_nest.c" 2> /dev/null || have_tsan=0
have_vg=1; command -v valgrind > /dev/null || have_vg=0

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
trap 'exit 1' HUP INT TERM PIPE
cp "$bin/tracer/shim/.libs/libpydeadlock.so" "$out/libpydeadlock.so"
cp "$bin/pydeadlock" "$out/pydeadlock"
export PYDEADLOCK_SHIM="$out/libpydeadlock.so"
pd="$out/pydeadlock"
. "$top/bench/lib.sh"	# median
loop_ns() { sed -n 's/^ns \([0-9]*\) n .*/\1/p' "$out/o"; }
# one NAME CMD...: the loop's time of one run, appended to $out/NAME
one() { name=$1; shift; "$@" > "$out/o" 2> "$out/e" || true; loop_ns >> "$out/$name"; }
ratio() { awk -v a="$(median < "$out/$1")" -v b="$(median < "$out/$2")" 'BEGIN { printf "%.2f", a / b }'; }
ms() { awk -v a="$(median < "$out/$1")" 'BEGIN { printf "%.1f", a / 1e6 }'; }
# ir VARIANT CMD...: instructions executed under callgrind, the shim
# preloaded (VARIANT shim, order, profile) with run's configuration
ir() {
	v=$1
	shift
	case $v in
	plain) set -- env "$@" ;;
	shim) set -- env LD_PRELOAD="$PYDEADLOCK_SHIM" "$@" ;;
	order) set -- env LD_PRELOAD="$PYDEADLOCK_SHIM" PYDEADLOCK_RECORDS=1023 PYDEADLOCK_LOCK_ORDER=1 "$@" ;;
	profile) set -- env LD_PRELOAD="$PYDEADLOCK_SHIM" PYDEADLOCK_RECORDS=1023 PYDEADLOCK_PROFILE=1 "$@" ;;
	esac
	valgrind --tool=callgrind --callgrind-out-file="$out/cg" --trace-children=yes "$@" > /dev/null 2> "$out/cg.err"
	sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out/cg.err" | tail -n1
}
goal() { awk -v r="$1" -v l="$2" 'BEGIN { print (r <= l) ? "met" : "MISSED" }'; }

echo "lock_order: $(date -u +%Y-%m-%d), $runs runs each, median; $count iterations a thread, 4 threads"
for py in $pythons; do
	[ -x "$py" ] || { echo "  $py: not found, skipped"; continue; }
	echo "  $("$py" -c 'import sys; print("Python", sys.version.split()[0])') ($py)"
	rm -f "$out"/p_* "$out"/vg_*
	for prog in flat nest; do
		for i in $(seq 1 "$runs"); do
			one "p_${prog}_plain" "$py" "$top/bench/lock_loop.py" "$count" 4 "$prog"
			one "p_${prog}_run" "$pd" run -- "$py" "$top/bench/lock_loop.py" "$count" 4 "$prog"
			one "p_${prog}_order" "$pd" run --lock-order -- "$py" "$top/bench/lock_loop.py" "$count" 4 "$prog"
			one "p_${prog}_prof" "$pd" run --profile -- "$py" "$top/bench/lock_loop.py" "$count" 4 "$prog"
		done
		r=$(ratio "p_${prog}_order" "p_${prog}_plain")
		rp=$(ratio "p_${prog}_prof" "p_${prog}_plain")
		printf "    %-10s plain %7s ms   run %7s ms (%s)\n" \
			"$prog" "$(ms "p_${prog}_plain")" "$(ms "p_${prog}_run")" \
			"$(ratio "p_${prog}_run" "p_${prog}_plain")"
		printf "    %-10s run --lock-order %7s ms (%s of plain; goal <= 1.5: %s)   run --profile %7s ms (%s of plain; goal <= 1.2: %s)\n" \
			"" "$(ms "p_${prog}_order")" "$r" "$(goal "$r" 1.5)" \
			"$(ms "p_${prog}_prof")" "$rp" "$(goal "$rp" 1.2)"
	done
	# instructions per iteration, which machine noise does not touch: the
	# difference between 4 x ic and 4 x 2*ic iterations, under callgrind,
	# with the shim preloaded as run configures it
	if [ "$have_vg" = 1 ]; then
		ic=$((count / 50))
		for prog in flat nest; do
			line=""
			for v in plain shim order profile; do
				a=$(ir "$v" "$py" "$top/bench/lock_loop.py" "$ic" 4 "$prog")
				b=$(ir "$v" "$py" "$top/bench/lock_loop.py" $((2 * ic)) 4 "$prog")
				line="$line $(( (b - a) / (4 * ic) ))"
			done
			echo "$line" | awk -v p="$prog" -v ic="$ic" '{
	printf "    %-10s instructions/iteration (callgrind, 4 x %d vs 4 x %d): plain %d, run %d (%.2f), --lock-order %d (%.2f; goal <= 1.5), --profile %d (%.2f; goal <= 1.2)\n", p, ic, 2 * ic, $1, $2, $2 / $1, $3, $3 / $1, $4, $4 / $1
}'
		done
	fi
	if [ "$have_vg" = 1 ]; then
		vc=$((count / vg_div))
		for i in 1 2; do
			one vg_plain "$py" "$top/bench/lock_loop.py" "$vc" 4 nest
			one vg_hg valgrind --tool=helgrind -q "$py" "$top/bench/lock_loop.py" "$vc" 4 nest
		done
		echo "    nest at $vc a thread: helgrind $(ms vg_hg) ms against $(ms vg_plain) ms plain ($(ratio vg_hg vg_plain) of plain)"
	fi
done

echo "  C: bench/lock_nest.c"
rm -f "$out"/c_*
for i in $(seq 1 "$runs"); do
	one c_plain "$bb/lock_nest" "$count"
	one c_run "$pd" run -- "$bb/lock_nest" "$count"
	one c_order "$pd" run --lock-order -- "$bb/lock_nest" "$count"
	one c_prof "$pd" run --profile -- "$bb/lock_nest" "$count"
	[ "$have_tsan" = 1 ] && one c_tsan "$bb/lock_nest_tsan" "$count"
done
printf "    plain %s ms   run %s ms (%s)   run --lock-order %s ms (%s of plain)   run --profile %s ms (%s)\n" \
	"$(ms c_plain)" "$(ms c_run)" "$(ratio c_run c_plain)" "$(ms c_order)" "$(ratio c_order c_plain)" \
	"$(ms c_prof)" "$(ratio c_prof c_plain)"
[ "$have_tsan" = 1 ] && echo "    TSan build $(ms c_tsan) ms ($(ratio c_tsan c_plain) of plain)"
if [ "$have_vg" = 1 ]; then
	vc=$((count / vg_div))
	for i in 1 2; do
		one cvg_plain "$bb/lock_nest" "$vc"
		one cvg_hg valgrind --tool=helgrind -q "$bb/lock_nest" "$vc"
	done
	echo "    at $vc a thread: helgrind $(ms cvg_hg) ms against $(ms cvg_plain) ms plain ($(ratio cvg_hg cvg_plain) of plain)"
fi
