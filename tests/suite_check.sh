#!/usr/bin/env bash
#
# suite_check.sh - seqrun --check: the shape report and its diagnostics.
#
#   bash tests/suite_check.sh SEQRUN BUILD
#   SR_UPDATE=all bash tests/suite_check.sh SEQRUN BUILD   rewrites every
#       existing models/broken/NAME.expected from seqrun's report, and
#       SR_UPDATE="NAME ..." those NAMEs' (created if new): review the diff
#
# 1. models/broken/NAME.yaml: every classic shape mistake.  NAME.expected
#    holds the reviewed report: "exit N", then "--- stderr" and the
#    diagnostics, then "--- stdout" and the table; NAME.args, if present,
#    holds extra arguments (one line).  seqrun runs inside models/broken,
#    so diagnostics name the file as NAME.yaml.
# 2. NAME.torch, written by tests/gen_check.py with PyTorch: every layer's
#    index, type, repr, output shape and parameter count, and the total,
#    compared with `--check --format json`; for a broken model, where
#    PyTorch itself stops (layer and incoming shape), compared with
#    seqrun's first layer diagnostic.  Valid models live in tests/check.
# 3. Contract details: the table ends with "total params: N", --check reads
#    stdin only when nothing else gives the shape, and creates no files.
#
# Prints `ok NAME` or `FAIL NAME: reason` (with a diff) per check, then
# `N passed, M failed`.  Needs no Python.

set -u
if [ $# -lt 1 ]; then
    echo "usage: $0 SEQRUN [BUILD]" >&2
    exit 2
fi
case $1 in /*) SEQRUN=$1 ;; */*) SEQRUN=$PWD/$1 ;; *) SEQRUN=$1 ;; esac
ROOT=$(cd "$(dirname -- "$0")/.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/suite_check.XXXXXX") || exit 2
trap 'rm -rf -- "$TMP"' EXIT

pass=0 fail=0
ok() { echo "ok $1"; pass=$((pass + 1)); }
bad() {
    echo "FAIL $1: $2"
    [ -n "${3:-}" ] && printf '%s\n' "$3" | head -n 40 | sed 's/^/    /'
    fail=$((fail + 1))
}

# run_check DIR NAME [ARGS...]: the report as NAME.expected spells it.
run_check() {
    local dir=$1 name=$2
    shift 2
    local rc
    (cd "$dir" && "$SEQRUN" --check "$@" "$name.yaml" >"$TMP/out" 2>"$TMP/err" </dev/null)
    rc=$?
    printf 'exit %d\n--- stderr\n' "$rc"
    cat "$TMP/err"
    printf -- '--- stdout\n'
    cat "$TMP/out"
}

args_of() { [ -f "$1.args" ] && head -n 1 "$1.args"; }

