#!/bin/sh
# The preload shim's cost and its detection latency, median of RUNS runs,
# interleaved so that machine noise hits every variant alike:
#  1. a Python lock-heavy loop (bench/lock_loop.py: 4 threads, `with lock:
#     n += 1`), plain and under `pydeadlock run`, on each interpreter; and
#     beside it, twice each at 1/VG_DIV of the count, helgrind and drd;
#  2. one thread's uncontended pthread mutex lock+unlock pair
#     (bench/mutex_pair.c), plain, under `pydeadlock run`, and built with
#     -fsanitize=thread;
#  3. detection latency: from a CLOCK_MONOTONIC stamp taken just before the
#     blocking lock that closes an AB/BA cycle (bench/latency_abba.c,
#     bench/lock_abba.py) to the read of the shim's first stderr line,
#     stamped by bench/stderr_stamp.c on the same clock;
#  4. what helgrind and a TSan build do on the same AB/BA deadlock, given
#     HANG_S seconds.
# Helper programs are built into build/bench/ (gcc -O2 -pthread).
# Usage: bench/shim.sh [RUNS]  (after scripts/build.sh)
# Environment: COUNT (loop count per thread, default 1000000), PAIRS
# (mutex pairs, default 10000000), VG_DIV (default 40), HANG_S (default 10).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-7}
bin="$top/build"
bb="$bin/bench"
shim="$bin/tracer/shim/.libs/libpydeadlock.so"
pythons="/root/.pyenv/versions/3.11.7/bin/python /usr/bin/python3.11"
count=${COUNT:-1000000}
pairs=${PAIRS:-10000000}
vg_div=${VG_DIV:-40}
hang_s=${HANG_S:-10}
[ -x "$bin/pydeadlock" ] && [ -f "$shim" ] ||
	{ echo "needs build/pydeadlock and the shim: run scripts/build.sh" >&2; exit 1; }
command -v gcc > /dev/null || { echo "needs gcc" >&2; exit 1; }
have_vg=1; command -v valgrind > /dev/null || have_vg=0

mkdir -p "$bb"
for p in mutex_pair latency_abba stderr_stamp; do
	gcc -O2 -pthread -Wall -o "$bb/$p" "$top/bench/$p.c"
done
have_tsan=1
gcc -O2 -pthread -fsanitize=thread -o "$bb/mutex_pair_tsan" "$top/bench/mutex_pair.c" 2> /dev/null &&
	gcc -O2 -pthread -fsanitize=thread -o "$bb/latency_abba_tsan" "$top/bench/latency_abba.c" 2> /dev/null ||
	have_tsan=0

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
trap 'exit 1' HUP INT TERM PIPE
# A copy of the shim and the program, so that a rebuild of build/ during
# the run cannot mix two shims in one result.
cp "$shim" "$out/libpydeadlock.so"
shim_built=$(date -u -r "$shim" '+%Y-%m-%d %H:%M')
cp "$bin/pydeadlock" "$out/pydeadlock"
shim="$out/libpydeadlock.so"
export PYDEADLOCK_SHIM="$shim"
pd="$out/pydeadlock"

. "$top/bench/lib.sh"	# median
maxof() { sort -n | tail -n1; }
now() { date +%s%N; }
# goal RATIO LIMIT: "met" or "MISSED"
goal() { awk -v r="$1" -v l="$2" 'BEGIN { print (r <= l) ? "met" : "MISSED" }'; }
# loop_ns FILE: the loop's own nanoseconds from lock_loop.py's output
loop_ns() { sed -n 's/^ns \([0-9]*\) n .*/\1/p' "$1"; }

# ir [-shim] CMD...: instructions executed (callgrind), with the shim preloaded
ir() {
	if [ "$1" = -shim ]; then
		shift
		LD_PRELOAD="$shim" valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$@" > /dev/null 2> "$out/cg.err"
	else
		valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$@" > /dev/null 2> "$out/cg.err"
	fi
	sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out/cg.err"
}

echo "shim: $(date -u +%Y-%m-%d), $runs runs each, median; shim built $shim_built UTC, sha1 $(sha1sum < "$shim" | cut -c1-12)"

