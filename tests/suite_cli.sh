#!/usr/bin/env bash
# suite_cli.sh SEQRUN BUILD - the command line contract: options, formats,
# pipes, exit codes and diagnostics.  Expected tensors come from the
# PyTorch-generated golden cases; messages are the contract's format.
set -u
. "$(dirname "$0")/lib.sh"
sr_suite_setup "$@"
NPYCMP=$BUILD/tests/npycmp
HERE=$(cd "$(dirname "$0")" && pwd)
G=$HERE/golden/cases

# expect NAME CODE PATTERN -- CMD...: exit code CODE and stderr matching the
# extended regex PATTERN (empty: stderr must be empty).
expect() {
    local name=$1 code=$2 pat=$3
    shift 4
    "$@" >"$T/out" 2>"$T/err" </dev/null
    local rc=$?
    if [ "$rc" -ne "$code" ]; then
        bad "$name" "exit $rc, want $code; stderr: $(head -c 400 "$T/err")"
    elif [ -z "$pat" ] && [ -s "$T/err" ]; then
        bad "$name" "stderr not empty: $(head -c 400 "$T/err")"
    elif [ -n "$pat" ] && ! grep -Eq -- "$pat" "$T/err"; then
        bad "$name" "stderr does not match /$pat/: $(head -c 400 "$T/err")"
    else
        ok "$name"
    fi
}

spec() { printf '%s\n' "$2" >"$T/$1"; }

MLP=$G/core_mlp
cp "$MLP/model.yaml" "$T/mlp.yaml"

# ---- usage (exit 2) -------------------------------------------------------
expect usage_none 2 'missing MODEL' -- "$SEQRUN"
expect usage_unknown_option 2 "unknown option '--frobnicate'" -- "$SEQRUN" --frobnicate "$T/mlp.yaml"
expect usage_missing_value 2 "'-o' needs a value" -- "$SEQRUN" "$T/mlp.yaml" -o
expect usage_bad_shape 2 'input-shape' -- "$SEQRUN" --input-shape 2,x "$T/mlp.yaml" "$MLP/input.npy"
expect usage_two_free_dims 2 'input-shape' -- "$SEQRUN" --input-shape -1,-1 "$T/mlp.yaml" "$MLP/input.npy"
expect usage_bad_format 2 'format' -- "$SEQRUN" --format csv "$T/mlp.yaml" "$MLP/input.npy"
expect usage_json_run 2 'json' -- "$SEQRUN" --format json "$T/mlp.yaml" "$MLP/input.npy"
expect usage_bad_batch 2 'batch-size' -- "$SEQRUN" --batch-size 0 "$T/mlp.yaml" "$MLP/input.npy"
expect usage_flag_value 2 'takes no value' -- "$SEQRUN" --train=1 "$T/mlp.yaml" "$MLP/input.npy"
expect usage_extra_arg 2 "unexpected argument" -- "$SEQRUN" "$T/mlp.yaml" a b
"$SEQRUN" --help >"$T/help" 2>&1 && grep -q 'BatchNorm\|LayerNorm' "$T/help" && grep -q -- '--input-shape' "$T/help" &&
    [ "$(wc -l <"$T/help")" -le 50 ] && ok help || bad help "--help must exit 0, list options and layers on one screen"
"$SEQRUN" --version | grep -Eq '^seqrun [0-9]' && ok version || bad version "no version line"

# ---- spec errors (exit 2, FILE:LINE:COL: layer I (Type): ...) --------------
spec unknown.yaml 'layers:
  - Linear: [4, 2]
  - Relu'
expect spec_unknown_layer 2 "unknown.yaml:3:5: layer 1: unknown layer type 'Relu'; hint: did you mean 'ReLU'\?" -- "$SEQRUN" --check --input-shape 1,4 "$T/unknown.yaml"
spec badarg.yaml 'layers:
  - Linear: {in_feature: 4, out_features: 2}'
expect spec_unknown_arg 2 "badarg.yaml:2:14: layer 0 \(Linear\): unknown argument 'in_feature'; hint: did you mean 'in_features'\?" -- "$SEQRUN" --check --input-shape 1,4 "$T/badarg.yaml"
spec dup.yaml 'layers:
  - Linear: {in_features: 4, out_features: 2, in_features: 4}'
expect spec_duplicate_arg 2 "dup.yaml:2:47: layer 0 \(Linear\): argument 'in_features' given twice" -- "$SEQRUN" --check --input-shape 1,4 "$T/dup.yaml"
spec type.yaml 'layers:
  - Linear: {in_features: 4.5, out_features: 2}'
