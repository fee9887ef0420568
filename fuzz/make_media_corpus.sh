#!/bin/sh
# Write the seed corpus of fuzz_ffmpeg_reader: tiny files made by the ffmpeg
# program, one per container the FFmpeg reader is for, each prefixed with the
# harness's selector byte (extension index, plus 10 for the whole
# audio_reader; see fuzz/fuzz_ffmpeg_reader.c).
#
#     sh fuzz/make_media_corpus.sh
set -eu
cd "$(dirname "$0")"
out=corpus/ffmpeg_reader
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
ff -f lavfi -i "sine=frequency=440:sample_rate=8000:duration=0.1" "$tmp/src.wav"

# seed NAME SELECTOR FILE
seed() { { printf "\\$(printf %o "$2")"; cat "$3"; } >"$out/$1"; }

ff -i "$tmp/src.wav" -c:a aac -b:a 16k "$tmp/a.m4a"
seed aac-m4a 0 "$tmp/a.m4a"
seed aac-m4a-dispatch 10 "$tmp/a.m4a"
ff -f lavfi -i "color=size=16x16:rate=5:duration=0.2" -i "$tmp/src.wav" \
   -c:v mpeg4 -c:a aac -b:a 16k "$tmp/v.mp4"
seed video-mp4 1 "$tmp/v.mp4"
ff -i "$tmp/src.wav" -c:a libopus -b:a 16k "$tmp/o.webm"
seed opus-webm 2 "$tmp/o.webm"
ff -i "$tmp/src.wav" -c:a flac "$tmp/f.mkv"
seed flac-mkv 3 "$tmp/f.mkv"
ff -i "$tmp/src.wav" -i "$tmp/src.wav" -map 0:a -map 1:a -c:a libvorbis "$tmp/two.mkv"
seed two-vorbis-mkv 13 "$tmp/two.mkv"
ff -i "$tmp/src.wav" -c:a wmav2 -b:a 24k "$tmp/w.wma"
seed wma 4 "$tmp/w.wma"
ff -i "$tmp/src.wav" -c:a aac -b:a 16k "$tmp/r.aac"
seed adts-aac 5 "$tmp/r.aac"
ff -i "$tmp/src.wav" -c:a mp2 -b:a 32k -f mpegts "$tmp/t.ts"
seed mp2-ts 6 "$tmp/t.ts"
ls -l "$out"
