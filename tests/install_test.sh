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
echo "installed into a temporary prefix; examples/separate.c built with pkg-config and separated the example"