# ---- 1. Python lock-heavy loop ----
echo "1. Python lock loop: 4 threads x $count \`with lock: n += 1\` (loop time, start-up excluded)"
first=1
for py in $pythons; do
	[ -x "$py" ] || { echo "  $py: not found, skipped"; continue; }
	: > "$out/plain"; : > "$out/shim"; : > "$out/plain_w"; : > "$out/shim_w"
	for i in $(seq 1 "$runs"); do
		s=$(now); "$py" "$top/bench/lock_loop.py" "$count" > "$out/o"; e=$(now)
		loop_ns "$out/o" >> "$out/plain"; echo $((e - s)) >> "$out/plain_w"
		s=$(now); "$pd" run -- "$py" "$top/bench/lock_loop.py" "$count" > "$out/o"; e=$(now)
		loop_ns "$out/o" >> "$out/shim"; echo $((e - s)) >> "$out/shim_w"
	done
	plain=$(median < "$out/plain"); shm=$(median < "$out/shim")
	plain_w=$(median < "$out/plain_w"); shim_w=$(median < "$out/shim_w")
	ratio=$(awk -v a="$shm" -v b="$plain" 'BEGIN { printf "%.3f", a / b }')
	echo "  $("$py" -c 'import sys; print("Python", sys.version.split()[0])') ($py)"
	awk -v p="$plain" -v s="$shm" -v pw="$plain_w" -v sw="$shim_w" -v r="$ratio" \
		-v pmin="$(sort -n "$out/plain" | head -n1)" -v pmax="$(maxof < "$out/plain")" \
		-v smin="$(sort -n "$out/shim" | head -n1)" -v smax="$(maxof < "$out/shim")" -v g="$(goal "$ratio" 1.10)" 'BEGIN {
	printf "    plain                 %8.1f ms  (range %.0f-%.0f; whole process %.0f ms)\n", p / 1e6, pmin / 1e6, pmax / 1e6, pw / 1e6
	printf "    pydeadlock run        %8.1f ms  (range %.0f-%.0f; whole process %.0f ms)   shim/plain = %.3f  (goal <= 1.10: %s)\n", s / 1e6, smin / 1e6, smax / 1e6, sw / 1e6, r, g
}'
	# helgrind and drd: slow, so twice each at 1/vg_div of the count,
	# scaled by vg_div; on the first interpreter only
	if [ $first = 1 ] && [ $have_vg = 1 ]; then
		vcount=$((count / vg_div))
		: > "$out/hg"; : > "$out/drd"; : > "$out/hg_w"; : > "$out/drd_w"; : > "$out/vp"
		for i in 1 2; do
			"$py" "$top/bench/lock_loop.py" "$vcount" > "$out/o"
			loop_ns "$out/o" >> "$out/vp"
			s=$(now); valgrind --tool=helgrind -q "$py" "$top/bench/lock_loop.py" "$vcount" > "$out/o" 2> "$out/hg.err"; e=$(now)
			loop_ns "$out/o" >> "$out/hg"; echo $((e - s)) >> "$out/hg_w"
			s=$(now); valgrind --tool=drd -q "$py" "$top/bench/lock_loop.py" "$vcount" > "$out/o" 2> "$out/drd.err"; e=$(now)
			loop_ns "$out/o" >> "$out/drd"; echo $((e - s)) >> "$out/drd_w"
		done
		hg=$(median < "$out/hg"); drd=$(median < "$out/drd")
		echo "    valgrind $(valgrind --version | sed 's/valgrind-//') at 4 x $vcount (1/$vg_div of the count), 2 runs each, loop time x $vg_div;"
		echo "    ratios to plain at the full count, and [to plain at $vcount, $(median < "$out/vp" | awk '{ printf "%.1f", $1 / 1e6 }') ms]:"
		awk -v p="$plain" -v hg="$hg" -v drd="$drd" -v d="$vg_div" -v c="$vcount" -v vp="$(median < "$out/vp")" \
			-v hgw="$(median < "$out/hg_w")" -v drdw="$(median < "$out/drd_w")" \
			-v hge="$(grep -c '^==[0-9]*== [A-Z]' "$out/hg.err" || true)" \
			-v drde="$(grep -c '^==[0-9]*== [A-Z]' "$out/drd.err" || true)" 'BEGIN {
	printf "    helgrind              %8.1f ms  (%.0f ms at %d; whole process %.1f s)   helgrind/plain = %.0f [%.0f]\n", hg * d / 1e6, hg / 1e6, c, hgw / 1e9, hg * d / p, hg / vp
	printf "    drd                   %8.1f ms  (%.0f ms at %d; whole process %.1f s)   drd/plain      = %.0f [%.0f]\n", drd * d / 1e6, drd / 1e6, c, drdw / 1e9, drd * d / p, drd / vp
}'
	fi
	# instructions per iteration, which machine noise does not touch:
	# the difference between 4 x icount and 4 x 2*icount, under callgrind
	if [ $have_vg = 1 ]; then
		ic=$((count / 50))
		p1=$(ir "$py" "$top/bench/lock_loop.py" $ic); p2=$(ir "$py" "$top/bench/lock_loop.py" $((2 * ic)))
		s1=$(ir -shim "$py" "$top/bench/lock_loop.py" $ic); s2=$(ir -shim "$py" "$top/bench/lock_loop.py" $((2 * ic)))
		awk -v p1="$p1" -v p2="$p2" -v s1="$s1" -v s2="$s2" -v ic="$ic" 'BEGIN {
	p = (p2 - p1) / (4 * ic); s = (s2 - s1) / (4 * ic)
	printf "    instructions/iteration (callgrind, 4 x %d vs 4 x %d): plain %.0f, shim %.0f   shim/plain = %.3f\n", ic, 2 * ic, p, s, s / p
}'
	fi
	first=0
