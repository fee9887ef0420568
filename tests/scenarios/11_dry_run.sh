#!/usr/bin/env bash
# --dry-run prints the plan, one line per input ("process IN -> TARGET",
# "skip IN: REASON", "fail IN: REASON") and a count line, and writes nothing:
# no output folder, no output, no log.
. "$(dirname "$0")/lib.sh"

tone in/a.wav 0.5 16000
tone in/b_target.wav 0.3 16000
tone in/.hidden.wav 0.3 16000
printf 'notes\n' >in/notes.txt
tone in/sub/c.wav 0.3 16000

say "a dry run into a new folder: the plan, nothing written"
ss --dry-run in -o out
assert_rc 0
assert_absent out
assert_out '^process .*in/a\.wav -> .*out/a_target\.wav$'
assert_out '^skip .*in/b_target\.wav: .+'
assert_out '^skip .*in/\.hidden\.wav: .*hidden file'
assert_out '^skip .*in/notes\.txt: .*not audio'
assert_no_out 'c\.wav'
last=$(grep -v -E '^(process|skip|fail) ' "$OUT" | tail -1)
[[ $last =~ [0-9] ]] || fail "no count line after the plan (last other line: '$last')"
assert_absent "$XDG_STATE_HOME" "$HOME/.local/state"

say "with -r the sub-folder is in the plan, mirrored under the output folder"
ss --dry-run -r in -o out
assert_rc 0
assert_out '^process .*in/sub/c\.wav -> .*out/sub/c_target\.wav$'
assert_absent out

say "--log-dir does not make a dry run write a log"
ss --dry-run --log-dir "$T/logs" in -o out
assert_rc 0
assert_absent "$T/logs" out

say "after a real run, the plan says done; with --overwrite, process"
ss in -o out
assert_rc 0
before=$(snapshot out)
ss --dry-run in -o out
assert_rc 0
assert_out '^skip .*in/a\.wav: done \(outputs are current\)'
assert_no_out '^process '
ss --dry-run --overwrite in -o out
assert_rc 0
assert_out '^process .*in/a\.wav -> '
ss --dry-run -p noise in -o out
assert_rc 0
assert_out '^process .*in/a\.wav -> '
assert_unchanged "$before" out "dry runs"
