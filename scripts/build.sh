#!/bin/sh
# Configure and build pydeadlock in build/ (sources stay clean).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi > /dev/null
mkdir -p build
cd build
[ -f Makefile ] || ../configure --quiet
make -j"$(nproc)" --quiet > /dev/null
make -j"$(nproc)" --quiet check TESTS= > /dev/null
