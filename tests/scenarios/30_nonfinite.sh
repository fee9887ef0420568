#!/usr/bin/env bash
# Non-finite input samples: a float WAV with a NaN at sample 1000 and
# infinities elsewhere is processed by the dsp engine; the NaN and the
# infinities are replaced by 0 before the engine sees them, so both outputs
# (float and 16-bit) are finite and as long as the input, nothing is counted
# as clamped, and the count of replaced samples is reported once on stderr,
# in the --json done event and in the run's log.
. "$(dirname "$0")/lib.sh"

# float_wav FILE: 1.5 s of 16 kHz mono float speech-like noise with a NaN at
# sample 1000, +inf at 5000 and -inf at 12345.
float_wav() {
    python3 - "$1" <<'EOF'
import math, random, struct, sys
rate, n = 16000, 24000
random.seed(7)
x = [0.3 * math.sin(2 * math.pi * 220 * i / rate) + 0.1 * (random.random() - 0.5)
     for i in range(n)]
x[1000] = float("nan")
x[5000] = float("inf")
x[12345] = float("-inf")
data = struct.pack("<%df" % n, *x)
fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
with open(sys.argv[1], "wb") as f:
    f.write(b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data)) + b"WAVE")
    f.write(b"fmt " + struct.pack("<I", len(fmt)) + fmt)
    f.write(b"data" + struct.pack("<I", len(data)) + data)
EOF
}

# check_finite FILE FRAMES: FILE is a WAV (PCM or float) of FRAMES frames
# whose samples are all finite.
check_finite() {
    python3 - "$1" "$2" <<'EOF' || fail "$1 is not finite or not $2 frames long"
import math, struct, sys
b = open(sys.argv[1], "rb").read()
assert b[:4] == b"RIFF" and b[8:12] == b"WAVE", "not a RIFF WAV"
pos, fmt, data = 12, None, None
while pos + 8 <= len(b):
    cid, size = b[pos:pos + 4], struct.unpack("<I", b[pos + 4:pos + 8])[0]
    body = b[pos + 8:pos + 8 + size]
    if cid == b"fmt ":
        fmt = struct.unpack("<HHIIHH", body[:16])
        if fmt[0] == 0xFFFE:  # WAVE_FORMAT_EXTENSIBLE: the sub-format's tag
            fmt = (struct.unpack("<H", body[24:26])[0],) + fmt[1:]
    elif cid == b"data":
        data = body
    pos += 8 + size + (size & 1)
tag, ch, rate, _, align, bits = fmt
frames = len(data) // align
if frames != int(sys.argv[2]):
    print(f"{sys.argv[1]}: {frames} frames, expected {sys.argv[2]}")
    sys.exit(1)
if bits == 32 and tag == 3:
    v = struct.unpack("<%df" % (len(data) // 4), data)
    bad = sum(1 for s in v if not math.isfinite(s))
    if bad:
        print(f"{sys.argv[1]}: {bad} non-finite samples")
        sys.exit(1)
    peak = max(abs(s) for s in v)
    if peak == 0:
        print(f"{sys.argv[1]}: all zero")
        sys.exit(1)
EOF
}

say "make a float WAV with a NaN at sample 1000 and two infinities"
mkdir in
float_wav in/bad.wav
assert_eq "$(frames in/bad.wav)" 24000 "frames of the input"

for sub in float pcm16; do
    say "dsp engine, --subtype $sub: finite outputs of full length, 3 samples reported"
    ss --json --log-dir "$T/logs_$sub" --subtype "$sub" in/bad.wav -o "out_$sub"
    assert_rc 0
    json_lines "$OUT"
    assert_pair "out_$sub" bad wav 24000
    check_finite "out_$sub/bad_target.wav" 24000
    check_finite "out_$sub/bad_residual.wav" 24000
    assert_eq "$(json_query "$OUT" '[e["nonfinite"] for e in ev if e["event"]=="done"][0]')" 3 \
        "nonfinite in the done event"
    assert_eq "$(json_query "$OUT" '[e["clipped"] for e in ev if e["event"]=="done"][0]')" 0 \
        "clipped in the done event (a NaN is not a clamped sample)"
    assert_eq "$(grep -c 'non-finite' "$ERR")" 1 "non-finite warnings on stderr"
    assert_err 'bad\.wav: 3 non-finite input sample'
    assert_grep "$(find "$T/logs_$sub" -type f)" '3 non-finite input samples replaced by 0' "the log"
done

say "the replaced samples are zeros: target + residual is the mixture with 0 there"
python3 - out_float/bad_target.wav out_float/bad_residual.wav <<'EOF' || fail "target + residual is not the zeroed mixture"
import math, struct, sys
def floats(p):
    b = open(p, "rb").read()
    i = b.index(b"data")
    n = struct.unpack("<I", b[i + 4:i + 8])[0]
    return struct.unpack("<%df" % (n // 4), b[i + 8:i + 8 + n])
t, r = floats(sys.argv[1]), floats(sys.argv[2])
for k in (1000, 5000, 12345):
    if abs(t[k] + r[k]) > 1e-6:
        print(f"sample {k}: target {t[k]} + residual {r[k]} != 0")
        sys.exit(1)
EOF

say "a clean file reports 0 and no warning"
tone in2/clean.wav 0.5 16000
ss --json in2/clean.wav -o out_clean
assert_rc 0
assert_eq "$(json_query "$OUT" '[e["nonfinite"] for e in ev if e["event"]=="done"][0]')" 0 \
    "nonfinite of a clean file"
assert_no_grep "$ERR" 'non-finite' "stderr"
