# For the Python attach tests: the interpreters to run on, and one run.
. "$TESTLIB"
PYPROGS="$SRCDIR/tests/pyprogs"
CHECK="$SRCDIR/tests/pyattach/check.py"
CHECKER=/usr/bin/python3
[ -x "$CHECKER" ] || CHECKER=$(command -v python3) || skip "no python3 to check reports"

# Every CPython this machine has that the tests run on; with --gil, only
# those with a GIL (a GIL deadlock cannot happen in a free-threaded one).
pythons() {
	sh "$SRCDIR/scripts/pythons.sh" "$@"
}

# run_scenario SCENARIO BLOCKED [WANT_RC [--gil]]: on every interpreter
# (with --gil, those with a GIL), start the program, wait until BLOCKED
# threads sleep in futex, attach with --json, check the report, check the
# process was left alone.
run_scenario() {
	scenario=$1 blocked=$2 want_rc=${3:-} which=${4:-}
	ran=0
	for py in $(pythons $which); do
		start "$scenario" "$py" "$PYPROGS/$scenario.py"
		wait_syscall "$PID" "$SYS_futex" "$blocked"
		sleep 0.2	# the last thread reaches its wait
		run_attach "$WORK/$scenario.json" --json "$PID"
		[ -z "$want_rc" ] || [ "$RC" = "$want_rc" ] ||
			fail "$py $scenario: exit status $RC, want $want_rc: $(cat "$WORK/$scenario.json.err")"
		assert_untouched "$PID"
		"$CHECKER" "$CHECK" "$scenario" "$WORK/$scenario.json" "$PYPROGS/$scenario.py" ||
			fail "$py: $(cat "$WORK/$scenario.json.err")"
		kill -KILL "$PID"
		wait "$PID" 2> /dev/null
		ran=$((ran + 1))
	done
	[ "$ran" -gt 0 ] || skip "no supported Python installed"
	echo "$scenario: checked on $ran interpreters"
}
