# For the tests over the corpus of reproductions (tests/repro/MANIFEST):
# real deadlocks from public reports and the documentation, and correct
# programs shaped like them.  Sourced after tests/run/lib.sh.
REPRO="$SRCDIR/tests/repro"
REPRO_BIN="$(dirname "$PROGS")/repro"	# the C programs, built by make check
# the import helpers are next to the programs; no __pycache__ there
export PYTHONDONTWRITEBYTECODE=1
JOBS=${REPRO_JOBS:-3}	# deadlocked runs are idle: more than the cores

# repro_list KIND: "name<TAB>procs" of every program of that kind
repro_list() {
	awk -F '\t' -v k="$1" '$2 == k { print $1 "\t" $4 }' "$REPRO/MANIFEST"
}

# repro_cmd NAME PYTHON: the command that runs program NAME
repro_cmd() {
	case "$1" in
	*.c) echo "$REPRO_BIN/${1%.c}" ;;
	*) echo "$2 $REPRO/$1" ;;
	esac
}

# repro_pythons NAME: the interpreters NAME runs on (one "-" for C): all,
# or with "gil" in MANIFEST's third column, those with a GIL
repro_pythons() {
	case "$1" in
	*.c) echo - ;;
	*) case "$(awk -F '\t' -v n="$1" '$1 == n { print $3 }' "$REPRO/MANIFEST")" in
	   gil) pythons --gil ;;
	   *) pythons ;;
	   esac ;;
	esac
}

# repro_wait_lines NAME: "file:line" of each line the program marks as
# where a thread of it waits for good
repro_wait_lines() {
	grep -n 'WAIT:' "$REPRO/$1" "$REPRO"/repro_*helper*.py 2>/dev/null |
		awk -F: -v f="$1" '
			$1 ~ "/" f "$" || (f == "import_lock.py" && $1 ~ /repro_import_helper/) {
				n = split($1, p, "/"); print p[n] ":" $2 }'
}

# repro_lines_named NAME REPORT: sets seen to how many of NAME's marked
# waiting lines REPORT names ("waiting at FILE:LINE in"), and marked to
# them; false when it has marked lines and names none
repro_lines_named() {
	marked=$(repro_wait_lines "$1")
	seen=0
	for at in $marked; do
		grep -q "waiting at .*$at in " "$2" && seen=$((seen + 1))
	done
	[ -z "$marked" ] || [ "$seen" -gt 0 ]
}

# in_parallel SCRIPT LIST: sh SCRIPT on each line of LIST (its words are
# the arguments), JOBS at once; each prints "ok ..." or "FAIL: ..."; fails
# when one failed, after printing every result
in_parallel() {
	xargs -P "$JOBS" -L 1 sh "$1" < "$2" > "$WORK/results" 2>&1
	cat "$WORK/results"
	[ -s "$WORK/results" ] || fail "no results"
	! grep -q '^FAIL' "$WORK/results"
}
