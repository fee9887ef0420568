#!/bin/sh
# check_exports.sh LIBSAMSEP.SO SAMSEP.H [LIBSAMSEP.A]: the shared library
# exports exactly the functions samsep.h declares with SAMSEP_API - no
# internal symbol leaks (nn_*, dit_*, set_err, ... would collide with other
# libraries) and no public function was left unexported. Given the static
# library, also checks that its objects were built with hidden visibility:
# only samsep.h's functions have default visibility there, so that whatever
# links them into a shared object of its own exports nothing else either.
set -eu
lib=$1
header=$2
archive=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

nm -D --defined-only "$lib" | awk 'NF == 3 { print $3 }' | sort -u >"$tmp/exported"
# every function declared at the top level of the header, marked or not
grep -E '^[A-Za-z]' "$header" | grep -vE '^(typedef|#)' |
    grep -oE '^[^(]*[^A-Za-z0-9_]samsep_[a-z0-9_]+\(' >"$tmp/decls" || true
grep -oE 'samsep_[a-z0-9_]+\($' "$tmp/decls" | tr -d '(' | sort -u >"$tmp/declared"
status=0
if grep -v '^SAMSEP_API ' "$tmp/decls" >"$tmp/unmarked"; then
    echo "FAIL: samsep.h declares functions without SAMSEP_API (they would not be exported):"
    sed 's/^/  /' "$tmp/unmarked"
    status=1
fi
if grep -v '^samsep_' "$tmp/exported" >"$tmp/foreign"; then
    echo "FAIL: $lib exports symbols outside samsep_*:"
    sed 's/^/  /' "$tmp/foreign"
    status=1
fi
comm -13 "$tmp/declared" "$tmp/exported" | grep '^samsep_' >"$tmp/extra" || true
if [ -s "$tmp/extra" ]; then
    echo "FAIL: $lib exports samsep_* symbols that samsep.h does not declare:"
    sed 's/^/  /' "$tmp/extra"
    status=1
fi
comm -23 "$tmp/declared" "$tmp/exported" >"$tmp/missing"
if [ -s "$tmp/missing" ]; then
    echo "FAIL: samsep.h declares functions $lib does not export:"
    sed 's/^/  /' "$tmp/missing"
    status=1
fi
if [ -n "$archive" ]; then
    readelf -Ws --wide "$archive" |
        awk '($5 == "GLOBAL" || $5 == "WEAK") && $6 == "DEFAULT" && $7 != "UND" { print $8 }' |
        sort -u >"$tmp/visible"
    comm -23 "$tmp/visible" "$tmp/declared" >"$tmp/unhidden"
    if [ -s "$tmp/unhidden" ]; then
        echo "FAIL: $archive has symbols of default visibility that samsep.h does not declare:"
        sed 's/^/  /' "$tmp/unhidden"
        status=1
    fi
fi
[ "$status" -ne 0 ] || echo "$lib${archive:+ and $archive}: export the $(wc -l <"$tmp/declared") functions of samsep.h and nothing else"
exit "$status"
