#!/bin/sh
# check_exports.sh LIBSAMSEP.SO SAMSEP.H [SEALED.A [OBJECTS.A]]: the shared
# library exports exactly the functions samsep.h declares with SAMSEP_API -
# no internal symbol leaks (nn_*, dit_*, set_err, ... would collide with
# other libraries) and no public function was left unexported. Given the
# installed static library (SEALED.A), checks that it defines no global
# symbol but samsep.h's functions, so that a program linking it statically
# cannot clash with an internal name. Given the archive of the library's
# own objects (OBJECTS.A), checks that they were built with hidden
# visibility: only samsep.h's functions have default visibility there.
set -eu
lib=$1
header=$2
sealed=${3:-}
archive=${4:-}
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
if [ -n "$sealed" ]; then
    readelf -Ws --wide "$sealed" |
        awk '($5 == "GLOBAL" || $5 == "WEAK") && $7 != "UND" { print $8 }' |
        sort -u >"$tmp/global"
    comm -23 "$tmp/global" "$tmp/declared" >"$tmp/unsealed"
    if [ -s "$tmp/unsealed" ]; then
        echo "FAIL: $sealed defines global symbols that samsep.h does not declare:"
        sed 's/^/  /' "$tmp/unsealed"
        status=1
    fi
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
[ "$status" -ne 0 ] || echo "$lib${sealed:+ and $sealed}: export the $(wc -l <"$tmp/declared") functions of samsep.h and nothing else"
exit "$status"
