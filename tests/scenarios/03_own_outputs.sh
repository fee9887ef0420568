#!/usr/bin/env bash
# Own outputs are never inputs: a stem ending in _target/_residual (any case,
# plus configured suffixes) or a file whose tags say samsep wrote it (even
# renamed, and wherever in the file its tags are) is skipped with a reason;
# there is no substring rule.
. "$(dirname "$0")/lib.sh"

tone src/a.wav 0.5 16000
tone src/f.flac 0.5 16000

say "make real outputs (WAV and FLAC), then rename them"
ss src -o out
assert_rc 0
assert_pair out a wav 8000
assert_pair out f flac 8000
mkdir in2
mv out/a_target.wav in2/fresh.wav
mv out/f_residual.flac in2/take2.flac
cp out/a_residual.wav in2/noext
tone in2/my_target_practice.wav 0.3 16000
tone in2/speech_audio_processed.wav 0.3 16000
tone in2/target.wav 0.3 16000
tone in2/X_TARGET.wav 0.3 16000
tone in2/y_Residual.flac 0.3 16000
tone in2/y_clean.wav 0.3 16000
tone in2/z_target.mp3.wav 0.3 16000

# An output whose tags (its LIST chunk) are moved after its 3 s of samples,
# far past the head that planning reads at once: still known by its tags.
tone src_long/long.wav 3 48000 2
ss src_long -o out_long
assert_rc 0
python3 - out_long/long_target.wav in2/tags_at_end.wav <<'EOF' || fail "could not move the tags"
import struct, sys
b = open(sys.argv[1], "rb").read()
pos, chunks = 12, []
while pos + 8 <= len(b):
    n = struct.unpack("<I", b[pos + 4:pos + 8])[0]
    chunks.append((b[pos:pos + 4], b[pos:pos + 8 + n + (n & 1)]))
    pos += 8 + n + (n & 1)
body = b"WAVE" + b"".join(d for c, d in chunks if c != b"LIST") + \
    b"".join(d for c, d in chunks if c == b"LIST")
assert body.index(b"LIST") > 65536
open(sys.argv[2], "wb").write(b"RIFF" + struct.pack("<I", len(body)) + body)
EOF

say "the plan: renamed outputs skipped by their tags, suffixes case-insensitive, no substring rule"
ss --dry-run in2 -o out3
assert_rc 0
assert_absent out3
assert_out '^skip .*fresh\.wav: '
assert_out '^skip .*take2\.flac: '
assert_out '^skip .*tags_at_end\.wav: written by samsep'
assert_out '^skip .*noext: '
assert_out '^skip .*X_TARGET\.wav: '
assert_out '^skip .*y_Residual\.flac: '
assert_out '^process .*my_target_practice\.wav -> '
assert_out '^process .*speech_audio_processed\.wav -> '
assert_out '^process .*/target\.wav -> '
assert_out '^process .*y_clean\.wav -> '
assert_out '^process .*z_target\.mp3\.wav -> '

say "the run does what the plan said"
ss in2 -o out3
assert_rc 0
assert_pair out3 my_target_practice wav 4800
assert_pair out3 speech_audio_processed wav 4800
assert_pair out3 target wav 4800
assert_pair out3 y_clean wav 4800
assert_pair out3 z_target.mp3 wav 4800
assert_no_pair out3 fresh wav
assert_no_pair out3 take2 flac
assert_no_pair out3 tags_at_end wav
assert_no_pair out3 noext wav
assert_no_pair out3 X_TARGET wav
assert_no_pair out3 y_Residual flac
assert_eq "$(count_files out3 '*')" 10 "files in out3"
assert_no_loops "$T"

say "a renamed output given explicitly on the command line is skipped too"
ss in2/fresh.wav in2/take2.flac -o out4
assert_rc 0
assert_eq "$(count_files out4 '*')" 0 "files in out4"

say "--skip-suffix _clean skips y_clean.wav (and only it)"
ss --dry-run --skip-suffix _clean in2 -o out5
assert_rc 0
assert_out '^skip .*y_clean\.wav: '
assert_out '^process .*my_target_practice\.wav -> '
ss --skip-suffix _clean --skip-suffix _processed in2 -o out5
assert_rc 0
assert_no_pair out5 y_clean wav
assert_no_pair out5 speech_audio_processed wav
assert_pair out5 my_target_practice wav 4800
assert_eq "$(count_files out5 '*')" 6 "files in out5"

say "skip_suffixes in the config file does the same"
mkdir -p "$XDG_CONFIG_HOME/samsep"
echo '{"skip_suffixes": ["_CLEAN"]}' >"$XDG_CONFIG_HOME/samsep/config.json"
ss in2 -o out6
assert_rc 0
assert_no_pair out6 y_clean wav
assert_pair out6 speech_audio_processed wav 4800
assert_eq "$(count_files out6 '*')" 8 "files in out6"
