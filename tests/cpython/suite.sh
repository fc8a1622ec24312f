#!/bin/bash
# CPython's own test modules, plainly and under `pydeadlock run --`, in the
# same invocation, with the same arguments; compared test case by test case.
#
#   suite.sh [--quick] [--out DIR] [--only MODULE[,MODULE...]] PYDEADLOCK [PYTHON...]
#
# With no PYTHON, every interpreter that tests/pyattach/lib.sh's `pythons`
# lists (pyenv 3.9-3.13 and Debian's /usr/bin/python3.11).  Each module runs
# as `python -m test $ARGS MODULE` twice at once, once plainly and once
# under the tool, so both see the same load.  A pair (interpreter, module)
# fails when any test case's outcome differs, when a test file's regrtest
# verdict differs, when the exit status differs or is 86, or when a line
# starting with "pydeadlock:" appears under run that is absent plainly.
# A hang under run is caught by regrtest's --timeout (the test file is then
# "timed out") or by the outer limit (exit status 124).
# Every log is kept under DIR (default: a fresh directory in /tmp, printed).
# Ends with "N passed, N failed, N skipped" (skipped: a module this
# interpreter does not have); exit status 0 when nothing failed, 1 when
# something did, 77 when nothing could run, 2 for usage errors.
set -u
# RUN_ARGS: options given to run (--lock-order, --profile), none by default
RUN_ARGS=${RUN_ARGS:-}

here=$(cd "$(dirname "$0")" && pwd)
quick=no
out=""
only=""
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=yes ;;
	--out) out=$2; shift ;;
	--out=*) out=${1#--out=} ;;
	--only) only=$2; shift ;;
	--only=*) only=${1#--only=} ;;
	--) shift; break ;;
	-*) echo "usage: suite.sh [--quick] [--out DIR] [--only MODULES] PYDEADLOCK [PYTHON...]" >&2; exit 2 ;;
	*) break ;;
	esac
	shift
