#!/usr/bin/env bash
# One bad input is one failure: a zero-length .wav, a text file named .wav,
# a .wav with a garbage header and a fake .mp3 are each reported on stderr by
# name, the rest (including a truncated WAV, processed for the frames it has,
# and audio without an extension) is processed, and the exit status is 1. A
# file that is neither audio nor named like audio is skipped, not a failure.
. "$(dirname "$0")/lib.sh"

say "make the inputs"
tone in/good.wav 0.5 16000
tone in/trunc.wav 1.0 16000
full=$(stat -c %s in/trunc.wav)
header=$((full - 16000 * 2))
truncate -s $((header + 6000 * 2)) in/trunc.wav
: >in/empty.wav
printf 'this is not audio\nat all\n' >in/text.wav
{ printf 'RIFF\x24\x00\x00\x00WAVEfmt '; head -c 200 /dev/zero | tr '\0' x; } >in/garbage.wav
printf 'ID3 but not really an mp3\n' >in/fake.mp3
printf 'just notes\n' >in/notes.txt
tone "$T/noext.wav" 0.25 16000
mv "$T/noext.wav" in/recording_no_extension

say "the run: failures named on stderr, everything else processed, exit 1"
ss in -o out
assert_rc 1
for f in empty.wav text.wav garbage.wav fake.mp3; do
    assert_err "$f"
done
assert_no_grep "$ERR" 'notes\.txt' "stderr (notes.txt is skipped, not a failure)"
assert_pair out good wav 8000
assert_pair out trunc wav 6000
assert_pair out recording_no_extension wav 4000
for s in empty text garbage fake; do
    [ -z "$(find out -name "*$s*" ! -name '*.samsep-lock')" ] ||
        fail "files for the failed input $s left in out: $(find out -name "*$s*")"
done
assert_no_pair out notes wav
assert_no_temps out
assert_eq "$(count_files out '*')" 6 "files in out"

say "the plan says the same"
ss --dry-run in -o out_plan
assert_absent out_plan
assert_out '^fail .*empty\.wav: '
assert_out '^fail .*text\.wav: '
assert_out '^skip .*notes\.txt: .*not audio'
assert_out '^process .*good\.wav -> '

say "--json: one failed event per bad input, and the counts"
ss --json in -o out_json
assert_rc 1
json_lines "$OUT"
assert_eq "$(json_query "$OUT" 'sorted(set(e["input"].split("/")[-1] for e in ev
    if e["event"]=="failed" or (e["event"]=="plan" and e["action"]=="fail")))' | tr '\n' ' ')" \
    "empty.wav fake.mp3 garbage.wav text.wav " "inputs with a failed event or a plan action 'fail'"
assert_eq "$(json_query "$OUT" '[(e["processed"], e["failed"], e["exit"]) for e in ev if e["event"]=="summary"][0]')" \
    "(3, 4, 1)" "summary (processed, failed, exit)"

say "a folder with only good audio and a text file: exit 0"
mkdir in_ok
cp in/good.wav in/notes.txt in_ok/
ss in_ok -o out_ok
assert_rc 0
assert_pair out_ok good wav 8000
assert_eq "$(count_files out_ok '*')" 2 "files in out_ok"

say "a non-audio file named explicitly on the command line is a failure"
ss in/good.wav in/notes.txt -o out_explicit
assert_rc 1
assert_err 'notes\.txt'
assert_pair out_explicit good wav 8000

say "an unreadable audio file is one failure (only checkable when not root)"
if [ "$(id -u)" = 0 ]; then
    echo "   (running as root, which reads any file: case not checked)"
else
    mkdir in_locked
    tone in_locked/ok.wav 0.5 16000
    tone in_locked/locked.wav 0.5 16000
    chmod 000 in_locked/locked.wav
    ss in_locked -o out_locked
    chmod 644 in_locked/locked.wav
    assert_rc 1
    assert_err 'locked\.wav'
    assert_pair out_locked ok wav 8000
    assert_no_pair out_locked locked wav
fi

say "an input that fails after planning leaves no empty output folder (nor -r sub-folders)"
# A FLAC whose header is sound (so it is planned) and whose audio frames are
# garbage (so decoding fails before any output is written).
mkdir -p in_late/deep/er
sox -q -n -r 16000 -c 1 -b 16 in_late/deep/er/x.flac synth 1 pinknoise vol 0.5
python3 - in_late/deep/er/x.flac <<'EOF'
import sys
p = sys.argv[1]
d = bytearray(open(p, "rb").read())
i, last = 4, False
while not last:  # metadata blocks: 1 bit last, 7 bits type, 24 bits length
    last = d[i] & 0x80
    i += 4 + int.from_bytes(d[i + 1:i + 4], "big")
d[i:] = b"\xff" * (len(d) - i)  # every audio frame
open(p, "wb").write(d)
EOF
ss --dry-run -r in_late -o out_late
assert_out '^process .*x\.flac -> '
ss -r in_late -o out_late
assert_rc 1
assert_err 'x\.flac'
assert_absent out_late
tone in_late/good.wav 0.5 16000
ss -r in_late -o out_late
assert_rc 1
assert_pair out_late good wav 8000
assert_absent out_late/deep
assert_eq "$(find out_late | wc -l)" 3 "entries in out_late (the folder and good.wav's two outputs)"
ss in_late/deep/er/x.flac -o out_late_file
assert_rc 1
assert_absent out_late_file
mkdir out_late_existing
ss in_late/deep/er/x.flac -o out_late_existing/a/b
assert_rc 1
assert_exists out_late_existing
assert_absent out_late_existing/a
