#!/usr/bin/env bash
# suite_convt.sh SEQRUN BUILD - transposed and 3-D convolutions end to end:
#   - a DCGAN-style generator (ConvTranspose2d + BatchNorm2d folded + ReLU,
#     then Tanh), a Conv3d / ConvTranspose3d stack and a lazy model give
#     the same bytes at --threads 1 and 2 and --batch-size 1, 5 and all
#     (with SEQRUN_ISA=avx2, on cblas: at every batch size, one thread);
#   - the argument errors PyTorch raises (output_padding not below stride
#     or dilation, a padding_mode other than zeros) exit 2 with a hint.
# Prints `ok NAME` / `FAIL NAME: reason`, then "N passed, M failed".
set -u
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
SEQRUN=$(abs "$1")
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1: $2"; }

cat >"$T/gen.yaml" <<'EOF'
input: [N, 24, 1, 1]
layers:
  - ConvTranspose2d: {in_channels: 24, out_channels: 64, kernel_size: 4, stride: 1, padding: 0, bias: false}
  - BatchNorm2d: 64
  - ReLU
  - ConvTranspose2d: {in_channels: 64, out_channels: 40, kernel_size: 4, stride: 2, padding: 1, bias: false}
  - BatchNorm2d: 40
  - ReLU
  - ConvTranspose2d: {in_channels: 40, out_channels: 3, kernel_size: 4, stride: 2, padding: 1, bias: false}
  - Tanh
EOF
cat >"$T/vol.yaml" <<'EOF'
input: [N, 2, 4, 5, 6]
layers:
  - Conv3d: {in_channels: 2, out_channels: 8, kernel_size: 3, padding: 1, padding_mode: reflect}
  - ReLU
  - ConvTranspose3d: {in_channels: 8, out_channels: 4, kernel_size: 3, stride: 2, padding: 1, output_padding: 1, groups: 2}
  - Sigmoid
EOF
cat >"$T/lazy.yaml" <<'EOF'
input: [N, 3, 6, 6]
layers:
  - LazyConv2d: [16, 3, 1, 1]
  - ReLU
  - LazyConvTranspose2d: {out_channels: 33, kernel_size: 3, stride: 2, padding: 1, output_padding: 1}
  - LazyConv1d: [4, 3]
EOF
# LazyConv1d on [N, 33, 12, 12] would not fit: flatten the last two first
sed -i 's/  - LazyConv1d: \[4, 3\]/  - Flatten: [2]\n  - LazyConv1d: [4, 3]/' "$T/lazy.yaml"

export LC_ALL=C
gen_input() { # NAME N: N samples of the spec's input shape as raw float32 in [2^-7, 4)
    local n
    n=$(awk -v m="$2" '/^input:/ { gsub(/[^0-9,]/, ""); k = split($0, d, ","); p = m; for (i = 1; i <= k; i++) if (d[i] != "") p *= d[i]; print p; exit }' "$T/$1.yaml")
    head -c $((n * 4)) /dev/urandom | od -An -v -tu1 | awk '{
        for (i = 1; i <= NF; i += 4) printf "%c%c%c%c", $i, $(i+1), $(i+2), 60 + $(i+3) % 4 }' >"$T/$1.bin"
}
gen_input gen 7
gen_input vol 7
gen_input lazy 7

for m in gen vol lazy; do
    for isa in "" avx2; do
        label=$m${isa:+_$isa}
        ref=""
        same=1
        opts=("--threads 1" "--threads 2" "--threads 1 --batch-size 1" "--threads 2 --batch-size 5")
        # cblas (no AVX-512) may round differently with OpenBLAS's threads,
        # not with the batch
        [ -n "$isa" ] && opts=("--threads 1" "--threads 1 --batch-size 1" "--threads 1 --batch-size 5")
        for opt in "${opts[@]}"; do
            # shellcheck disable=SC2086
            if ! SEQRUN_ISA=$isa "$SEQRUN" -q $opt -o "$T/out.npy" "$T/$m.yaml" "$T/$m.bin" 2>"$T/err"; then
                bad "$label" "seqrun $opt failed: $(head -c 300 "$T/err")"
                same=0
                break
            fi
            sum=$(cksum <"$T/out.npy")
            [ -z "$ref" ] && ref=$sum
            [ "$sum" = "$ref" ] || { same=0; bad "$label" "$opt gives other bytes than --threads 1"; break; }
        done
        [ "$same" = 1 ] && ok "${label}_same_bytes"
    done
done

# argument errors: exit 2, the message and a hint
check_usage() { # NAME LAYER-LINE PATTERN
    printf 'input: [N, 4, 3, 3]\nlayers:\n  - %s\n' "$2" >"$T/u.yaml"
    "$SEQRUN" --check "$T/u.yaml" >/dev/null 2>"$T/err"
    rc=$?
    if [ $rc -ne 2 ]; then
        bad "$1" "exit $rc, expected 2: $(head -c 300 "$T/err")"
    elif ! grep -q -- "$3" "$T/err" || ! grep -q 'hint: ' "$T/err"; then
        bad "$1" "message lacks '$3' or a hint: $(head -c 300 "$T/err")"
    else
        ok "$1"
    fi
}
check_usage output_padding_stride "ConvTranspose2d: {in_channels: 4, out_channels: 2, kernel_size: 3, stride: 2, output_padding: 2}" \
    "output padding must be smaller than either stride or dilation"
check_usage output_padding_stride1 "ConvTranspose1d: [4, 2, 3, 1, 0, 1]" "use output_padding=0 at most"
check_usage convt_padding_mode "ConvTranspose2d: {in_channels: 4, out_channels: 2, kernel_size: 3, padding_mode: reflect}" \
    'Only "zeros" padding mode is supported for ConvTranspose2d'
check_usage lazy_output_padding "LazyConvTranspose2d: {out_channels: 2, kernel_size: 3, output_padding: 1}" \
    "output padding must be smaller"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
