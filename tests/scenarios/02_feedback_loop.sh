#!/usr/bin/env bash
# The original feedback loop: outputs written where the next scan looks. The
# script samsep replaces re-read its own outputs until the machine died. Here
# every source is processed once, no output of an output appears anywhere, and
# a second run processes nothing.
. "$(dirname "$0")/lib.sh"

tone in/a.wav 0.5 16000
tone in/b.flac 0.4 16000
tone in/sub/c.wav 0.3 8000

say "-r in -o in/../in_out: a sibling reached through '..' is fine"
ss -r in -o in/../in_out
assert_rc 0
assert_pair in_out a wav 8000
assert_pair in_out b flac 6400
assert_pair in_out/sub c wav 2400
assert_eq "$(count_files in_out '*')" 6 "files in in_out"
assert_eq "$(count_files in '*')" 3 "files in in (the input must be untouched)"

say "run into out, then feed out/ back in next to in/ (into out2)"
ss in/ -o out
assert_rc 0
assert_pair out a wav 8000
assert_pair out b flac 6400
ss in/ out/ -o out2
assert_rc 0
assert_pair out2 a wav 8000
assert_pair out2 b flac 6400
assert_eq "$(count_files out2 '*')" 4 "files in out2 (only in/'s two sources)"
assert_no_loops "$T"

say "the most important case: the outputs come back as inputs from another folder"
rm -rf out
ss -r in -o out
assert_rc 0
assert_eq "$(count_files out '*')" 6 "files in out"
before=$(snapshot_out out)
mkdir in2
cp -r out/. in2/
cp out/a_target.wav in2/renamed_take.wav       # a renamed output: known by its tags
cp out/b_residual.flac in2/other_name.flac
ss --json -r in in2 -o out
assert_rc 0
json_lines "$OUT"
assert_eq "$(json_query "$OUT" '[e["processed"] for e in ev if e["event"]=="summary"][0]')" 0 \
    "summary.processed of the second run"
assert_eq "$(json_query "$OUT" 'sum(1 for e in ev if e["event"]=="done")')" 0 "done events"
assert_unchanged "$before" out "the second run" snapshot_out
assert_no_loops "$T"
assert_eq "$(count_files out '*')" 6 "files in out"

say "and again, three times over, with everything as input: still nothing new"
for i in 1 2 3; do
    ss -r in in2 out2 in_out -o out
    assert_rc 0
done
assert_unchanged "$before" out "repeated runs" snapshot_out
assert_no_loops "$T"

say "the dry run agrees: nothing to process"
ss --dry-run -r in in2 out2 in_out -o out
assert_rc 0
assert_no_out '^process '
assert_out '^skip .*a\.wav: done'
assert_out '^skip .*renamed_take\.wav: '
assert_out '^skip .*other_name\.flac: '
