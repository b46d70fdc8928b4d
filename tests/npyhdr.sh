# npyhdr.sh - npy headers from the shell, for the suites that build npy
# files byte by byte (sourced by suite_badinput.sh and suite_cli.sh).

# le N BYTES: N as a BYTES-byte little-endian integer, as printf escapes.
le() {
    local n=$1 k out=""
    for ((k = 0; k < $2; k++)); do
        out="$out\\x$(printf %02x $(((n >> (8 * k)) & 255)))"
    done
    printf '%s' "$out"
}
# npyhdr DICT [VERSION]: an npy header whose data starts at a multiple of 64.
npyhdr() {
    local d=$1 v=${2:-1} pre len pad
    pre=$((v == 1 ? 10 : 12))
    len=$((${#d} + 1))
    pad=$(((64 - (pre + len) % 64) % 64))
    printf "\\x93NUMPY\\x$(printf %02x "$v")\\x00$(le $((len + pad)) $((v == 1 ? 2 : 4)))"
    printf '%s%*s\n' "$d" "$pad" ''
}
