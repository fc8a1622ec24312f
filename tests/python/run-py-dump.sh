#!/bin/sh
# Runs py_dump on programs of known shape (py_shapes.py) under every
# CPython this machine has, and checks what it reads (check_dump.py).
# Prints PASS/FAIL/SKIP per interpreter and case; exits 1 on any FAIL,
# 77 when nothing could run.  PYTHONS overrides the interpreter list.
here=$(cd "$(dirname "$0")" && pwd)
dump=${PY_DUMP:-$here/py_dump}
checker=${CHECK_PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: "${PYTHONS:=$(sh "$here/../../scripts/pythons.sh")}"
: "${CASES:=locks busy deep many join with objects}"
[ -x "$dump" ] || "$here/build.sh" "$dump" || exit 99
fails=0 runs=0

# Starts py_shapes.py CASE under $1; sets pid once it is set up.
start() {
	rm -f "$tmp/expect.json"
	# buffered stdio: sys.stdout.buffer is then a BufferedWriter
	env -u PYTHONUNBUFFERED "$1" "$here/py_shapes.py" "$2" \
		"$tmp/expect.json" &
	pid=$!
	i=0
	while [ ! -f "$tmp/expect.json" ] && [ $i -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -f "$tmp/expect.json" ]
}

for py in $PYTHONS; do
	if [ ! -x "$py" ]; then
		echo "SKIP $py (not installed)"
		continue
	fi
	ver=$("$py" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
	for case in $CASES; do
		runs=$((runs + 1))
		label="$ver $case ($py)"
		if ! start "$py" "$case"; then
			echo "FAIL $label: program did not start"
			fails=$((fails + 1))
			kill -KILL "$pid" 2>/dev/null
			continue
		fi
		opts=
		[ "$case" = deep ] && opts=--all-frames
		[ "$case" = many ] && opts=--repeat=20
		"$dump" $opts "$pid" > "$tmp/dump.txt" 2>&1
		# SIGKILL: a program may handle SIGTERM (the signals case)
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		if "$checker" "$here/check_dump.py" "$case" "$tmp/expect.json" \
		    "$tmp/dump.txt" "$here/py_shapes.py" > "$tmp/why.txt"; then
			us=$(sed -n 's/^time capture_us=\([0-9]*\).*/\1/p' \
				"$tmp/dump.txt")
			dus=$(sed -n 's/^time .*dump_us=//p' "$tmp/dump.txt")
			echo "PASS $label capture ${us}us dump ${dus}us"
		else
			echo "FAIL $label"
			sed 's/^/    /' "$tmp/why.txt"
			fails=$((fails + 1))
		fi
	done
done

# Interpreters we do not read must be named, not misread.
for py in /root/.pyenv/versions/3.8.18/bin/python \
    /root/.pyenv/versions/3.6.15/bin/python /bin/sleep; do
	[ -x "$py" ] || continue
	runs=$((runs + 1))
	if [ "$py" = /bin/sleep ]; then
		"$py" 1000 & pid=$!
		want="unsupported not a Python process"
	else
		"$py" -c 'import time; time.sleep(1000)' & pid=$!
		want="unsupported unsupported Python"
	fi
	sleep 0.5
	out=$("$dump" "$pid" 2>&1)
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	case "$out" in
	"$want"*) echo "PASS unsupported ($py): $out" ;;
	*) echo "FAIL unsupported ($py): $out"; fails=$((fails + 1)) ;;
	esac
done
[ $runs -eq 0 ] && exit 77
[ $fails -eq 0 ]
