#!/usr/bin/env bash
# demo.sh [SEQRUN] - what `make demo` shows: seqrun checks the bundled digits
# CNN, then classifies the 360 held-out test digits with both bundled models
# and prints their accuracy next to what PyTorch measured when it trained them
# (models/digits_accuracy.txt, written by models/train_digits.py).
#
# The accuracy is computed from seqrun's own text output with od and awk, so
# nothing here needs Python.  Exit 1 if seqrun's class differs from PyTorch's
# on any test image.
set -euo pipefail
cd "$(dirname "$0")/.."
SEQRUN=${1:-./seqrun}
case $SEQRUN in */*) ;; *) SEQRUN=./$SEQRUN ;; esac
X=data/digits_test_x.npy
Y=data/digits_test_y.npy
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# The labels: an int64 .npy, version 1 (what numpy.save writes).  Its header
# length is the little-endian uint16 at byte 8; the data follow at 10 + that.
labels() {
    if [ "$(head -c 8 "$1" | od -An -c | tr -d ' ')" != '223NUMPY001\0' ] ||
        ! head -c 128 "$1" | grep -q "'descr': '<i8'"; then
        echo "demo: $1 is not a version 1 int64 .npy" >&2
        return 1
    fi
    local hl
    hl=$(od -An -tu2 -j8 -N2 "$1" | tr -d ' ')
    od -An -v -td8 -w8 -j $((10 + hl)) "$1" | tr -d ' '
}
labels "$Y" >"$T/labels"

# the commands as typed here: ./seqrun unless it was installed (make install)
echo "\$ $SEQRUN --check models/digits_cnn.yaml"
"$SEQRUN" --check models/digits_cnn.yaml
echo

# seqrun's class per image: --top 1 prints "# shape ..." then "I: CLASS (P)".
status=0
for m in digits_cnn digits_mlp; do
    "$SEQRUN" -q --format text --top 1 "models/$m.yaml" "$X" |
        awk 'NR > 1 { print $2 }' >"$T/$m"
    read -r correct total <<<"$(paste -d' ' "$T/labels" "$T/$m" |
        awk '{ n++; if ($1 == $2) c++ } END { print c + 0, n + 0 }')"
    read -r pt_correct pt_total pt_pct <<<"$(awk -v m="$m" '$1 == m { print $2, $3, $4 }' models/digits_accuracy.txt)"
    col=$(case $m in digits_cnn) echo 3 ;; *) echo 4 ;; esac)
    same=$(awk -v c="$col" '!/^#/ { print $c }' models/digits_predictions.txt | paste -d' ' - "$T/$m" |
        awk '{ if ($1 == $2) s++ } END { print s + 0 }')
    printf '%s: seqrun %d/%d correct = %s%%   PyTorch %d/%d = %s%%   same class as PyTorch on %d/%d images\n' \
        "$m" "$correct" "$total" "$(awk -v c="$correct" -v n="$total" 'BEGIN { printf "%.2f", 100 * c / n }')" \
        "$pt_correct" "$pt_total" "$pt_pct" "$same" "$total"
    [ "$same" -eq "$total" ] && [ "$correct" -eq "$pt_correct" ] || status=1
done
echo
echo "\$ $SEQRUN --format text --top 3 models/digits_cnn.yaml $X | head -n 6"
"$SEQRUN" -q --format text --top 3 models/digits_cnn.yaml "$X" >"$T/top3"
head -n 6 "$T/top3"
echo "true digits: $(head -n 5 "$T/labels" | tr '\n' ' ')"
exit $status
