#!/usr/bin/env bash
# tests/fuzz/fuzz.sh BIN SECONDS - one fuzzing session of one target.
#
# Runs BIN (build-fuzz/TARGET) for SECONDS with its dictionary and the
# committed corpus tests/fuzz/corpus/TARGET as seeds, one fuzzing process
# at a time (-fork=1: a crash, timeout or OOM is saved and fuzzing goes on,
# instead of ending the session at the first known bug).  New inputs go to
# build-fuzz/work/TARGET; afterwards those that reach new edges are merged
# into the committed corpus (-set_cover_merge=1), and crashes are left in
# build-fuzz/artifacts/TARGET for tests/fuzz/regress/TARGET.  Ends with one
# line: TARGET, seconds, executions, coverage (edges) and features, crashes.
set -u
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
secs=$2
t=$(basename "$bin")
root=$(cd "$(dirname "$0")/../.." && pwd)
fz=$root/build-fuzz
work=$fz/work/$t art=$fz/artifacts/$t run=$fz/run/$t
mkdir -p "$work" "$art" "$run"
seeds=$root/tests/fuzz/corpus/$t
mkdir -p "$seeds"
case $t in
fuzz_run) maxlen=8192 timeout=30 ;;
*) maxlen=8192 timeout=10 ;;
esac
dict=()
[ -f "$root/tests/fuzz/$t.dict" ] && dict=(-dict="$root/tests/fuzz/$t.dict")
cd "$run" || exit 2
log=$run/fuzz.log
echo "$t: fuzzing for $secs s (log $log)"
"$bin" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -max_total_time="$secs" -timeout="$timeout" -rss_limit_mb=2048 -max_len="$maxlen" \
    -artifact_prefix="$art/" -print_final_stats=1 "${dict[@]}" \
    "$work" "$seeds" >"$log" 2>&1
rc=$?
before=$(ls "$seeds" | wc -l)
# Only what reaches an edge the corpus does not: a greedy set cover over
# edges (no hit-count buckets), so the committed corpus stays small.
"$bin" -set_cover_merge=1 -use_counters=0 -max_len="$maxlen" -timeout="$timeout" -rss_limit_mb=2048 \
    "$seeds" "$work" >"$run/merge.log" 2>&1
after=$(ls "$seeds" | wc -l)
# fork mode's status lines: "#N: cov: C ft: F corp: ... exec/s: E ... time: T"
last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -n 1)
execs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$last")
cov=$(sed -E 's/.* cov: ([0-9]+) .*/\1/' <<<"$last")
ft=$(sed -E 's/.* ft: ([0-9]+) .*/\1/' <<<"$last")
crashes=$(ls "$art" | grep -cE '^(crash|leak|timeout|oom|slow-unit)-' || true)
echo "$t: $secs s, ${execs:-?} executions, cov ${cov:-?} edges, ft ${ft:-?} features, corpus $before -> $after, $crashes artifacts in $art (exit $rc)"
