#!/usr/bin/env bash
# suite_man.sh SEQRUN BUILD - the man page, man/seqrun.1:
#   - it is what BUILD/man/genman assembles from man/seqrun.1.in and the
#     layer table (no drift: `make man` regenerates it), for this version;
#   - it lints clean with mandoc -T lint and groff -ww (each skipped, with a
#     message, where the tool is not installed);
#   - every option `seqrun --help` prints has an entry in OPTIONS and every
#     layer it lists has one in LAYERS, and nothing else has;
#   - its EXAMPLES run, against the bundled models/ and data/, and print
#     what the page shows (the rules are in the comment atop seqrun.1.in).
set -u
. "$(dirname "$0")/lib.sh"
sr_suite_setup "$@"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PAGE=$ROOT/man/seqrun.1

# roff source to the text a reader sees (for the escapes this page uses)
unroff() {
    sed -e 's/\\-/-/g' -e "s/\\\\(aq/'/g" -e 's/\\(dq/"/g' -e 's/\\(lq/"/g' -e 's/\\(rq/"/g' \
        -e 's/\\&//g' -e 's/\\%//g' -e 's/\\f[BIRP]//g' -e 's/\\e/\\/g'
}
# the lines of section $1 (.SH NAME up to the next .SH)
section() { awk -v s=".SH $1" '$0 == s { on = 1; next } /^\.SH / { on = 0 } on' "$PAGE"; }

if [ ! -f "$PAGE" ]; then
    bad man_page_exists "man/seqrun.1 is missing (make man)"
    echo "$pass passed, $fail failed"
    exit 1
fi

# ---- (a) no drift --------------------------------------------------------------
GENMAN=$BUILD/man/genman
if [ ! -x "$GENMAN" ]; then
    bad man_no_drift "$GENMAN is not built (the Makefile needs its rule; see man/genman.c)"
elif ! "$GENMAN" "$ROOT/man/seqrun.1.in" >"$T/assembled" 2>"$T/err"; then
    bad man_no_drift "genman failed: $(head -c 300 "$T/err")"
elif ! cmp -s "$T/assembled" "$PAGE"; then
    bad man_no_drift "man/seqrun.1 differs from what genman assembles; run 'make man' and commit it: $(diff "$PAGE" "$T/assembled" | head -n 8 | tr '\n' ' ')"
else
    ok man_no_drift
fi
version=$("$SEQRUN" --version | awk '{ print $2 }')
grep -q "^\.TH SEQRUN 1 .* \"seqrun $version\"" "$PAGE" && ok man_version ||
    bad man_version "the .TH line does not say \"seqrun $version\" (seqrun --version); edit man/seqrun.1.in"

# ---- (b) lint ---------------------------------------------------------------------
if command -v mandoc >/dev/null; then
    mandoc -T lint -W warning "$PAGE" >"$T/lint" 2>&1
    rc=$?
    [ $rc -eq 0 ] && [ ! -s "$T/lint" ] && ok mandoc_lint ||
        bad mandoc_lint "exit $rc: $(head -n 5 "$T/lint" | tr '\n' ' ')"
else
    echo "skipped mandoc_lint: mandoc is not installed (Debian: apt-get install mandoc)"
fi
if command -v groff >/dev/null; then
    groff -ww -man -z "$PAGE" >"$T/lint" 2>&1
    rc=$?
    [ $rc -eq 0 ] && [ ! -s "$T/lint" ] && ok groff_lint ||
        bad groff_lint "exit $rc: $(head -n 5 "$T/lint" | tr '\n' ' ')"
    # as man(1) renders it on terminals from 70 to 120 columns: no line
    # troff cannot break or adjust (a long word, an over-wide example)
    : >"$T/lint"
    for w in 70 78 80 100 120; do
        groff -ww -man -Tutf8 -rLL=${w}n -z "$PAGE" 2>&1 | sed "s/^/width $w: /" >>"$T/lint"
    done
    [ ! -s "$T/lint" ] && ok groff_terminal_widths ||
        bad groff_terminal_widths "$(head -n 3 "$T/lint" | tr '\n' ' ')"
else
    echo "skipped groff_lint: groff is not installed (Debian: apt-get install groff-base)"
fi

# ---- (c) every option and every layer ----------------------------------------
"$SEQRUN" --help >"$T/help" 2>&1
# options: the flags at the start of --help's option lines ("  -o, --output FILE")
grep -E '^ +-' "$T/help" | sed -E 's/  +[^- ].*$//; s/ [A-Z][A-Z.,]*//g' |
    grep -oE -- '--?[a-z][a-z-]*' | sort -u >"$T/help_opts"
# the page's: the tags of OPTIONS' .TP entries
section OPTIONS | awk 'prev == ".TP" { print } { prev = $0 }' | unroff |
    grep -oE -- '(^|[ "])--?[a-z][a-z-]*' | tr -d ' "' | sort -u >"$T/page_opts"
if [ ! -s "$T/help_opts" ]; then
    bad man_options "found no options in seqrun --help"
else
    missing=$(comm -23 "$T/help_opts" "$T/page_opts" | tr '\n' ' ')
    extra=$(comm -13 "$T/help_opts" "$T/page_opts" | tr '\n' ' ')
    [ -z "$missing" ] && ok man_has_every_option || bad man_has_every_option "no OPTIONS entry for: $missing"
    [ -z "$extra" ] && ok man_options_exist || bad man_options_exist "OPTIONS documents what --help lacks: $extra"