# A symbolic dim ("N", "N*8", "N*2+1") at batch size B, or a number as is.
eval_shape() {
    awk -v B="$1" '{
        s = $0; gsub(/[][ "]/, "", s); n = split(s, d, ",");
        out = "";
        for (i = 1; i <= n; i++) {
            v = d[i];
            if (v ~ /^-?[0-9]+$/) { x = v }
            else {
                k = 1; c = 0; t = v;
                if (match(t, /[-+][0-9]+$/)) { c = substr(t, RSTART) + 0; t = substr(t, 1, RSTART - 1) }
                if (match(t, /\*\(?-?[0-9]+\)?$/)) { m = substr(t, RSTART + 1); gsub(/[()]/, "", m); k = m + 0 }
                x = k * B + c;
            }
            out = out (i > 1 ? "," : "") x;
        }
        print out;
    }'
}

# The layer lines of a --check --format json report as NAME.torch has them:
# INDEX TYPE OUTPUT_SHAPE PARAMS REPR, tab-separated, shapes without spaces
# or quotes.
json_layers() {
    grep '^    {"index": ' "$1" | sed -E \
        -e 's/^    \{"index": "([^"]*)", "depth": [0-9]+, "type": "([^"]*)", "repr": "(([^"\\]|\\.)*)", .*"output_shape": (\[[^]]*\]|null), "params": ([0-9]+),.*/\1\t\2\t\5\t\6\t\3/' \
        -e 's/\\"/"/g; s/\\\\/\\/g' |
        awk -F '\t' 'BEGIN { OFS = "\t" } { gsub(/[ "]/, "", $3); print }'
}

json_field() { sed -nE "s/^  \"$2\": ([^,]*),?\$/\\1/p" "$1"; }

# ---- 1. broken models: the reviewed reports ----------------------------------

BROKEN=$ROOT/models/broken
for spec in "$BROKEN"/*.yaml; do
    name=$(basename "$spec" .yaml)
    if [ ! -f "$BROKEN/$name.expected" ] && [[ " ${SR_UPDATE:-} " != *" $name "* ]]; then
        bad "broken/$name" "no $name.expected"
        continue
    fi
    read -r -a args <<<"$(args_of "$BROKEN/$name")"
    run_check "$BROKEN" "$name" "${args[@]}" >"$TMP/got"
    case " ${SR_UPDATE:-} " in
    *" $name "*) cp "$TMP/got" "$BROKEN/$name.expected" ;;
    *" all "*) [ -f "$BROKEN/$name.expected" ] && cp "$TMP/got" "$BROKEN/$name.expected" ;;
    esac
    if d=$(diff -u "$BROKEN/$name.expected" "$TMP/got"); then
        ok "broken/$name"
    else
        bad "broken/$name" "report differs from $name.expected" "$d"
    fi
done

# ---- 2. PyTorch's numbers -------------------------------------------------------

# compare_torch DIR NAME: layer rows (shapes only where PyTorch has them),
# the total, and for broken models where PyTorch stops.
compare_torch() {
    local dir=$1 name=$2 label=$3
    local want=$dir/$name.torch
    if [ ! -f "$want" ]; then
        bad "$label" "no $name.torch (run /usr/bin/python3 tests/gen_check.py)"
        return
    fi
    read -r -a args <<<"$(args_of "$dir/$name")"
    (cd "$dir" && "$SEQRUN" --check --format json "${args[@]}" "$name.yaml" >"$TMP/json" 2>/dev/null </dev/null)
    json_layers "$TMP/json" >"$TMP/got_layers"
    grep -vE '^(#|total_params|torch_)' "$want" >"$TMP/want_layers"
    # a broken model's shapes are "?": take seqrun's column as they are
    awk -F '\t' 'BEGIN { OFS = "\t" }
        NR == FNR { if ($3 == "?") skip[$1] = 1; next }
        { if ($1 in skip) $3 = "?"; print }' "$TMP/want_layers" "$TMP/got_layers" >"$TMP/got_cmp"
    local why=""
    if ! d=$(diff -u "$TMP/want_layers" "$TMP/got_cmp"); then
        why="layers differ from PyTorch's"
    fi
    local wt gt
    wt=$(sed -n 's/^total_params //p' "$want")
    gt=$(json_field "$TMP/json" total_params)
    if [ "$wt" != "$gt" ]; then
        why="${why:+$why; }total_params $gt, PyTorch says $wt"
    fi
    if grep -q '^torch_fails_at' "$want"; then
        local ti tt ts first gl gty gin
        IFS=$'\t' read -r _ ti tt ts < <(grep '^torch_fails_at' "$want")
        first=$(grep -m 1 '^    {"file": ' "$TMP/json")
        gl=$(printf '%s\n' "$first" | sed -nE 's/.*"layer": "([^"]*)".*/\1/p')
        if [ -n "$gl" ]; then
            gty=$(printf '%s\n' "$first" | sed -nE 's/.*"type": "([^"]*)".*/\1/p')
            gin=$(grep "^    {\"index\": \"$gl\"," "$TMP/json" | sed -nE 's/.*"input_shape": (\[[^]]*\]).*/\1/p' |
                  eval_shape 2)
            if [ "$gl $gty $gin" != "$ti $tt $ts" ]; then
                why="${why:+$why; }first diagnostic at layer $gl ($gty) with input $gin; PyTorch fails at $ti ($tt) with $ts"
            fi
        fi
    fi
    if [ -z "$why" ]; then ok "$label"; else bad "$label" "$why" "${d:-}"; fi
}

