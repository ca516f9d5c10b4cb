#!/usr/bin/env bash
# The fault and soak suite, as `make soak` runs it; not part of `make test`. On
# loopback only, against the real binary (bin/swarmlight, from make build) loaded
# by the project's own load tool (cmd/swarmload):
#   kill -9     SIGKILL mid-fill, three times; restarted on the same ports it
#               answers again, and clients re-announcing all get in
#   SIGHUP      200 in 10 s while fills run back to back: no failure, no crash,
#               the reloads in the log
#   full disk   working directory, $HOME and $TMPDIR on a full tmpfs: it serves as
#               usual, strace sees no write to any file, nothing changes (root)
#   clock       its wall clock jumps 6 h forward and back under ptrace: peers
#               expire on time, on the monotonic clock, and the per-source quota
#               window slides on (linux/amd64; root, as the tracker makes itself
#               non-dumpable)
#   fuzz        each parser's fuzz target for SOAK_FUZZTIME (default 10m): HTTP
#               query, UDP packet with its BEP 41 options, config
# The fault checks are Go tests behind the soak build tag, in scripts/soak/; each is
# bounded in count and time. Ends with a table: check, result, figures, and the
# totals; exits non-zero if any check failed. A crasher is kept where go test
# writes it, in the package's testdata/fuzz. A check this machine cannot run is a
# SKIP with its reason, except under CI=true, where it is a failure.
#   SOAK_FUZZTIME=30s   fuzz each target for 30 s (any go test -fuzztime: 10m, 5000x)
#   SOAK_KEEP=1         keep the scratch directory with every log
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
GO=${GO:-go}

[ -n "${EPOCHREALTIME:-}" ] || { echo "soak: needs bash 5 (EPOCHREALTIME)" >&2; exit 1; }
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
t_start=$(now_us)

fuzztime=${SOAK_FUZZTIME:-10m}
if ! [[ $fuzztime =~ ^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$ || $fuzztime =~ ^[1-9][0-9]*x$ ]]; then
	echo "soak: SOAK_FUZZTIME=$fuzztime: want a duration such as 30s or 10m, or a count such as 5000x" >&2
	exit 2
