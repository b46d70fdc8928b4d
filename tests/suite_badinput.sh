#!/usr/bin/env bash
# suite_badinput.sh SEQRUN BUILD - hostile and malformed inputs.
#
# One table row per bad input: malformed YAML specs, npy records,
# safetensors files and command lines.  Each row asserts the exit code, a
# substring of the message, and that nothing in the output directory was
# created or changed: every run that could write aims -o and --save-state at
# files that already exist there, which must keep their bytes, and no
# temporary (.NAME.seqrun-PID@HOST.tmp.*) may remain.
#
# Then the "nothing lost" cases that need more than one command: SIGINT,
# SIGTERM and SIGHUP in the middle of a run fed through a FIFO; SIGHUP under
# nohup (ignored signals stay ignored); SIGKILL, whose temporary the next
# run removes; a state file that cannot replace its old one after -o could
# (sticky directory: -o is put back); the modes of new and replaced files;
# a full disk (ulimit -f, /dev/full, and a 64 KiB tmpfs when mount works
# here), also for stdout and --paths' list; OpenBLAS under an address-space
# limit; and a failed --save-state after a good run.
#
# Malformed files are made here with printf/head/dd: no python needed.
set -u
export LC_ALL=C
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
SEQRUN=$(abs "$1")
BUILD=$(abs "${2:-build}")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d)
trap 'chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT
chmod 755 "$T" # the unwritable-directory row runs as an unprivileged user
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1: $2"; }
check() { # NAME WHY-or-empty
    if [ -z "$2" ]; then ok "$1"; else bad "$1" "$2"; fi
}
cd "$T" || exit 2
S=$SEQRUN
umask 022

# ---- builders ---------------------------------------------------------------

. "$ROOT/tests/npyhdr.sh" # le, npyhdr
# npy FILE DESCR SHAPE NBYTES [FORTRAN]: a record with NBYTES zero data bytes.
npy() {
    { npyhdr "{'descr': '$2', 'fortran_order': ${5:-False}, 'shape': $3, }"
      head -c "$4" /dev/zero; } >"$1"
}
# st FILE JSON NBYTES: a safetensors file with NBYTES zero data bytes.
st() {
    { printf "$(le ${#2} 8)"; printf '%s' "$2"; head -c "$3" /dev/zero; } >"$1"
}
W='"0.weight":{"dtype":"F32","shape":[3,4],"data_offsets":[0,48]}'
B='"0.bias":{"dtype":"F32","shape":[3],"data_offsets":[48,60]}'

# ---- fixtures ------------------------------------------------------------------

mkdir -p f out
cat >f/m.yaml <<'EOF'
input: [N, 4]
layers:
  - Linear: [4, 3]
  - ReLU
EOF
cat >f/emb.yaml <<'EOF'
layers:
  - Embedding: [10, 3]
EOF
printf 'layers:\n  - Linear: [4, 3]\n' >f/noinput.yaml
npy f/x.npy '<f4' '(2, 4)' 32
st f/w.safetensors "{$W,$B}" 60
cp f/x.npy f/stream_bad.npy
printf 'garbage after a good record' >>f/stream_bad.npy

# YAML
printf 'layers: [ReLU\n' >f/syntax.yaml
printf 'layers:\n  - Re\xc3\x28LU\n' >f/nonutf8.yaml
printf 'layers: [ReLU]\nlayers: [Tanh]\n' >f/dupkey.yaml
printf 'layers: [Linear: {in_features: 4, in_features: 5, out_features: 3}]\n' >f/dupargs.yaml
{ printf 'layers: '; for i in $(seq 100); do printf '['; done; printf 'ReLU'; for i in $(seq 100); do printf ']'; done; echo; } >f/deep.yaml
printf 'layers: [Relu]\n' >f/typo.yaml
printf 'layers: [*nope]\n' >f/noanchor.yaml
printf 'layers: [ReLU]\n---\nlayers: [Tanh]\n' >f/twodocs.yaml
printf -- '- ReLU\n' >f/notmap.yaml
printf 'input: [1, 4]\n' >f/nolayers.yaml
printf 'layer: [ReLU]\n' >f/unknowntop.yaml
printf 'layers:\n  - Linear: [99999999999999999999, 3]\n' >f/hugeint.yaml
printf 'input: [-1, 4]\nlayers: [ReLU]\n' >f/neginput.yaml
printf 'layers:\n  - Linear: [4, 3, maybe]\n' >f/badbool.yaml
printf 'layers: ["Re\\0LU"]\n' >f/nul.yaml
: >f/empty.yaml
{ echo 'defs:'; echo '  a0: &a0 {Sequential: [ReLU, ReLU]}'
  for i in $(seq 1 24); do echo "  a$i: &a$i {Sequential: [*a$((i - 1)), *a$((i - 1))]}"; done
  echo 'layers: [*a24]'; } >f/explode.yaml
{ printf 'layers: ['; for i in $(seq 100001); do printf 'ReLU, '; done; echo ']'; } >f/toomany.yaml

