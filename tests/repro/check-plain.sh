#!/bin/bash
# Run every program of MANIFEST plainly (no tool) on every interpreter and
# check it behaves as its kind says:
#   deadlock: still running after 8 s (timeout's exit 124) and printed "ready";
#   control:  exits 0 within 20 s and the last line of stdout is "ok".
# C programs are compiled with gcc into a temp dir and run once.  Each run is
# in its own session; the whole process group is killed afterwards.
#
# usage: check-plain.sh [-j JOBS] [-p PYTHON]... [NAME...]
#   -j JOBS    runs at once (default 4; deadlocked runs are idle)
#   -p PYTHON  interpreter to use (repeatable; default: scripts/pythons.sh)
#   NAME       only these programs (file names as in MANIFEST)
# Prints a table and a final line "N passed, N failed"; exit 1 if any failed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
jobs=4
pythons=()
while getopts "j:p:" o; do
	case $o in
	j) jobs=$OPTARG ;;
	p) pythons+=("$OPTARG") ;;
	*) sed -n '2,13p' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
if [ ${#pythons[@]} = 0 ]; then
	while read -r p; do
		pythons+=("$p")
	done < <(sh "$here/../../scripts/pythons.sh")
fi
# Keep __pycache__ out of the source tree (import_lock.py, import_slow_module.py).
export PYTHONDONTWRITEBYTECODE=1
DEADLOCK_TIMEOUT=8
CONTROL_TIMEOUT=20

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# major.minor of each interpreter, for the MANIFEST's pythons column.
declare -A pyver
for py in "${pythons[@]}"; do
	pyver[$py]=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) ||
		pyver[$py]=missing
done

# Interpreters with a GIL, for the programs whose spec is "gil".
gil_pythons=" $(sh "$here/../../scripts/pythons.sh" --gil | tr '\n' ' ') "

# in_range VERSION SPEC [PYTHON]: SPEC is "all", "gil" (PYTHON has a
# GIL), "3.11" or "3.9-3.12".
in_range() {
	local v=$1 spec=$2 lo hi
	[ "$spec" = all ] && return 0
	[ "$spec" = gil ] && { case "$gil_pythons" in *" $3 "*) return 0 ;; esac; return 1; }
	lo=${spec%-*} hi=${spec#*-}
	[ "$(printf '%s\n' "$lo" "$v" | sort -V | head -1)" = "$lo" ] &&
		[ "$(printf '%s\n' "$v" "$hi" | sort -V | head -1)" = "$v" ]
}

# run_one ID KIND LABEL CMD...: one run; writes "$tmp/$ID.res".
run_one() {
	local id=$1 kind=$2 label=$3 limit rc verdict last sid
	shift 3
	if [ "$kind" = deadlock ]; then limit=$DEADLOCK_TIMEOUT; else limit=$CONTROL_TIMEOUT; fi
	(cd "$here" && exec setsid timeout -k 3 "$limit" "$@") \
		>"$tmp/$id.out" 2>"$tmp/$id.err" </dev/null &
	sid=$!
	wait "$sid"
	rc=$?
	kill -KILL -- -"$sid" 2>/dev/null
	last=$(tail -n 1 "$tmp/$id.out")
	if [ "$kind" = deadlock ]; then
		if [ $rc = 124 ] && grep -qx ready "$tmp/$id.out"; then verdict=PASS
		elif [ $rc = 124 ]; then verdict="FAIL (no ready)"
		else verdict="FAIL (exited)"
		fi
	else
		if [ $rc = 0 ] && [ "$last" = ok ]; then verdict=PASS
		elif [ $rc = 124 ] || [ $rc = 137 ]; then verdict="FAIL (hung)"
		else verdict="FAIL (last line: ${last:0:30})"
		fi
	fi
	printf '%s\t%s\t%s\n' "$label" "$rc" "$verdict" >"$tmp/$id.res"
}

running=0
n=0
order=()
while IFS=$'\t' read -r name kind pyspec nproc desc; do
	[ -z "$name" ] && continue
	if [ $# -gt 0 ]; then
		want=0
		for a in "$@"; do [ "$a" = "$name" ] && want=1; done
		[ $want = 1 ] || continue
	fi
	runs=()
	case $name in
	*.c)
		bin="$tmp/${name%.c}"
		if gcc -g -O0 -Wall -pthread -o "$bin" "$here/$name" 2>"$tmp/cc.err"; then
			runs+=("gcc|$bin")
		else
			n=$((n + 1))
			printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$kind" gcc - "FAIL (compile)" >"$tmp/$n.res"
			order+=($n)
			continue
		fi
		;;
	*)
		for py in "${pythons[@]}"; do
			v=${pyver[$py]}
			[ "$v" = missing ] && continue
			in_range "$v" "$pyspec" "$py" || continue
			runs+=("$py|$py $here/$name")
		done
		;;
	esac
	for r in "${runs[@]}"; do
		n=$((n + 1))
		order+=($n)
		label="$name	$kind	${r%%|*}"
		# shellcheck disable=SC2086
		run_one $n "$kind" "$label" ${r#*|} &
		running=$((running + 1))
		if [ $running -ge "$jobs" ]; then
			wait -n
			running=$((running - 1))
		fi
	done
done <"$here/MANIFEST"
wait

passed=0 failed=0
printf '%-34s %-9s %-41s %-4s %s\n' PROGRAM KIND INTERPRETER EXIT RESULT
for i in "${order[@]}"; do
	IFS=$'\t' read -r name kind interp rc verdict <"$tmp/$i.res"
	printf '%-34s %-9s %-41s %-4s %s\n' "$name" "$kind" "$interp" "$rc" "$verdict"
	case $verdict in PASS) passed=$((passed + 1)) ;; *) failed=$((failed + 1)) ;; esac
done
echo "$passed passed, $failed failed"
[ $failed = 0 ]
