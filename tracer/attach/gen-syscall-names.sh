#!/bin/sh
# Prints the x86_64 system call names as C array initialisers, from the
# kernel headers installed on the build machine: [nr] = "name",
# Usage: gen-syscall-names.sh CPP
cpp=${1:-cpp}
echo '#include <asm/unistd_64.h>' | $cpp -dM - |
	sed -n 's/^#define __NR_\([a-z0-9_]*\) \([0-9][0-9]*\)$/\2 \1/p' |
	sort -n | while read -r nr name; do
		printf '\t[%s] = "%s",\n' "$nr" "$name"
	done
