#!/usr/bin/env bash
# Folder collision through a bind mount: the input folder mounted a second
# time elsewhere is still the same folder (same device and inode), so using
# the mount as the output folder, or a folder inside it, is refused with exit
# 2, nothing created, both folders named. Skipped (77) where the test may not
# mount.
. "$(dirname "$0")/lib.sh"

collision_tree

say "a bind mount of the input folder"
try_mount "$D/bound" --bind "$D/recordings"
refused "is the input folder" recordings bound recordings -o bound
refused "is inside the input folder" recordings bound/new recordings -o bound/new
refused "is inside the input folder" bound recordings/new bound -o recordings/new
refused "contains the input folder|input folder .* is inside the output folder" sub bound recordings/sub -o bound
refused "is the input folder|is the folder of|is its folder" bound recordings bound/a.wav -o recordings

say "control: the bind mount as input with a sibling output folder is accepted"
ss bound -o elsewhere2
assert_rc 0
assert_pair elsewhere2 a wav 8000
