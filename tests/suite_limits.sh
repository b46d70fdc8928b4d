#!/usr/bin/env bash
# suite_limits.sh SEQRUN BUILD - inputs at the edges of the integer range
# and of memory answer at once, with a located message (issue 14): each
# case runs under a timeout, so a search loop or an endless chunk loop
# fails here instead of hanging the suite.
. "$(dirname "$0")/lib.sh"
sr_suite_setup "$@"
cd "$T" || exit 2

# run NAME WANT_RC PATTERN -- CMD...: exit WANT_RC within 20 s and stderr
# matching the extended regex PATTERN (empty: stderr empty)
run() {
    local name=$1 want=$2 pat=$3
    shift 4
    timeout 20 "$@" >out 2>err </dev/null
    local rc=$?
    if [ "$rc" -ne "$want" ]; then
        bad "$name" "exit $rc, want $want: $(head -c 300 err)"
    elif { [ -z "$pat" ] && [ -s err ]; } || { [ -n "$pat" ] && ! grep -qE "$pat" err; }; then
        bad "$name" "stderr lacks /$pat/: $(head -c 300 err)"
    else
        ok "$name"
    fi
}

spec() { printf '%s\n' "$2" >"$1"; }

# A pool's smallest fitting input is computed, not searched for.
spec pool_huge.yaml 'layers: [{MaxPool1d: {kernel_size: 1073741824, dilation: 1073741824}}]'
run pool_hint_closed_form 3 'Output size is too small.*at least 1152921503533105153' -- \
    "$SEQRUN" --check --input-shape 1,1,4 pool_huge.yaml
spec pool_wide.yaml 'layers: [{MaxPool2d: {kernel_size: [1000000000, 3]}}]'
run pool_hint_2d 3 'at least 1000000000x3' -- "$SEQRUN" --check --input-shape 1,1,4,4 pool_wide.yaml
# a zero-size output is a mismatch for MaxPool1d too (PyTorch: "Output size is too small")
spec pool_small.yaml 'layers: [{MaxPool1d: 8}]'
run maxpool1d_zero_output 3 'Output size is too small.*at least 8' -- "$SEQRUN" --check --input-shape 2,3,4 pool_small.yaml

# Flatten / Unflatten arguments at the ends of int64
spec flat.yaml 'layers: [{Flatten: [-9223372036854775808, -1]}]'
run flatten_int64_min 3 'at least 9223372036854775807 dimensions' -- "$SEQRUN" --check --input-shape 2,8 flat.yaml
spec unflat.yaml 'layers: [{Unflatten: [1, [4611686018427387905, 4]]}]'
run unflatten_product_overflow 2 'multiply past 2\^63' -- "$SEQRUN" --check --input-shape 2,8 unflat.yaml

# A record of 10^18 samples of nothing: one empty chunk, at once.
spec relu.yaml 'layers: [ReLU]'
{ printf '\223NUMPY\001\000\166\000' # magic, version 1.0, header length 118
  printf '%-117s\n' "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000000000, 0), }"; } >huge0.npy
run empty_huge_record 0 '' -- "$SEQRUN" -q relu.yaml huge0.npy -o huge0.out.npy
if [ -f huge0.out.npy ] && [ "$(head -c 200 huge0.out.npy | grep -c '1000000000000000000, 0')" = 1 ]; then
    ok empty_huge_record_shape
else
    bad empty_huge_record_shape "output header lacks the shape (1000000000000000000, 0)"
fi

# Raw float32 from a pipe whose sample count only its end tells: memory
# bounded by --batch-size, not by the pipe (spooled to a temporary file).
spec lin.yaml 'input: [N, 784]
layers: [{Linear: [784, 10]}]'
head -c $((784 * 4 * 40000)) /dev/zero >big.bin # 125 MB
if [ -x /usr/bin/time ]; then
    cat big.bin | /usr/bin/time -f '%M' -o rss "$SEQRUN" -q --input-shape -1,784 --batch-size 64 lin.yaml - -o pipe.npy
    rc=$?
    kb=$(tail -n 1 rss)
    if [ "$rc" = 0 ] && [ "$kb" -lt 60000 ]; then ok raw_pipe_bounded_memory; else bad raw_pipe_bounded_memory "exit $rc, peak RSS $kb KB for a 125 MB pipe"; fi
else
    echo "skip raw_pipe_bounded_memory: no /usr/bin/time"
    cat big.bin | "$SEQRUN" -q --input-shape -1,784 --batch-size 64 lin.yaml - -o pipe.npy
fi
"$SEQRUN" -q lin.yaml big.bin -o file.npy
if cmp -s pipe.npy file.npy; then ok raw_pipe_same_bytes; else bad raw_pipe_same_bytes "pipe and file outputs differ"; fi
head -c 3137 big.bin | "$SEQRUN" -q --input-shape -1,784 lin.yaml - -o part.npy 2>err
rc=$?
if [ "$rc" = 1 ] && grep -q 'not a whole number of float32' err && [ ! -e part.npy ]; then
    ok raw_pipe_partial_value
else
    bad raw_pipe_partial_value "exit $rc: $(cat err)"
fi
head -c $((784 * 4 + 8)) big.bin | "$SEQRUN" -q --input-shape -1,784 lin.yaml - -o part.npy 2>err
rc=$?
if [ "$rc" = 1 ] && grep -q 'do not divide into samples of 784' err && [ ! -e part.npy ]; then
    ok raw_pipe_partial_sample
else
    bad raw_pipe_partial_sample "exit $rc: $(cat err)"
fi

sr_suite_end
