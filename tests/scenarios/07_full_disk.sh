#!/usr/bin/env bash
# A full disk: the output folder is a 2 MiB tmpfs. The input whose outputs do
# not fit fails with "No space left on device", nothing partial is left under
# a final name (nor a temporary), the outputs made before are unharmed, the
# next inputs are still processed, and the exit status is 1.
. "$(dirname "$0")/lib.sh"

say "inputs: two small files, one whose outputs need ~11 MB, one more small file"
tone in/small1.wav 0.5 16000
tone in/small2.wav 0.5 16000
sox -q -n -r 48000 -c 2 -b 16 in/big.wav synth 30 pinknoise vol 0.5
tone in/c_after.wav 0.5 16000

try_mount "$T/out" -t tmpfs -o size=2m tmpfs

say "the small files fit"
ss in/small1.wav in/small2.wav -o out
assert_rc 0
assert_pair out small1 wav 8000
assert_pair out small2 wav 8000
before=$(snapshot_out out)

say "the big file does not: it fails cleanly, the batch goes on"
ss in/big.wav in/small1.wav in/small2.wav in/c_after.wav -o out
assert_rc 1
assert_err 'big\.wav'
assert_err 'No space left on device'
assert_no_pair out big wav
assert_no_temps out
assert_absent out/big.wav_target.wav out/big.wav_residual.wav
[ -z "$(find out -name '*big*' ! -name '*.samsep-lock')" ] ||
    fail "files of the failed input left in out: $(find out -name '*big*')"

say "the outputs made before are unharmed, the next input was processed"
for f in small1_target small1_residual small2_target small2_residual; do
    grep -qF "out/$f.wav " <<<"$before" || fail "lost track of $f"
    [ "$(grep -F "out/$f.wav " <<<"$(snapshot_out out)")" = "$(grep -F "out/$f.wav " <<<"$before")" ] ||
        fail "out/$f.wav changed"
done
assert_pair out small1 wav 8000
assert_pair out small2 wav 8000
assert_pair out c_after wav 8000

say "the whole tmpfs is usable again (no leaked space)"
used=$(df -k --output=used out | tail -1 | tr -d ' ')
[ "$used" -lt 1024 ] || fail "tmpfs still has ${used} KiB used; expected only the small outputs"
