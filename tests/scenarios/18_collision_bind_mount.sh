#!/usr/bin/env bash
# Folder collision through a bind mount: the input folder mounted a second
# time elsewhere is still the same folder (same device and inode), so using
# the mount as the output folder, or a folder inside it, is refused with exit
# 2, nothing created, both folders named; a file named through the mount may
# have its outputs written beside it. Skipped (77) where the test may not
# mount.
. "$(dirname "$0")/lib.sh"

collision_tree

say "a bind mount of the input folder"
try_mount "$D/bound" --bind "$D/recordings"
refused "is the input folder" recordings bound recordings -o bound
refused "is inside the input folder" recordings bound/new recordings -o bound/new
refused "is inside the input folder" bound recordings/new bound -o recordings/new
refused "contains the input folder|input folder .* is inside the output folder" sub bound recordings/sub -o bound

say "control: the bind mount as input with a sibling output folder is accepted"
ss bound -o elsewhere2
assert_rc 0
assert_pair elsewhere2 a wav 8000

say "a file named through the mount, output into its folder's other name: accepted"
sum=$(md5sum <recordings/a.wav)
ss bound/a.wav -o recordings
assert_rc 0
assert_pair recordings a wav 8000
assert_eq "$(md5sum <recordings/a.wav)" "$sum" "the input after the run"
