#!/bin/sh
# Install what pydeadlock needs to build and test, from Debian's packages.
# Does nothing when everything is already there; needs root otherwise.
set -eu

# libpython3.11-testsuite: CPython's own tests for Debian's python3.11,
# run plainly and under the tool by tests/cpython; graphviz: its dot draws
# --graph's pictures (optional at run time, tested); gdb: its gcore makes
# the core files tests/pyattach/core.test reads; clang: libFuzzer, for
# tests/serial/fuzz.test
PACKAGES="build-essential autoconf automake libtool pkg-config \
libunwind-dev libdw-dev libelf-dev check elfutils python3 libc6-dbg \
libpython3.11-testsuite graphviz gdb clang"

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "pydeadlock: missing Debian packages:$missing; run as root: apt-get install$missing" >&2
	exit 1
fi
echo "pydeadlock: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing > /dev/null
