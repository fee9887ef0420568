#!/usr/bin/env bash
# Runaway guard: more than --max-files (default 100) inputs to process, after
# filtering, is refused with exit 2 and nothing written unless --yes or a
# larger --max-files; on a terminal samsep asks, and the default is no.
. "$(dirname "$0")/lib.sh"

say "make 150 tiny inputs (and 30 outputs of an earlier run, which do not count)"
mkdir in
sox -q -n -r 8000 -c 1 -b 16 in/seed.wav synth 0.05 sine 440 vol 0.5
for i in $(seq -w 1 149); do
    cp in/seed.wav "in/f$i.wav"
done
for i in $(seq -w 1 15); do
    cp in/seed.wav "in/old${i}_target.wav"
    cp in/seed.wav "in/old${i}_residual.wav"
done

say "150 inputs, not on a terminal, no --yes: refused, nothing written"
ss in -o out
assert_rc 2
assert_absent out
assert_err -- '--yes'
assert_err -- '--max-files'
assert_err '150'

say "--max-files 149: still refused"
ss --max-files 149 in -o out
assert_rc 2
assert_absent out

say "130 inputs after filtering (20 own outputs skipped): --max-files 130 proceeds, 129 does not"
mkdir in130
for i in $(seq -w 1 130); do cp in/seed.wav "in130/g$i.wav"; done
for i in $(seq -w 1 10); do
    cp in/seed.wav "in130/h${i}_target.wav"
    cp in/seed.wav "in130/h${i}_residual.wav"
done
ss --yes --dry-run in130 -o out130
assert_rc 0
assert_absent out130
assert_eq "$(grep -c '^process ' "$OUT")" 130 "inputs to process in the plan"
ss --max-files 129 in130 -o out130
assert_rc 2
assert_absent out130
ss --max-files 130 -q in130 -o out130
assert_rc 0
assert_eq "$(count_files out130 '*_target.wav')" 130 "target files"

say "--yes: all 150 done"
ss --yes -q in -o out
assert_rc 0
assert_eq "$(count_files out '*_target.wav')" 150 "target files"
assert_eq "$(count_files out '*_residual.wav')" 150 "residual files"
assert_pair out f001 wav 400
assert_no_temps out

say "--max-files 200: all 150 done"
ss --max-files 200 -q in -o out200
assert_rc 0
assert_eq "$(count_files out200 '*_target.wav')" 150 "target files"
assert_eq "$(count_files out200 '*_residual.wav')" 150 "residual files"

say "a re-run has nothing to process, so nothing to ask about"
ss in -o out
assert_rc 0

need_pty
say "on a terminal: the question appears and 'n' cancels"
pty --timeout 60 --expect "Process 150 files" --expect "[y/N]" --answer n -- "$SAMSEP_BIN" in -o out_tty
assert_rc 2
assert_absent out_tty

say "on a terminal: Enter takes the default, no"
pty --timeout 60 --expect "[y/N]" --answer "" -- "$SAMSEP_BIN" in -o out_tty
assert_rc 2
assert_absent out_tty
