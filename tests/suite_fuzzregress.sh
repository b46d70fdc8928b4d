#!/usr/bin/env bash
# suite_fuzzregress.sh SEQRUN BUILD - what fuzzing found, kept found.
#
#  1. Every input under tests/fuzz/regress/TARGET/ (each once crashed, hung
#     or ran away with memory) and every seed under tests/fuzz/corpus/TARGET/
#     replayed through BUILD/tests/fuzz/TARGET, the fuzz target linked with a
#     plain main() by this build's compiler and sanitizers.
#  2. Inputs too big to commit, generated here: resource exhaustion found by
#     review and fuzzing (anchor floods, aliases of aliases, a million
#     layers, huge shapes), each bounded in time and memory.
#  3. End-to-end runs under valgrind memcheck, success and failure paths:
#     zero errors, and no leak of any kind (definite, indirect, possible,
#     still reachable): par.c joins its workers at exit, so no thread's
#     memory is left to excuse.  Skipped (with a line
#     saying so) when valgrind is absent or SEQRUN is built with ASan, which
#     valgrind cannot run.
set -u
export LC_ALL=C
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
SEQRUN=$(abs "$1")
BUILD=$(abs "${2:-build}")
HERE=$(cd "$(dirname "$0")" && pwd)
G=$HERE/golden/cases
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1: $2"; }

# ---- 1. replays ------------------------------------------------------------------