for spec in "$BROKEN"/*.yaml; do
    name=$(basename "$spec" .yaml)
    # an invalid spec (exit 2: an unknown layer, sizes past 64 bits) has
    # no shapes for PyTorch to compare
    [ "$(head -n 1 "$BROKEN/$name.expected" 2>/dev/null)" = "exit 2" ] && continue
    compare_torch "$BROKEN" "$name" "torch/broken/$name"
done
VALID=$ROOT/tests/check
for spec in "$VALID"/*.yaml; do
    name=$(basename "$spec" .yaml)
    compare_torch "$VALID" "$name" "torch/$name"
    # the text report of a model that fits: exit 0, quiet stderr, and the
    # contract's last line
    read -r -a args <<<"$(args_of "$VALID/$name")"
    run_check "$VALID" "$name" "${args[@]}" >"$TMP/got"
    wt=$(sed -n 's/^total_params //p' "$VALID/$name.torch" 2>/dev/null)
    if [ "$(head -n 2 "$TMP/got")" != $'exit 0\n--- stderr' ] || [ "$(sed -n 3p "$TMP/got")" != "--- stdout" ]; then
        bad "text/$name" "expected exit 0 and no diagnostics" "$(head -n 20 "$TMP/got")"
    elif [ "$(tail -n 1 "$TMP/got")" != "total params: $wt" ]; then
        bad "text/$name" "last line is '$(tail -n 1 "$TMP/got")', PyTorch counts $wt"
    else
        ok "text/$name"
    fi
done

# ---- 3. contract details ---------------------------------------------------------

# The table's last line on a model with mismatches, too.
for spec in "$BROKEN"/*.yaml; do
    name=$(basename "$spec" .yaml)
    exp=$BROKEN/$name.expected
    [ -f "$exp" ] || continue
    last=$(tail -n 1 "$exp")
    case $last in
    "total params: "*|"--- stdout") ;;
    *) bad "lastline/$name" "$name.expected's report ends '$last'" ;;
    esac
done

# stdin is read only when nothing else gives the shape: with input: and
# an empty stdin the check still succeeds ...
cp "$VALID/cnn.yaml" "$TMP/cnn.yaml"
if (cd "$TMP" && "$SEQRUN" --check cnn.yaml </dev/null >/dev/null 2>&1); then
    ok "stdin/not-read-with-input"
else
    bad "stdin/not-read-with-input" "--check with input: failed on an empty stdin"
fi
# ... and without input: it takes the shape from stdin's npy header.
printf 'layers:\n  - Linear: [2, 3]\n' >"$TMP/noinput.yaml"
got=$(cd "$TMP" && "$SEQRUN" --check --format json noinput.yaml <"$ROOT/tests/fixtures/npy/f32_v2_2x2.npy" 2>&1 |
      grep '"output_shape"' | sed -nE 's/.*"output_shape": (\[[^]]*\]).*/\1/p')
if [ "$got" = "[2, 3]" ]; then ok "stdin/read-without-input"; else bad "stdin/read-without-input" "got '$got'"; fi
# --input-shape wins over stdin too
got=$(cd "$TMP" && "$SEQRUN" --check --input-shape 5,2 --format json noinput.yaml </dev/null 2>&1 |
      sed -nE 's/.*"output_shape": (\[[^]]*\]).*/\1/p')
if [ "$got" = "[5, 3]" ]; then ok "stdin/input-shape"; else bad "stdin/input-shape" "got '$got'"; fi

# --check creates no files, not even the one -o names.
mkdir -p "$TMP/nofiles"
cp "$VALID/cnn.yaml" "$BROKEN/several_mistakes.yaml" "$TMP/nofiles/"
(cd "$TMP/nofiles" && "$SEQRUN" --check -o out.npy --save-state st.safetensors cnn.yaml >/dev/null 2>&1
 "$SEQRUN" --check --format json -o out.npy several_mistakes.yaml >/dev/null 2>&1)