# npy
head -c 20 f/x.npy >f/trunc_header.npy
head -c 150 f/x.npy >f/trunc_data.npy
{ printf '\x93NUMPY\x04\x00'; head -c 120 /dev/zero; } >f/badversion.npy
npy f/bigendian.npy '>f4' '(2, 4)' 32
npy f/fortran.npy '<f4' '(2, 4)' 32 True
npy f/complex.npy '<c8' '(2, 4)' 64
npy f/object.npy '|O' '(2, 4)' 64
npy f/unicode.npy '<U3' '(2, 4)' 96
npy f/f128.npy '<f16' '(2, 4)' 128
npy f/negshape.npy '<f4' '(-2, 4)' 32
npy f/hugeshape.npy '<f4' '(4611686018427387904, 4)' 32
npy f/bigclaim.npy '<f4' '(1000000000, 4)' 32
{ npyhdr "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }"; head -c 8 /dev/zero; } >f/structured.npy
{ printf '\x93NUMPY\x02\x00\xff\xff\xff\xff'; head -c 64 /dev/zero; } >f/hugeheaderlen.npy
{ npyhdr "{'descr': '<f4', 'fortran_order': False}"; head -c 32 /dev/zero; } >f/noshape.npy
{ npyhdr "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), 'extra': 1}"; head -c 32 /dev/zero; } >f/extrakey.npy
npy f/wrongwidth.npy '<f4' '(2, 5)' 40
npy f/int_embed_oob.npy '<i8' '(1, 2)' 0
printf '\x05\0\0\0\0\0\0\0\x0a\0\0\0\0\0\0\0' >>f/int_embed_oob.npy
npy f/float_embed.npy '<f4' '(1, 2)' 8
: >f/empty.bin
head -c 7 /dev/zero >f/odd.bin
head -c 12 /dev/zero >f/indivisible.bin
head -c 32 /dev/zero >f/ok.bin
npy f/big.npy '<f4' '(600, 4)' 9600

# safetensors
head -c 10 f/w.safetensors >f/st_trunc.st
printf '\xff\xff\xff\xff\xff\xff\xff\xff{}' >f/st_hugelen.st
st f/st_json.st '{"0.weight":{"dtype":"F32",' 0
st f/st_overlap.st "{$W,\"0.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[40,52]}}" 52
st f/st_hole.st "{$W,\"0.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[52,64]}}" 64
st f/st_dup.st "{$W,$B,$B}" 60
st f/st_size.st "{$W,\"0.bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[48,60]}}" 60
st f/st_dtype.st "{$W,\"0.bias\":{\"dtype\":\"F33\",\"shape\":[3],\"data_offsets\":[48,60]}}" 60
st f/st_negshape.st "{$W,\"0.bias\":{\"dtype\":\"F32\",\"shape\":[-3],\"data_offsets\":[48,60]}}" 60
st f/st_hugeshape.st "{$W,\"0.bias\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[48,60]}}" 60
st f/st_pastend.st "{$W,$B}" 59
st f/st_trailing.st "{$W,$B}" 64
st f/st_missing.st "{$W}" 48
st f/st_unexpected.st "{$W,$B,\"7.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[60,64]}}" 64
st f/st_wrongshape.st "{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[4,3],\"data_offsets\":[0,48]},$B}" 60
st f/st_intweight.st "{\"0.weight\":{\"dtype\":\"I32\",\"shape\":[3,4],\"data_offsets\":[0,48]},$B}" 60
st f/st_nonutf8.st "{$W,$B,\"__metadata__\":{\"k\":\"$(printf '\xc0\xaf')\"}}" 60
st f/st_f8.st "{\"0.weight\":{\"dtype\":\"F8_E4M3\",\"shape\":[3,4],\"data_offsets\":[0,12]},\"0.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[12,24]}}" 24
mkdir f/adir
mkfifo f/fifo.st

