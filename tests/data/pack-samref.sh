#!/bin/sh
# pack-samref.sh - rebuild tests/data/samref.tar.xz from a folder holding the
# reference tensors (see README.md in this folder).
#
#   sh tests/data/pack-samref.sh SAMREF_DIR
#
# The archive holds exactly the files listed in samref.sha256, under the
# same relative paths, and each must match its checksum first. The archive is
# byte-for-byte reproducible (sorted names, fixed owner, mode and time) so a
# re-pack of the same files changes nothing in the repository. LZMA2 with
# lc=0 lp=2 pb=2 suits arrays of 4-byte floats; one archive lets xz store the
# tensors the codec/, dit/ and full/ checkpoints share only once.
set -eu
[ $# -eq 1 ] || { echo "usage: sh tests/data/pack-samref.sh SAMREF_DIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
cd "$1"
sha256sum --quiet --strict -c "$here/samref.sha256"
cut -c67- "$here/samref.sha256" |
    tar cf - --format=ustar --owner=0 --group=0 --numeric-owner --mode=0644 \
        --mtime=@0 --no-recursion -T - |
    xz --lzma2=preset=9e,lc=0,lp=2,pb=2 -T1 >"$here/samref.tar.xz.tmp"
mv "$here/samref.tar.xz.tmp" "$here/samref.tar.xz"
echo "$here/samref.tar.xz: $(wc -c <"$here/samref.tar.xz") bytes"