if [ "$(ls "$TMP/nofiles" | sort | tr '\n' ' ')" = "cnn.yaml several_mistakes.yaml " ]; then
    ok "nofiles"
else
    bad "nofiles" "--check left: $(ls "$TMP/nofiles" | tr '\n' ' ')"
fi

# An input that contradicts input: is a shape mismatch, from data too.
got=$(cd "$TMP" && "$SEQRUN" --check cnn.yaml "$ROOT/tests/fixtures/npy/f32_v2_2x2.npy" >/dev/null 2>&1; echo $?)
if [ "$got" = 3 ]; then ok "input-contradicts-data"; else bad "input-contradicts-data" "exit $got, want 3"; fi

# --batch-size sets the batch the memory estimate is for.
p1=$(cd "$VALID" && "$SEQRUN" --check --format json cnn.yaml 2>/dev/null | sed -nE 's/^  "peak_activation_bytes": ([0-9]+),/\1/p')
p8=$(cd "$VALID" && "$SEQRUN" --check --format json --batch-size 8 cnn.yaml 2>/dev/null | sed -nE 's/^  "peak_activation_bytes": ([0-9]+),/\1/p')
# layer 1 (ReLU on [N, 16, 32, 32]) holds the peak: 2 * 16*32*32 floats
if [ "$p1" = 131072 ] && [ "$p8" = $((8 * 131072)) ]; then
    ok "peak-memory"
else
    bad "peak-memory" "batch 1: '$p1' (want 131072), batch 8: '$p8' (want $((8 * 131072)))"
fi

# ---- 4. what --check answers (issue 13) ------------------------------------------

MODELS=$ROOT/models
DIGITS=$ROOT/data/digits_test_x.npy

# Concrete input, concrete shapes: a file of 360 images prints [360, 10];
# input: alone prints [N, 10].
got=$("$SEQRUN" --check "$MODELS/digits_mlp.yaml" "$DIGITS" 2>&1 | grep -c '\[360, 10\]')
sym=$("$SEQRUN" --check "$MODELS/digits_mlp.yaml" </dev/null 2>&1 | grep -c '\[N, 10\]')
if [ "$got" -ge 1 ] && [ "$sym" -ge 1 ]; then ok "concrete-shapes"; else bad "concrete-shapes" "file: $got rows of [360, 10]; input: $sym rows of [N, 10]"; fi

# Weights: the bundled models' files match; -w of another model lists every
# offending key, exit 1, as the run says them; nothing is created.
for m in digits_cnn digits_mlp mlp mlp_bn shared cnn; do
    out=$(cd "$MODELS" && "$SEQRUN" --check "$m.yaml" </dev/null 2>&1)
    rc=$?
    if [ $rc -eq 0 ] && printf '%s\n' "$out" | grep -q "^weights: .*every key matches"; then
        ok "weights/$m"
    else
        bad "weights/$m" "exit $rc" "$out"
    fi
done
mkdir -p "$TMP/w"
cp "$MODELS/digits_mlp.yaml" "$TMP/w/"
(cd "$TMP/w" && "$SEQRUN" --check -w "$MODELS/digits_cnn.safetensors" digits_mlp.yaml >/dev/null 2>"$TMP/w.check"
 echo $? >"$TMP/w.rc"
 "$SEQRUN" -q -w "$MODELS/digits_cnn.safetensors" -o out.npy digits_mlp.yaml "$DIGITS" 2>"$TMP/w.run" >/dev/null)
if [ "$(cat "$TMP/w.rc")" = 1 ] && [ "$(wc -l <"$TMP/w.check")" -ge 4 ] && diff -q "$TMP/w.check" "$TMP/w.run" >/dev/null &&
    [ "$(ls "$TMP/w")" = "digits_mlp.yaml" ]; then
    ok "weights/wrong-file"
else
    bad "weights/wrong-file" "exit $(cat "$TMP/w.rc"); --check and the run differ, or a file was left" \
        "$(diff "$TMP/w.check" "$TMP/w.run"; ls "$TMP/w")"
