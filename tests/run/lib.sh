# For the pydeadlock run tests (the attach lib comes with the pyattach one).
. "$(dirname "$TESTLIB")/../pyattach/lib.sh"

# run_tool OUT ARGS...: pydeadlock run ARGS, stdout to OUT, stderr to
# OUT.err; sets RC; fails on a hang.
run_tool() {
	o=$1
	shift
	run_pydeadlock 60 "$o" run "$@"
}
