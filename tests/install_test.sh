#!/bin/sh
# install_test.sh BUILD SRC CC [CFLAGS...]: install the build into a
# temporary prefix, compile examples/separate.c against it with
# `pkg-config --cflags --libs samsep` (as a user would), and run it on the
# bundled example against the installed libsamsep.so: both outputs must be
# written, as long as the input. Also checks that the header, the static
# library and the man page are installed.
set -eu
build=$1
src=$2
cc=$3
shift 3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
    echo "FAIL: $*"
    exit 1
}

cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log"; fail "cmake --install"; }
pc=$(find "$tmp/prefix" -name samsep.pc | head -1)
[ -n "$pc" ] || fail "no samsep.pc installed"
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH
libdir=$(pkg-config --variable=libdir samsep)
incdir=$(pkg-config --variable=includedir samsep)
[ -f "$incdir/samsep.h" ] || fail "samsep.pc's includedir $incdir has no samsep.h"
[ -f "$libdir/libsamsep.a" ] || fail "no libsamsep.a in $libdir"
[ -e "$libdir/libsamsep.so" ] || fail "no libsamsep.so in $libdir"
[ -f "$tmp/prefix/share/man/man1/samsep.1" ] || fail "no man page"
[ -x "$tmp/prefix/bin/samsep" ] || fail "no samsep program"

# shellcheck disable=SC2046
"$cc" "$@" -o "$tmp/separate" "$src/examples/separate.c" $(pkg-config --cflags --libs samsep) ||
    fail "examples/separate.c does not build with pkg-config --cflags --libs samsep"
LD_LIBRARY_PATH=$libdir ldd "$tmp/separate" | grep -q "$libdir/libsamsep.so" ||
    fail "the program is not linked to the installed libsamsep.so"
LD_LIBRARY_PATH=$libdir "$tmp/separate" "$src/examples/speech_in_noise.flac" "$tmp/out" ||
    fail "the program failed"
in=$(soxi -s "$src/examples/speech_in_noise.flac")
for f in target residual; do
    [ -f "$tmp/out/$f.wav" ] || fail "no $f.wav"
    n=$(soxi -s "$tmp/out/$f.wav")
    [ "$n" = "$in" ] || fail "$f.wav has $n frames, the input $in"
done

# Linked statically, the installed archive brings in no name but samsep_*:
# a program that defines functions named like the library's internal ones
# (hidden, but global inside the build's own archive) still links, and runs.
names=$(readelf -Ws --wide "$build/libsamsep.a" |
    awk '$4 == "FUNC" && $5 == "GLOBAL" && $6 == "HIDDEN" && $7 != "UND" { print $8 }' |
    sort -u | head -8)
[ -n "$names" ] || fail "no hidden internal function in $build/libsamsep.a to clash with"
for n in $names; do printf 'int %s(void) { return 0; }\n' "$n"; done >"$tmp/clash.c"
# libsamsep itself from the archive, its dependencies as shared libraries
others="$(pkg-config --libs $(pkg-config --print-requires-private samsep)) -lpthread -lm"
# shellcheck disable=SC2086
"$cc" "$@" -o "$tmp/separate-static" "$src/examples/separate.c" "$tmp/clash.c" \
    $(pkg-config --cflags samsep) "$libdir/libsamsep.a" $others ||
    fail "a program defining $(echo $names | tr '\n' ' ')cannot link libsamsep.a"
if ldd "$tmp/separate-static" | grep -q libsamsep.so; then
    fail "the static program is linked to libsamsep.so"
fi
"$tmp/separate-static" "$src/examples/speech_in_noise.flac" "$tmp/out-static" ||
    fail "the statically linked program failed"
cmp -s "$tmp/out/target.wav" "$tmp/out-static/target.wav" ||
    fail "the statically linked program's target differs from the shared one's"
echo "installed into a temporary prefix; examples/separate.c built with pkg-config and separated the example, linked shared and static"
