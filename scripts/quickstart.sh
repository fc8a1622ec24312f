#!/bin/sh
# Install, build, and show pydeadlock on the bundled deadlocking examples:
# attach to a hung native program and a hung Python program, then run the
# Python one under the shim (reported as it forms), then with breaking;
# then find, with explore, the schedule of an AB/BA that plain runs almost
# never show, and replay it.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh"
"$top/scripts/build.sh"
bin="$top/build"
py=$(command -v python3)

# attach_when_hung PID: attach once the program has deadlocked
attach_when_hung() {
	for try in 1 2 3 4 5 6 7 8 9 10; do
		sleep 0.5
		rc=0
		"$bin/pydeadlock" attach "$1" > "$bin/quickstart-report.txt" || rc=$?
		[ "$rc" = 1 ] && break
	done
	cat "$bin/quickstart-report.txt"
	echo "== pydeadlock attach exited with $rc (1: deadlock found)"
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

echo "== 1. examples/bank_transfer.c hangs; pydeadlock attach"
"$bin/examples/bank_transfer" > /dev/null &
attach_when_hung $!

echo
echo "== 2. examples/transfer.py ($("$py" --version)) hangs; pydeadlock attach"
"$py" "$top/examples/transfer.py" &
attach_when_hung $!

echo
echo "== 3. pydeadlock run -- python3 examples/transfer.py (reported as it forms)"
rc=0
"$bin/pydeadlock" run -- "$py" "$top/examples/transfer.py" || rc=$?
echo "== pydeadlock run exited with $rc (86: ended because of a deadlock)"

echo
echo "== 4. pydeadlock run --on-deadlock=break -- python3 examples/transfer.py"
rc=0
"$bin/pydeadlock" run --on-deadlock=break -- "$py" "$top/examples/transfer.py" 2> "$bin/quickstart-break.txt" || rc=$?
grep '^pydeadlock:' "$bin/quickstart-break.txt"
if [ "$rc" = 0 ]; then
	echo "== the program finished; no money was made or lost"
else
	echo "== pydeadlock run exited with $rc (a statically linked python3 can only be broken in its main thread)"
fi

echo
echo "== 5. pydeadlock explore -- python3 tests/serial/abba_window.py (plain runs do not deadlock)"
rc=0
"$bin/pydeadlock" explore --runs=300 --save="$bin/quickstart-explore.trace" -- \
	"$py" "$top/tests/serial/abba_window.py" 2> "$bin/quickstart-explore.txt" || rc=$?
grep -E '^pydeadlock: (explore|deadlock)|^  thread|waiting at' "$bin/quickstart-explore.txt" || true
echo "== pydeadlock explore exited with $rc (86: a schedule that deadlocks, saved)"
if [ "$rc" = 86 ]; then
	echo
	echo "== 6. pydeadlock replay build/quickstart-explore.trace: the same deadlock, every time"
	for i in 1 2 3; do
		rc=0
		"$bin/pydeadlock" replay --quiet "$bin/quickstart-explore.trace" -- \
			"$py" "$top/tests/serial/abba_window.py" 2> "$bin/quickstart-replay.txt" || rc=$?
		echo "replay $i: exit $rc, waiting at $(grep -o 'waiting at .*abba_window.py:[0-9]*' "$bin/quickstart-replay.txt" | sed 's/.*abba_window/abba_window/' | sort -u | tr '\n' ' ')"
	done
fi
