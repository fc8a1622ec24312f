#!/bin/sh
# Make every interpreter that suite.sh runs on able to run `python -m test`.
# The pyenv builds ship their test package; Debian's python3.11 ships only
# test.support and test.libregrtest in libpython3.11-stdlib, the rest is in
# libpython3.11-testsuite (which, being built from the same source package,
# pulls python3.11 and its libraries up to its own Debian revision).
# Does nothing when nothing is missing; needs root otherwise.
set -eu

[ -x /usr/bin/python3.11 ] || exit 0
/usr/bin/python3.11 -c 'import test.test_os' 2> /dev/null && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "suite: Debian's python3.11 has no test package; run as root: apt-get install libpython3.11-testsuite" >&2
	exit 1
fi
echo "suite: installing libpython3.11-testsuite" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends libpython3.11-testsuite > /dev/null
/usr/bin/python3.11 -c 'import test.test_os'
