#!/usr/bin/env bash
# Where outputs go and what they are called: -r mirrors sub-folders under the
# output folder, files named directly go straight into it, hidden files are
# skipped, the format follows the input (WAV/FLAC) or is WAV, --format forces
# it, and two inputs whose outputs would share a name both get their source
# extension in the name (a.wav_target.wav, a.ogg_target.wav), so neither
# overwrites the other, whatever the order.
. "$(dirname "$0")/lib.sh"

tone in/x.wav 0.5 16000
tone in/v.ogg 0.5 16000
tone in/sub/y.wav 0.3 16000
tone in/sub/deeper/z.flac 0.25 16000
tone in/.hidden.wav 0.3 16000
tone in/sub/.also_hidden.flac 0.3 16000

say "-r: sub-folders mirrored, formats kept (OGG -> WAV), hidden files skipped"
ss -r in -o out
assert_rc 0
assert_pair out x wav 8000
assert_pair out v wav 8000
assert_pair out/sub y wav 4800
assert_pair out/sub/deeper z flac 4000
assert_eq "$(count_files out '*')" 8 "files in out"
[ -z "$(find out -name '*hidden*')" ] || fail "a hidden input was processed: $(find out -name '*hidden*')"
ss --dry-run -r in -o out
assert_out '^skip .*\.hidden\.wav: .*hidden file'

say "without -r only the folder's own files"
ss in -o out_flat
assert_rc 0
assert_pair out_flat x wav 8000
assert_pair out_flat v wav 8000
assert_eq "$(count_files out_flat '*')" 4 "files in out_flat"

say "files named directly go straight into the output folder"
ss in/sub/y.wav in/sub/deeper/z.flac -o out_direct
assert_rc 0
assert_pair out_direct y wav 4800
assert_pair out_direct z flac 4000
assert_eq "$(count_files out_direct '*')" 4 "files in out_direct"

say "--format flac / wav forces the output format"
ss --format flac -r in -o out_flac
assert_rc 0
assert_pair out_flac x flac 8000
assert_pair out_flac v flac 8000
assert_pair out_flac/sub/deeper z flac 4000
ss --format wav in/sub/deeper/z.flac -o out_wav
assert_rc 0
assert_pair out_wav z wav 4000
[ "$(soxi -t out_wav/z_target.wav 2>/dev/null)" = wav ] || fail "out_wav/z_target.wav is not a WAV file"
[ "$(soxi -t out_flac/x_target.flac 2>/dev/null)" = flac ] || fail "out_flac/x_target.flac is not a FLAC file"

say "a.wav and a.ogg in one folder: both get their extension in the name"
tone same/a.wav 0.5 16000
tone same/a.ogg 0.25 16000
tone same/a.flac 0.3 16000
tone same/other.wav 0.3 16000
ss same -o out_same
assert_rc 0
assert_pair out_same a.wav wav 8000
assert_pair out_same a.ogg wav 4000
assert_pair out_same a flac 4800
assert_pair out_same other wav 4800
assert_no_pair out_same a wav
assert_eq "$(count_files out_same '*')" 8 "files in out_same"

say "the same names whatever the order on the command line"
ss same/a.ogg same/a.wav same/a.flac -o out_same2
assert_rc 0
assert_pair out_same2 a.wav wav 8000
assert_pair out_same2 a.ogg wav 4000
assert_pair out_same2 a flac 4800

say "--format flac: a.wav, a.ogg and a.flac all collide"
ss --format flac same -o out_same3
assert_rc 0
assert_pair out_same3 a.wav flac 8000
assert_pair out_same3 a.ogg flac 4000
assert_pair out_same3 a.flac flac 4800
assert_pair out_same3 other flac 4800
assert_eq "$(count_files out_same3 '*')" 8 "files in out_same3"

say "a re-run with the renamed outputs is complete (nothing redone)"
ss --dry-run same -o out_same
assert_rc 0
assert_no_out '^process '

say "two folders with a file of the same name, into one output folder: never overwritten"
tone day1/rec.wav 0.5 16000
tone day2/rec.wav 0.25 16000
ss day1 day2 -o out_days
echo "   exit $RC; outputs: $(find out_days -type f ! -name '.*' -printf '%f ' 2>/dev/null)"
sed 's/^/   stderr: /' "$ERR"
n=$(count_files out_days '*_target.wav')
if [ "$RC" = 0 ]; then
    assert_eq "$n" 2 "target files (both inputs done, under two names)"
else
    assert_rc 1
    assert_eq "$n" 1 "target files (one done, the other reported)"
    assert_err 'rec\.wav'
fi
