#!/usr/bin/env bash
# Folder collision through a bind mount: the input folder mounted a second
# time elsewhere is still the same folder (same device and inode), so using
# the mount as the output folder, or a folder inside it, is refused with exit
# 2, nothing created, both folders named. Skipped (77) where the test may not
# mount.
. "$(dirname "$0")/lib.sh"

D=$T/data
tone "$D/recordings/a.wav"
tone "$D/recordings/sub/b.wav"
mkdir -p "$D/results"
tone "$D/results/old/c.wav"
ln -s recordings "$D/recordings_link"
cd "$D"

# refused WHY INPUT-NAME OUTPUT-AS-GIVEN ARGS...: run, expect exit 2, nothing
# created under $D, and a message naming both folders and the reason.
refused() {
    local why=$1 in_name=$2 out_given=$3 before out_real
    shift 3
    before=$(snapshot "$D")
    ss "$@"
    assert_rc 2 "collision must be refused"
    assert_unchanged "$before" "$D" "a refused run"
    assert_err "$why"
    assert_err "$in_name"
    out_real=$(realpath -m "$out_given")
    out_given=${out_given%/}
    if ! grep -qF -- "$out_given" "$ERR" && ! grep -qF -- "$out_real" "$ERR"; then
        fail "the message does not name the output folder ('$out_given' or '$out_real')"
    fi
}

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