# ---- the table -----------------------------------------------------------------
# name | exit | message substring | command ($S seqrun, f/ fixtures, out/ outputs)
# Every writing command aims at out/prev.npy and out/prev.st, which exist.
OUTS='-o out/prev.npy --save-state out/prev.st'
ROWS=$(cat <<'EOF'
yaml_syntax        |2|invalid YAML                        |$S $OUTS f/syntax.yaml f/x.npy
yaml_non_utf8      |2|UTF-8                               |$S $OUTS f/nonutf8.yaml f/x.npy
yaml_duplicate_key |2|top-level key 'layers' given twice  |$S $OUTS f/dupkey.yaml f/x.npy
yaml_duplicate_arg |2|argument 'in_features' given twice  |$S $OUTS f/dupargs.yaml f/x.npy
yaml_too_deep      |2|nesting is too deep                 |$S $OUTS f/deep.yaml f/x.npy
yaml_unknown_layer |2|did you mean 'ReLU'                 |$S $OUTS f/typo.yaml f/x.npy
yaml_unknown_anchor|2|unknown or unfinished anchor: *nope |$S $OUTS f/noanchor.yaml f/x.npy
yaml_two_documents |2|found a second '---'                |$S $OUTS f/twodocs.yaml f/x.npy
yaml_not_a_mapping |2|a model spec is a mapping           |$S $OUTS f/notmap.yaml f/x.npy
yaml_no_layers     |2|no 'layers:' list                   |$S $OUTS f/nolayers.yaml f/x.npy
yaml_unknown_key   |2|did you mean 'layers'               |$S $OUTS f/unknowntop.yaml f/x.npy
yaml_huge_integer  |2|out of range                        |$S $OUTS f/hugeint.yaml f/x.npy
yaml_negative_input|2|input: dimension 0                  |$S $OUTS f/neginput.yaml f/x.npy
yaml_bad_boolean   |2|must be a boolean                   |$S $OUTS f/badbool.yaml f/x.npy
yaml_nul_in_scalar |2|NUL character                       |$S $OUTS f/nul.yaml f/x.npy
yaml_empty         |2|a model spec is a mapping           |$S $OUTS f/empty.yaml f/x.npy
yaml_dev_null      |2|a model spec is a mapping           |$S $OUTS /dev/null f/x.npy
yaml_directory     |1|f/adir: cannot read model spec      |$S $OUTS f/adir f/x.npy
yaml_missing       |1|f/nope.yaml: cannot open model spec |$S $OUTS f/nope.yaml f/x.npy
yaml_alias_explode |2|more than 100000 layer occurrences  |$S $OUTS f/explode.yaml f/x.npy
yaml_too_many      |2|more than 100000 layer occurrences  |$S $OUTS f/toomany.yaml f/x.npy
npy_trunc_header   |1|f/trunc_header.npy: offset 8: header length 118 runs past the end of the stream (10 bytes left)|$S $OUTS f/m.yaml f/trunc_header.npy
npy_trunc_data     |1|f/trunc_data.npy: truncated data: record needs 32 bytes, got 22|$S $OUTS f/m.yaml f/trunc_data.npy
npy_bad_version    |1|unsupported npy format version 4.0  |$S $OUTS f/m.yaml f/badversion.npy
npy_big_endian     |1|big-endian                          |$S $OUTS f/m.yaml f/bigendian.npy
npy_fortran_order  |1|Fortran-order arrays are not supported|$S $OUTS f/m.yaml f/fortran.npy
npy_complex        |1|is complex                          |$S $OUTS f/m.yaml f/complex.npy
npy_object         |1|object array                        |$S $OUTS f/m.yaml f/object.npy
npy_string         |1|string dtype                        |$S $OUTS f/m.yaml f/unicode.npy
npy_long_double    |1|long double                         |$S $OUTS f/m.yaml f/f128.npy
npy_structured     |1|structured arrays are not supported |$S $OUTS f/m.yaml f/structured.npy
npy_negative_shape |1|negative dimension -2               |$S $OUTS f/m.yaml f/negshape.npy
npy_huge_shape     |1|has too many elements               |$S $OUTS f/m.yaml f/hugeshape.npy
npy_shape_past_eof |1|record needs 16000000000 bytes, got 32|$S $OUTS f/m.yaml f/bigclaim.npy
npy_huge_header_len|1|exceeds the 1048576-byte limit      |$S $OUTS f/m.yaml f/hugeheaderlen.npy
npy_missing_key    |1|header has no 'shape' key           |$S $OUTS f/m.yaml f/noshape.npy
npy_unknown_key    |1|unknown key 'extra'                 |$S $OUTS f/m.yaml f/extrakey.npy
npy_bad_mid_stream |1|f/stream_bad.npy: offset 160: not an npy record|$S $OUTS f/m.yaml f/stream_bad.npy
npy_shape_mismatch |3|does not match the spec's input     |$S $OUTS f/m.yaml f/wrongwidth.npy
npy_float_indices  |3|Embedding needs integer indices     |$S $OUTS f/emb.yaml f/float_embed.npy
npy_index_range    |1|out of range                        |$S $OUTS f/emb.yaml f/int_embed_oob.npy
input_empty        |1|f/empty.bin: empty input            |$S $OUTS f/m.yaml f/empty.bin
input_dev_null     |1|/dev/null: empty input              |$S $OUTS f/m.yaml /dev/null
input_directory    |1|f/adir: is a directory              |$S $OUTS f/m.yaml f/adir
input_missing      |1|f/nope.npy: cannot open             |$S $OUTS f/m.yaml f/nope.npy
raw_no_shape       |2|raw input needs a shape             |$S $OUTS f/noinput.yaml f/ok.bin
raw_odd_size       |1|not a whole number of float32 values|$S $OUTS f/m.yaml f/odd.bin
raw_indivisible    |1|do not divide into samples          |$S $OUTS f/m.yaml f/indivisible.bin
raw_wrong_count    |1|raw input holds 8 float32 values, but shape [3, 4] needs 12|$S $OUTS --input-shape 3,4 f/m.yaml f/ok.bin
raw_endless_device |1|raw input holds more than the 12 float32 values shape [3, 4] needs|$S $OUTS --input-shape 3,4 f/m.yaml /dev/zero
st_truncated       |1|f/st_trunc.st: header length        |$S $OUTS -w f/st_trunc.st f/m.yaml f/x.npy
st_huge_header_len |1|exceeds the 100000000-byte limit    |$S $OUTS -w f/st_hugelen.st f/m.yaml f/x.npy
st_bad_json        |1|invalid JSON in header              |$S $OUTS -w f/st_json.st f/m.yaml f/x.npy
st_overlap         |1|overlaps that of '0.weight'         |$S $OUTS -w f/st_overlap.st f/m.yaml f/x.npy
st_hole            |1|hole in the data: bytes [48, 52)    |$S $OUTS -w f/st_hole.st f/m.yaml f/x.npy
st_duplicate_key   |1|duplicate key '0.bias'              |$S $OUTS -w f/st_dup.st f/m.yaml f/x.npy
st_size_mismatch   |1|data size does not match dtype and shape|$S $OUTS -w f/st_size.st f/m.yaml f/x.npy
st_unknown_dtype   |1|unknown dtype 'F33'                 |$S $OUTS -w f/st_dtype.st f/m.yaml f/x.npy
st_negative_shape  |1|negative dimension in shape         |$S $OUTS -w f/st_negshape.st f/m.yaml f/x.npy
st_huge_shape      |1|shape overflow                      |$S $OUTS -w f/st_hugeshape.st f/m.yaml f/x.npy
st_past_end        |1|runs past the end of the file       |$S $OUTS -w f/st_pastend.st f/m.yaml f/x.npy
st_trailing_bytes  |1|4 unexpected bytes after the last tensor|$S $OUTS -w f/st_trailing.st f/m.yaml f/x.npy
st_missing_key     |1|missing key '0.bias'                |$S $OUTS -w f/st_missing.st f/m.yaml f/x.npy
st_unexpected_key  |1|7.weight                            |$S $OUTS -w f/st_unexpected.st f/m.yaml f/x.npy
st_wrong_shape     |1|0.weight                            |$S $OUTS -w f/st_wrongshape.st f/m.yaml f/x.npy
st_integer_weight  |1|I32                                 |$S $OUTS -w f/st_intweight.st f/m.yaml f/x.npy
st_non_utf8        |1|header is not valid UTF-8           |$S $OUTS -w f/st_nonutf8.st f/m.yaml f/x.npy
st_float8          |1|F8_E4M3                             |$S $OUTS -w f/st_f8.st f/m.yaml f/x.npy
st_directory       |1|f/adir: is a directory              |$S $OUTS -w f/adir f/m.yaml f/x.npy
st_dev_null        |1|/dev/null: not a regular file       |$S $OUTS -w /dev/null f/m.yaml f/x.npy
st_fifo            |1|f/fifo.st: not a regular file       |$S $OUTS -w f/fifo.st f/m.yaml f/x.npy
st_missing         |1|f/nope.st: cannot open              |$S $OUTS -w f/nope.st f/m.yaml f/x.npy
cli_unknown_option |2|unknown option '--frobnicate'       |$S $OUTS --frobnicate f/m.yaml f/x.npy
cli_missing_value  |2|option '--output' needs a value     |$S f/m.yaml f/x.npy --output
cli_bad_shape      |2|--input-shape:                      |$S $OUTS --input-shape 2,x f/m.yaml f/ok.bin
cli_two_free_dims  |2|at most one -1                      |$S $OUTS --input-shape -1,-1 f/m.yaml f/ok.bin
cli_bad_batch      |2|--batch-size: expected a positive integer|$S $OUTS --batch-size 0 f/m.yaml f/x.npy
cli_bad_format     |2|--format: expected npy, raw, text or json|$S $OUTS --format xml f/m.yaml f/x.npy
cli_flag_value     |2|option '--train' takes no value     |$S $OUTS --train=1 f/m.yaml f/x.npy
cli_no_model       |2|missing MODEL.yaml                  |$S $OUTS
cli_extra_argument |2|unexpected argument 'f/x.npy'       |$S $OUTS f/m.yaml f/x.npy f/x.npy
cli_both_stdin     |2|cannot both come from standard input|$S $OUTS - -
cli_output_is_dir  |1|out: is a directory                 |$S -o out f/m.yaml f/x.npy
cli_output_no_dir  |1|out/no/such/y.npy: cannot create output|$S -o out/no/such/y.npy f/m.yaml f/x.npy
cli_state_no_dir   |1|out/no/such/s.st: cannot create output|$S -o out/prev.npy --save-state out/no/such/s.st f/m.yaml f/x.npy
EOF
)

