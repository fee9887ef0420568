#!/bin/sh
# check_exports_test.sh CC LIBSAMSEP.SO SAMSEP.H: check_exports.sh fails
# when it should. A shared library that exports a function outside
# samsep_*, an installed static library that defines one, and library
# objects that leave one at default visibility, must each be refused,
# naming the function.
set -eu
cc=$1
lib=$2
header=$3
check=$(dirname "$0")/check_exports.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
    echo "FAIL: $*"
    exit 1
}

printf 'int leaked_helper(void) { return 1; }\n' >"$tmp/leak.c"
"$cc" -shared -fPIC -o "$tmp/libleak.so" "$tmp/leak.c"
if sh "$check" "$tmp/libleak.so" "$header" >"$tmp/out1" 2>&1; then
    fail "a shared library exporting leaked_helper passed"
fi
grep -A3 'exports symbols outside samsep_' "$tmp/out1" | grep -q leaked_helper ||
    { cat "$tmp/out1"; fail "the leaked symbol was not named"; }

"$cc" -c -fPIC -o "$tmp/leak.o" "$tmp/leak.c"
ar rcs "$tmp/libleak.a" "$tmp/leak.o"
if sh "$check" "$lib" "$header" "$tmp/libleak.a" >"$tmp/out3" 2>&1; then
    fail "an installed static library defining leaked_helper passed"
fi
grep -A3 'defines global symbols' "$tmp/out3" | grep -q leaked_helper ||
    { cat "$tmp/out3"; fail "the global symbol was not named"; }
if sh "$check" "$lib" "$header" "" "$tmp/libleak.a" >"$tmp/out2" 2>&1; then
    fail "a static library with leaked_helper at default visibility passed"
fi
grep -A3 'default visibility' "$tmp/out2" | grep -q leaked_helper ||
    { cat "$tmp/out2"; fail "the unhidden symbol was not named"; }
echo "check_exports.sh refuses a leaked symbol in a shared and in a static library"
