#!/bin/sh
# Builds py_dump with the repo's warning flags, outside automake (until
# tracer/python/Makefile.inc is included by the top Makefile.am).
set -e
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$top/tests/python/py_dump}
cc=${CC:-gcc}
$cc -O2 -g -std=c11 -Wall -Wextra -Wshadow -Wformat=2 \
	-Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter \
	-Werror -D_GNU_SOURCE -I"$top" -o "$out" \
	"$top"/tests/python/py_dump.c "$top"/tracer/python/*.c \
	"$top"/common/error.c "$top"/tracer/attach/target_mem.c \
	"$top"/tracer/attach/procfs.c $(pkg-config --libs libelf 2>/dev/null || echo -lelf)