fi
bin=${SOAK_BIN:-bin/swarmlight}
[ -x "$bin" ] || { echo "soak: $bin is missing: run make build (or make soak)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/soak-XXXXXX")
cleanup() {
	if [ "${SOAK_KEEP:-}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
report=$work/report.tsv
: >"$report"

step() { printf '\n== %s\n' "$*"; }

step "build: swarmload"
CGO_ENABLED=0 "$GO" build -trimpath -o bin/swarmload ./cmd/swarmload
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
echo "swarmlight: $bin ($("$bin" version))"

# The full-disk check mounts a tmpfs: in a mount namespace of its own, nothing of
# it is seen outside, and it is gone when the check ends, however it ends.
private=()
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null 2>&1; then
	private=(unshare --mount --propagation private)
fi

failed=0
why=()
# fault TEST: one fault check, a go test of its own, so that one crash cannot take
# the others with it.
fault() {
	local name=$1 t0 status=0 rows reason
	t0=$(now_us)
	rows=$(wc -l <"$report")
	step "$name"
	SOAK_BIN=$bin SOAK_LOAD=$PWD/bin/swarmload SOAK_REPORT=$report \
		"${private[@]}" "$GO" test -tags soak -count=1 -v -timeout 10m -run "^$name\$" ./scripts/soak \
		>"$work/$name.log" 2>&1 || status=$?
	grep -E '^(=== RUN|--- |\s+[a-z_]+_test\.go:[0-9]+: )' "$work/$name.log" || true
	if [ "$status" != 0 ]; then
		failed=1
		# What the check said, its failure among it (go test -v does not tell a
		# failure's line from a log line).
		reason=$(grep -E '^\s+[a-z_]+_test\.go:[0-9]+: ' "$work/$name.log" | grep -v 'soak_test\.go' |
			tail -n 5 | cut -c1-400 | sed 's/^\s*/    /' || true)
		why+=("$name:" "${reason:-    (nothing: see its log)}")
	fi
	# A check that ended before it could report (a build error, a timeout, a
	# crash of the test itself) still gets its line.
	if [ "$(wc -l <"$report")" = "$rows" ]; then
		failed=1
		printf '%s\tFAIL\tgo test exited with status %s and no report: %s\t\n' \
			"$name" "$status" "$(tail -n 3 "$work/$name.log" | tr '\t\n' '  ')" >>"$report"
	fi
	echo "$name: $(since "$t0")"
}

step "the suite's own trace reader"
"$GO" test -tags soak -count=1 -run '^TestSummarize$' ./scripts/soak || failed=1
for t in TestKillRestart TestHangupStorm TestFullDisk TestWallClockJump TestWallClockJumpQuota; do
	fault "$t"
done

# fuzz TARGET PACKAGE WHAT: one fuzz target for $fuzztime. go test stops at the
# first crasher and writes it to PACKAGE/testdata/fuzz/TARGET/.
fuzz() {
	local target=$1 pkg=$2 what=$3 log=$work/$1.log status=0 execs crasher t0
	t0=$(now_us)
	step "fuzz $what: $target, $fuzztime"
	# Each new interesting input is minimized, by default for up to a minute, in
	# which the target is not fuzzed: FuzzHandle spent 40 of 60 s so. Five seconds
	# keep the corpus small and the time for fuzzing.
	"$GO" test -run '^$' -fuzz "^$target\$" -fuzztime "$fuzztime" -fuzzminimizetime 5s "$pkg" >"$log" 2>&1 || status=$?
	tail -n 4 "$log"
	execs=$(sed -n 's/.*fuzz: elapsed: [^,]*, execs: \([0-9]*\) .*/\1/p' "$log" | tail -n 1)
	crasher=$(sed -n 's/.*Failing input written to \(testdata\/fuzz\/[^ ]*\).*/\1/p' "$log" | head -n 1)
	if [ "$status" = 0 ]; then
		printf 'fuzz %s (%s)\tPASS\t%s executions in %s, no crasher\texecs=%s crashes=0\n' \
			"$what" "$target" "${execs:-0}" "$fuzztime" "${execs:-0}" >>"$report"
	elif [ -n "$crasher" ]; then
		failed=1
		printf 'fuzz %s (%s)\tFAIL\t%s executions, crasher kept in %s/%s\texecs=%s crashes=1\n' \
			"$what" "$target" "${execs:-0}" "$pkg" "$crasher" "${execs:-0}" >>"$report"
	else
		failed=1
		printf 'fuzz %s (%s)\tFAIL\tgo test exited with status %s and no crasher: %s\texecs=%s\n' \
			"$what" "$target" "$status" "$(grep -m1 -E 'FAIL|error|cannot' "$log" | tr '\t' ' ')" "${execs:-0}" >>"$report"
	fi
	echo "$target: $(since "$t0")"
}

# BEP 41 options have no target of their own: FuzzHandle reaches them through
# authenticated announces, and its seeds carry URL data options.
fuzz FuzzParseQuery ./appliance/query "HTTP query"
fuzz FuzzHandle ./appliance/udptracker "UDP packet, BEP 41 options"
fuzz FuzzLoadFile ./appliance/config "config"

step "summary"
echo "| check | result | figures |"
echo "|---|---|---|"
declare -A total=()
while IFS=$'\t' read -r check result figures totals; do
	printf '| %s | %s | %s |\n' "$check" "$result" "$figures"
	[ "$result" = FAIL ] && failed=1
	[ "$result" = PASS ] || [[ $check == fuzz* ]] || continue
	for kv in $totals; do
		total[${kv%%=*}]=$((${total[${kv%%=*}]:-0} + ${kv#*=}))
	done
done <"$report"
if [ "${#why[@]}" -gt 0 ]; then
	echo
	echo "what the failed checks said last (their whole logs: SOAK_KEEP=1):"
	printf '%s\n' "${why[@]}"
fi
echo
echo "load held: ${total[announces]:-0} announces under faults, ${total[failed]:-0} failed"
echo "faults survived: ${total[faults]:-0}"
echo "executions fuzzed: ${total[execs]:-0} ($fuzztime per target)"
echo "crashes found: ${total[crashes]:-0}"
echo "soak: $(since "$t_start") in all"
if [ "$failed" != 0 ]; then
	echo "soak: FAILED"
	exit 1
fi
echo "soak: passed"