printf 'previous output\n' >prev_out.ref
printf 'previous state\n' >prev_st.ref
sentinel() {
    rm -rf out && mkdir out
    cp prev_out.ref out/prev.npy
    cp prev_st.ref out/prev.st
}
# Everything in out/ as it was: same names, same bytes, no temporaries.
out_intact() {
    local names
    names=$(cd out && ls -A | tr '\n' ' ')
    [ "$names" = "prev.npy prev.st " ] || { echo "out/ holds: $names"; return 1; }
    cmp -s out/prev.npy prev_out.ref || { echo "out/prev.npy changed"; return 1; }
    cmp -s out/prev.st prev_st.ref || { echo "out/prev.st changed"; return 1; }
}

nrows=0
while IFS='|' read -r name want msg cmd; do
    name=${name%% *} msg=${msg%"${msg##*[! ]}"}
    [ -n "$name" ] || continue
    nrows=$((nrows + 1))
    sentinel
    eval "timeout 60 $cmd" </dev/null >stdout 2>stderr
    rc=$?
    why=""
    [ "$rc" = "$want" ] || why="exit $rc, want $want"
    [ -z "$why" ] && ! grep -qF -- "$msg" stderr && why="message lacks '$msg'"
    [ -z "$why" ] && [ "$(wc -l <stderr)" -gt 40 ] && why="$(wc -l <stderr) lines on stderr"
    [ -z "$why" ] && why=$(out_intact)
    [ -n "$why" ] && why="$why; stderr: $(head -c 300 stderr)"
    check "$name" "$why"
