#!/usr/bin/env bash
# Each source once: a file reached several times (listed twice, through a
# symlink, through a hard link) is processed once; the repeats are skipped
# as "same file as <path>". Two different files with equal bytes are two
# sources.
. "$(dirname "$0")/lib.sh"

tone in/a.wav 0.5 16000
ln in/a.wav in/hard.wav
ln -s a.wav in/sym.wav
mkdir other
ln -s ../in/a.wav other/elsewhere.wav
ln in/a.wav other/hard2.wav

say "the plan names one source and skips the rest as the same file"
ss --dry-run in in/a.wav other other/elsewhere.wav in/hard.wav -o out
assert_rc 0
assert_absent out
n=$(grep -c '^process ' "$OUT" || true)
assert_eq "$n" 1 "number of 'process' lines"
m=$(grep -Ec '^skip .*: same file as ' "$OUT" || true)
[ "$m" -ge 4 ] || fail "expected at least 4 'same file as' skips, got $m"

say "the run writes one pair"
ss in in/a.wav other other/elsewhere.wav in/hard.wav -o out
assert_rc 0
assert_eq "$(count_files out '*_target.wav')" 1 "target files"
assert_eq "$(count_files out '*_residual.wav')" 1 "residual files"
assert_eq "$(count_files out '*')" 2 "files in out"
assert_no_temps out

say "the source listed twice, alone"
ss in/a.wav in/a.wav ./in/a.wav -o out2
assert_rc 0
assert_pair out2 a wav 8000
assert_eq "$(count_files out2 '*')" 2 "files in out2"

say "two files with equal bytes are two sources"
mkdir copy
cp in/a.wav copy/b.wav
ss in/a.wav copy/b.wav -o out3
assert_rc 0
assert_pair out3 a wav 8000
assert_pair out3 b wav 8000
