# One program of the corpus on one interpreter: plainly, the baseline,
# then under pydeadlock run, then (deadlocks) under --on-deadlock=break.
# A potential deadlock (one nothing can prove) is said, never acted on.
# Arguments: NAME KIND PYTHON ("-" for a C program).  Environment as the
# tests get it (PYDEADLOCK, PROGS, TESTLIB); prints "ok ..." or "FAIL: ...".
name=$1 kind=$2 py=$3
. "$(dirname "$TESTLIB")/../run/lib.sh"
. "$SRCDIR/tests/repro/lib.sh"
trap 'rm -rf "$WORK"' EXIT
cmd=$(repro_cmd "$name" "$py")
what="$name on ${py##*/versions/}"
# in_session LIMIT OUT CMD...: CMD in a session of its own (its process
# group is its PID), stdout to OUT, stderr to OUT.err; RC its status, 124
# when still running after LIMIT seconds; what it leaves behind is killed
in_session() {
	limit=$1 out=$2
	shift 2
	setsid "$@" > "$out" 2> "$out.err" < /dev/null &
	pid=$!
	RC=124
	for _ in $(seq 1 $((limit * 20))); do
		if ! kill -0 "$pid" 2> /dev/null; then
			wait "$pid"
			RC=$?
			break
		fi
		sleep 0.05
	done
	kill -9 "-$pid" 2> /dev/null
	[ "$RC" = 124 ] && wait "$pid" 2> /dev/null
	return 0
}
if [ "$kind" = deadlock ]; then
	# shellcheck disable=SC2086
	in_session 3 "$WORK/plain" $cmd
	[ "$RC" = 124 ] || { echo "FAIL: $what: plainly it does not hang (status $RC)"; exit 0; }
	# shellcheck disable=SC2086
	in_session 30 "$WORK/run" "$PYDEADLOCK" run -- $cmd
	[ "$RC" = 86 ] || { echo "FAIL: $what: under run, status $RC: $(grep '^pydeadlock' "$WORK/run.err" | head -3)"; exit 0; }
	grep -q '^pydeadlock: deadlock in process [0-9]* (' "$WORK/run.err" ||
		{ echo "FAIL: $what: no report: $(head -c 600 "$WORK/run.err")"; exit 0; }
	repro_lines_named "$name" "$WORK/run.err" ||
		{ echo "FAIL: $what: the report names none of the waiting lines ($marked)"; exit 0; }
	# break: a wait fails and the program goes on, or run says why it
	# cannot; never a hang
	# shellcheck disable=SC2086
	in_session 30 "$WORK/brk" "$PYDEADLOCK" run --on-deadlock=break -- $cmd
	[ "$RC" != 124 ] || { echo "FAIL: $what: hung under --on-deadlock=break"; exit 0; }
	if grep -q 'breaking it' "$WORK/brk.err"; then
		how=broken
	elif [ "$RC" = 86 ] && grep -q 'cannot be broken' "$WORK/brk.err"; then
		how=unbreakable
	else
		echo "FAIL: $what: break: status $RC: $(grep '^pydeadlock' "$WORK/brk.err" | head -3)"
		exit 0
	fi
	echo "ok $what: 86, $seen of the marked lines named; break: $how"
elif [ "$kind" = potential ]; then
	# shellcheck disable=SC2086
	in_session 3 "$WORK/plain" $cmd
	[ "$RC" = 124 ] || { echo "FAIL: $what: plainly it does not hang (status $RC)"; exit 0; }
	# said once still for a second, the program left as it is
	# shellcheck disable=SC2086
	in_session 8 "$WORK/run" "$PYDEADLOCK" run --potential-after=1 -- $cmd
	[ "$RC" = 124 ] || { echo "FAIL: $what: under run, status $RC: $(grep '^pydeadlock' "$WORK/run.err" | head -3)"; exit 0; }
	grep -q '^pydeadlock: no certain deadlock in process [0-9]* (.*), [0-9]* potential' "$WORK/run.err" ||
		{ echo "FAIL: $what: no potential report: $(head -c 600 "$WORK/run.err")"; exit 0; }
	grep -q '^pydeadlock: deadlock' "$WORK/run.err" &&
		{ echo "FAIL: $what: called certain: $(grep '^pydeadlock' "$WORK/run.err" | head -3)"; exit 0; }
	repro_lines_named "$name" "$WORK/run.err" ||
		{ echo "FAIL: $what: the report names none of the waiting lines ($marked)"; exit 0; }
	echo "ok $what: potential, $seen of the marked lines named, left running"
else
	# shellcheck disable=SC2086
	in_session 30 "$WORK/plain" $cmd
	plain=$RC
	# shellcheck disable=SC2086
	in_session 30 "$WORK/run" "$PYDEADLOCK" run -- $cmd
	[ "$RC" = "$plain" ] || { echo "FAIL: $what: status $RC under run, $plain plainly: $(grep '^pydeadlock' "$WORK/run.err" | head -3)"; exit 0; }
	grep -q '^pydeadlock' "$WORK/run.err" &&
		{ echo "FAIL: $what: run said: $(grep '^pydeadlock' "$WORK/run.err" | head -3)"; exit 0; }
	if [ "$name" = env_fds_signals.py ]; then
		# the program's own view: descriptors, environment, signals;
		# PYTHONPATH is the one documented difference in Python
		"$CHECKER" - "$WORK/plain" "$WORK/run" <<'PY' || { echo "FAIL: $what: the program sees the shim"; exit 0; }
import json, sys
def view(path):
    v = json.loads(open(path).readline())
    v["environ_keys"] = [k for k in v["environ_keys"] if k != "PYTHONPATH"]
    v.pop("PYTHONPATH", None)
    return v
a, b = view(sys.argv[1]), view(sys.argv[2])
for key in sorted(set(a) | set(b)):
    if a.get(key) != b.get(key):
        print("differs:", key, a.get(key), b.get(key)); sys.exit(1)
PY
	elif ! cmp -s "$WORK/plain" "$WORK/run"; then
		echo "FAIL: $what: its output differs under run: $(diff "$WORK/plain" "$WORK/run" | head -5)"
		exit 0
	fi
	echo "ok $what: status $RC as plainly, same output, nothing said"
fi