done <<<"$ROWS"
[ "$nrows" -ge 40 ] && ok "table_has_${nrows}_rows" || bad table_size "only $nrows rows"

# An unwritable output directory.  Root writes anywhere, so as root the row
# runs as nobody (setpriv), which is why the fixtures are world-readable.
sentinel
mkdir ro && chmod 555 ro && printf 'previous output\n' >ro/prev.npy 2>/dev/null
chmod 555 ro
chmod -R a+rX f
run_as=()
[ "$(id -u)" = 0 ] && command -v setpriv >/dev/null &&
    run_as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
if [ "$(id -u)" != 0 ] || [ ${#run_as[@]} -gt 0 ]; then
    "${run_as[@]}" "$S" -o ro/prev.npy f/m.yaml f/x.npy 2>stderr >/dev/null
    rc=$?
    if [ $rc = 1 ] && grep -q 'ro/prev.npy: cannot create output: Permission denied' stderr &&
        [ "$(ls -A ro)" = prev.npy ]; then
        ok cli_unwritable_output_dir
    else
        bad cli_unwritable_output_dir "exit $rc: $(cat stderr); ro holds $(ls -A ro)"
    fi
else
    echo "ok cli_unwritable_output_dir # SKIP root without setpriv"
fi

# -o and --save-state appear together or not at all.  In a sticky directory
# (/tmp's mode) an unprivileged user may replace the -o file, which is
# theirs, but not the state file, which is root's: the state's rename fails
# after -o's succeeded, and -o must be put back.
if [ ${#run_as[@]} -gt 0 ] || [ "$(id -u)" != 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        rm -rf sticky && mkdir sticky && chmod 1777 sticky
        printf 'previous output\n' >sticky/o.npy && chown 65534:65534 sticky/o.npy
        printf 'previous state\n' >sticky/s.st && chmod 666 sticky/s.st
        "${run_as[@]}" "$S" -q -o sticky/o.npy --save-state sticky/s.st f/m.yaml f/x.npy 2>stderr
        rc=$?
        left=$(ls -A sticky | tr '\n' ' ')
        if [ $rc = 1 ] && grep -q 'sticky/s.st: cannot replace it: Operation not permitted' stderr &&
            [ "$left" = "o.npy s.st " ] && cmp -s sticky/o.npy prev_out.ref && cmp -s sticky/s.st prev_st.ref; then
            ok state_rename_fails_output_restored
        else
            bad state_rename_fails_output_restored "exit $rc: $(head -c 300 stderr); sticky/ holds $left"
        fi
    else
        echo "ok state_rename_fails_output_restored # SKIP needs root to make a file of another user"
    fi
else
    echo "ok state_rename_fails_output_restored # SKIP root without setpriv"
fi

# ---- nothing lost: interrupted and starved runs -------------------------------

# Good runs first, so the failures below are known to be failures of the
# interruption and not of the command line.
sentinel
if "$S" -q -o out/prev.npy --save-state out/prev.st f/m.yaml f/x.npy &&
    [ "$(head -c 6 out/prev.npy | tail -c 5)" = NUMPY ] && [ -s out/prev.st ] &&
    [ "$(ls -A out | tr '\n' ' ')" = "prev.npy prev.st " ]; then
    ok good_run_replaces_both
else
    bad good_run_replaces_both "$(ls -A out)"
fi

# Outputs that are not files are written in place: /dev/null stays a
# device, and -o /dev/stdout appends to a `>>` log instead of truncating it.
"$S" -q -o /dev/null f/m.yaml f/x.npy && [ -c /dev/null ] && ok output_dev_null_stays_device ||
    bad output_dev_null_stays_device "exit $?"
printf 'before\n' >log
"$S" -q -o /dev/stdout f/m.yaml f/x.npy >>log && "$S" -q -o /dev/stdout f/m.yaml f/x.npy >>log
[ "$(wc -c <log)" = $((7 + 2 * 24)) ] && [ "$(head -n 1 log)" = before ] &&
    ok output_dev_stdout_appends || bad output_dev_stdout_appends "log has $(wc -c <log) bytes"
[ -z "$(ls -A /dev/ | grep '\.tmp\.')" ] && ok no_temporaries_in_dev || bad no_temporaries_in_dev "$(ls -A /dev | grep tmp)"

# The first record's header and half its data arrive through a FIFO, then
# nothing: seqrun waits inside the run with its temporary open.  The signal
# must remove the temporary, leave out/ as it was, and kill seqrun by that
# signal.
# (A script's background jobs start with SIGINT ignored, and seqrun keeps
# ignored signals ignored: env --default-signal gives it the default back.)
defsig=()
env --default-signal=INT true 2>/dev/null && defsig=(env --default-signal=INT)
# wait_tmp: until seqrun's temporary for out/prev.npy exists (5 s at most)
wait_tmp() {
    for _ in $(seq 100); do
        ls out/.prev.npy.seqrun-*.tmp.* >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    return 1
}
for sig in INT TERM HUP; do
    sentinel
    rm -f f/in.fifo && mkfifo f/in.fifo
    "${defsig[@]}" "$S" -q -o out/prev.npy --save-state out/prev.st f/m.yaml f/in.fifo 2>stderr &
    pid=$!
    exec 3>f/in.fifo
    head -c 144 f/x.npy >&3 # the 128-byte header and half the data
    wait_tmp
    had_tmp=$(ls -A out | grep -c tmp)
    kill -s $sig $pid
    { wait $pid; } 2>/dev/null
    rc=$?
    exec 3>&-
    want=$((128 + $(kill -l $sig)))
    if [ "$had_tmp" = 1 ] && [ $rc = $want ] && why=$(out_intact); then
        ok "sig${sig}_mid_run_leaves_nothing"
    else
        bad "sig${sig}_mid_run_leaves_nothing" "temporary seen: $had_tmp, exit $rc (want $want); ${why:-}"
    fi
done

# nohup: SIGHUP ignored at start stays ignored.  The run survives it, and
# finishes when the rest of its input comes.
sentinel
rm -f f/in.fifo && mkfifo f/in.fifo
nohup "$S" -q -o out/prev.npy --save-state out/prev.st f/m.yaml f/in.fifo >/dev/null 2>stderr &
pid=$!
exec 3>f/in.fifo
head -c 144 f/x.npy >&3
wait_tmp
kill -s HUP $pid
sleep 0.3
alive=0
kill -0 $pid 2>/dev/null && alive=1
tail -c +145 f/x.npy >&3
exec 3>&-
{ wait $pid; } 2>/dev/null
rc=$?
if [ $alive = 1 ] && [ $rc = 0 ] && [ "$(ls -A out | tr '\n' ' ')" = "prev.npy prev.st " ] &&
    ! cmp -s out/prev.npy prev_out.ref; then
    ok nohup_survives_sighup
else
    bad nohup_survives_sighup "alive after SIGHUP: $alive, exit $rc, out/ holds $(ls -A out | tr '\n' ' ')"
fi

# SIGKILL leaves the temporary, named with the writer's pid and host; the
# next run into that directory removes it (its pid is gone), but not one of
# a live process or of another host.
sentinel
rm -f f/in.fifo && mkfifo f/in.fifo
"$S" -q -o out/prev.npy f/m.yaml f/in.fifo 2>stderr &
pid=$!
exec 3>f/in.fifo
head -c 144 f/x.npy >&3
wait_tmp
kill -s KILL $pid
{ wait $pid; } 2>/dev/null
exec 3>&-
host=$(uname -n)
killed=$(cd out && ls -A | grep -c "^\.prev\.npy\.seqrun-$pid@$host\.tmp\.......$")
live=".prev.npy.seqrun-$$@$host.tmp.abcdef"      # this shell: alive
other=".prev.npy.seqrun-$pid@not-$host.tmp.abcdef" # another machine's
: >"out/$live"
: >"out/$other"
"$S" -q -o out/prev.npy f/m.yaml f/x.npy 2>stderr
rc=$?
left=$(cd out && ls -A | tr '\n' ' ')
if [ "$killed" = 1 ] && [ $rc = 0 ] && [ "$(cd out && ls -A | wc -l)" = 4 ] && [ -f "out/$live" ] &&
    [ -f "out/$other" ]; then
    ok sigkill_temporary_removed_by_next_run
else
    bad sigkill_temporary_removed_by_next_run "temporary of the killed run seen: $killed; exit $rc; out/ holds $left"
fi

# Modes: a new output gets 0666 less the umask, a replaced one keeps its
# mode (a 0600 file must not become world-readable).
rm -rf modes && mkdir modes
(umask 027; "$S" -q -o modes/new.npy --save-state modes/new.st f/m.yaml f/x.npy)
printf 'old\n' >modes/old.npy && chmod 600 modes/old.npy
printf 'old\n' >modes/old.st && chmod 640 modes/old.st
(umask 000; "$S" -q -o modes/old.npy --save-state modes/old.st f/m.yaml f/x.npy)
got="$(stat -c %a modes/new.npy modes/new.st modes/old.npy modes/old.st | tr '\n' ' ')"
[ "$got" = "640 640 600 640 " ] && ok output_modes_umask_and_kept ||
    bad output_modes_umask_and_kept "modes new.npy new.st old.npy old.st: $got (want 640 640 600 640)"

# A full disk mid-write names the file: /dev/full is written in place, and
# the output (7200 bytes) outgrows stdio's buffer, so the write itself fails.
"$S" -q -o /dev/full f/m.yaml f/big.npy 2>stderr
rc=$?
[ $rc = 1 ] && grep -q '^/dev/full: write failed: No space left on device' stderr &&
    ok full_disk_dev_full_names_file || bad full_disk_dev_full_names_file "exit $rc: $(head -c 300 stderr)"
"$S" -q --format npy f/m.yaml f/big.npy >/dev/full 2>stderr
rc=$?
[ $rc = 1 ] && grep -q '<stdout>: write failed: No space left on device' stderr &&
    ok full_disk_stdout_names_it || bad full_disk_stdout_names_it "exit $rc: $(head -c 300 stderr)"
# Text output too (formatted by fprintf, its error seen by ferror mid-run,
# not at the final flush): 600 lines of 3 values, 600 lines of --top 2.
"$S" -q --format text -o /dev/full f/m.yaml f/big.npy 2>stderr
rc=$?
[ $rc = 1 ] && grep -q '^/dev/full: write failed: No space left on device' stderr && [ "$(wc -l <stderr)" = 1 ] &&
    ok full_disk_text_names_file || bad full_disk_text_names_file "exit $rc: $(head -c 300 stderr)"
"$S" -q --format text --top 2 f/m.yaml f/big.npy >/dev/full 2>stderr
rc=$?
[ $rc = 1 ] && grep -q '^<stdout>: write failed: No space left on device' stderr && [ "$(wc -l <stderr)" = 1 ] &&
    ok full_disk_text_top_stdout_names_it || bad full_disk_text_top_stdout_names_it "exit $rc: $(head -c 300 stderr)"
# --paths: the list of written paths is its output; losing it is a failure.
rm -rf pout && mkdir pout
printf 'f/x.npy\n' | "$S" -q --paths -o pout/ f/m.yaml >/dev/full 2>stderr
rc=$?
[ $rc = 1 ] && grep -q '<stdout>' stderr && ok paths_stdout_full_fails ||
    bad paths_stdout_full_fails "exit $rc: $(head -c 300 stderr)"

# A full disk, simulated by the file size limit: the output outgrows 4 KiB.
sentinel
(ulimit -f 4; "$S" -q -o out/prev.npy f/m.yaml f/big.npy) 2>stderr
rc=$?
if [ $rc = 1 ] && grep -q 'File too large' stderr && why=$(out_intact); then
    ok full_disk_ulimit_output
else
    bad full_disk_ulimit_output "exit $rc: $(head -c 300 stderr) ${why:-}"
fi
# The same for --save-state: parameters of 64 KiB, output small.
cat >f/wide.yaml <<'EOF'
layers:
  - Linear: [4, 4096]
  - Linear: [4096, 1]
EOF
sentinel
(ulimit -f 16; "$S" -q -o out/prev.npy --save-state out/prev.st f/wide.yaml f/x.npy) 2>stderr
rc=$?
if [ $rc = 1 ] && grep -q 'File too large' stderr && why=$(out_intact); then
    check full_disk_ulimit_state ""
else
    check full_disk_ulimit_state "exit $rc: $(head -c 300 stderr) ${why:-}"
fi
grep -q 'out/prev.st' stderr && check full_disk_state_names_file "" ||
    check full_disk_state_names_file "message: $(head -c 200 stderr)"

# Under an address-space limit OpenBLAS cannot map its 128 MiB work
# buffers, and it retries forever: seqrun must not hand it such work.  The
# MLP engages a second thread once warm: it runs on fewer threads (same
# output) or says out of memory.  A Linear too big for seqrun's packed GEMM
# goes to cblas_sgemm, whose buffer does not fit beside its 256 MiB of
# weights: out of memory, exit 1, within the timeout.  (ASan reserves
# terabytes of shadow: no address-space limit there.)
if grep -qa __asan_init "$S"; then
    echo "ok openblas_address_limit # SKIP ASan build"
else
    "$S" -q -o mlp_ref.npy "$ROOT/models/mlp.yaml" "$ROOT/data/mlp_input.npy"
    rm -f mlp.npy
    (ulimit -v 80000; timeout 60 "$S" -q -o mlp.npy "$ROOT/models/mlp.yaml" "$ROOT/data/mlp_input.npy") 2>stderr
    rc=$?
    if { [ $rc = 0 ] && cmp -s mlp.npy mlp_ref.npy; } || { [ $rc = 1 ] && grep -q 'out of memory' stderr; }; then
        ok openblas_address_limit_mlp
    else
        bad openblas_address_limit_mlp "exit $rc (124: hung): $(head -c 300 stderr)"
    fi
    # Without AVX-512 (SEQRUN_ISA=base) convolutions run im2col + cblas_sgemm.
    (ulimit -v 80000; SEQRUN_ISA=base timeout 60 "$S" -q -o out/cnn.npy "$ROOT/models/digits_cnn.yaml" \
        "$ROOT/data/digits_test_x.npy") 2>stderr
    rc=$?
    if [ $rc = 1 ] && grep -q 'layer 0 (Conv2d): out of memory' stderr && [ ! -e out/cnn.npy ]; then
        ok openblas_address_limit_conv_im2col
    else
        bad openblas_address_limit_conv_im2col "exit $rc (124: hung): $(head -c 300 stderr)"
    fi
    # ... and a one-sample Linear, cblas_sgemv.
    npy f/one784.npy '<f4' '(1, 784)' 3136
    (ulimit -v 80000; SEQRUN_ISA=base timeout 60 "$S" -q -o out/one.npy "$ROOT/models/mlp.yaml" f/one784.npy) 2>stderr
    rc=$?
    if [ $rc = 1 ] && grep -q 'layer 0 (Linear): out of memory' stderr && [ ! -e out/one.npy ]; then
        ok openblas_address_limit_gemv
    else
        bad openblas_address_limit_gemv "exit $rc (124: hung): $(head -c 300 stderr)"
    fi
    # ... and one split over two threads, each part a cblas_sgemv on its
    # own thread: a worker whose OpenBLAS buffer (and malloc arena) would
    # not fit beside the other's hung in blas_memory_alloc at 400000 KB;
    # its part now runs on the thread that has a buffer.
    printf 'layers:\n  - Linear: [2048, 2048]\n  - ReLU\n' >f/gemv2048.yaml
    npy f/one2048.npy '<f4' '(1, 2048)' 8192
    for i in $(seq 50); do cat f/one2048.npy; done >f/stream2048.npy
    SEQRUN_ISA=base "$S" -q --threads 1 -o out/g_ref.npy f/gemv2048.yaml f/stream2048.npy
    gemv_ok=1
    for v in 250000 400000 450000; do
        rm -f out/g.npy
        (ulimit -v $v; SEQRUN_ISA=base timeout 60 "$S" -q --threads 2 -o out/g.npy f/gemv2048.yaml \
            f/stream2048.npy) 2>stderr
        rc=$?
        if ! { [ $rc = 0 ] && cmp -s out/g.npy out/g_ref.npy; } &&
            ! { [ $rc = 1 ] && grep -q 'out of memory' stderr && [ ! -e out/g.npy ]; }; then
            gemv_ok=0
            bad openblas_address_limit_gemv_threads "ulimit -v $v: exit $rc (124: hung): $(head -c 300 stderr)"
        fi
    done
    [ $gemv_ok = 1 ] && ok openblas_address_limit_gemv_threads
    printf 'input: [N, 8192]\nlayers:\n  - Linear: [8192, 8192]\n' >f/big8192.yaml
    npy f/x2.npy '<f4' '(2, 8192)' 65536
    sentinel
    (ulimit -v 320000; timeout 120 "$S" -q -o out/prev.npy f/big8192.yaml f/x2.npy) 2>stderr
    rc=$?
    if [ $rc = 1 ] && grep -q 'layer 0 (Linear): out of memory' stderr && why=$(out_intact); then
        ok openblas_address_limit_big_linear
    else
        bad openblas_address_limit_big_linear "exit $rc (124: hung): $(head -c 300 stderr) ${why:-}"
    fi
    # A chunk whose buffers do not fit: out of memory, exit 1, the size and
    # the option that shrinks it named, the previous output left alone.
    npy f/x16k.npy '<f4' '(16384, 784)' 51380224
    sentinel
    (ulimit -v 80000; timeout 120 "$S" -q --batch-size 16384 -o out/prev.npy "$ROOT/models/mlp.yaml" f/x16k.npy) \
        2>stderr
    rc=$?
    if [ $rc = 1 ] && grep -q 'out of memory for .*chunk of 16384 samples.*hint: a smaller --batch-size' stderr &&
        why=$(out_intact); then
        ok chunk_out_of_memory_hint
    else
        bad chunk_out_of_memory_hint "exit $rc (124: hung): $(head -c 300 stderr) ${why:-}"
    fi
    rm -f f/x16k.npy
fi

# A real full file system, where mount is allowed (root, not in every
# container).
mkdir tiny
if mount -t tmpfs -o size=64k tmpfs tiny 2>/dev/null; then
    printf 'previous output\n' >tiny/prev.npy
    npy f/huge.npy '<f4' '(20000, 4)' 320000
    "$S" -q -o tiny/prev.npy f/m.yaml f/huge.npy 2>stderr
    rc=$?
    left=$(ls -A tiny | tr '\n' ' ')
    if [ $rc = 1 ] && grep -q 'No space left on device' stderr && [ "$left" = "prev.npy " ] &&
        [ "$(cat tiny/prev.npy)" = "previous output" ]; then
        ok full_disk_tmpfs
    else
        bad full_disk_tmpfs "exit $rc: $(head -c 300 stderr); tiny holds $left"
    fi
    umount tiny
else
    echo "ok full_disk_tmpfs # SKIP mount not permitted here"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
