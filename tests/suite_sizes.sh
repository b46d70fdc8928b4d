#!/usr/bin/env bash
# suite_sizes.sh SEQRUN BUILD - every source file is a room of a size one
# can hold in mind: no file under src/ over 800 lines and no function over
# 100 (a body from its "{" in column 0 to its "}" in column 0, as the code
# is formatted), except the kernels' unrolled register tiles listed below,
# each with the reason it is one function.  A file or function that grows
# past these fails here: split it where its parts have names.
set -u
cd "$(dirname "$0")/.." || exit 2

# file:function-name-fragment  why it stays whole
allowed='
'

pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

report=$(awk '
FNR == 1 { start = 0 }
/^\{/ { start = FNR; name = last }
/^\}/ && start {
    n = FNR - start + 1
    if (n > 100) {
        fn = name
        if (match(fn, /SR_[A-Z_]+\([A-Za-z0-9_]+/)) { fn = substr(fn, RSTART, RLENGTH); sub(/.*\(/, "", fn) } # SR_SHAPE_FN(name)
        else { sub(/\(.*/, "", fn); k = split(fn, w, /[ *]+/); fn = w[k] }
        printf "%s %s %d\n", FILENAME, fn, n
    }
    start = 0
}
/^[A-Za-z_].*\(/ { last = $0 }
' src/*.c src/*.h src/layers/*.c src/layers/*.h)

for f in src/*.c src/*.h src/layers/*.c src/layers/*.h; do
    n=$(wc -l <"$f")
    if [ "$n" -le 800 ]; then ok; else bad "$f: $n lines (over 800): split it into rooms"; fi
done
while read -r file fn n; do
    [ -n "$file" ] || continue
    if printf '%s\n' "$allowed" | grep -q "^$file:$fn "; then ok; else bad "$file: function $fn is $n lines (over 100): split it into named steps"; fi
done <<<"$report"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
