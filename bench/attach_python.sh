#!/bin/sh
# Attach + full report of a 100-thread deadlocked Python process (dining
# philosophers, bench/philosophers.py), side by side with py-spy, pystack and
# gdb's CPython extension on the same process, median of RUNS runs each,
# interleaved so that machine noise hits all four alike.  Also the time the
# target is stopped (pydeadlock --stats).  py-spy and pystack come from
# bench/requirements.txt, installed into build/bench-venv on first use.
# Needs root (ptrace).
# Usage: bench/attach_python.sh [RUNS [PYTHON...]]  (after scripts/build.sh)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-9}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- /root/.pyenv/versions/3.11.7/bin/python /usr/bin/python3.11 \
	/root/.pyenv/versions/3.13.0/bin/python
bin="$top/build"
venv="$bin/bench-venv"
command -v gdb > /dev/null || { echo "needs gdb" >&2; exit 1; }
[ -x "$bin/pydeadlock" ] || { echo "needs build/pydeadlock: run scripts/build.sh" >&2; exit 1; }

# The tools' own virtual environment, (re)made when requirements.txt changes.
if ! cmp -s "$top/bench/requirements.txt" "$venv/requirements.txt" 2> /dev/null; then
	rm -rf "$venv"
	python3 -m venv "$venv"
	"$venv/bin/pip" install -q --disable-pip-version-check -r "$top/bench/requirements.txt" >&2
	cp "$top/bench/requirements.txt" "$venv/requirements.txt"
fi

out=$(mktemp -d)
target=
trap '[ -n "$target" ] && kill $target 2> /dev/null; rm -rf "$out"' EXIT
trap 'exit 1' HUP INT TERM PIPE		# so that EXIT kills the target

. "$top/bench/lib.sh"
# futex_waiters PID: how many of PID's threads sit in futex (syscall 202)
futex_waiters() { cat /proc/"$1"/task/*/syscall 2> /dev/null | awk '$1 == 202' | wc -l; }
# gdb_ext PYTHON: CPython's gdb extension for this interpreter, if any
gdb_ext() {
	exe=$(readlink -f "$1")
	lib=$(ldd "$exe" 2> /dev/null | awk '/libpython/ { print $3 }')
	for f in "$exe-gdb.py" ${lib:+"$lib-gdb.py"} "/usr/share/gdb/auto-load$exe-gdb.py" \
		${lib:+"/usr/share/gdb/auto-load$lib-gdb.py"}; do
		if [ -f "$f" ]; then echo "$f"; return; fi
	done
}
# gdb_all: every thread's stack, Python frames if the extension works
gdb_all() {
	case $gdb_label in
	*py-bt) gdb -batch -nx -iex "add-auto-load-safe-path $ext" -p "$target" -ex 'thread apply all py-bt' ;;
	*) gdb -batch -nx -p "$target" -ex 'thread apply all bt' ;;
	esac
}
# summary FILE: lines, thread names and Python frames in one tool's output
summary() {
	printf '%s lines, %s of 100 philosopher names, %s frames at philosophers.py:17' \
		"$(wc -l < "$1")" "$(grep -oE 'philosopher-[0-9]+' "$1" | sort -u | wc -l)" \
		"$(grep -cE 'philosophers\.py(:|", line )17' "$1")"
}

echo "attach_python: $(date -u +%Y-%m-%d), $runs runs each, median wall time"
for py in "$@"; do
	"$py" "$top/bench/philosophers.py" > "$out/ph.out" &
	target=$!
	until grep -q ready "$out/ph.out"; do sleep 0.05; done
	n=0
	until [ "$(futex_waiters $target)" -ge 101 ]; do
		n=$((n + 1)); [ $n -lt 200 ] || { echo "$py: philosophers not blocked after 10 s" >&2; exit 1; }
		sleep 0.05
	done
	sleep 0.5

	ext=$(gdb_ext "$py")
	if [ -n "$ext" ] && gdb -batch -nx -iex "add-auto-load-safe-path $ext" -p $target \
		-ex 'py-bt' 2>&1 | grep -q 'File "'; then
		gdb_label="gdb thread apply all py-bt"
	else
		gdb_label="gdb thread apply all bt   "
	fi

	: > "$out/pd"; : > "$out/spy"; : > "$out/pys"; : > "$out/gdb"; : > "$out/stats"
	for i in $(seq 1 "$runs"); do
		ms "$bin/pydeadlock" attach --stats "$target" >> "$out/pd"
		cp "$out/last" "$out/pd.txt"
		ms "$venv/bin/py-spy" dump --pid "$target" >> "$out/spy"
		cp "$out/last" "$out/spy.txt"
		ms "$venv/bin/pystack" remote "$target" >> "$out/pys"
		cp "$out/last" "$out/pys.txt"
		ms gdb_all >> "$out/gdb"
		cp "$out/last" "$out/gdb.txt"
	done
	threads=$(ls /proc/$target/task | wc -l)
	pd=$(median < "$out/pd")
	spy=$(median < "$out/spy")
	pys=$(median < "$out/pys")
	gdb=$(median < "$out/gdb")
	stopped=$(sed -n 's/.*target stopped \([0-9.]*\) ms.*/\1/p' "$out/stats" | median)
	stopped_max=$(sed -n 's/.*target stopped \([0-9.]*\) ms.*/\1/p' "$out/stats" | sort -n | tail -n1)
	echo "$("$py" -c 'import sys; print("Python", sys.version.split()[0])') ($py), $threads threads"
	if [ -z "$ext" ]; then
		echo "  (no CPython gdb extension found for $py: gdb times plain bt)"
	elif [ "$gdb_label" != "gdb thread apply all py-bt" ]; then
		echo "  ($ext does not give Python frames here: gdb times plain bt)"
	fi
	awk -v pd="$pd" -v spy="$spy" -v pys="$pys" -v gdb="$gdb" -v st="$stopped" \
		-v stmax="$stopped_max" -v gl="$gdb_label" 'BEGIN {
	printf "  pydeadlock attach           %8.1f ms   (target stopped: median %.3f ms, max %.3f ms)\n", pd / 1000, st, stmax
	printf "  py-spy dump                 %8.1f ms   pydeadlock/py-spy  = %.2f\n", spy / 1000, pd / spy
	printf "  pystack remote              %8.1f ms   pydeadlock/pystack = %.3f\n", pys / 1000, pd / pys
	printf "  %s  %8.1f ms   pydeadlock/gdb     = %.3f\n", gl, gdb / 1000, pd / gdb
}'
	echo "  pydeadlock verdict: $(head -n1 "$out/pd.txt")"
	echo "  printed: pydeadlock $(summary "$out/pd.txt")"
	echo "           py-spy     $(summary "$out/spy.txt")"
	echo "           pystack    $(summary "$out/pys.txt")"
	echo "           gdb        $(summary "$out/gdb.txt")"
	kill $target; wait $target 2> /dev/null || true
	target=
done