fi
# LazyLinear: its keys are checked at the size the input gave it
printf 'input: [N, 6]\nlayers:\n  - LazyLinear: 4\n  - ReLU\n  - LazyLinear: 2\n' >"$TMP/w/lazy.yaml"
printf 'input: [N, 6]\nlayers:\n  - Linear: [6, 4]\n  - ReLU\n  - Linear: [4, 2]\n' >"$TMP/w/eager.yaml"
printf 'input: [N, 6]\nlayers:\n  - LazyLinear: 4\n  - ReLU\n  - LazyLinear: 3\n' >"$TMP/w/lazy3.yaml"
# an input of [2, 6]: the output of Linear(2, 6) on a [2, 2] fixture
printf 'layers:\n  - Linear: [2, 6]\n' >"$TMP/w/six.yaml"
"$SEQRUN" -q --format npy "$TMP/w/six.yaml" "$ROOT/tests/fixtures/npy/f32_v2_2x2.npy" >"$TMP/w/x.npy"
(cd "$TMP/w" && "$SEQRUN" -q --save-state eager.safetensors -o /dev/null eager.yaml x.npy)
r1=$(cd "$TMP/w" && "$SEQRUN" --check -w eager.safetensors lazy.yaml 2>&1 >/dev/null; echo "exit $?")
r2=$(cd "$TMP/w" && "$SEQRUN" --check -w eager.safetensors lazy3.yaml 2>&1 >/dev/null; echo "exit $?")
if [ "$r1" = "exit 0" ] && printf '%s\n' "$r2" | grep -q "size mismatch for '2.weight': the file has shape \[2, 4\], the model needs \[3, 4\]" &&
    printf '%s\n' "$r2" | grep -q '^exit 1$'; then
    ok "weights/lazy"
else
    bad "weights/lazy" "matching: $r1; mismatching: $r2"
fi

# --columns and --depth on the command line; -v shows every column.
hdr=$("$SEQRUN" --check --columns input,params "$MODELS/digits_cnn.yaml" </dev/null 2>/dev/null | head -n 1)
vhdr=$("$SEQRUN" --check -v "$MODELS/digits_cnn.yaml" </dev/null 2>/dev/null | head -n 1)
case $hdr in
"index  layer"*"input shape"*"params") ok "columns" ;;
*) bad "columns" "header '$hdr'" ;;
esac
case $vhdr in
*"input shape"*"output shape"*"params"*"mult-adds") ok "columns/verbose" ;;
*) bad "columns/verbose" "header '$vhdr'" ;;
esac
n_all=$("$SEQRUN" --check "$VALID/nested_shared.yaml" </dev/null 2>/dev/null | grep -c '^ *[0-9]')
n_top=$("$SEQRUN" --check --depth 1 "$VALID/nested_shared.yaml" </dev/null 2>/dev/null | grep -c '^ *[0-9]')
if [ "$n_all" = 12 ] && [ "$n_top" = 5 ]; then ok "depth"; else bad "depth" "$n_all rows, $n_top with --depth 1 (want 12, 5)"; fi
for a in "--columns foo" "--columns output,output" "--depth -1" "--depth x"; do
    # shellcheck disable=SC2086
    "$SEQRUN" --check $a "$MODELS/mlp.yaml" </dev/null >/dev/null 2>&1
    check_rc2=$?
    if [ $check_rc2 = 2 ]; then ok "usage/${a// /_}"; else bad "usage/${a// /_}" "exit $check_rc2, want 2"; fi
done
"$SEQRUN" --columns input "$MODELS/mlp.yaml" /dev/null >/dev/null 2>&1
if [ $? = 2 ]; then ok "usage/columns-without-check"; else bad "usage/columns-without-check" "want exit 2"; fi

