#!/bin/sh
# Set up, build and run every test; ends with "N passed, N failed, N skipped".
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh" || exit 1
# 3.13.1+ and free-threaded 3.13, which pyenv lacks here (about 3 minutes
# each the first time, cached after), built beside pydeadlock;
# tests/python/interpreters.test skips, saying so, when they cannot be
sh "$top/scripts/build-pythons.sh" &
pythons=$!
"$top/scripts/build.sh" || { echo "pydeadlock: build failed" >&2; exit 1; }
wait "$pythons" ||
	echo "pydeadlock: tests run without the interpreters that could not be built" >&2
cd "$top/build"
make -j"$(nproc)" check > check.out 2>&1
status=$?
grep -E '^(PASS|FAIL|SKIP|XFAIL|XPASS|ERROR):' check.out
# automake names a test's log after the test less its extension
for log in $(sed -n 's/^\(FAIL\|ERROR\): \(.*\)\.[a-z]*$/\2.log/p' check.out); do
	echo "---- $log"
	tail -n 30 "$log"
done
count() { grep -c "^$1:" check.out; }
passed=$(count PASS)
failed=$(( $(count FAIL) + $(count ERROR) + $(count XPASS) ))
skipped=$(count SKIP)
echo "$passed passed, $failed failed, $skipped skipped"
[ "$status" = 0 ] && [ "$failed" = 0 ]
