#!/usr/bin/env bash
# Files cut short: a WAV (16-bit mono, 24-bit stereo) and a FLAC cut by
# `head -c` promise in their header more frames than they hold. Each is
# processed for the frames it has, with a warning naming both counts (on
# stderr, in the log, and frames_promised in the --json done event); the
# outputs are as long as what was read, and the run succeeds. A complete file
# beside them gets no warning. An M4A cut short (its index at the front) is
# processed the same way, up to the packet the cut falls in.
. "$(dirname "$0")/lib.sh"

say "make the inputs: three files cut short and one whole"
mkdir in whole
sox -q -n -r 16000 -c 1 -b 16 whole/mono16.wav synth 1 sine 440 vol 0.5
sox -q -n -r 16000 -c 2 -b 24 whole/stereo24.wav synth 1 sine 440 sine 550 vol 0.5
sox -q -n -r 16000 -c 1 -b 16 whole/cut.flac synth 1 pinknoise vol 0.5
tone in/complete.wav 0.5 16000
# 16-bit mono: keep 10000 of 16000 frames; 24-bit stereo: 7000 frames and a
# half (the half frame is not a frame).
h16=$(( $(stat -c %s whole/mono16.wav) - 16000 * 2 ))
h24=$(( $(stat -c %s whole/stereo24.wav) - 16000 * 6 ))
head -c $((h16 + 10000 * 2)) whole/mono16.wav >in/mono16.wav
head -c $((h24 + 7000 * 6 + 3)) whole/stereo24.wav >in/stereo24.wav
head -c $(( $(stat -c %s whole/cut.flac) / 2 )) whole/cut.flac >in/cut.flac

say "the run: every file processed, exit 0, one warning per short file"
ss --json --log-dir "$T/logs" in -o out
assert_rc 0
json_lines "$OUT"
assert_pair out mono16 wav 10000
assert_pair out stereo24 wav 7000
assert_pair out complete wav 8000
assert_err 'mono16\.wav: the file is shorter than its header says: 16000 frames promised, 10000 read'
assert_err 'stereo24\.wav: the file is shorter than its header says: 16000 frames promised, 7000 read'
assert_err 'cut\.flac: the file is shorter than its header says: 16000 frames promised, [0-9]+ read'
assert_eq "$(grep -c 'shorter than its header' "$ERR")" 3 "warnings on stderr"
assert_no_grep "$ERR" 'complete\.wav' "stderr"
flac_read=$(json_query "$OUT" '[e["frames"] for e in ev if e["event"]=="done" and e["input"].endswith("cut.flac")][0]')
[ "$flac_read" -gt 0 ] && [ "$flac_read" -lt 16000 ] || fail "cut.flac: $flac_read frames read"
assert_pair out cut flac "$flac_read"
assert_eq "$(json_query "$OUT" 'sorted((e["input"].split("/")[-1], e["frames"], e.get("frames_promised"))
    for e in ev if e["event"]=="done")' | tr '\n' ' ')" \
    "('complete.wav', 8000, None) ('cut.flac', $flac_read, 16000) ('mono16.wav', 10000, 16000) ('stereo24.wav', 7000, 16000) " \
    "done events (input, frames, frames_promised)"
LOG=$(find "$T/logs" -type f)
assert_grep "$LOG" 'mono16\.wav is shorter than its header says: 16000 frames promised, 10000 read' "the log"
assert_grep "$LOG" 'cut\.flac is shorter than its header says' "the log"

say "the outputs are the input's frames: target + residual = mixture (dsp subtracts)"
python3 - in/mono16.wav out/mono16_target.wav out/mono16_residual.wav <<'PY' || fail "target + residual is not the mixture"
import struct, sys
def pcm(p):  # 16-bit samples of a WAV's data chunk, cut at the end of the file
    b = open(p, "rb").read()
    pos = 12
    while b[pos:pos + 4] != b"data":
        pos += 8 + struct.unpack("<I", b[pos + 4:pos + 8])[0]
    size = min(struct.unpack("<I", b[pos + 4:pos + 8])[0], len(b) - pos - 8)
    return struct.unpack("<%dh" % (size // 2), b[pos + 8:pos + 8 + size // 2 * 2])
x, t, r = pcm(sys.argv[1]), pcm(sys.argv[2]), pcm(sys.argv[3])
assert len(x) == len(t) == len(r) == 10000, (len(x), len(t), len(r))
worst = max(abs(x[i] - t[i] - r[i]) for i in range(10000))
if worst > 2:
    print("largest |x - t - r| in 16-bit steps:", worst)
    sys.exit(1)
PY

say "an M4A cut short (index at the front) is processed for what it holds"
if command -v ffmpeg >/dev/null 2>&1; then
    sox -q -n -r 48000 -c 1 -b 16 whole/tone48.wav synth 1.3 sine 440 vol 0.5
    ffmpeg -nostdin -loglevel error -y -i whole/tone48.wav -c:a aac -movflags +faststart whole/tone.m4a
    mkdir in_m4a
    head -c $(( $(stat -c %s whole/tone.m4a) * 6 / 10 )) whole/tone.m4a >in_m4a/cut.m4a
    ss --json in_m4a -o out_m4a
    assert_rc 0
    assert_err 'cut\.m4a: the file is shorter than its header says: 62400 frames promised, [0-9]+ read'
    got=$(json_query "$OUT" '[e["frames"] for e in ev if e["event"]=="done"][0]')
    [ "$got" -gt 0 ] && [ "$got" -lt 62400 ] || fail "cut.m4a: $got frames read"
    assert_pair out_m4a cut wav "$got"
else
    echo "   (no ffmpeg program to make the M4A: case not checked)"
fi
