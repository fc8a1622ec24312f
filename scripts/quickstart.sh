#!/bin/sh
# Install, build, and show pydeadlock on the bundled deadlocking examples:
# attach to a hung native program and a hung Python program, then run the
# Python one under the shim (reported as it forms), then with breaking.
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