done
[ $# -ge 1 ] || { echo "usage: suite.sh [--quick] [--out DIR] [--only MODULES] PYDEADLOCK [PYTHON...]" >&2; exit 2; }
case "$1" in /*) PYDEADLOCK=$1 ;; *) PYDEADLOCK=$PWD/$1 ;; esac
shift
[ -x "$PYDEADLOCK" ] || { echo "suite: $PYDEADLOCK is not executable" >&2; exit 2; }
CHECKER=/usr/bin/python3
[ -x "$CHECKER" ] || CHECKER=$(command -v python3) || { echo "suite: no python3" >&2; exit 2; }

if [ $# -gt 0 ]; then
	PYTHONS="$*"
else
	PYTHONS=$(sh "$here/../../scripts/pythons.sh" | tr '\n' ' ')
fi
# Debian's python3.11 keeps its test package apart: install it (as root)
case " $PYTHONS " in
*" /usr/bin/python3.11 "*) "$here/setup.sh" || echo "suite: Debian's python3.11 will be skipped" >&2 ;;
esac

# The arguments both runs get.  -v: unittest names every case and prints
# every failure's header and traceback; --junit-xml: every case's outcome;
# -j1: the test file runs in a worker process (so regrtest's --timeout ends
# a hang by killing it, and the tool watches a process tree, as in real
# use); --randseed: 3.13 seeds `random` per test from it; -u: every
# resource these modules use that needs no network, GUI, sound or big disk.
COMMON="-v -j1 --randseed=1 -u all,-network,-urlfetch,-gui,-audio,-curses,-largefile"

# Flaky plainly, measured here, ignored in both runs (regrtest -i PATTERN):
# see README.md.  One pattern a line: PATTERN  # reason
IGNORES=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$here/ignore.txt" 2>/dev/null |
	awk '{ printf " -i %s", $1 }')

# The modules, and per module: regrtest's --timeout for one test file, and
# the outer limit for the whole `python -m test` (packages that regrtest
# splits into several test files on 3.12+ need more than one file's).
if [ "$quick" = yes ]; then
	# What CI can afford (about 4 minutes for all six interpreters here):
	# the lock, condition, queue and thread-lifetime classes; a
	# process pool whose workers die (the pool must notice, not hang); the
	# forkserver's locks, conditions, queues and a manager's lock across
	# processes; subprocess's fd passing (the shim holds descriptors of its
	# own) and timeouts; signal wake-ups and a read interrupted by an alarm
	# (the 2 s ones of SiginterruptTest); logging's queue handler/listener
	# threads; all of test_os but its 12 s of timerfd sleeps (3.13); the
	# import lock tests.  README.md gives the measured times.
	# name|extra arguments|file timeout|outer limit
	MODULES="
test_threading|-m ThreadTests -m LockTests -m CRLockTests -m ConditionTests -m ThreadJoinOnShutdown|120|300
test_queue|-m CQueueTest -m CSimpleQueueTest -m CFailingQueueTest|120|300
test_concurrent_futures|-m ThreadPoolShutdownTest -m ProcessPoolForkserverExecutorDeadlockTest|120|300
test_multiprocessing_forkserver|-m WithProcessesTestLock -m WithProcessesTestCondition -m WithProcessesTestQueue -m WithManagerTestLock -m TestForkAwareThreadLock|120|300
test_subprocess|-m test_pass_fds* -m test_close_fds* -m test_communicate_timeout* -m test_threadsafe_wait|120|300
test_signal|-m WakeupSignalTests -m PosixTests -m test_siginterrupt_on -m test_without_siginterrupt|120|300
test_logging|-m QueueHandlerTest -m QueueListenerTest|120|300
test_os|-i TimerfdTests|120|300
test_importlib|-m test_locks -m test_threaded_import|120|300
"
else
	MODULES="
test_subprocess||1200|1500
test_threading||900|1200
test_multiprocessing_forkserver||1800|3000
test_concurrent_futures||900|2400
test_logging||900|1200
test_signal||900|1200
test_os||900|1200
test_queue||600|900
test_importlib||600|900
"
fi
if [ -n "$only" ]; then
	MODULES=$(echo "$MODULES" | grep -E "^($(echo "$only" | tr ',' '|'))\|")
fi

if [ -z "$out" ]; then
	out=$(mktemp -d "${TMPDIR:-/tmp}/cpython-suite.XXXXXX")
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$out/table"
echo "suite: logs in $out"
echo "suite: $PYDEADLOCK"

now() { date +%s.%N; }

# kill_tagged TAG: every process still running with PDSUITE_TAG=TAG in its
# environment (what is left of one run: regrtest's workers start their own
# sessions, so neither timeout nor a process group reaches all of them)
kill_tagged() {
	for p in $(ls /proc | grep -E '^[0-9]+$'); do
		tr '\0' '\n' 2> /dev/null < "/proc/$p/environ" |
			grep -qx "PDSUITE_TAG=$1" || continue
		[ "$p" = $$ ] || kill -KILL "$p" 2> /dev/null
	done
}

# one DIR LIMIT CMD...: run CMD in DIR, output to DIR/log, status to DIR/rc,
# wall time to DIR/seconds; kills whatever it left behind.
one() {
	d=$1 limit=$2
	shift 2
	rm -rf "$d"
	mkdir -p "$d"
	tag="$$-$(echo "$d" | md5sum | cut -c1-12)"
	t0=$(now)
	rc=0
	(cd "$d" && PDSUITE_TAG=$tag exec timeout -k 30 "$limit" "$@") > "$d/log" 2>&1 < /dev/null || rc=$?
	t1=$(now)
	kill_tagged "$tag"
	echo "$rc" > "$d/rc"
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", b - a }' > "$d/seconds"
}

# recheck PY MODULE FILE_TIMEOUT DIR: the cases that differed, once more
# in both modes (-m ID each), to tell a reproducible difference from a
# one-off; the verdict stands either way, the summary only says which.
recheck() {
	ids=$(sed -n 's/^case \([^ :]*\): .*/\1/p' "$4/result.diff" |
		sed -E 's/\.(setUpClass|tearDownClass|setUpModule|tearDownModule)$//' |
		sort -u | head -n 30)
	[ -n "$ids" ] || return 0
	m=""
	for id in $ids; do m="$m -m $id"; done
	# shellcheck disable=SC2086
	rargs="$COMMON --timeout=$3 --junit-xml=junit.xml $IGNORES $m $2"
	one "$4/recheck-plain" 900 "$1" -m test $rargs &
	q1=$!
	# shellcheck disable=SC2086
	one "$4/recheck-run" 900 "$PYDEADLOCK" run $RUN_ARGS -- "$1" -m test $rargs &
	q2=$!
	wait "$q1" "$q2"
	echo "   recheck of the differing cases:"
	"$CHECKER" "$here/compare.py" "$4/recheck-plain" "$4/recheck-run" "$4/recheck" |
		sed 's/^/ /'
}

fmt_s() { awk -v s="$1" 'BEGIN { if (s == "?") print "?"; else if (s >= 60) printf "%dm%02ds", s / 60, s % 60; else printf "%.1fs", s }'; }

