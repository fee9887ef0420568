#!/usr/bin/env bash
# Inputs libsndfile cannot read go through FFmpeg's libraries: files made
# here by the ffmpeg program (AAC in .m4a, Opus in .webm, an .mp4 with a
# video and an audio stream, an .m4a with two audio streams, raw AAC, WMA)
# are found by a folder scan, processed, and come out as long as the source:
# exactly, where the container records the codec's priming and end padding
# (MP4's edit list, WebM's CodecDelay and DiscardPadding), and within 2048
# frames (two AAC frames: 1024 of priming and less than one frame of
# padding; one WMA frame) where it records nothing (raw .aac, .wma). The
# dsp engine subtracts, so target + residual is the mixture as FFmpeg
# decodes it. Of two audio streams the first is used and the run says so.
# A corrupt .m4a (cut before its index, or its audio data overwritten) is
# one failure with a clear reason and the batch goes on; a
# file FFmpeg reads whose tags say samsep wrote it is skipped; --formats
# lists what this build reads.
. "$(dirname "$0")/lib.sh"
need ffmpeg

ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }

# wavio.read(PATH) -> (rate, channels, interleaved samples as floats), for
# 16-bit and float WAV (plain or WAVE_FORMAT_EXTENSIBLE).
cat >wavio.py <<'EOF'
import struct
def read(path):
    b = open(path, "rb").read()
    assert b[:4] == b"RIFF" and b[8:12] == b"WAVE", path
    pos, fmt, data = 12, None, None
    while pos + 8 <= len(b):
        cid, size = b[pos:pos + 4], struct.unpack("<I", b[pos + 4:pos + 8])[0]
        body = b[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            tag, ch, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
            if tag == 0xFFFE:
                tag = struct.unpack("<H", body[24:26])[0]
            fmt = (tag, ch, rate, bits)
        elif cid == b"data":
            data = body
        pos += 8 + size + (size & 1)
    tag, ch, rate, bits = fmt
    if tag == 3 and bits == 32:
        x = struct.unpack("<%df" % (len(data) // 4), data)
    elif tag == 1 and bits == 16:
        x = [v / 32768.0 for v in struct.unpack("<%dh" % (len(data) // 2), data)]
    else:
        raise ValueError(f"{path}: format {tag}, {bits} bits")
    return rate, ch, list(x)
EOF

say "make the inputs with the ffmpeg program"
N=62400 # 1.3 s at 48 kHz
sox -q -n -r 48000 -c 2 -b 16 src.wav synth 1.3 sine 440 sine 660 synth 1.3 pinknoise mix vol 0.4
sox -q -n -r 48000 -c 1 -b 16 other.wav synth 0.7 sine 1500 vol 0.4
assert_eq "$(frames src.wav)" $N "frames of the source"
mkdir in
ff -i src.wav -c:a aac -b:a 128k in/music.m4a
ff -i src.wav -c:a libopus -b:a 96k in/voice.webm
ff -f lavfi -i testsrc=size=64x48:rate=10:duration=1.3 -i src.wav \
    -map 0:v -map 1:a -c:v mpeg4 -c:a aac in/clip.mp4
ff -i src.wav -i other.wav -map 0:a -map 1:a -c:a aac in/two_streams.m4a
ff -i src.wav -c:a aac in/raw.aac
ff -i src.wav -c:a wmav2 in/old.wma
ff -i src.wav -c:a flac -metadata software="samsep 0.1.0" in/renamed_output.mka
head -c 4000 in/music.m4a >in/corrupt.m4a  # no moov: cannot be opened
# damaged.m4a: its header intact, its audio data overwritten with noise
python3 - in/music.m4a in/damaged.m4a <<'EOF'
import random, sys
b = bytearray(open(sys.argv[1], "rb").read())
i = b.index(b"mdat") + 4
rnd = random.Random(3)
for k in range(i, i + 15000):
    b[k] = rnd.randrange(256)
open(sys.argv[2], "wb").write(b)
EOF
printf 'not audio\n' >in/notes.txt
ls -l in

say "a folder scan plans every one of them (and skips notes.txt)"
ss --dry-run in -o out
assert_rc 0
for f in music.m4a voice.webm clip.mp4 two_streams.m4a raw.aac old.wma corrupt.m4a damaged.m4a; do
    assert_out "^(process|fail) in/$f"
done
assert_out '^skip in/renamed_output\.mka: written by samsep'
assert_out '^skip in/notes\.txt: not audio'

say "the run: each processed, the corrupt ones failed with their reason, exit 1"
ss --json -v --log-dir "$T/logs" in -o out
assert_rc 1
json_lines "$OUT"
assert_err 'FAILED in/corrupt\.m4a: .*FFmpeg: cannot open: .*moov atom not found'
assert_err 'FAILED in/damaged\.m4a: .*FFmpeg \(mov\): decoding failed after 0 frames'
[ -z "$(find out -name '*corrupt*' -o -name '*damaged*' | grep -v samsep-lock)" ] ||
    fail "outputs of a failed input: $(find out -name '*corrupt*' -o -name '*damaged*')"
assert_eq "$(json_query "$OUT" 'sorted(e["input"].split("/")[-1] for e in ev if e["event"]=="done")' | tr '\n' ' ')" \
    "clip.mp4 music.m4a old.wma raw.aac two_streams.m4a voice.webm " "inputs done"
assert_eq "$(json_query "$OUT" '[(e["processed"], e["failed"]) for e in ev if e["event"]=="summary"][0]')" \
    "(6, 2)" "summary (processed, failed)"

say "lengths: exact where the container records priming and padding"
for s in music voice clip two_streams; do
    assert_pair out "$s" wav $N
done
for s in raw old; do
    assert_pair out "$s" wav
    n=$(frames "out/${s}_target.wav")
    d=$((n - N))
    [ "${d#-}" -le 2048 ] || fail "$s: $n frames, more than 2048 from $N"
    echo "   $s: $n frames ($d from the source)"
done

say "the first of two audio streams is used, and the run says so"
note=$(json_query "$OUT" '[e.get("note","") for e in ev if e["event"]=="done" and e["input"].endswith("two_streams.m4a")][0]')
echo "   note: $note"
[[ $note == *"2 audio streams"*"stream #0"* ]] || fail "no note on the stream used: '$note'"
assert_grep "$(find "$T/logs" -type f)" 'note on in/two_streams\.m4a: 2 audio streams' "the log"
python3 - src.wav other.wav out/two_streams_target.wav out/two_streams_residual.wav <<'EOF' || fail "the outputs are not the first stream"
import sys
sys.path.insert(0, ".")
from wavio import read
src, other = read(sys.argv[1]), read(sys.argv[2])
t, r = read(sys.argv[3]), read(sys.argv[4])
assert t[1] == 2, "stereo: the first stream's channels"
mix = [a + b for a, b in zip(t[2], r[2])]
def corr(x, y):
    n = min(len(x), len(y))
    sxy = sum(x[i] * y[i] for i in range(n))
    sxx = sum(x[i] * x[i] for i in range(n))
    syy = sum(y[i] * y[i] for i in range(n))
    return sxy / (sxx * syy) ** 0.5
c = corr(mix[0::2], src[2][0::2])
print(f"   correlation of the output with the first stream: {c:.3f}")
assert c > 0.9, c
EOF

say "target + residual = the mixture as FFmpeg decodes it"
for f in music.m4a voice.webm clip.mp4; do
    s=${f%.*}
    ff -i "in/$f" -map 0:a:0 -c:a pcm_f32le "dec_$s.wav"
    python3 - "dec_$s.wav" "out/${s}_target.wav" "out/${s}_residual.wav" $N <<'EOF' || fail "$f: target + residual is not the mixture"
import sys
sys.path.insert(0, ".")
from wavio import read
x, t, r = read(sys.argv[1]), read(sys.argv[2]), read(sys.argv[3])
n = int(sys.argv[4]) * t[1]
assert len(t[2]) == len(r[2]) == n
# the ffmpeg program does not trim MP4's end padding: it decodes more frames
assert len(x[2]) >= n, (len(x[2]), n)
worst = max(abs(x[2][i] - t[2][i] - r[2][i]) for i in range(n))
print(f"   {sys.argv[1]}: largest |mixture - target - residual| = {worst:.2e}")
assert worst < 1e-5, worst
EOF
done

say "--formats lists what this build reads"
ss --formats
assert_rc 0
assert_out 'libsndfile'
assert_out 'FFmpeg'
for e in m4a mp4 webm mkv wma aac; do
    assert_out "(^| )$e( |$)"
done
assert_out 'Opus'
assert_no_grep "$ERR" '.' "stderr of --formats"

say "a concat script or a playlist is not followed to the files it names"
mkdir lists
cp src.wav lists/named.wav
printf 'ffconcat version 1.0\nfile named.wav\n' >lists/list.ffconcat
printf '#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:1.3,\nnamed.wav\n#EXT-X-ENDLIST\n' >lists/list.m3u8
ss lists/list.ffconcat lists/list.m3u8 -o out_lists
assert_rc 1
assert_err 'FAILED lists/list\.ffconcat: '
assert_err 'FAILED lists/list\.m3u8: '
assert_eq "$(count_files out_lists '*')" 0 "outputs made from a list"
