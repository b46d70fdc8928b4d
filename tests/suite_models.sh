#!/usr/bin/env bash
#
# suite_models.sh - the bundled example models against PyTorch's outputs.
#
#   bash tests/suite_models.sh SEQRUN BUILD
#
# For every data/NAME_expected.npy with a models/NAME.yaml and a
# data/NAME_input.npy (written by models/make_examples.py), checks that
#
#   NAME                 seqrun models/NAME.yaml data/NAME_input.npy matches
#                        data/NAME_expected.npy (BUILD/tests/npycmp, rtol 1e-4,
#                        atol 1e-5: the tolerance make_examples.py verified
#                        torch's own float32 result against)
#   NAME --batch-size 3  the same in chunks of 3 samples
#   NAME --check         the shape check passes (exit 0)
#   NAME same bytes      on a CPU with AVX-512 (seqrun's own kernels for
#                        every layer), the same bytes with --threads 1, 2, 3
#                        and --batch-size 1, 5, all: a sample's result does
#                        not depend on the samples around it or the threads
#
# exactly as a user runs them: from the repository root, weights found
# through the spec's weights: key.  Prints `ok TEST` or `FAIL TEST: why`,
# then `N passed, M failed`; exits 1 if anything failed.

set -u

if [ $# -ne 2 ]; then
    echo "usage: $0 SEQRUN BUILD" >&2
    exit 2
fi
abspath() {
    case $1 in
    /*) printf '%s\n' "$1" ;;
    */*) printf '%s/%s\n' "$(cd "$(dirname -- "$1")" && pwd)" "$(basename -- "$1")" ;;
    *) command -v -- "$1" ;;
    esac
}
SEQRUN=$(abspath "$1")
BUILD=$(cd -- "$2" 2>/dev/null && pwd) || { echo "$0: no build directory $2" >&2; exit 2; }
NPYCMP=$BUILD/tests/npycmp
if [ ! -x "$NPYCMP" ]; then
    echo "$0: $NPYCMP not built (make $2/tests/npycmp)" >&2
    exit 2
fi
cd "$(dirname -- "$0")/.." || exit 2

TMP=$(mktemp -d "${TMPDIR:-/tmp}/models.XXXXXX") || exit 2
trap 'rm -rf -- "$TMP"' EXIT

npass=0 nfail=0
ok() { echo "ok $1"; npass=$((npass + 1)); }
fail() {
    echo "FAIL $1: $2"
    [ -s "$TMP/why" ] && head -n 20 -- "$TMP/why" | sed 's/^/    /'
    nfail=$((nfail + 1))
}

# run_output TEST NAME [ARGS...]: seqrun's output for the sample input
# against the expected one.
run_output() {
    local test=$1 name=$2
    shift 2
    local out=$TMP/$name.npy
    rm -f -- "$out" "$TMP/why"
    "$SEQRUN" -q "$@" -o "$out" "models/$name.yaml" "data/${name}_input.npy" 2>"$TMP/why"
    local rc=$?
    if [ "$rc" -ne 0 ]; then
        fail "$test" "seqrun exited with status $rc"
        return
    fi
    if [ -s "$TMP/why" ]; then
        fail "$test" "seqrun wrote to stderr despite -q"
        return
    fi
    if ! "$NPYCMP" "data/${name}_expected.npy" "$out" --rtol 1e-4 --atol 1e-5 >"$TMP/why" 2>&1; then
        fail "$test" "output differs from data/${name}_expected.npy"
        return
    fi
    ok "$test"
}

found=0
for exp in data/*_expected.npy; do
    [ -f "$exp" ] || continue
    name=$(basename -- "$exp" _expected.npy)
    [ -f "models/$name.yaml" ] && [ -f "data/${name}_input.npy" ] || continue
    found=$((found + 1))
    run_output "$name" "$name"
    run_output "$name --batch-size 3" "$name" --batch-size 3
    if grep -qw avx512f /proc/cpuinfo 2>/dev/null && [ -z "${SEQRUN_ISA:-}" ]; then
        "$SEQRUN" -q --threads 1 -o "$TMP/ref.npy" "models/$name.yaml" "data/${name}_input.npy"
        why=""
        for t in 1 2 3; do
            for b in 1 5 1000000; do
                "$SEQRUN" -q --threads $t --batch-size $b -o "$TMP/o.npy" "models/$name.yaml" \
                    "data/${name}_input.npy" && cmp -s "$TMP/ref.npy" "$TMP/o.npy" ||
                    why="$why --threads $t --batch-size $b;"
            done
        done
        rm -f -- "$TMP/ref.npy" "$TMP/o.npy"
        if [ -z "$why" ]; then ok "$name same bytes"; else fail "$name same bytes" "differs with$why"; fi
    fi
    rm -f -- "$TMP/why"
    "$SEQRUN" --check "models/$name.yaml" >"$TMP/why" 2>&1
    rc=$?
    if [ "$rc" -eq 0 ]; then
        ok "$name --check"
    else
        fail "$name --check" "exited with status $rc"
    fi
done
if [ "$found" -eq 0 ]; then
    rm -f -- "$TMP/why"
    fail "models" "no data/NAME_expected.npy with models/NAME.yaml; run /usr/bin/python3 models/make_examples.py"
fi

echo "$npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
