#!/bin/sh
# Break latency: from just before the wait that closes a cycle to the
# moment the victim's wait has failed (EDEADLK / DeadlockError), under
# pydeadlock run --on-deadlock=break; median and max of RUNS runs.  It
# includes taking the report's snapshot, which comes first by design.
# Usage: bench/break.sh [RUNS]  (after scripts/build.sh)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-11}
bin="$top/build"
mkdir -p "$bin/bench"
gcc -O2 -pthread -o "$bin/bench/break_latency" "$top/bench/break_latency.c"
py=${PYTHON:-/root/.pyenv/versions/3.11.7/bin/python}
stats() { sort -n | awk '{ v[NR] = $1 } END { printf "median %.2f ms, max %.2f ms (%d runs)", v[int((NR + 1) / 2)] / 1000, v[NR] / 1000, NR }'; }
: > /tmp/pd-break-c; : > /tmp/pd-break-py
for i in $(seq 1 "$runs"); do
	"$bin/pydeadlock" run --on-deadlock=break -- "$bin/bench/break_latency" >> /tmp/pd-break-c 2> /dev/null
	"$bin/pydeadlock" run --on-deadlock=break -- "$py" "$top/bench/break_latency.py" >> /tmp/pd-break-py 2> /dev/null
done
echo "break: $(date -u +%Y-%m-%d), load $(cut -d' ' -f1 /proc/loadavg)"
echo "  C, pthread_mutex_lock -> EDEADLK:        $(stats < /tmp/pd-break-c)"
echo "  Python $("$py" -c 'import platform; print(platform.python_version())'), with lock -> DeadlockError: $(stats < /tmp/pd-break-py)"
echo "  goal: the break takes effect within 10 ms, median"
rm -f /tmp/pd-break-c /tmp/pd-break-py