# --format dot: every report, broken or not, is a graph Graphviz parses.
if command -v dot >/dev/null; then
    nd=0 why=""
    for spec in "$BROKEN"/*.yaml "$VALID"/*.yaml; do
        dir=$(dirname "$spec")
        name=$(basename "$spec" .yaml)
        read -r -a args <<<"$(args_of "$dir/$name")"
        (cd "$dir" && "$SEQRUN" --check --format dot "${args[@]}" "$name.yaml" </dev/null 2>/dev/null) >"$TMP/g.dot"
        [ -s "$TMP/g.dot" ] || continue # an invalid spec draws nothing
        if dot -Tsvg "$TMP/g.dot" >/dev/null 2>"$TMP/g.err"; then nd=$((nd + 1)); else why="$why $name: $(head -c 200 "$TMP/g.err")"; fi
    done
    if [ -z "$why" ] && [ "$nd" -gt 20 ]; then ok "dot/parses ($nd graphs)"; else bad "dot/parses" "$nd parsed;$why"; fi
    (cd "$BROKEN" && "$SEQRUN" --check --format dot several_mistakes.yaml 2>/dev/null) >"$TMP/g.dot"
    if [ "$(grep -c 'color="#cc0000"' "$TMP/g.dot")" = 5 ] && grep -q 'subgraph cluster_' "$TMP/g.dot" &&
        "$SEQRUN" --check --format dot "$MODELS/digits_cnn.yaml" </dev/null | dot -Tsvg | grep -q '<svg'; then
        ok "dot/marks"
    else
        bad "dot/marks" "want 5 red nodes and a cluster" "$(head -n 20 "$TMP/g.dot")"
    fi
else
    echo "skip dot: Graphviz's dot is not installed (apt-get install graphviz)"
    skipped=$((${skipped:-0} + 1))
fi
"$SEQRUN" --format dot "$MODELS/mlp.yaml" /dev/null >/dev/null 2>&1
if [ $? = 2 ]; then ok "usage/dot-without-check"; else bad "usage/dot-without-check" "want exit 2"; fi

# No silent wait: stdin on a terminal (script(1) gives one) and nothing
# else gives the shape: exit 2 at once, saying what is needed.
if command -v script >/dev/null; then
    printf 'layers:\n  - Linear: [4, 2]\n' >"$TMP/noshape.yaml"
    out=$(cd "$TMP" && timeout 10 script -qec "'$SEQRUN' --check noshape.yaml; echo \"exit \$?\"" /dev/null 2>&1 | tr -d '\r')
    if printf '%s\n' "$out" | grep -q 'exit 2' && printf '%s\n' "$out" | grep -q 'standard input is a terminal'; then
        ok "tty/check"
    else
        bad "tty/check" "no refusal within 10 s" "$out"
    fi
    out=$(cd "$TMP" && timeout 10 script -qec "'$SEQRUN' '$MODELS/mlp.yaml'; echo \"exit \$?\"" /dev/null 2>&1 | tr -d '\r')
    if printf '%s\n' "$out" | grep -q 'exit 2' && printf '%s\n' "$out" | grep -q 'standard input is a terminal'; then
        ok "tty/run"
    else
        bad "tty/run" "no refusal within 10 s" "$out"
    fi
else
    echo "skip tty: script(1) is not installed"
    skipped=$((${skipped:-0} + 1))
fi

# --top ranks classes: an output that is not [N, classes] is refused up
# front (exit 2), naming the output's shape; [N, classes] is fine.
printf 'input: [N, 1, 8, 8]\nlayers:\n  - Conv2d: [1, 4, 3]\n' >"$TMP/convout.yaml"
out=$("$SEQRUN" --format text --top 2 "$TMP/convout.yaml" "$DIGITS" 2>&1 >/dev/null)
rc=$?
if [ $rc = 2 ] && printf '%s\n' "$out" | grep -q 'output is \[N, 4, 6, 6\]'; then ok "top/refused"; else bad "top/refused" "exit $rc" "$out"; fi
if "$SEQRUN" -q --format text --top 1 "$MODELS/digits_mlp.yaml" "$DIGITS" | sed -n 2p | grep -q '^0: [0-9] ('; then
    ok "top/classes"
else
    bad "top/classes" "--top 1 on [360, 10] output"
fi

# --paths without -o skips its own results on a second run.
mkdir -p "$TMP/p"
head -c 2000 "$ROOT/tests/fixtures/npy/f32_v2_2x2.npy" >"$TMP/p/a.npy"
printf 'input: [N, 2]\nlayers:\n  - Linear: [2, 3]\n' >"$TMP/p/m.yaml"
(cd "$TMP/p" && ls ./*.npy | "$SEQRUN" -q --paths m.yaml >/dev/null && ls ./*.npy | "$SEQRUN" --paths m.yaml >"$TMP/p.out" 2>"$TMP/p.err")
rc=$?
if [ $rc = 0 ] && [ "$(cd "$TMP/p" && ls | tr '\n' ' ')" = "a.npy a.out.npy m.yaml " ] && grep -q 'a.out.npy: skipped' "$TMP/p.err"; then
    ok "paths/skips-results"
else
    bad "paths/skips-results" "exit $rc; files: $(ls "$TMP/p" | tr '\n' ' ')" "$(cat "$TMP/p.err")"
fi

# ---- 5. warnings from shape rules (InstanceNorm's unused num_features) ------------

# InstanceNorm without affine and track_running_stats never reads
# num_features, so a mismatch is a warning at the layer (exit 0, once per
# layer however many records and chunks, nothing under -q); with weights
# or running statistics it is a mismatch (exit 3).
mkdir -p "$TMP/in"
cp "$DIGITS" "$TMP/in/a.npy"
cp "$DIGITS" "$TMP/in/b.npy"
cat "$DIGITS" "$DIGITS" >"$TMP/in/two.npy"
in_spec() { printf 'input: [N, 1, 8, 8]\nlayers:\n  - Flatten: {start_dim: 2}\n  - InstanceNorm1d: %s\n' "$2" >"$TMP/in/$1.yaml"; }
in_spec in 3
in_spec in1 1
in_spec affine '{num_features: 3, affine: true}'
in_spec track '{num_features: 3, track_running_stats: true}'
WANT="in.yaml:4:5: layer 1 (InstanceNorm1d): warning: InstanceNorm1d(num_features=3) is given input [N, 1, 64] (from layer 0 (Flatten)) with 1 channel; num_features is not used without affine or track_running_stats, so it runs, as in PyTorch; hint: num_features should be 1"
# in_case NAME WANT_EXIT WANT_STDERR ARGS...: exit status and the whole stderr
in_case() {
    local name=$1 want_rc=$2 want_err=$3
    shift 3
    (cd "$TMP/in" && "$SEQRUN" "$@" >"$TMP/in.out" 2>"$TMP/in.err" </dev/null)
    local rc=$?
    if [ $rc = "$want_rc" ] && [ "$(cat "$TMP/in.err")" = "$want_err" ]; then
        ok "warn/$name"
    else
        bad "warn/$name" "exit $rc (want $want_rc), stderr differs" "$(diff <(printf '%s\n' "$want_err") "$TMP/in.err")"
    fi
}
in_case check 0 "$WANT" --check in.yaml
in_case check-quiet 0 "" --check -q in.yaml
in_case run-chunks 0 "$WANT" --batch-size 100 -o out.npy in.yaml a.npy
in_case run-records 0 "$WANT" --batch-size 7 -o two_out.npy in.yaml two.npy
in_case run-quiet 0 "" -q --batch-size 100 -o out_q.npy in.yaml two.npy
in_case run-train 0 "$WANT" --train --batch-size 50 -o out_t.npy in.yaml a.npy
(cd "$TMP/in" && printf 'a.npy\nb.npy\n' | "$SEQRUN" --paths -o . in.yaml >/dev/null 2>"$TMP/in.err")
if [ "$(cat "$TMP/in.err")" = "$WANT" ]; then ok "warn/paths-once"; else bad "warn/paths-once" "stderr differs" "$(cat "$TMP/in.err")"; fi
# 600 one-sample records (the digits file's header with shape (1, 1, 8, 8),
# same length): inferred 1201 times, still one warning, and no "... more
# problems" from a list filled with copies of it
{
    head -c 128 "$DIGITS" | sed 's/(360, 1, 8, 8), }/(1, 1, 8, 8), }  /'
    tail -c +129 "$DIGITS" | head -c 256
} >"$TMP/in/many.npy"
for _ in 1 2 3 4 5 6 7 8 9 10; do
    cat "$TMP/in/many.npy" "$TMP/in/many.npy" >"$TMP/in/many2.npy"
    mv "$TMP/in/many2.npy" "$TMP/in/many.npy"
done
head -c $((600 * 384)) "$TMP/in/many.npy" >"$TMP/in/many2.npy"
mv "$TMP/in/many2.npy" "$TMP/in/many.npy"
in_case many-records 0 "$WANT" -o many_out.npy in.yaml many.npy
# num_features is unused: the same bytes as the matching layer's
(cd "$TMP/in" && "$SEQRUN" -q -o out1.npy in1.yaml a.npy)
if cmp -s "$TMP/in/out.npy" "$TMP/in/out1.npy"; then ok "warn/same-output"; else bad "warn/same-output" "InstanceNorm1d(3) and (1) differ on 1 channel"; fi
(cd "$TMP/in" && "$SEQRUN" --check --format json in.yaml >"$TMP/in.json" 2>/dev/null)
nw=$(grep -c '"line": 4, "col": 5, "layer": "1", "type": "InstanceNorm1d", "message": "InstanceNorm1d(num_features=3) is given .*"hint": "num_features should be 1", "severity": "warning"}' "$TMP/in.json")
if [ "$nw" = 1 ] && [ "$(json_field "$TMP/in.json" mismatches)" = 0 ] && [ "$(grep -c '"severity"' "$TMP/in.json")" = 1 ]; then
    ok "warn/json"
else
    bad "warn/json" "want one warning diagnostic and 0 mismatches" "$(grep -A3 '"diagnostics"' "$TMP/in.json")"
fi
for k in affine track; do
    for mode in check run; do
        if [ $mode = check ]; then set -- --check "$k.yaml"; else set -- -o "$k.npy" "$k.yaml" a.npy; fi
        (cd "$TMP/in" && "$SEQRUN" "$@" >/dev/null 2>"$TMP/in.err")
        rc=$?
        if [ $rc = 3 ] && grep -q "^$k.yaml:4:5: layer 1 (InstanceNorm1d): InstanceNorm1d(num_features=3) expects 3 channels, but input \[N, 1, 64\] .*has 1; hint: num_features should be 1" "$TMP/in.err" &&
            ! grep -q 'warning:' "$TMP/in.err" && [ ! -e "$TMP/in/$k.npy" ]; then
            ok "warn/$k-is-an-error/$mode"
        else
            bad "warn/$k-is-an-error/$mode" "exit $rc, want 3" "$(cat "$TMP/in.err")"
        fi
    done
done
# unbatched (C, L): the channels are dim 0
printf 'input: [4, 12]\nlayers:\n  - InstanceNorm1d: 3\n' >"$TMP/in/unb.yaml"
in_case unbatched 0 "unb.yaml:3:5: layer 0 (InstanceNorm1d): warning: InstanceNorm1d(num_features=3) is given unbatched input [4, 12] (from the model's input) with 4 channels (dim 0); num_features is not used without affine or track_running_stats, so it runs, as in PyTorch; hint: num_features should be 4" --check unb.yaml
# no warning where the "channels" are the model's batch ([N, 12] runs as
# one sample of N channels), nor for a lazy norm, whose num_features is
# its own
printf 'input: [N, 12]\nlayers:\n  - InstanceNorm1d: 3\n' >"$TMP/in/nb.yaml"
in_case batch-as-channels 0 "" --check nb.yaml
printf 'input: [N, 4, 12]\nlayers:\n  - LazyInstanceNorm1d: {affine: false, track_running_stats: false}\n' >"$TMP/in/lazy.yaml"
in_case lazy 0 "" --check lazy.yaml

echo "$pass passed, $fail failed${skipped:+, $skipped skipped}"
[ "$fail" -eq 0 ]