expect spec_wrong_type 2 "type.yaml:2:27: layer 0 \(Linear\): argument 'in_features' must be an integer, got a number" -- "$SEQRUN" --check --input-shape 1,4 "$T/type.yaml"
spec boolstr.yaml 'layers:
  - Linear: {in_features: 4, out_features: 2, bias: yes}'
expect spec_yes_is_string 2 "argument 'bias' must be a boolean.*hint: write true or false" -- "$SEQRUN" --check --input-shape 1,4 "$T/boolstr.yaml"
spec missing.yaml 'layers:
  - Linear: {out_features: 2}'
expect spec_missing_arg 2 "missing.yaml:2:5: layer 0 \(Linear\): missing required argument 'in_features'" -- "$SEQRUN" --check --input-shape 1,4 "$T/missing.yaml"
spec softmax.yaml 'layers:
  - Softmax'
expect spec_softmax_needs_dim 2 "layer 0 \(Softmax\): missing required argument 'dim'" -- "$SEQRUN" --check --input-shape 1,4 "$T/softmax.yaml"
spec positional.yaml 'layers:
  - Linear: [4, 2, true, 7]'
expect spec_too_many_positional 2 "layer 0 \(Linear\): takes at most 3 positional arguments, got 4" -- "$SEQRUN" --check --input-shape 1,4 "$T/positional.yaml"
spec choice.yaml 'layers:
  - GELU: {approximate: fast}'
expect spec_bad_choice 2 "argument 'approximate' must be one of none\|tanh" -- "$SEQRUN" --check --input-shape 1,4 "$T/choice.yaml"
spec nested.yaml 'layers:
  - Sequential:
    - Linear: [4, 4]
    - Sequential:
      - Tanhh'
expect spec_nested_index 2 "nested.yaml:5:9: layer 0.1.0: unknown layer type 'Tanhh'; hint: did you mean 'Tanh'\?" -- "$SEQRUN" --check --input-shape 1,4 "$T/nested.yaml"
spec several.yaml 'layers:
  - Lineer: [4, 4]
  - ReLU: {inplace: true, foo: 1}
  - Dropout: 1.5'
"$SEQRUN" --check --input-shape 1,4 "$T/several.yaml" >/dev/null 2>"$T/err"
[ $? -eq 2 ] && [ "$(grep -c 'several.yaml:' "$T/err")" -eq 3 ] && ok spec_reports_every_error ||
    bad spec_reports_every_error "want 3 diagnostics, exit 2: $(cat "$T/err")"
spec topkey.yaml 'layer:
  - ReLU'
expect spec_unknown_top_key 2 "topkey.yaml:1:1: unknown top-level key 'layer'; hint: did you mean 'layers'\?" -- "$SEQRUN" --check --input-shape 1,4 "$T/topkey.yaml"
printf 'layers:\n  - Linear: [4, 2\n' >"$T/broken.yaml"
expect spec_malformed_yaml 2 'broken.yaml:[0-9]+:[0-9]+: invalid YAML' -- "$SEQRUN" --check --input-shape 1,4 "$T/broken.yaml"
spec alias.yaml 'layers:
  - *nothing'
expect spec_unknown_alias 2 'alias.yaml:2:5: unknown or unfinished anchor' -- "$SEQRUN" --check --input-shape 1,4 "$T/alias.yaml"
expect spec_missing_file 1 'nope.yaml: cannot open' -- "$SEQRUN" --check "$T/nope.yaml"

# ---- shapes (exit 3) and data errors (exit 1) ---------------------------------
spec wrongin.yaml 'layers:
  - Linear: [16, 8]
  - Linear: [9, 2]'
rm -f "$T/o.npy"
expect shape_mismatch_exit3 3 "wrongin.yaml:3:5: layer 1 \(Linear\): .*in_features should be 8" -- "$SEQRUN" -o "$T/o.npy" -w /dev/null "$T/wrongin.yaml" "$MLP/input.npy"
[ ! -e "$T/o.npy" ] && ok shape_mismatch_no_output || bad shape_mismatch_no_output "output file was created"
spec input16.yaml 'input: [N, 8]
layers:
  - ReLU'
