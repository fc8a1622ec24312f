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
sleep 1
echo "== pydeadlock attach $pid"
rc=0
"$bin/pydeadlock" attach "$pid" || rc=$?
echo "== pydeadlock attach exited with $rc (1: deadlock found)"
kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
