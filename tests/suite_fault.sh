#!/usr/bin/env bash
# suite_fault.sh SEQRUN BUILD - every failure a run can meet, one at a time.
#
# BUILD/tests/faultinject.so (tests/faultinject.c) is preloaded to make the
# Nth malloc, output write, fsync or rename of a run fail.  For each
# scenario below, a clean run first finds, for each kind, the first and the
# last call from every call site (faultinject.c's FAULT_SITES); then the
# run is repeated failing each of those N in turn (and, for allocations,
# once more with every allocation from the Nth on failing, as real
# exhaustion does), each under `timeout`.  FAULT_EVERY_N=1 fails every N up
# to the count instead (about three times the runs).  Every one must:
#
#   - end by itself (no timeout) and not by a signal (no crash);
#   - exit 0 with exactly the clean run's output and state files, or
#     exit 1 with a message on stderr (one that names the output file when
#     an output write, fsync or rename failed; one that says out of memory
#     when an allocation did) and the old -o and --save-state files as they
#     were, no temporary left beside them.
#
# Skipped when SEQRUN is built with ASan (it must be first in the process,
# so it cannot run under a preloaded shim; the plain build runs this).
set -u
export LC_ALL=C
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
SEQRUN=$(abs "$1")
BUILD=$(abs "${2:-build}")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHIM=$BUILD/tests/faultinject.so
PROG=$(basename "$SEQRUN") # the one program the shim arms itself in (FAULT_ONLY)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $1: $2"; }

if grep -qa __asan_init "$SEQRUN"; then
    echo "ok fault_injection # SKIP $SEQRUN is built with ASan; the plain build runs this"
    echo "0 passed, 0 failed"
    exit 0
fi
if [ ! -f "$SHIM" ] || [ ! -x "$BUILD/tests/npycmp" ] || [ ! -x "$BUILD/tests/stcmp" ]; then
    bad fault_shim "$SHIM, npycmp or stcmp not built (make test builds them)"
    echo "$pass passed, $fail failed"
    exit 1
fi
cd "$T" || exit 2
umask 022
printf 'previous output\n' >prev_out.ref
printf 'previous state\n' >prev_st.ref
mkdir -p ref out

# The runs below are most of this suite's time, so the checks fork nothing
# the shell can do itself: out/ is listed by globbing, the old files are
# rewritten and compared with printf and read, stderr is searched by
# pattern; only an exit 0 (outputs replaced) needs cmp.
shopt -s nullglob dotglob
OLD_OUT=$(<prev_out.ref)$'\n'
OLD_ST=$(<prev_st.ref)$'\n'