expect shape_input_contradicts_spec 3 'does not match the spec.s input: \[N, 8\]' -- "$SEQRUN" "$T/input16.yaml" "$MLP/input.npy"
printf '\0\0\0\0\0\0\0\0' >"$T/raw.bin"
spec relu.yaml 'layers:
  - ReLU'
expect raw_without_shape 2 'raw input needs a shape' -- "$SEQRUN" "$T/relu.yaml" "$T/raw.bin"
: >"$T/empty.bin"
expect raw_empty 1 'empty input' -- "$SEQRUN" --input-shape -1,2 "$T/relu.yaml" "$T/empty.bin"
printf '\0\0\0\0\0\0' >"$T/odd.bin"
expect raw_not_float32 1 'not a whole number of float32' -- "$SEQRUN" --input-shape -1,2 "$T/relu.yaml" "$T/odd.bin"
E=$G/core_embedding
cp "$E/model.yaml" "$T/emb.yaml"
# A hand-made int64 .npy of shape (3,): indices 1, 99, 2 (99 is out of range).
npy_i64() {
    local dict="{'descr': '<i8', 'fortran_order': False, 'shape': ($#,), }"
    local pad=$((128 - 10 - ${#dict} - 1))
    { printf '\x93NUMPY\x01\x00\x76\x00%s%*s\n' "$dict" "$pad" ""
      for v in "$@"; do printf "$(printf '\\x%02x' $((v & 255)) $(((v >> 8) & 255)) 0 0 0 0 0 0)"; done; }
}
npy_i64 1 99 2 >"$T/idx.npy"
expect embedding_index_out_of_range 1 "layer 0 \(Embedding\): index 99 at position 1 is out of range for Embedding with num_embeddings=10" -- "$SEQRUN" -w "$E/weights.safetensors" "$T/emb.yaml" "$T/idx.npy"
expect weights_missing_file 1 'nope.safetensors: cannot open|nope.safetensors:.*No such file' -- "$SEQRUN" -w "$T/nope.safetensors" "$T/mlp.yaml" "$MLP/input.npy"
# a weights file for another model lists every missing and unexpected key
expect weights_strict_keys 1 "missing key '0.bias'" -- "$SEQRUN" -w "$G/core_embedding/weights.safetensors" "$T/mlp.yaml" "$MLP/input.npy"
"$SEQRUN" -w "$G/core_embedding/weights.safetensors" "$T/mlp.yaml" "$MLP/input.npy" 2>"$T/err" >/dev/null
[ "$(grep -c 'missing key' "$T/err")" -eq 7 ] && grep -q "size mismatch for '0.weight'" "$T/err" && ok weights_lists_every_key ||
    bad weights_lists_every_key "$(cat "$T/err")"
spec first.yaml 'layers:
  - Linear: [16, 32]'
"$SEQRUN" -w "$MLP/weights.safetensors" "$T/first.yaml" "$MLP/input.npy" 2>"$T/err" >/dev/null
[ $? -eq 1 ] && [ "$(grep -c "unexpected key '[2-6]\.\(weight\|bias\)'" "$T/err")" -eq 6 ] && ok weights_unexpected_keys ||
    bad weights_unexpected_keys "$(cat "$T/err")"
spec lin_wrong.yaml 'layers:
  - Linear: [16, 31]'
"$SEQRUN" -w "$MLP/weights.safetensors" "$T/lin_wrong.yaml" "$MLP/input.npy" 2>"$T/err" >/dev/null
rc=$?
[ $rc -eq 1 ] && grep -q "size mismatch for '0.weight': the file has shape \[32, 16\], the model needs \[31, 16\]" "$T/err" &&
    ok weights_wrong_shape || bad weights_wrong_shape "exit $rc: $(cat "$T/err")"

# ---- outputs and formats -------------------------------------------------------
cd "$MLP" || exit 2
"$SEQRUN" -q -w weights.safetensors model.yaml input.npy -o "$T/a.npy" && "$NPYCMP" expected.npy "$T/a.npy" --rtol 1e-4 --atol 1e-5 &&
    ok output_file_npy || bad output_file_npy "differs from PyTorch"
"$SEQRUN" -q -w weights.safetensors model.yaml - <input.npy >"$T/b.npy" && "$NPYCMP" expected.npy "$T/b.npy" --rtol 1e-4 --atol 1e-5 &&
    ok stdin_to_stdout_npy || bad stdin_to_stdout_npy "differs from PyTorch"
"$SEQRUN" -q -w weights.safetensors model.yaml <input.npy >"$T/c.npy" && cmp -s "$T/b.npy" "$T/c.npy" &&
    ok no_input_means_stdin || bad no_input_means_stdin "differs"
printf 'layers:\n  - Identity\n' >"$T/id.yaml"
"$SEQRUN" -q -w weights.safetensors model.yaml input.npy | "$SEQRUN" -q "$T/id.yaml" - >"$T/d.npy" &&
    "$NPYCMP" expected.npy "$T/d.npy" --rtol 1e-4 --atol 1e-5 && ok pipeline || bad pipeline "differs"
"$SEQRUN" -q -w weights.safetensors model.yaml input.npy -o "$T/r.bin" &&
    [ "$(stat -c %s "$T/r.bin")" -eq $((8 * 10 * 4)) ] &&
    ok output_raw_by_extension || bad output_raw_by_extension "size $(stat -c %s "$T/r.bin")"
"$SEQRUN" -q -w weights.safetensors --format text model.yaml input.npy >"$T/t.txt" &&
    head -n 1 "$T/t.txt" | grep -q '^# shape \[8, 10\]' && [ "$(wc -l <"$T/t.txt")" -eq 9 ] &&
    ok format_text || bad format_text "$(head -n 2 "$T/t.txt")"
"$SEQRUN" -q -w weights.safetensors --format raw model.yaml input.npy | cmp -s - "$T/r.bin" &&
    ok format_raw_stdout || bad format_raw_stdout "differs from -o x.bin"
head -c 6 "$T/b.npy" | od -c | grep -q 'N   U   M   P   Y' && ok pipe_defaults_to_npy || bad pipe_defaults_to_npy "no npy magic"
"$SEQRUN" -q -w weights.safetensors --threads 1 model.yaml input.npy -o "$T/t1.npy" && cmp -s "$T/a.npy" "$T/t1.npy" &&
    ok threads_same_bytes || bad threads_same_bytes "--threads 1 changed the result"
cp "$T/a.npy" "$T/keep.npy"
"$SEQRUN" -q -w weights.safetensors model.yaml "$T/raw.bin" -o "$T/keep.npy" 2>/dev/null
[ $? -eq 1 ] && cmp -s "$T/a.npy" "$T/keep.npy" && [ -z "$(ls -A "$T" | grep '\.tmp\.')" ] &&
    ok failed_run_keeps_old_output || bad failed_run_keeps_old_output "old output changed or temp left"
cd "$T" || exit 2

# ---- seeds and state -------------------------------------------------------------
spec init.yaml 'input: [N, 16]
layers:
  - Linear: [16, 8]
  - Tanh
  - Linear: [8, 4]'
"$SEQRUN" -q --seed 7 "$T/init.yaml" "$MLP/input.npy" -o s7a.npy --save-state st7.safetensors &&
    "$SEQRUN" -q --seed 7 "$T/init.yaml" "$MLP/input.npy" -o s7b.npy && cmp -s s7a.npy s7b.npy &&
    ok seed_same_bytes || bad seed_same_bytes "same seed, different bytes"
"$SEQRUN" -q --seed 8 "$T/init.yaml" "$MLP/input.npy" -o s8.npy && ! cmp -s s7a.npy s8.npy &&
    ok seed_changes_values || bad seed_changes_values "seed ignored"
"$SEQRUN" -q -w st7.safetensors --seed 99 "$T/init.yaml" "$MLP/input.npy" -o s7c.npy && cmp -s s7a.npy s7c.npy &&
    ok save_state_round_trip || bad save_state_round_trip "reloading the saved state changed the output"
spec shared.yaml 'input: [N, 16]
layers:
  - &fc {Linear: [16, 16]}
  - ReLU
  - *fc'
"$SEQRUN" -q shared.yaml "$MLP/input.npy" -o sh.npy --save-state sh.safetensors &&
    [ "$(grep -ao '"[0-9.a-z_]*":{' sh.safetensors | tr -d '":{' | sort | tr '\n' ' ')" = "0.bias 0.weight " ] &&
    ok save_state_shared_once || bad save_state_shared_once "$(grep -ao '"[0-9.a-z_]*":{' sh.safetensors)"
"$SEQRUN" --check shared.yaml | grep -q '^total params: 272$' && ok shared_params_counted_once ||
    bad shared_params_counted_once "$("$SEQRUN" --check shared.yaml | tail -n 1)"

# An eval-mode BatchNorm folded into the convolution before it changes
# nothing that --save-state writes: every tensor comes back as it was read.
R=$(cd "$HERE/.." && pwd)
"$SEQRUN" -q --save-state dg.safetensors "$R/models/digits_cnn.yaml" "$R/data/digits_test_x.npy" -o dg.npy &&
    "$SEQRUN" -v "$R/models/digits_cnn.yaml" "$R/data/digits_test_x.npy" -o dg2.npy 2>dg.err &&
    grep -q 'BatchNorm2d .*(in layer 0)$' dg.err &&
    "$BUILD/tests/stcmp" "$R/models/digits_cnn.safetensors" dg.safetensors --rtol 0 --atol 0 >stcmp.out 2>&1 &&
    ok save_state_not_folded || bad save_state_not_folded "$(cat dg.err stcmp.out)"

# --save-state over the very file -w read, three training passes in a row:
# the running statistics must match PyTorch's after three forward passes.
B=$G/cnn_bn2d_train_3pass
cp "$B/weights.safetensors" own.safetensors
for i in 1 2 3; do
    "$SEQRUN" -q --train -w own.safetensors --save-state own.safetensors "$B/model.yaml" "$B/input.npy" -o bn.npy || break
done
"$BUILD/tests/stcmp" "$B/expected_state.safetensors" own.safetensors --rtol 1e-4 --atol 1e-5 >stcmp.out 2>&1 &&
    "$NPYCMP" "$B/expected.npy" bn.npy --rtol 1e-4 --atol 1e-5 && [ -z "$(ls -A . | grep '\.tmp\.')" ] &&
    ok save_state_over_its_weights || bad save_state_over_its_weights "$(cat stcmp.out)"

# A weights file truncated by someone else mid-run (weights are read in
# place from a mapping): a clear message and exit 1, not a SIGBUS crash.
printf 'layers:\n  - Linear: [1024, 1024]\n' >big.yaml
printf 'layers:\n  - Identity\n' >ident.yaml
head -c 16384 /dev/zero >z4.bin
"$SEQRUN" -q --input-shape 4,1024 --save-state big.safetensors big.yaml z4.bin -o /dev/null &&
    "$SEQRUN" -q --input-shape 4,1024 ident.yaml z4.bin -o z4.npy && head -c 128 z4.npy >z4.head && tail -c +129 z4.npy >z4.data
rm -f fifo && mkfifo fifo
{ cat z4.head; sleep 1; truncate -s 1000 big.safetensors; cat z4.data; } >fifo &
"$SEQRUN" -q -w big.safetensors big.yaml fifo -o bus.npy 2>bus.err
rc=$?
wait
[ $rc -eq 1 ] && grep -q 'weights file was truncated' bus.err && [ ! -e bus.npy ] && ok weights_truncated_mid_run ||
    bad weights_truncated_mid_run "exit $rc: $(cat bus.err)"

# ---- --top: classes and probabilities as PyTorch's topk gives them ----------
"$SEQRUN" -q --format text --top 3 -w "$MLP/weights.safetensors" "$MLP/model.yaml" "$MLP/input.npy" >top.txt &&
    diff -q top.txt "$HERE/fixtures/top/core_mlp_top3.txt" >/dev/null && ok top_k ||
    bad top_k "$(diff top.txt "$HERE/fixtures/top/core_mlp_top3.txt" | head -n 5)"
expect top_needs_text 2 'top' -- "$SEQRUN" --top 2 --format npy -w "$MLP/weights.safetensors" "$MLP/model.yaml" "$MLP/input.npy"
"$SEQRUN" -q -v -w "$MLP/weights.safetensors" "$MLP/model.yaml" "$MLP/input.npy" -o v.npy 2>verr
[ ! -s verr ] && ok quiet_wins_over_verbose || bad quiet_wins_over_verbose "$(cat verr)"
"$SEQRUN" -v -w "$MLP/weights.safetensors" "$MLP/model.yaml" "$MLP/input.npy" -o v.npy 2>verr &&
    grep -q 'layer 0 .*Linear .*\[8, 16\] *-> \[8, 32\]' verr && [ "$(grep -c '^seqrun: layer ' verr)" -eq 8 ] &&
    grep -q 'layer 1 .*GELU .*(in layer 0)$' verr && grep -q '^seqrun: all layers .* ms$' verr &&
    ok verbose_layer_times || bad verbose_layer_times "$(cat verr)"

# ---- the dropout family and RReLU under --train (issue 12) ------------------
# Dropout2d drops whole channels at rate p and scales the rest by 1/(1-p): a
# constant input (every byte 0x3f: 0.747059) averaged per channel is 0 or
# 0.747059/0.7 and nothing else; 2000 channels, p = 0.3: 600 +- 5 sd zeroed.
head -c 32000 /dev/zero | tr '\0' '\077' >c3f.bin
printf 'layers:\n  - Dropout2d: 0.3\n  - AdaptiveAvgPool2d: 1\n  - Flatten\n' >d2.yaml
"$SEQRUN" -q --train --input-shape 50,40,2,2 --format text d2.yaml c3f.bin >d2.txt &&
    tr -s ' ,[]' '\n' <d2.txt | grep -v '^#\|^shape\|^$' | sed 1,2d >d2.vals &&
    [ "$(sort -u d2.vals | tr '\n' ' ')" = "0 1.06723 " ] && z=$(grep -c '^0$' d2.vals) &&
    [ "$z" -ge 529 ] && [ "$z" -le 671 ] && ok dropout2d_train_channels ||
    bad dropout2d_train_channels "values $(sort d2.vals | uniq -c | tr '\n' ' ')"
# every random layer gives the same bytes whatever --batch-size and --threads,
# other bytes with another --seed, and is the identity (or leaky_relu) in eval
spec rnd.yaml 'layers:
  - Conv2d: [3, 6, 3, 1, 1]
  - Dropout2d: {p: 0.3, inplace: true}
  - RReLU: [0.1, 0.3]
  - Dropout3d: 0.2
  - Flatten: 2
  - Dropout1d: 0.4
  - Flatten
  - GLU
  - AlphaDropout: 0.1
  - Linear: [768, 10]
  - FeatureAlphaDropout: 0.4'
R=$G/act_conv_hardswish/input.npy
"$SEQRUN" -q --train --seed 3 "$T/rnd.yaml" "$R" -o r1.npy 2>&1 | sed -n 1p
same=1
for o in "--batch-size 3" "--batch-size 1 --threads 2" "--threads 2"; do
    "$SEQRUN" -q --train --seed 3 $o "$T/rnd.yaml" "$R" -o r2.npy && cmp -s r1.npy r2.npy || same=0
done
"$SEQRUN" -q --train --seed 4 "$T/rnd.yaml" "$R" -o r3.npy && ! cmp -s r1.npy r3.npy || same=0
[ $same = 1 ] && ok train_random_layers_chunking || bad train_random_layers_chunking "bytes change with --batch-size/--threads, or not with --seed"

# Threads follow the CPUs the process may use: under `taskset` to two of
# them, the default pool is two threads, pinned one to each (par.c).  The
# input comes through a FIFO that stays open after three chunks, so the
# threads (engaged once the first chunk has run) are there to look at while
# seqrun waits for the rest.
two=$(python3 -c 'import os; c = sorted(os.sched_getaffinity(0)); print("%d,%d" % tuple(c[:2]) if len(c) > 1 else "")' \
      2>/dev/null)
if [ -z "$two" ]; then
    echo "ok threads_pinned_to_allowed_cpus # SKIP fewer than 2 CPUs, or no python3"
else
    . "$HERE/npyhdr.sh"
    printf 'input: [N, 784]\nlayers:\n  - Linear: [784, 1024]\n  - ReLU\n  - Linear: [1024, 1024]\n' >pin.yaml
    rm -f pin.fifo && mkfifo pin.fifo
    taskset -c "$two" "$SEQRUN" -q --batch-size 1024 -o pin.npy pin.yaml pin.fifo 2>/dev/null &
    pid=$!
    exec 7>pin.fifo
    { npyhdr "{'descr': '<f4', 'fortran_order': False, 'shape': (8192, 784), }"
      head -c $((3 * 1024 * 784 * 4)) /dev/zero; } >&7
    seen=""
    for _ in $(seq 200); do
        seen=$(cat /proc/$pid/task/*/status 2>/dev/null | sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' |
               grep -v '[,-]' | sort -un | tr '\n' ',' | sed 's/,$//')
        [ "$seen" = "$two" ] && break
        sleep 0.05
    done
    exec 7>&-
    wait $pid 2>/dev/null
    rm -f pin.fifo pin.npy pin.yaml
    [ "$seen" = "$two" ] && ok threads_pinned_to_allowed_cpus ||
        bad threads_pinned_to_allowed_cpus "threads pinned to '${seen}', want one on each of $two"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
