# For the serial tests: run, replay and explore of pydeadlock.
. "$TESTLIB"
. "$(dirname "$TESTLIB")/../pyattach/lib.sh"
SERIAL="$SRCDIR/tests/serial"

# tool SECONDS OUT CMD ARGS...: pydeadlock CMD ARGS, stdout to OUT, stderr
# to OUT.err; sets RC; fails on a hang.
tool() {
	run_pydeadlock "$@"
}

# Interpreters whose uncontended Lock acquire the shim sees (a sem_t up
# to 3.13.0; from 3.13.1 an inline PyMutex, with no call to interpose):
# only on these does a schedule switch between two acquisitions.
sem_locks() {
	for py in $(pythons --gil); do
		case "$("$py" -c 'import sys; print(sys.version_info[:3] <= (3, 13, 0))')" in
		True) echo "$py" ;;
		esac
	done
}
