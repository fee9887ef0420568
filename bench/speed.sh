#!/bin/sh
# Speed and memory of `samsep -e dsp -p speech` on generated 48 kHz files:
# 1-, 10- and 60-minute stereo, and 10-minute mono, each pinned to one core.
# Prints x-real-time (audio seconds / wall seconds, start-up and file I/O
# included) and peak RSS. Files go to bench/data (about 1 GB for 60 minutes;
# outputs are deleted after each run).
#
#   sh bench/speed.sh [MINUTES...]      default: 1 10 60
set -eu
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target samsep_cli runstat >/dev/null
mkdir -p bench/data bench/results
MINUTES=${*:-"1 10 60"}
SRC=examples/speech_in_noise.flac   # 11.7 s of speech in noise, looped
REPEAT_FOR() { echo $(( $1 * 60 / 11 + 1 )); }

printf "%-22s %9s %9s %10s %12s\n" file audio_s wall_s x_realtime peak_rss_MiB
for m in $MINUTES; do
    for ch in 2 1; do
        [ "$ch" = 1 ] && [ "$m" != 10 ] && continue   # mono: the 10-minute file
        f=bench/data/L${m}_${ch}ch.wav
        if [ ! -f "$f" ]; then
            if [ "$ch" = 2 ]; then
                # channel 2 is channel 1 delayed by 0.37 s, so they differ
                sox "$SRC" -b 16 "$f" remix 1 1 delay 0 0.37 repeat "$(REPEAT_FOR "$m")" trim 0 "$((m * 60))"
            else
                sox "$SRC" -b 16 "$f" repeat "$(REPEAT_FOR "$m")" trim 0 "$((m * 60))"
            fi
        fi
        out=bench/results/speed_out
        rm -rf "$out"
        stat=$(taskset -c 0 ./build/runstat ./build/samsep -q "$f" -o "$out" 2>&1 >/dev/null | tail -1)
        wall=$(echo "$stat" | sed 's/.*wall_s=\([0-9.]*\).*/\1/')
        rss=$(echo "$stat" | sed 's/.*maxrss_kib=\([0-9]*\).*/\1/')
        secs=$((m * 60))
        awk -v f="$(basename "$f")" -v s="$secs" -v w="$wall" -v r="$rss" \
            'BEGIN { printf "%-22s %9d %9.2f %10.1f %12.1f\n", f, s, w, s / w, r / 1024 }'
        rm -rf "$out"
    done
done
