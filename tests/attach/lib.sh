# Shared by the attach tests: start programs of known shape, wait for them
# to reach their known state, check that pydeadlock left them as they were.
# Sourced with PYDEADLOCK, PROGS and TESTLIB set by the test harness.

set -u
SRCDIR=$(cd "$(dirname "$TESTLIB")/../.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pydeadlock-test.XXXXXX")
STARTED=""

cleanup() {
	# only our own children still running: a reaped PID may be reused.
	# TERM first: a pydeadlock run ends its program's tree on it
	left=""
	for p in $STARTED; do
		[ "$(awk '{ print $4 }' /proc/"$p"/stat 2>/dev/null)" = "$$" ] &&
			kill -TERM "$p" 2>/dev/null && left="$left $p"
	done
	[ -n "$left" ] && sleep 0.2
	for p in $left; do
		[ "$(awk '{ print $4 }' /proc/"$p"/stat 2>/dev/null)" = "$$" ] &&
			kill -KILL "$p" 2>/dev/null
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

skip() {
	echo "SKIP: $*" >&2
	exit 77
}

# start NAME CMD [ARG...]: run CMD in the background, stdout to
# $WORK/NAME.out; wait for its "ready" line; sets PID.
start() {
	name=$1
	shift
	# emptied first: a name used before must not look ready at once
	: > "$WORK/$name.out"
	"$@" > "$WORK/$name.out" 2> "$WORK/$name.err" &
	PID=$!
	STARTED="$STARTED $PID"
	for _ in $(seq 1 500); do
		grep -q '^ready' "$WORK/$name.out" 2>/dev/null && return 0
		kill -0 "$PID" 2>/dev/null || fail "$name exited before it was ready"
		sleep 0.01
	done
	fail "$name never printed ready"
}

# threads_in_syscall PID NR: how many threads of PID sleep in syscall NR
threads_in_syscall() {
	n=0
	for f in /proc/"$1"/task/*/syscall; do
		read -r nr _ < "$f" 2>/dev/null || continue
		[ "$nr" = "$2" ] && n=$((n + 1))
	done
	echo "$n"
}

# wait_syscall PID NR COUNT: until COUNT threads of PID sleep in syscall NR
wait_syscall() {
	for _ in $(seq 1 500); do
		[ "$(threads_in_syscall "$1" "$2")" -ge "$3" ] && return 0
		sleep 0.01
	done
	fail "process $1: $3 threads never reached syscall $2"
}

SYS_futex=202
SYS_pause=34

# assert_untouched PID [STATE]: no thread of PID is traced or stopped
# (unless STATE is given: then every thread must be in that state letter).
assert_untouched() {
	want=${2:-}
	for s in /proc/"$1"/task/*/status; do
		[ -r "$s" ] || continue
		tracer=$(awk '/^TracerPid:/ { print $2 }' "$s")
		state=$(awk '/^State:/ { print $2 }' "$s")
		[ -z "$tracer" ] && continue	# thread exited meanwhile
		[ "$tracer" = 0 ] || fail "$s: still traced by $tracer"
		if [ -n "$want" ]; then
			[ "$state" = "$want" ] || fail "$s: state $state, want $want"
		else
			case "$state" in
			t|T) fail "$s: left stopped (state $state)" ;;
			esac
		fi
	done
}

# run_pydeadlock SECONDS OUT COMMAND [ARGS...]: pydeadlock COMMAND ARGS,
# stdout to OUT, stderr to OUT.err; sets RC; fails on a hang.
run_pydeadlock() {
	limit=$1 out=$2 cmd=$3
	shift 3
	RC=0
	timeout "$limit" "$PYDEADLOCK" "$cmd" "$@" > "$out" 2> "$out.err" || RC=$?
	[ "$RC" = 124 ] && fail "pydeadlock $cmd $* hung"
	return 0
}

# run_attach OUTFILE [ARGS...]: run pydeadlock attach; sets RC.
run_attach() {
	o=$1
	shift
	run_pydeadlock 30 "$o" attach "$@"
}

# line_of FILE MARKER: the line number of the comment MARKER in a source
line_of() {
	grep -nw "$2" "$1" | head -n1 | cut -d: -f1
}

# The machine must let us ptrace our own child, or nothing here can run.
ptrace_or_skip() {
	sleep 30 &
	probe=$!
	STARTED="$STARTED $probe"
	"$PYDEADLOCK" attach "$probe" > /dev/null 2> "$WORK/probe.err"
	rc=$?
	kill "$probe" 2>/dev/null
	if [ "$rc" = 2 ] && grep -q 'ptrace\|permission' "$WORK/probe.err"; then
		skip "this machine refuses ptrace: $(cat "$WORK/probe.err")"
	fi
}
ptrace_or_skip
