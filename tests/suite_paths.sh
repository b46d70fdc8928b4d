#!/usr/bin/env bash
# suite_paths.sh SEQRUN BUILD - --paths (the filter line-oriented engines
# feed) and README's GNU parallel recipe, checked against single runs and
# against PyTorch's outputs.
set -u
. "$(dirname "$0")/lib.sh"
sr_suite_setup "$@"
NPYCMP=$BUILD/tests/npycmp
G=$(cd "$(dirname "$0")" && pwd)/golden/cases
cd "$T" || exit 2

# Four inputs: three PyTorch golden inputs of one model, copied under new
# names, and their expected outputs.
M=$G/core_mlp
mkdir -p in out
for i in 1 2 3; do cp "$M/input.npy" "in/x$i.npy"; done
cp "$G/core_stream/input.npy" in/stream.npy 2>/dev/null
printf 'not a tensor' >in/bad.npy

printf '%s\n' in/x1.npy in/x2.npy in/bad.npy in/x3.npy >list
"$SEQRUN" -q --paths -w "$M/weights.safetensors" "$M/model.yaml" <list >printed 2>err
rc=$?
[ $rc -ne 0 ] && ok paths_failure_sets_exit || bad paths_failure_sets_exit "exit $rc with a bad path"
[ "$(cat printed)" = "$(printf '%s\n' in/x1.out.npy in/x2.out.npy in/x3.out.npy)" ] &&
    ok paths_prints_outputs || bad paths_prints_outputs "$(cat printed)"
grep -q 'in/bad.npy' err && grep -q '1 of 4 paths failed' err && ok paths_reports_failed ||
    bad paths_reports_failed "$(cat err)"
[ ! -e in/bad.out.npy ] && ok paths_no_output_for_failure || bad paths_no_output_for_failure "created"
good=1
for i in 1 2 3; do "$NPYCMP" "$M/expected.npy" "in/x$i.out.npy" --rtol 1e-4 --atol 1e-5 || good=0; done
[ $good = 1 ] && ok paths_outputs_match_pytorch || bad paths_outputs_match_pytorch "differs"

printf '%s\n' in/x1.npy in/x2.npy | "$SEQRUN" -q --paths -o out -w "$M/weights.safetensors" "$M/model.yaml" >printed &&
    [ "$(cat printed)" = "$(printf '%s\n' out/x1.out.npy out/x2.out.npy)" ] &&
    cmp -s out/x1.out.npy in/x1.out.npy && ok paths_output_dir || bad paths_output_dir "$(cat printed)"
"$SEQRUN" -q -w "$M/weights.safetensors" "$M/model.yaml" in/x1.npy -o single.npy &&
    cmp -s single.npy in/x1.out.npy && ok paths_equals_single_run || bad paths_equals_single_run "bytes differ"

# README's recipe: GNU parallel on local cores, two inputs per seqrun process.
if command -v parallel >/dev/null; then
    rm -f in/*.out.npy
    printf '%s\n' in/x1.npy in/x2.npy in/x3.npy |
        parallel --will-cite -j 2 -N 2 --pipe "$SEQRUN" -q --paths -w "$M/weights.safetensors" "$M/model.yaml" >printed
    rc=$?
    [ $rc -eq 0 ] && [ "$(sort printed | tr '\n' ' ')" = "in/x1.out.npy in/x2.out.npy in/x3.out.npy " ] &&
        cmp -s single.npy in/x1.out.npy && cmp -s single.npy in/x3.out.npy &&
        ok gnu_parallel_recipe || bad gnu_parallel_recipe "exit $rc: $(cat printed)"
else
    echo "skip gnu_parallel_recipe: GNU parallel is not installed"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
