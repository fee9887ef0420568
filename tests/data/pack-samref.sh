#!/bin/sh
# pack-samref.sh - rebuild tests/data/samref.tar.xz (or samref-anchors.tar.xz)
# from a folder holding the reference tensors (see README.md in this folder).
#
#   sh tests/data/pack-samref.sh SAMREF_DIR [NAME]
#
# NAME (default samref) names the list NAME.sha256 and the archive
# NAME.tar.xz. The archive holds exactly the files listed in NAME.sha256,
# under the same relative paths, and each must match its checksum first. The
# archive is byte-for-byte reproducible (sorted names, fixed owner, mode and
# time) so a re-pack of the same files changes nothing in the repository.
# LZMA2 with lc=0 lp=2 pb=2 suits arrays of 4-byte floats; one archive lets
# xz store the tensors the codec/, dit/ and full/ checkpoints share only once.
set -eu
[ $# -eq 1 ] || [ $# -eq 2 ] ||
    { echo "usage: sh tests/data/pack-samref.sh SAMREF_DIR [NAME]" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
name=${2:-samref}
cd "$1"
sha256sum --quiet --strict -c "$here/$name.sha256"
cut -c67- "$here/$name.sha256" |
    tar cf - --format=ustar --owner=0 --group=0 --numeric-owner --mode=0644 \
        --mtime=@0 --no-recursion -T - |
    xz --lzma2=preset=9e,lc=0,lp=2,pb=2 -T1 >"$here/$name.tar.xz.tmp"
mv "$here/$name.tar.xz.tmp" "$here/$name.tar.xz"
echo "$here/$name.tar.xz: $(wc -c <"$here/$name.tar.xz") bytes"
