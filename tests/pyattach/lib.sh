# For the Python attach tests: the interpreters to run on, and one run.
. "$TESTLIB"
PYPROGS="$SRCDIR/tests/pyprogs"
CHECK="$SRCDIR/tests/pyattach/check.py"
CHECKER=/usr/bin/python3
[ -x "$CHECKER" ] || CHECKER=$(command -v python3) || skip "no python3 to check reports"

# Every CPython this machine has that pydeadlock supports.
pythons() {
	for v in 3.9 3.10 3.11 3.12 3.13; do
		for p in "${PYENV_ROOT:-/root/.pyenv}"/versions/$v.*/bin/python; do
			[ -x "$p" ] && echo "$p"
		done
	done
	[ -x /usr/bin/python3.11 ] && echo /usr/bin/python3.11
}

# run_scenario SCENARIO BLOCKED [WANT_RC]: on every interpreter, start the
# program, wait until BLOCKED threads sleep in futex, attach with --json,
# check the report, check the process was left alone.
run_scenario() {
	scenario=$1 blocked=$2 want_rc=${3:-}
	ran=0
	for py in $(pythons); do
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
