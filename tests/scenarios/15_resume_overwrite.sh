#!/usr/bin/env bash
# Resume: a re-run skips an input whose two outputs exist and were made from
# the same source (identity, size, mtime) with the same settings. --overwrite
# redoes it; so do a changed source (touched or rewritten), a changed setting
# (prompt, chunk, overlap, subtype) and a missing output. An output rewritten
# is a new file (new inode: written aside and renamed into place).
. "$(dirname "$0")/lib.sh"

tone in/a.wav 0.5 16000
tone in/b.wav 0.5 16000

# redone WHO...: the outputs of each WHO got a new inode since the last mark;
# kept WHO...: they did not.
mark() {
    local s
    for s in a b; do
        eval "ino_$s=\$(inode out/${s}_target.wav):\$(inode out/${s}_residual.wav)"
    done
}
now() { echo "$(inode "out/$1_target.wav"):$(inode "out/$1_residual.wav")"; }
redone() {
    local s v
    for s in "$@"; do
        v=ino_$s
        [ "$(now "$s")" != "${!v}" ] || fail "$s should have been redone"
    done
}
kept() {
    local s v
    for s in "$@"; do
        v=ino_$s
        [ "$(now "$s")" = "${!v}" ] || fail "$s should not have been redone"
    done
}

say "first run"
ss in -o out
assert_rc 0
assert_pair out a wav 8000
assert_pair out b wav 8000
mark

say "a re-run skips both: done (outputs are current)"
ss in -o out
assert_rc 0
kept a b
ss --dry-run in -o out
assert_out '^skip .*a\.wav: done \(outputs are current\)'
assert_out '^skip .*b\.wav: done \(outputs are current\)'

say "--overwrite redoes both"
ss --overwrite in -o out
assert_rc 0
redone a b
assert_pair out a wav 8000
assert_no_temps out
mark

say "a different prompt redoes; the same one again does not; back to the default redoes"
ss -p noise in -o out
assert_rc 0
redone a b
mark
ss -p noise in -o out
kept a b
ss in -o out
redone a b
mark

say "a different chunk or overlap or subtype redoes"
ss --chunk 5 in -o out
redone a b
mark
ss --chunk 5 --overlap 1 in -o out
redone a b
mark
ss --chunk 5 --overlap 1 --subtype float in -o out
redone a b
mark
ss --chunk 5 --overlap 1 --subtype float in -o out
kept a b

say "a touched source is redone, the other is not"
touch -d '2001-02-03 04:05:06' in/a.wav
ss --chunk 5 --overlap 1 --subtype float in -o out
assert_rc 0
redone a
kept b
mark

say "a rewritten source (same name, new content and length) is redone"
tone in/b.wav 0.25 16000
ss --chunk 5 --overlap 1 --subtype float in -o out
redone b
kept a
assert_pair out b wav 4000
mark

say "a source replaced by another file with the same size and mtime is redone (identity)"
tone "$T/new.wav" 0.5 16000 1 1234
assert_eq "$(stat -c %s "$T/new.wav")" "$(stat -c %s in/a.wav)" "size of the replacement"
touch -r in/a.wav "$T/new.wav"
mv "$T/new.wav" in/a.wav
ss --chunk 5 --overlap 1 --subtype float in -o out
assert_rc 0
redone a
kept b
mark

say "a missing output redoes its input"
rm out/b_residual.wav
ss --chunk 5 --overlap 1 --subtype float in -o out
assert_rc 0
assert_pair out b wav 4000
kept a
