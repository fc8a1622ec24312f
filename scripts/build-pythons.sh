#!/bin/sh
# Builds the CPythons that this machine's pyenv lacks and the tests cover:
# the newest 3.13 (PyMutex locks, the parking lot; 3.13.5 when written)
# and its free-threaded build (3.13.5t), from the upstream tarball of
# Debian trixie's source package python3.13.  Each is configured
# --enable-shared with debug info, as the pyenv builds are, and installed
# under $DEADLOCK_TEST_PYTHONS (default /var/cache/pydeadlock/pythons; not
# a PYDEADLOCK_ name: the shim takes those out of the programs it runs), in
# a folder named by its version (3.13.5, 3.13.5t), outside the source
# tree: a build that is there is not redone.
# Usage: scripts/build-pythons.sh [gil] [free-threaded]   (default both)
# Prints one line per interpreter built.  A build that cannot be done (no
# network, not root) says why on stderr and exits 1; the tests then skip
# what needs it, saying so.  About 3 minutes each on 2 cores.
set -eu
cache=${DEADLOCK_TEST_PYTHONS:-/var/cache/pydeadlock/pythons}
kinds=${*:-"gil free-threaded"}
jobs=$(nproc 2> /dev/null || echo 2)

die() { echo "pydeadlock: build-pythons: $*" >&2; exit 1; }

# Is a build of this kind there?  (3.13.N for gil, 3.13.Nt)
built() {
	for p in "$cache"/3.13.*/bin/python; do
		[ -x "$p" ] || continue
		case "$1:$p" in
		gil:*t/bin/python) ;;
		gil:*|free-threaded:*t/bin/python) return 0 ;;
		esac
	done
	return 1
}

# The upstream tarball, through apt-get source; sets tarball and version.
fetch_source() {
	for tarball in "$cache"/src/python3.13_*.orig.tar.xz; do
		[ -f "$tarball" ] && break
	done
	if [ ! -f "$tarball" ]; then
		[ "$(id -u)" = 0 ] || die "needs root once, to add trixie's deb-src to apt"
		mkdir -p "$cache/src"
		list=/etc/apt/sources.list.d/pydeadlock-trixie-src.list
		[ -f "$list" ] ||
			echo "deb-src http://deb.debian.org/debian trixie main" > "$list"
		apt-get update -qq -o Dir::Etc::sourcelist="$list" \
			-o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0 ||
			die "apt-get update of trixie's sources failed"
		(cd "$cache/src" &&
			apt-get source -qq --download-only python3.13 > /dev/null 2>&1) ||
			die "apt-get source python3.13 failed"
		for tarball in "$cache"/src/python3.13_*.orig.tar.xz; do
			[ -f "$tarball" ] && break
		done
		[ -f "$tarball" ] || die "no python3.13 tarball after apt-get source"
	fi
	version=${tarball##*/python3.13_}
	version=${version%.orig.tar.xz}
}

# The libraries for the modules the tests use (ctypes, sqlite3, ...).
need_packages() {
	for pkg in libffi-dev libsqlite3-dev zlib1g-dev libssl-dev \
		   libbz2-dev liblzma-dev; do
		dpkg-query -W -f='${Status}' "$pkg" 2> /dev/null |
			grep -q 'install ok installed' && continue
		[ "$(id -u)" = 0 ] || die "missing $pkg (run as root)"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends "$pkg" > /dev/null
	done
}

build_one() {
	built "$1" && return 0
	fetch_source
	need_packages
	case $1 in
	gil) name=$version extra= ;;
	free-threaded) name=${version}t extra=--disable-gil ;;
	*) die "unknown kind $1: gil or free-threaded" ;;
	esac
	prefix="$cache/$name"
	work=$(mktemp -d "$cache/build-$name.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	tar -C "$work" -xf "$tarball"
	log="$cache/build-$name.log"
	(
		cd "$work"/Python-* &&
		./configure --prefix="$prefix" --enable-shared $extra \
			LDFLAGS="-Wl,-rpath,$prefix/lib" CFLAGS="-g -O2" &&
		make -j"$jobs" &&
		make altinstall
	) > "$log" 2>&1 || die "building $name failed: see $log"
	rm -rf "$work"
	trap - EXIT
	for exe in python3.13t python3.13 ''; do
		[ -n "$exe" ] || die "no $prefix/bin/python3.13 after the build"
		[ -x "$prefix/bin/$exe" ] && break
	done
	ln -sf "$exe" "$prefix/bin/python"
	echo "pydeadlock: built Python $name in $prefix"
}

mkdir -p "$cache" || die "cannot create $cache"
for k in $kinds; do
	build_one "$k"
done
