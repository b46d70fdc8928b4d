#!/usr/bin/env bash
# suite_demo.sh SEQRUN BUILD - the bundled digits models (models/digits_*.yaml,
# trained by models/train_digits.py) classify the bundled test split exactly
# as PyTorch did: the same class for every image, hence the same accuracy as
# models/digits_accuracy.txt records; and tools/demo.sh (make demo) says so.
set -u
. "$(dirname "$0")/lib.sh"
sr_suite_setup "$@"
cd "$(dirname "$0")/.." || exit 2

X=data/digits_test_x.npy
# PyTorch's classes per image: columns index label cnn mlp
grep -v '^#' models/digits_predictions.txt >"$T/pt"
awk '{ print $2 }' "$T/pt" >"$T/labels"

for m in digits_cnn digits_mlp; do
    col=$(case $m in digits_cnn) echo 3 ;; *) echo 4 ;; esac)
    awk -v c="$col" '{ print $c }' "$T/pt" >"$T/$m.pt"

    "$SEQRUN" --check "models/$m.yaml" >"$T/check" 2>&1 &&
        grep -q '^total params: ' "$T/check" && ok "${m}_check" ||
        bad "${m}_check" "$(head -c 300 "$T/check")"

    # --top 1: the class seqrun ranks first
    if "$SEQRUN" -q --format text --top 1 "models/$m.yaml" "$X" >"$T/top" 2>"$T/err"; then
        awk 'NR > 1 { print $2 }' "$T/top" >"$T/$m.top"
        if cmp -s "$T/$m.top" "$T/$m.pt"; then
            ok "${m}_same_class_as_pytorch"
        else
            bad "${m}_same_class_as_pytorch" "$(paste -d' ' "$T/$m.pt" "$T/$m.top" |
                awk '$1 != $2 { n++ } END { print n + 0 }') of 360 images differ"
        fi
        correct=$(paste -d' ' "$T/labels" "$T/$m.top" | awk '$1 == $2 { c++ } END { print c + 0 }')
        want=$(awk -v m="$m" '$1 == m { print $2 }' models/digits_accuracy.txt)
        [ -n "$want" ] && [ "$correct" = "$want" ] && ok "${m}_accuracy" ||
            bad "${m}_accuracy" "seqrun $correct correct, PyTorch recorded '${want}'"
    else
        bad "${m}_same_class_as_pytorch" "seqrun failed: $(head -c 300 "$T/err")"
        bad "${m}_accuracy" "seqrun failed"
    fi

    # the plain text rows, argmax in awk: the same classes without --top
    "$SEQRUN" -q --format text "models/$m.yaml" "$X" 2>/dev/null |
        awk 'NR > 1 { b = 1; for (i = 2; i <= NF; i++) if ($i + 0 > $b + 0) b = i; print b - 1 }' >"$T/$m.argmax"
    cmp -s "$T/$m.argmax" "$T/$m.pt" && ok "${m}_text_argmax" ||
        bad "${m}_text_argmax" "argmax of the text rows differs from PyTorch's"
done

out=$(tools/demo.sh "$SEQRUN" 2>&1)
rc=$?
for m in digits_cnn digits_mlp; do
    want=$(awk -v m="$m" '$1 == m { printf "seqrun %d/%d correct = %s%%   PyTorch %d/%d = %s%%", $2, $3, $4, $2, $3, $4 }' \
        models/digits_accuracy.txt)
    printf '%s\n' "$out" | grep -qF "$m: $want   same class as PyTorch on 360/360 images" &&
        ok "demo_prints_${m}" || bad "demo_prints_${m}" "no line '$m: $want ...' in: $(printf '%s\n' "$out" | grep "^$m")"
done
[ $rc -eq 0 ] && ok demo_exit_0 || bad demo_exit_0 "exit $rc"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
