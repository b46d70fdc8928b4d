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

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
