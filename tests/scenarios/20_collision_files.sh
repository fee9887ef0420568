#!/usr/bin/env bash
# Files named on the command line are not scanned, so an output folder
# beside them, below them, above them or equal to their own folder (however
# it is named: '.', a symlink, '..') cannot loop and is accepted: the manual's
# first example, run from the folder that holds the files, works. What is
# refused (exit 2, nothing written) is what could destroy an input: an output
# that would replace a file named as input (the same device and inode), and
# any output folder that collides with a folder given as input.
. "$(dirname "$0")/lib.sh"

collision_tree

# keep FILE...: remember the contents; unchanged: every kept file still has them.
keep() {
    local f
    for f in "$@"; do md5sum "$(realpath "$f")"; done >>"$T/.sums"
}
unchanged() { md5sum --quiet -c "$T/.sums" || fail "an input file changed"; }

say "cd folder_with_files && samsep interview.wav street.wav -o separated"
tone "$D/folder_with_files/interview.wav" 0.5 16000
tone "$D/folder_with_files/street.wav" 0.25 16000
cd "$D/folder_with_files"
keep interview.wav street.wav
ss interview.wav street.wav -o separated
assert_rc 0
assert_pair separated interview wav 8000
assert_pair separated street wav 4000
unchanged

say "-o . from the input's folder: outputs beside the inputs"
ss interview.wav street.wav -o .
assert_rc 0
assert_pair . interview wav 8000
assert_pair . street wav 4000
unchanged
assert_no_temps .
before=$(snapshot_out .)

say "again with every file as input (*.wav): the outputs are skipped, nothing redone"
ss --dry-run ./*.wav -o .
assert_rc 0
assert_out '^skip .*interview_target\.wav: looks like a samsep output'
assert_out '^skip .*interview\.wav: done'
ss ./*.wav -o .
assert_rc 0
assert_unchanged "$before" . "a re-run over its own outputs" snapshot_out
assert_no_loops .

say "--overwrite redoes them in place: an earlier output named as input is replaced"
old_ino=$(inode interview_target.wav)
ss --overwrite ./*.wav -o .
assert_rc 0
assert_pair . interview wav 8000
[ "$(inode interview_target.wav)" != "$old_ino" ] || fail "interview_target.wav was not redone"
unchanged
assert_eq "$(find . -maxdepth 1 -type f ! -name '.*' | wc -l)" 6 \
    "files in the folder (2 inputs, 4 outputs)"
cd "$D"

say "an output folder below the file's folder, existing or not"
keep recordings/a.wav recordings/sub/b.wav
ss recordings/a.wav -o recordings/sub
assert_rc 0
assert_pair recordings/sub a wav 8000
ss recordings/a.wav -o recordings/new/deeper
assert_rc 0
assert_pair recordings/new/deeper a wav 8000

say "an output folder above the file's folder"
ss recordings/sub/b.wav -o recordings
assert_rc 0
assert_pair recordings b wav 8000

say "the file's folder under other names: a symlink to it, '..', an absolute path"
rm -f recordings/a_target.wav recordings/a_residual.wav
ss recordings/a.wav -o recordings_link
assert_rc 0
assert_pair recordings a wav 8000
rm -f recordings/a_target.wav recordings/a_residual.wav
ss recordings/sub/../a.wav -o "$D/recordings_link/"
assert_rc 0
assert_pair recordings a wav 8000
unchanged
assert_no_temps "$D"

say "refused: an output that would replace a file named as input"
tone "$D/range/shooting.wav" 0.5 16000
tone "$D/range/shooting_target.wav" 0.25 16000   # a recording, not an output
cd "$D/range"
keep shooting.wav shooting_target.wav
before=$(snapshot .)
ss shooting.wav shooting_target.wav -o .
assert_rc 2 "an input would be replaced"
assert_err 'would replace the input file'
assert_err 'shooting_target\.wav'
assert_unchanged "$before" . "a refused run"
ss --dry-run ./*.wav -o .
assert_rc 2 "the dry run is refused the same way"
assert_unchanged "$before" . "a refused dry run"
unchanged
cd "$D"

say "refused: an output path that is an input through a symlink"
mkdir -p linked_out
ln -s ../recordings/a.wav linked_out/c_target.wav
tone "$D/other/c.wav" 0.25 16000
before=$(snapshot "$D/recordings")
ss other/c.wav recordings/a.wav -o linked_out
assert_rc 2 "an output path is an input file"
assert_err 'linked_out/c_target\.wav" would replace the input file "recordings/a\.wav'
assert_unchanged "$before" "$D/recordings" "a refused run"

say "refused: the output folder is an input file"
ss recordings/a.wav -o recordings/a.wav
assert_rc 2
assert_err 'not a folder'
unchanged

say "refused: folders given as input keep every collision rule"
refused "is the input folder" recordings recordings recordings/a.wav recordings -o recordings
refused "is inside the input folder" recordings recordings/new recordings recordings/a.wav -o recordings/new
refused "contains the input folder|input folder .* is inside the output folder" sub . recordings/sub -o .
