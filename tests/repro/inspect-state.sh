#!/bin/bash
# Show where every thread of a running repro program waits: start the
# program in a new session, wait, then for every process of that session
# print each thread's name, state, wchan, the syscall it is in, whether it
# used CPU in the last half second, and (with -s) its native stack.
#   usage: inspect-state.sh [-s] [-w SECONDS] PROGRAM [INTERPRETER]
# PROGRAM is a tests/repro file (.py run with INTERPRETER, default python3;
# .c compiled with gcc into a temp dir).  The program is killed afterwards.
set -u
stacks=0 delay=1.5
while getopts "sw:" o; do
	case $o in s) stacks=1 ;; w) delay=$OPTARG ;; *) exit 2 ;; esac
done
shift $((OPTIND - 1))
prog=$1 py=${2:-python3}
export PYTHONDONTWRITEBYTECODE=1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
case $prog in
*.c) gcc -g -O0 -pthread -o "$tmp/prog" "$here/$(basename "$prog")" || exit 2
	cmd=("$tmp/prog") ;;
*) cmd=("$py" "$here/$(basename "$prog")") ;;
esac
setsid "${cmd[@]}" >"$tmp/out" 2>"$tmp/err" </dev/null &
sid=$!
sleep "$delay"
declare -A t0
pids=$(ps -e -o pid=,sid= | awk -v s="$sid" '$2 == s {print $1}')
for p in $pids; do
	for t in /proc/$p/task/*; do
		t0[$t]=$(awk '{print $14 + $15}' "$t/stat" 2>/dev/null)
	done
done
sleep 0.5
for p in $pids; do
	echo "process $p: $(tr '\0' ' ' </proc/$p/cmdline 2>/dev/null)"
	for t in /proc/$p/task/*; do
		tid=${t##*/}
		st=$(awk '{print $3}' "$t/stat" 2>/dev/null)
		cpu=$(awk '{print $14 + $15}' "$t/stat" 2>/dev/null)
		sc=$(cut -d' ' -f1 "$t/syscall" 2>/dev/null)
		case $sc in
		202) sc=futex ;; 61) sc=wait4 ;; 1) sc=write ;; 0) sc=read ;;
		7) sc=poll ;; 230) sc=clock_nanosleep ;; 35) sc=nanosleep ;;
		270) sc=pselect6 ;; 232) sc=epoll_wait ;; 281) sc=epoll_pwait ;;
		esac
		busy=idle
		[ "${t0[$t]:-}" != "$cpu" ] && busy=RUNNING
		printf '  %-7s %-16s %s %-22s %-16s %s\n' "$tid" "$(cat "$t/comm")" \
			"$st" "$(cat "$t/wchan" 2>/dev/null)" "$sc" "$busy"
	done
	[ $stacks = 1 ] && eu-stack -p "$p" 2>/dev/null | sed 's/^/    /'
done
echo "--- stdout"; cat "$tmp/out"
echo "--- stderr"; head -20 "$tmp/err"
kill -KILL -- -"$sid" 2>/dev/null
wait 2>/dev/null
