# tests/lib.sh - what every tests/suite_*.sh shares.  Source it first:
#
#     . "$(dirname "$0")/lib.sh"
#     sr_suite_setup "$@"          # SEQRUN, BUILD (absolute), T (a temp dir)
#     ...
#     check_rc NAME WANT_RC GOT_RC  /  ok NAME  /  bad NAME WHY
#     sr_suite_end                  # prints "N passed, M failed", exit status
#
# Each suite is run as `bash tests/suite_X.sh SEQRUN BUILD` from anywhere.

# An absolute path for $1, relative to the directory the suite started in.
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }

# The repository's root (this file is in tests/).
SR_ROOT=$(cd "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1: $2"; }
# check_rc NAME WANT GOT: the exit status a case wanted
check_rc() {
    if [ "$3" -eq "$2" ]; then ok "$1"; else bad "$1" "exit $3, want $2"; fi
}

# SEQRUN and BUILD from the arguments, absolute; T a fresh temporary
# directory removed at exit (write bits restored first, for cases that
# take them away).
sr_suite_setup() {
    SEQRUN=$(abs "${1:?usage: $0 SEQRUN BUILD}")
    BUILD=$(abs "${2:-build}")
    T=$(mktemp -d)
    trap 'chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT
}

sr_suite_end() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
