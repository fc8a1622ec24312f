# One deadlock of the corpus on one interpreter, run plainly (no shim) in
# a session of its own: pydeadlock attach, given the first process, must
# prove it (exit 1) once it has formed, with the processes below it, and
# leave every process as it found it.  A potential one it must report as
# such (exit 0: nothing proved).
# Arguments: NAME KIND PYTHON ("-" for a C program); prints "ok ..." or
# "FAIL: ...".
name=$1 kind=$2 py=$3
. "$(dirname "$TESTLIB")/../run/lib.sh"
. "$SRCDIR/tests/repro/lib.sh"
cmd=$(repro_cmd "$name" "$py")
what="$name on ${py##*/versions/}"
# shellcheck disable=SC2086
setsid $cmd > "$WORK/out" 2> "$WORK/err" < /dev/null &
pid=$!
trap 'kill -9 "-$pid" 2> /dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 200); do
	grep -q ready "$WORK/out" "$WORK/err" 2> /dev/null && break
	sleep 0.05
done
# the deadlock forms after "ready": attach until it is proved (at most 10 s)
RC=0
for _ in $(seq 1 50); do
	run_attach "$WORK/report" "$pid"
	[ "$RC" = 1 ] && break
	[ "$RC" = 0 ] || break
	[ "$kind" = potential ] && grep -q '^pydeadlock: no certain deadlock in process [0-9]* (.*), [0-9]* potential' "$WORK/report" &&
		break
	sleep 0.2
done
if [ "$kind" = potential ]; then
	[ "$RC" = 0 ] && grep -q ' potential' "$WORK/report" ||
		{ echo "FAIL: $what: attach: status $RC, want a potential one: $(head -n3 "$WORK/report") $(cat "$WORK/report.err")"; exit 0; }
else
	[ "$RC" = 1 ] || { echo "FAIL: $what: attach: status $RC: $(head -n3 "$WORK/report") $(cat "$WORK/report.err")"; exit 0; }
fi
for p in $(pgrep -s "$pid"); do
	assert_untouched "$p" > "$WORK/untouched" 2>&1 ||
		{ echo "FAIL: $what: $(cat "$WORK/untouched")"; exit 0; }
done
repro_lines_named "$name" "$WORK/report" ||
	{ echo "FAIL: $what: attach names none of the waiting lines ($marked): $(head -n 12 "$WORK/report")"; exit 0; }
echo "ok $what: $(head -n1 "$WORK/report" | sed 's/.*: deadlock/deadlock/')"
