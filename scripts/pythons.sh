#!/bin/sh
# Every CPython on this machine that the tests and benchmarks run on, one
# path a line, oldest first: pyenv's 3.9 to 3.13 builds, those that
# scripts/build-pythons.sh made (3.13.5 and the free-threaded 3.13.5t,
# under $DEADLOCK_TEST_PYTHONS), then Debian's static python3.11.
# The one list: tests and scripts call this rather than keep their own.
# Usage: scripts/pythons.sh [--gil]
#   --gil  only the interpreters with a GIL: not the free-threaded builds,
#          whose folders end in "t" (3.13.5t), as pyenv and
#          build-pythons.sh name them
cache=${DEADLOCK_TEST_PYTHONS:-/var/cache/pydeadlock/pythons}
for v in 3.9 3.10 3.11 3.12 3.13; do
	for p in "${PYENV_ROOT:-/root/.pyenv}"/versions/$v.*/bin/python \
		 "$cache"/$v.*/bin/python; do
		[ -x "$p" ] || continue
		case "$1:$p" in
		--gil:*t/bin/python) ;;
		*) echo "$p" ;;
		esac
	done
done
[ -x /usr/bin/python3.11 ] && echo /usr/bin/python3.11
exit 0
