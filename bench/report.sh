#!/bin/sh
# What --report costs: peak RSS and time of `samsep -e dsp -p speech` on
# generated 48 kHz stereo files (the bundled example looped, as in
# speed.sh), without and with --report, runs alternated, pinned to one core.
#
# Peak RSS is wait4's ru_maxrss of the whole command (bench/runstat.c):
# samsep and the samsep-picture it runs after the file, whichever is larger;
# "own" is samsep's alone (peak_rss_kib of the --json summary).
#
#   sh bench/report.sh [MINUTES...]      default: 1 60; REPEAT=2 runs each
set -eu
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target samsep_cli samsep_picture runstat >/dev/null
mkdir -p bench/data bench/results
MINUTES=${*:-"1 60"}
REPEAT=${REPEAT:-2}
SRC=examples/speech_in_noise.flac

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), load $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-14s %-8s %8s %8s %12s %12s\n" file mode wall_s cpu_s peak_rss_KiB own_rss_KiB
for m in $MINUTES; do
    f=bench/data/L${m}_2ch.wav
    if [ ! -f "$f" ]; then
        # channel 2 is channel 1 delayed by 0.37 s, so they differ
        sox "$SRC" -b 16 "$f" remix 1 1 delay 0 0.37 repeat $((m * 60 / 11 + 1)) trim 0 $((m * 60))
    fi
    i=0
    while [ "$i" -lt "$REPEAT" ]; do
        for mode in plain report; do
            out=bench/results/report_out
            rep=bench/results/report_page
            rm -rf "$out" "$rep"
            set -- ./build/samsep -q --json "$f" -o "$out"
            [ "$mode" = report ] && set -- "$@" --report "$rep"
            stat=$(taskset -c 0 ./build/runstat "$@" 2>&1 >bench/results/report.json | tail -1)
            own=$(sed -n 's/.*"peak_rss_kib":\([0-9]*\).*/\1/p' bench/results/report.json)
            echo "$stat" | awk -v f="$(basename "$f")" -v mode="$mode" -v own="$own" '{
                for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
                printf "%-14s %-8s %8.2f %8.2f %12d %12d\n", f, mode, v["wall_s"], v["cpu_s"], v["maxrss_kib"], own
            }'
            if [ "$mode" = report ] && [ ! -s "$rep/index.html" ]; then
                echo "no report was written" >&2
                exit 1
            fi
        done
        i=$((i + 1))
    done
done
rm -rf bench/results/report_out bench/results/report_page bench/results/report.json
