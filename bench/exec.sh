#!/bin/sh
# Overhead of the exec engine's worker protocol: samsep with a pass-through
# worker (examples/exec_gain_worker.c at gain 1, 10 s chunks, 1 s overlap)
# on a generated 48 kHz stereo 16-bit file, 10 minutes by default. Every
# sample goes to the worker and back through pipes, and through the whole
# pipeline (read, chunk, crossfade, write both outputs, fsync, rename).
# Prints, for each of 3 runs, x-real-time (audio seconds / wall seconds,
# start-up, worker start and file I/O included), the CPU seconds of samsep
# and its worker together, and samsep's own peak RSS; then the best run.
# Fails when the best run is under 200x real time.
#
#   sh bench/exec.sh [MINUTES]
set -eu
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target samsep_cli runstat exec_gain_worker >/dev/null
mkdir -p bench/data bench/results
M=${1:-10}
f=bench/data/exec_${M}min_48k_stereo.wav
[ -f "$f" ] || sox -q -n -r 48000 -c 2 -b 16 "$f" synth "$((M * 60))" pinknoise vol 0.5 \
    remix 1 1 delay 0 0.37
secs=$((M * 60))
out=bench/results/exec_out
best=0
echo "$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs"
printf "%-28s %9s %9s %8s %11s %12s\n" file audio_s wall_s cpu_s x_realtime samsep_rss_MiB
for run in 1 2 3; do
    rm -rf "$out"
    stat=$(./build/runstat ./build/samsep -q --json -e exec \
        --worker "$PWD/build/exec-gain-worker --gain 1 --chunk 10 --overlap 1" \
        --log-dir bench/results "$f" -o "$out" 2>&1 >bench/results/exec.jsonl | tail -1)
    wall=$(echo "$stat" | sed 's/.*wall_s=\([0-9.]*\).*/\1/')
    cpu=$(echo "$stat" | sed 's/.*cpu_s=\([0-9.]*\).*/\1/')
    rss=$(sed -n 's/.*"peak_rss_kib":\([0-9]*\).*/\1/p' bench/results/exec.jsonl)
    x=$(awk -v s="$secs" -v w="$wall" 'BEGIN { printf "%.1f", s / w }')
    awk -v f="$(basename "$f")" -v s="$secs" -v w="$wall" -v c="$cpu" -v x="$x" -v r="$rss" \
        'BEGIN { printf "%-28s %9d %9.2f %8.2f %11s %12.1f\n", f, s, w, c, x, r / 1024 }'
    best=$(awk -v a="$best" -v b="$x" 'BEGIN { print (b > a ? b : a) }')
done
rm -rf "$out"
echo "best: ${best}x real time (required: 200x)"
awk -v b="$best" 'BEGIN { exit !(b >= 200) }'
