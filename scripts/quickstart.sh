#!/bin/sh
# Install, build, and show pydeadlock on the bundled deadlocking example:
# start it, attach to it, print the deadlock, and end it.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh"
"$top/scripts/build.sh"
bin="$top/build"

echo "== examples/bank_transfer.c: two tellers move money in opposite directions"
"$bin/examples/bank_transfer" > /dev/null &
pid=$!
# the tellers deadlock within moments; look until they have
for try in 1 2 3 4 5 6 7 8 9 10; do
	sleep 0.5
	rc=0
	"$bin/pydeadlock" attach "$pid" > "$bin/quickstart-report.txt" || rc=$?
	[ "$rc" = 1 ] && break
done
echo "== pydeadlock attach $pid"
cat "$bin/quickstart-report.txt"
echo "== pydeadlock attach exited with $rc (1: deadlock found)"
kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
