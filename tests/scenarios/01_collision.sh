#!/usr/bin/env bash
# Folder collision: an output folder that is an input folder, is inside one or
# contains one is refused with exit 2 before anything is created (not even the
# output folder), and the message names both folders and says why. Decided on
# identity, so '..', trailing slashes and symlinks do not hide it (bind
# mounts: 18_collision_bind_mount.sh, which needs permission to mount). Files
# named on the command line are not scanned, so their own folder may be the
# output folder: 20_collision_files.sh.
. "$(dirname "$0")/lib.sh"

collision_tree

say "input folder == output folder"
refused "is the input folder" recordings recordings recordings -o recordings
refused "is the input folder" recordings recordings/ recordings/ -o recordings/
refused "is the input folder" recordings ./recordings/../recordings recordings -o ./recordings/../recordings
refused "is the input folder" recordings "$D/recordings" -r recordings -o "$D/recordings"

say "output folder inside the input folder, not existing yet"
refused "is inside the input folder" recordings recordings/out recordings -o recordings/out
refused "is inside the input folder" recordings recordings/x/y/z -r recordings -o recordings/x/y/z
refused "is inside the input folder" recordings recordings/../recordings/new recordings -o recordings/../recordings/new

say "output folder inside the input folder, existing"
refused "is inside the input folder" recordings recordings/sub recordings -o recordings/sub
refused "is inside the input folder" recordings recordings/sub/ -r recordings/ -o recordings/sub/

say "input folder inside the output folder"
CONTAINS_WHY="contains the input folder|input folder .* is inside the output folder"
refused "$CONTAINS_WHY" results/old . results/old -o .
refused "$CONTAINS_WHY" results/old results results/old -o results
refused "$CONTAINS_WHY" old results -r results/old -o results

say "output folder reached through a symlink to the input folder"
refused "is the input folder" recordings recordings_link recordings -o recordings_link
refused "is inside the input folder" recordings recordings_link/new recordings -o recordings_link/new
refused "is inside the input folder" recordings_link recordings/sub recordings_link -o recordings/sub

say "several inputs: one colliding input is enough to refuse"
refused "is the input folder" recordings recordings results/old recordings -o recordings

say "a file named beside a folder does not make the folder safe"
refused "is inside the input folder" results results/new recordings/a.wav results -o results/new

say "dry run is refused the same way"
refused "is inside the input folder" recordings recordings/new --dry-run recordings -o recordings/new

say "control: a sibling output folder is accepted"
ss recordings -o elsewhere
assert_rc 0
assert_pair elsewhere a wav 8000