set -f	# the -m patterns are regrtest's globs, not the shell's
passed=0
skipped=0
failed=0
t_start=$(now)
for py in $PYTHONS; do
	if ! "$py" -c 'import test.libregrtest, test.test_os' 2> /dev/null; then
		echo "suite: $py: no test package, skipped" >&2
		continue
	fi
	ver=$("$py" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
	label=$ver
	case "$py" in /usr/bin/*) label="$ver-debian" ;; esac
	# the shim must really be in the program, or equal results prove nothing
	maps=$("$PYDEADLOCK" run -- "$py" -c "print(open('/proc/self/maps').read().count('libpydeadlock'))" 2>&1)
	case "$maps" in
	''|0|*[!0-9]*)
		echo "== $label: pydeadlock run did not load its shim: $maps"
		printf '%s\t%s\t-\t?\t?\t1\tno shim under run\n' "$label" "(all)" >> "$out/table"
		continue ;;
	esac
	echo "$MODULES" | while IFS='|' read -r mod extra ftimeout limit; do
		[ -n "$mod" ] || continue
		d="$out/$label/$mod"
		if ! "$py" -c "import importlib.util as u, sys; sys.exit(u.find_spec('test.$mod') is None)" 2> /dev/null; then
			echo "== $label $mod: not installed for this interpreter, skipped"
			printf '%s\t%s\t-\t?\t?\tskip\tnot installed\n' "$label" "$mod" >> "$out/table"
			continue
		fi
		# shellcheck disable=SC2086
		args="$COMMON --timeout=$ftimeout --junit-xml=junit.xml $IGNORES $extra $mod"
		echo "$py -m test $args" > "$out/$label.$mod.cmd"
		# shellcheck disable=SC2086
		one "$d/plain" "$limit" "$py" -m test $args &
		p1=$!
		# shellcheck disable=SC2086
		one "$d/run" "$limit" "$PYDEADLOCK" run $RUN_ARGS -- "$py" -m test $args &
		p2=$!
		wait "$p1" "$p2"
		echo "== $label $mod: plain $(fmt_s "$(cat "$d/plain/seconds")") rc $(cat "$d/plain/rc"), run $(fmt_s "$(cat "$d/run/seconds")") rc $(cat "$d/run/rc")"
		echo "   (cd DIR && $PYDEADLOCK run $RUN_ARGS -- $py -m test $args)"
		"$CHECKER" "$here/compare.py" "$d/plain" "$d/run" "$d/result"
		recheck "$py" "$mod" "$ftimeout" "$d"
		printf '%s\t%s\t%s\n' "$label" "$mod" "$(cat "$d/result.row")" >> "$out/table"
	done
done
t_end=$(now)

echo
printf '%-16s %-32s %6s %9s %9s %6s\n' interpreter module cases plain run diffs
[ -f "$out/table" ] || : > "$out/table"
while IFS="$(printf '\t')" read -r label mod cases ps rs nd note; do
	printf '%-16s %-32s %6s %9s %9s %6s %s\n' "$label" "$mod" "$cases" \
		"$(fmt_s "$ps")" "$(fmt_s "$rs")" "$nd" "$note"
	case "$nd" in
	0) passed=$((passed + 1)) ;;
	skip) skipped=$((skipped + 1)) ;;
	*) failed=$((failed + 1)) ;;
	esac
done < "$out/table"
echo "total wall time: $(fmt_s "$(awk -v a="$t_start" -v b="$t_end" 'BEGIN { print b - a }')")"
if [ "$failed" -gt 0 ]; then
	echo
	echo "differences:"
	while IFS="$(printf '\t')" read -r label mod cases ps rs nd note; do
		case "$nd" in 0|skip) continue ;; esac
		if [ ! -f "$out/$label/$mod/result.diff" ]; then
			echo "-- $label $mod: $note"
			continue
		fi
		echo "-- $label $mod: $(cat "$out/$label.$mod.cmd")"
		grep -v '^absent under run: ' "$out/$label/$mod/result.diff" |
		while IFS= read -r line; do
			again=""
			case "$line" in
			"case "*)
				id=${line#case }
				id=${id%%:*}
				if [ ! -f "$out/$label/$mod/recheck.diff" ]; then
					again=""
				elif grep -q "^case $id:" "$out/$label/$mod/recheck.diff"; then
					again="  [again on recheck]"
				else
					again="  [not on recheck]"
				fi ;;
			esac
			echo "   $line$again"
		done
	done < "$out/table"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ $((passed + failed)) -gt 0 ] || exit 77	# nothing to run here
[ "$failed" = 0 ]
