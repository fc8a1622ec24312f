# Shared by the benchmarks: timing one run, and the median of a column.
# Sourced after $out (a scratch folder) is set.

# ms TOOL ARGS...: wall-clock microseconds of one run (stdout to
# $out/last, stderr appended to $out/stats)
ms() {
	s=$(date +%s%N)
	"$@" > "$out/last" 2>> "$out/stats" || true
	e=$(date +%s%N)
	echo $(( (e - s) / 1000 ))
}

# median: of the numbers on standard input, one a line (nothing if none)
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
