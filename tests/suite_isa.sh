#!/usr/bin/env bash
# suite_isa.sh SEQRUN BUILD - the golden cases again with seqrun's own
# kernels held to AVX2 (SEQRUN_ISA=avx2) and to none (SEQRUN_ISA=base:
# im2col + sgemm, cblas GEMV, compiler-vectorised loops), so the paths
# a machine without AVX-512 takes are checked on one that has it.
# Prints the golden suite's lines prefixed with the level, then its own
# "N passed, M failed".
set -u
SEQRUN=$1
BUILD=$2
HERE=$(cd "$(dirname "$0")" && pwd)
pass=0 fail=0
for isa in avx2 base; do
    out=$(SEQRUN_ISA=$isa SEQRUN_POISON=1 "$HERE/golden.sh" "$SEQRUN" "$BUILD/tests/npycmp" "$BUILD/tests/stcmp" 2>&1)
    printf '%s\n' "$out" | grep -E '^FAIL' | sed "s/^FAIL /FAIL $isa:/"
    last=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    p=${last%% passed*}
    f=${last#*, }
    f=${f%% failed*}
    pass=$((pass + ${p:-0}))
    fail=$((fail + ${f:-1}))
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