for target in fuzz_spec fuzz_npy fuzz_safetensors fuzz_run; do
    bin=$BUILD/tests/fuzz/$target
    if [ ! -x "$bin" ]; then
        bad "replay_$target" "$bin not built (make test builds it)"
        continue
    fi
    for kind in regress corpus; do
        dir=$HERE/fuzz/$kind/$target
        [ -d "$dir" ] || continue
        n=0 failed=""
        for f in "$dir"/*; do
            [ -f "$f" ] || continue
            n=$((n + 1))
            timeout 60 "$bin" "$f" >"$T/out" 2>&1 || failed="$failed $(basename "$f")"
        done
        if [ -z "$failed" ]; then
            ok "${kind}_${target}_${n}_inputs"
        else
            bad "${kind}_${target}" "crashed on:$failed; $(grep -m3 -E 'ERROR|runtime error|SUMMARY' "$T/out")"
        fi
    done
done

# ---- 2. generated resource bombs -----------------------------------------------

cd "$T" || exit 2
# bomb NAME SECONDS WANT_EXIT MESSAGE ARGS...: finishes in time, with the
# exit and message, within 1 GiB of address space... unless ASan, which
# reserves terabytes of shadow up front.
asan=0
grep -qa __asan_init "$SEQRUN" && asan=1
bomb() {
    local name=$1 secs=$2 want=$3 msg=$4 rc
    shift 4
    if [ $asan = 1 ]; then
        timeout "$secs" "$SEQRUN" "$@" >err 2>&1
    else
        (ulimit -v 1048576; timeout "$secs" "$SEQRUN" "$@" >err 2>&1)
    fi
    rc=$?
    if [ $rc = "$want" ] && grep -qF -- "$msg" err; then
        ok "$name"
    else
        bad "$name" "exit $rc (want $want, 124 = timed out): $(head -c 300 err)"
    fi
}

# 100000 anchors, each aliased once: a linear anchor list made this minutes.
awk 'BEGIN { print "defs:"; for (i = 0; i < 100000; i++) printf "  a%d: &a%d ReLU\n", i, i;
             printf "layers: ["; for (i = 0; i < 99000; i++) printf "*a%d, ", i; print "Tanh]" }' >anchors.yaml
bomb anchor_flood_is_fast 60 0 "total params: 0" --check --input-shape 2,3 anchors.yaml
# Aliases of aliases: 2^40 occurrences from 40 lines.
awk 'BEGIN { print "defs:"; print "  a0: &a0 {Sequential: [ReLU, ReLU]}";
             for (i = 1; i <= 40; i++) printf "  a%d: &a%d {Sequential: [*a%d, *a%d]}\n", i, i, i - 1, i - 1;
             print "layers: [*a40]" }' >aliases.yaml
bomb alias_explosion_capped 20 2 "more than 100000 layer occurrences" --check --input-shape 2,3 aliases.yaml
# 900000 distinct layers: refused at 100000 modules, before the modules'
# memory (a few KB each) adds up to gigabytes.
awk 'BEGIN { printf "layers: ["; for (i = 0; i < 900000; i++) printf "ReLU, "; print "ReLU]" }' >million.yaml
bomb many_layers_bounded 60 2 "more than 100000 layer occurrences" --check --input-shape 2,3 million.yaml
# A million YAML nodes of one scalar each: the tree's node cap.
awk 'BEGIN { printf "defs: ["; for (i = 0; i < 1100000; i++) printf "0,"; print "0]"; print "layers: [ReLU]" }' >nodes.yaml
bomb yaml_node_cap 60 2 "document too large" --check --input-shape 2,3 nodes.yaml
# An npy header that claims a terabyte in a 200-byte file: refused before
# any buffer is sized from it.
d="{'descr': '<f4', 'fortran_order': False, 'shape': (262144, 1048576), }"
pad=$(((64 - (10 + ${#d} + 1) % 64) % 64))
hl=$((${#d} + 1 + pad))
{ printf "\\x93NUMPY\\x01\\x00\\x$(printf %02x $((hl & 255)))\\x$(printf %02x $((hl >> 8)))"
  printf '%s%*s\n' "$d" $pad ''; head -c 64 /dev/zero; } >claim.npy
printf 'layers: [Flatten]\n' >flat.yaml
bomb npy_terabyte_claim 20 1 "record needs 1099511627776 bytes, got 64" flat.yaml claim.npy
# The same claim through a pipe, where the size is unknown until the end:
# the run must fail on the short read, not on the allocation.
bomb npy_terabyte_claim_pipe 20 1 "<stdin>" flat.yaml - < <(cat claim.npy)

# ---- 3. valgrind --------------------------------------------------------------------

if ! command -v valgrind >/dev/null; then
    echo "ok valgrind # SKIP valgrind is not installed (CI installs it)"
elif [ $asan = 1 ]; then
    echo "ok valgrind # SKIP $SEQRUN is built with ASan; the plain build runs these"
else
    # vg NAME WANT_EXIT DIR ARGS...: memcheck clean, expected exit.
    vg() {
        local name=$1 want=$2 dir=$3 rc
        shift 3
        (cd "$dir" && OPENBLAS_NUM_THREADS=1 timeout 300 valgrind -q --error-exitcode=99 \
            --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all \
            "$SEQRUN" -q "$@" >/dev/null 2>"$T/vg.err")
        rc=$?
        if [ $rc = "$want" ] && ! grep -q '^==[0-9]*==' "$T/vg.err"; then
            ok "valgrind_$name"
        else
            bad "valgrind_$name" "exit $rc (want $want; 99 = memcheck errors): $(grep -m5 '' "$T/vg.err")"
        fi
    }
    C=$G/cnn_conv_bn_train_2pass
    vg train_conv_bn_save_state 0 "$C" -w weights.safetensors --train \
        --save-state "$T/vg.st" -o "$T/vg.npy" model.yaml input.npy
    vg stream_with_weights 0 "$G/core_stream" -w weights.safetensors -o "$T/vg2.npy" model.yaml input.npy
    vg embedding_integer_input 0 "$G/core_embedding" -w weights.safetensors model.yaml input.npy
    vg shared_modules 0 "$G/core_shared_block" -w weights.safetensors --format text model.yaml input.npy
    vg check_report 0 "$C" --check model.yaml input.npy
    # Failure paths leak where success paths do not.
    printf 'layers: [Linear: [4, 3], ReLU\n' >bad.yaml
    vg bad_yaml 2 "$T" bad.yaml claim.npy
    vg shape_mismatch 3 "$C" -w weights.safetensors model.yaml "$G/core_stream/input.npy"
    head -c 200 "$C/weights.safetensors" >short.st
    vg truncated_weights 1 "$C" -w "$T/short.st" -o "$T/vg3.npy" model.yaml input.npy
    cp "$G/core_stream/input.npy" midbad.npy && printf 'junk' >>midbad.npy
    vg bad_record_mid_stream 1 "$G/core_stream" -w weights.safetensors -o "$T/vg4.npy" model.yaml "$T/midbad.npy"
    vg npy_terabyte_claim 1 "$T" flat.yaml claim.npy
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