# out/ holds exactly the two files $1 and $2: no temporary, no backup.
only() {
    local f
    for f in out/*; do
        [ "$f" = "out/$1" ] || [ "$f" = "out/$2" ] || { echo "out/ also holds ${f#out/}"; return 1; }
    done
    [ -f "out/$1" ] && [ -f "out/$2" ] || { echo "out/$1 or out/$2 is gone"; return 1; }
}
# The whole of text file $1 in the variable named $2.
slurp() {
    IFS= read -r -d '' "$2" <"$1" || :
}
# Everything in out/ as it was: same names, same bytes, no temporaries.
intact() {
    local got
    only "$1" "$2" || return 1
    slurp "out/$1" got && [ "$got" = "$OLD_OUT" ] || { echo "out/$1 changed"; return 1; }
    slurp "out/$2" got && [ "$got" = "$OLD_ST" ] || { echo "out/$2 changed"; return 1; }
}
# out/ back to the two old files (a failure's leftovers removed).
reset_out() {
    only "$1" "$2" >/dev/null || { rm -rf out && mkdir out; }
    printf '%s' "$OLD_OUT" >"out/$1"
    printf '%s' "$OLD_ST" >"out/$2"
}
# Both outputs replaced by what the clean run wrote: the same bytes, or for
# npy and safetensors the same numbers within 1e-5 (an allocation that
# fails may send a layer to its fallback kernel, which rounds differently).
same() {
    cmp -s "$1" "$2" && return 0
    case $1 in
    *.npy) "$BUILD/tests/npycmp" "$1" "$2" --rtol 1e-5 --atol 1e-6 >/dev/null 2>&1 ;;
    *.st | *.safetensors) "$BUILD/tests/stcmp" "$1" "$2" --rtol 1e-5 --atol 1e-6 >/dev/null 2>&1 ;;
    *.bin) raw_as_npy "$1" same_a.npy && raw_as_npy "$2" same_b.npy &&
        "$BUILD/tests/npycmp" same_a.npy same_b.npy --rtol 1e-5 --atol 1e-6 >/dev/null 2>&1 ;;
    *) return 1 ;;
    esac
}
# Raw float32 file $1 as the one-dimensional npy file $2 (a 128-byte v1.0
# header), for npycmp.
raw_as_npy() {
    local bytes dict
    bytes=$(stat -c %s "$1") || return 1
    [ $((bytes % 4)) = 0 ] || return 1
    printf -v dict "{'descr': '<f4', 'fortran_order': False, 'shape': (%d,), }" $((bytes / 4))
    { printf '\x93NUMPY\x01\x00\x76\x00%-117s\n' "$dict"; cat "$1"; } >"$2"
}
replaced() {
    only "$1" "$2" || return 1
    same "ref/$1" "out/$1" || { echo "out/$1 differs from the clean run's"; return 1; }
    same "ref/$2" "out/$2" || { echo "out/$2 differs from the clean run's"; return 1; }
}

# scenario NAME STICKY OUT STATE ARGS...: ARGS name the model and input;
# the run writes -o out/OUT --save-state out/STATE (standard input comes
# from the file $STDIN, or a pipe from `cat $STDIN` if $STDIN_PIPE=1).
# STICKY=1 also runs the allocation failures that persist from the Nth
# call on.  The shim is preloaded into timeout and cat too; FAULT_ONLY
# keeps it out of their way.
STDIN=/dev/null STDIN_PIPE=0
feed() { if [ "$STDIN_PIPE" = 1 ]; then "$@" < <(cat "$STDIN"); else "$@" <"$STDIN"; fi; }
scenario() {
    local name=$1 with_sticky=$2 o=$3 s=$4
    shift 4
    feed "$SEQRUN" -q -o "ref/$o" --save-state "ref/$s" "$@" 2>ref.err
    local rc=$?
    if [ $rc != 0 ]; then
        bad "${name}_clean_run" "exit $rc: $(head -c 300 ref.err)"
        return
    fi
    rm -f counts sites
    rm -rf out && mkdir out
    FAULT_ONLY=$PROG FAULT_COUNT=$T/counts FAULT_SITES=$T/sites LD_PRELOAD=$SHIM \
        feed "$SEQRUN" -q -o "out/$o" --save-state "out/$s" "$@" 2>/dev/null
    if ! [ -s counts ] || ! [ -s sites ] || ! replaced "$o" "$s" >/dev/null; then
        bad "${name}_counting_run" "the shim changed a run that injects nothing"
        return
    fi
    local kind n total ns sticky why errtext nl rc fm fw ff fr
    for kind in malloc write fsync rename; do
        total=$(awk -v k=$kind '$1 == k { print $2 }' counts)
        if [ "${FAULT_EVERY_N:-0}" = 1 ]; then
            ns=$(seq 1 "$total")
        else
            ns=$(awk -v k=$kind '$1 == k { print $2 }' sites)
        fi
        local kpass=0 kfail=0 nruns=0
        for sticky in 0 1; do
            [ $sticky = 1 ] && { [ $kind != malloc ] || [ "$with_sticky" = 0 ]; } && continue
            for n in $ns; do
                reset_out "$o" "$s"
                fm=0 fw=0 ff=0 fr=0
                case $kind in malloc) fm=$n ;; write) fw=$n ;; fsync) ff=$n ;; rename) fr=$n ;; esac
                FAULT_MALLOC=$fm FAULT_WRITE=$fw FAULT_FSYNC=$ff FAULT_RENAME=$fr FAULT_STICKY=$sticky \
                    FAULT_ONLY=$PROG LD_PRELOAD=$SHIM \
                    feed timeout 20 "$SEQRUN" -q -o "out/$o" --save-state "out/$s" "$@" >stdout 2>stderr
                rc=$?
                slurp stderr errtext
                nl=${errtext//[!$'\n']/}
                why=""
                if [ $rc = 124 ]; then
                    why="hung (killed after 20 s)"
                elif [ $rc -gt 128 ]; then
                    why="killed by signal $((rc - 128))"
                elif [ $rc = 0 ]; then
                    why=$(replaced "$o" "$s") || why="exit 0 but $why"
                    [ -n "$errtext" ] && why="${why:+$why; }exit 0 with stderr: ${errtext:0:200}"
                elif [ $rc != 1 ]; then
                    why="exit $rc, want 1 (or 0): ${errtext:0:200}"
                elif [ -z "$errtext" ]; then
                    why="exit 1 without a message"
                else
                    case $kind in
                    malloc) [[ ${errtext,,} == *"out of memory"* || ${errtext,,} == *"cannot allocate memory"* ]] ||
                        why="message does not say out of memory: ${errtext:0:300}" ;;
                    *) [[ $errtext == *"out/$o"* || $errtext == *"out/$s"* ]] ||
                        why="message does not name the output file: ${errtext:0:300}" ;;
                    esac
                    [ -z "$why" ] && [ ${#nl} -gt 3 ] && why="${#nl} lines on stderr: ${errtext:0:300}"
                    [ -z "$why" ] && { why=$(intact "$o" "$s") || why="exit 1 but $why"; }
                fi
                nruns=$((nruns + 1))
                if [ -z "$why" ]; then
                    ok
                    kpass=$((kpass + 1))
                else
                    bad "${name}_${kind}_$n$([ $sticky = 1 ] && echo _onwards)" "$why"
                    kfail=$((kfail + 1))
                fi
            done
        done
        echo "ok ${name}_$kind: $total calls, $nruns runs ($(echo $ns | wc -w) N), $kpass passed, $kfail failed"
    done
}

# A training-mode run: npy output, BatchNorm running statistics in the state.
scenario mlp_bn_train 1 prev.npy prev.st --train "$ROOT/models/mlp_bn.yaml" "$ROOT/data/mlp_bn_input.npy"
# Text output (fprintf) from convolutions, pools, BatchNorm; raw state path.
# the first 10 of the 360 digits: the 128-byte header with its shape edited
{ head -c 128 "$ROOT/data/digits_test_x.npy" | sed 's/(360,/( 10,/'
  tail -c +129 "$ROOT/data/digits_test_x.npy" | head -c $((10 * 64 * 4)); } >digits10.npy
scenario digits_cnn_text 0 prev.txt prev.safetensors --format text --top 2 \
    "$ROOT/models/digits_cnn.yaml" "$T/digits10.npy"

# A stream of two npy records from a pipe, in chunks of 3 samples on two
# threads, raw float32 out: the second record's failures come after the
# first record's output was written (to the temporary).
cat "$ROOT/data/cnn_input.npy" "$ROOT/data/cnn_input.npy" >cnn2.npy
STDIN=$T/cnn2.npy STDIN_PIPE=1
scenario cnn_stream_raw 1 prev.bin prev.st --format raw --batch-size 3 --threads 2 "$ROOT/models/cnn.yaml" -
STDIN=/dev/null STDIN_PIPE=0

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