done

# ---- 2. uncontended mutex pair ----
echo "2. uncontended pthread mutex lock+unlock, one thread, $pairs pairs (loop time)"
: > "$out/mp"; : > "$out/ms"; : > "$out/mt"
for i in $(seq 1 "$runs"); do
	"$bb/mutex_pair" "$pairs" | sed -n 's/^ns_per_pair //p' >> "$out/mp"
	"$pd" run -- "$bb/mutex_pair" "$pairs" | sed -n 's/^ns_per_pair //p' >> "$out/ms"
	[ $have_tsan = 0 ] || "$bb/mutex_pair_tsan" "$pairs" | sed -n 's/^ns_per_pair //p' >> "$out/mt"
done
mp=$(median < "$out/mp"); ms=$(median < "$out/ms")
ratio=$(awk -v a="$ms" -v b="$mp" 'BEGIN { printf "%.2f", a / b }')
awk -v p="$mp" -v s="$ms" -v r="$ratio" -v g="$(goal "$ratio" 1.3)" \
	-v pr="$(sort -n "$out/mp" | head -n1)-$(maxof < "$out/mp")" -v sr="$(sort -n "$out/ms" | head -n1)-$(maxof < "$out/ms")" 'BEGIN {
	printf "  plain                   %6.2f ns/pair  (range %s)\n", p, pr
	printf "  pydeadlock run          %6.2f ns/pair  (range %s)   shim/plain = %.2f  (goal <= 1.3: %s)\n", s, sr, r, g
}'
if [ $have_tsan = 1 ]; then
	mt=$(median < "$out/mt")
	awk -v p="$mp" -v t="$mt" -v tr="$(sort -n "$out/mt" | head -n1)-$(maxof < "$out/mt")" 'BEGIN {
	printf "  -fsanitize=thread       %6.2f ns/pair  (range %s)   tsan/plain = %.1f\n", t, tr, t / p
}'
else
	echo "  -fsanitize=thread: cannot build (libtsan missing: apt-get install -y libtsan2)"
fi

if [ $have_vg = 1 ]; then
	ip=$(ir "$bb/mutex_pair" 1000000); is=$(ir -shim "$bb/mutex_pair" 1000000)
	awk -v p="$ip" -v s="$is" 'BEGIN {
	printf "  instructions/pair (callgrind, 1000000 pairs, start-up included): plain %.1f, shim %.1f   shim/plain = %.2f\n", p / 1e6, s / 1e6, s / p
}'
fi

