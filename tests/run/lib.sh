# For the pydeadlock run tests.
. "$TESTLIB"
. "$(dirname "$TESTLIB")/../pyattach/lib.sh"

# run_tool OUT ARGS...: pydeadlock run ARGS, stdout to OUT, stderr to
# OUT.err; sets RC; fails on a hang.
run_tool() {
	out=$1
	shift
	RC=0
	timeout 60 "$PYDEADLOCK" run "$@" > "$out" 2> "$out.err" || RC=$?
	[ "$RC" = 124 ] && fail "pydeadlock run $* hung"
	return 0
}