fi
awk '/^layers:/ { on = 1; next } on && /^ / { for (i = 1; i <= NF; i++) print $i; next } on { exit }' "$T/help" |
    sort -u >"$T/help_layers"
section LAYERS | grep -oE '^\\fB\\%[A-Za-z0-9]+\\fR[(:]' | sed -E 's/^\\fB\\%//; s/\\fR.$//' | sort -u >"$T/page_layers"
if [ ! -s "$T/help_layers" ]; then
    bad man_layers "found no layers in seqrun --help"
else
    missing=$(comm -23 "$T/help_layers" "$T/page_layers" | tr '\n' ' ')
    extra=$(comm -13 "$T/help_layers" "$T/page_layers" | tr '\n' ' ')
    [ -z "$missing" ] && ok man_has_every_layer || bad man_has_every_layer "no LAYERS entry for: $missing"
    [ -z "$extra" ] && ok man_layers_exist || bad man_layers_exist "LAYERS documents what --help lacks: $extra"
fi
for s in NAME SYNOPSIS DESCRIPTION OPTIONS "THE MODEL SPEC" LAYERS "INIT SCHEMES" "TENSOR FILES" WEIGHTS \
    "EXIT STATUS" EXAMPLES "SEE ALSO"; do
    grep -qx "\.SH $s" "$PAGE" || bad man_sections "no section $s"
done && ok man_sections

# ---- (d) the EXAMPLES run -------------------------------------------------------
# Each .EX block becomes T/ex/block.K (its lines, unescaped) and, after an
# "example-needs: PROG" comment, T/ex/needs.K.
mkdir -p "$T/ex" "$T/bin" "$T/run"
ln -s "$SEQRUN" "$T/bin/seqrun"
ln -s "$ROOT/models" "$T/run/models"
ln -s "$ROOT/data" "$T/run/data"
section EXAMPLES | awk -v d="$T/ex" '
    /^\.\\" example-needs: / { needs = $3 }
    /^\.EX$/ { k++; inblk = 1; if (needs != "") print needs > (d "/needs." k); needs = ""; next }
    /^\.EE$/ { inblk = 0; close(d "/block." k); next }
    inblk { print > (d "/block." k) }'
nblocks=0
for blk in $(ls "$T/ex" | grep '^block\.' | sort -t. -k2 -n); do
    k=${blk#block.}
    nblocks=$((nblocks + 1))
    name="example_$k"
    if [ -f "$T/ex/needs.$k" ] && ! command -v "$(cat "$T/ex/needs.$k")" >/dev/null; then
        echo "skipped $name: needs $(cat "$T/ex/needs.$k"), which is not installed"
        continue
    fi
    # commands (with continuation lines) and the output each should print
    unroff <"$T/ex/$blk" >"$T/ex/$k.txt"
    n=0 cont=0
    rm -f "$T/ex/$k".cmd.* "$T/ex/$k".want.*
    while IFS= read -r line; do
        if [ $cont -eq 0 ] && [ "${line:0:2}" = '$ ' ]; then
            n=$((n + 1))
            printf '%s\n' "${line:2}" >"$T/ex/$k.cmd.$n"
        elif [ $cont -eq 1 ]; then
            printf '%s\n' "$line" >>"$T/ex/$k.cmd.$n"
        elif [ $n -gt 0 ]; then
            printf '%s\n' "$line" >>"$T/ex/$k.want.$n"
        fi
        case $line in *'\' | *'|') cont=1 ;; *) cont=0 ;; esac
    done <"$T/ex/$k.txt"
    # one shell per block, so a command sees what the ones before it made
    script=$T/ex/$k.sh
    : >"$script"
    for i in $(seq 1 $n); do
        { echo "{"; cat "$T/ex/$k.cmd.$i"; echo "} >'$T/ex/$k.out.$i' 2>'$T/ex/$k.err.$i'; echo \$? >'$T/ex/$k.rc.$i'"; } >>"$script"
    done
    (cd "$T/run" && PATH="$T/bin:$PATH" bash "$script" </dev/null >/dev/null 2>&1)
    why=""
    for i in $(seq 1 $n); do
        cmd=$(tr '\n' ' ' <"$T/ex/$k.cmd.$i")
        rc=$(cat "$T/ex/$k.rc.$i" 2>/dev/null || echo "none")
        if [ "$rc" != 0 ]; then
            why="'$cmd' exited $rc: $(head -c 300 "$T/ex/$k.err.$i")"
            break
        fi
        if [ -f "$T/ex/$k.want.$i" ] && ! cmp -s "$T/ex/$k.want.$i" "$T/ex/$k.out.$i"; then
            why="'$cmd' printed $(head -c 300 "$T/ex/$k.out.$i" | tr '\n' '|'), the page shows $(head -c 300 "$T/ex/$k.want.$i" | tr '\n' '|')"
            break
        fi
    done
    [ -z "$why" ] && ok "$name" || bad "$name" "$why"
done
[ $nblocks -gt 0 ] || bad man_examples "no .EX blocks in EXAMPLES"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