# ---- 3. detection latency ----
py1=${pythons%% *}
echo "3. detection latency: stamp before the lock that closes AB/BA -> first stderr line read"
: > "$out/ln"; : > "$out/lp"; : > "$out/lw"; bad=0
for i in $(seq 1 "$runs"); do
	"$bb/stderr_stamp" -t 10000 -- "$pd" run -- "$bb/latency_abba" > "$out/r"
	grep -q 'latency_ns [0-9].* exit 86 ' "$out/r" && sed -n 's/^latency_ns \([0-9]*\) .*/\1/p' "$out/r" >> "$out/ln" ||
		{ bad=$((bad + 1)); echo "  native run $i: $(cat "$out/r")"; }
	# at once (the tool has read nothing of the process yet), and after
	# 1.5 s (it has loaded the symbols of the Python it watches)
	for after in 0 1.5; do
		"$bb/stderr_stamp" -t 10000 -- "$pd" run -- "$py1" "$top/bench/lock_abba.py" "$after" > "$out/r"
		f=$out/lp; [ "$after" = 0 ] || f=$out/lw
		grep -q 'latency_ns [0-9].* exit 86 ' "$out/r" && sed -n 's/^latency_ns \([0-9]*\) .*/\1/p' "$out/r" >> "$f" ||
			{ bad=$((bad + 1)); echo "  python run $i ($after s): $(cat "$out/r")"; }
	done
done
pyv=$("$py1" -c 'import sys; print(sys.version.split()[0])')
for kind in ln lp lw; do
	case $kind in
	ln) label="native (latency_abba.c)        " ;;
	lp) label="Python $pyv (lock_abba.py, at once)" ;;
	lw) label="Python $pyv (lock_abba.py, at 1.5 s)" ;;
	esac
	med=$(median < "$out/$kind"); mx=$(maxof < "$out/$kind")
	awk -v m="$med" -v x="$mx" -v n="$(wc -l < "$out/$kind")" -v l="$label" -v g="$(goal "${med:-1e12}" 5000000)" 'BEGIN {
	printf "  %s median %.3f ms, max %.3f ms (%d runs)  (goal median <= 5 ms: %s)\n", l, m / 1e6, x / 1e6, n, g
}'
done
[ $bad = 0 ] || echo "  $bad runs did not end in a report and exit 86"

# ---- 4. helgrind and TSan on the same AB/BA deadlock ----
echo "4. the AB/BA deadlock (latency_abba) under other tools, $hang_s s each, run side by side"
hang_pids=
if [ $have_vg = 1 ]; then
	"$bb/stderr_stamp" -t $((hang_s * 1000)) -o "$out/hg.log" -- valgrind --tool=helgrind "$bb/latency_abba" > "$out/hg.r" &
	hang_pids="$hang_pids $!"
fi
if [ $have_tsan = 1 ]; then
	"$bb/stderr_stamp" -t $((hang_s * 1000)) -o "$out/ts.log" -- "$bb/latency_abba_tsan" > "$out/ts.r" &
	hang_pids="$hang_pids $!"
fi
for p in $hang_pids; do wait "$p"; done
# hang_summary NAME LOG RESULT
hang_summary() {
	if grep -q 'timed_out 1' "$3"; then
		printf '  %-9s no end after %s s (then SIGTERM); ' "$1" "$hang_s"
	else
		printf '  %-9s ended by itself: %s; ' "$1" "$(cat "$3")"
	fi
	printf '%s lines printed' "$(grep -vc '^t0 ' "$2" || true)"
	printf ', %s of them after the SIGTERM' "$(sed -n '/SIGTERM/,$p' "$2" | wc -l)"
	printf ', "deadlock" %s times, "lock order" %s times, "still holds" %s times\n' \
		"$(grep -ci 'deadlock' "$2" || true)" "$(grep -ci 'lock.order' "$2" || true)" \
		"$(grep -ci 'still holds' "$2" || true)"
}
[ $have_vg = 0 ] || hang_summary helgrind "$out/hg.log" "$out/hg.r"
[ $have_tsan = 0 ] || hang_summary TSan "$out/ts.log" "$out/ts.r"
