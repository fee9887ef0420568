#!/bin/sh
# Planning time and memory over large folders: `samsep --dry-run -r` over
# generated folders of 10 000 and 100 000 small WAV files (10 ms each, so
# planning, not decoding, is measured), flat (one folder) and nested (leaf
# folders of 100 files, ten to a parent). A dry run does all a real run does
# before its first output: scan, stat and open every file (header and tags:
# outputs are recognised by their tags), deduplicate, name, check what is
# done and what an output would replace. Prints the wall time (median of
# RUNS runs), CPU time and peak RSS of each, and the 100k/10k ratio.
# Folders go to bench/data/plan (about 900 MB of small files, kept for
# re-runs).
#
#   sh bench/plan.sh [SIZES...]        default: 10000 100000
#   RUNS=5 SAMSEP=/other/build/samsep sh bench/plan.sh   (another build)
set -eu
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target samsep_cli runstat >/dev/null
SIZES=${*:-"10000 100000"}
RUNS=${RUNS:-3}
SAMSEP=${SAMSEP:-./build/samsep}
DATA=bench/data/plan
mkdir -p "$DATA" bench/results

# make LAYOUT N: the folder of N files, made once.
make() {
    dir=$DATA/$1_$2
    [ -f "$dir/.complete" ] && return 0
    rm -rf "$dir"
    python3 - "$1" "$2" "$dir" <<'EOF'
import os, struct, sys
layout, n, root = sys.argv[1], int(sys.argv[2]), sys.argv[3]
frames = 160  # 10 ms at 16 kHz, mono 16-bit
data = b"".join(struct.pack("<h", (i * 37) % 2000 - 1000) for i in range(frames))
wav = (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " +
       struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16) +
       b"data" + struct.pack("<I", len(data)) + data)
for i in range(n):
    d = root if layout == "flat" else os.path.join(
        root, "d%03d" % (i // 1000), "s%d" % (i // 100 % 10))
    if i % 100 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "rec%06d.wav" % i), "wb") as f:
        f.write(wav)
EOF
    : >"$dir/.complete"
}

# measure LAYOUT N: "wall cpu rss_kib" (median wall of RUNS runs; the cpu and
# rss of that run). The output folder exists (empty), so every input's
# outputs are looked for, as in a re-run; a first run skips that.
measure() {
    dir=$DATA/$1_$2
    rm -rf bench/results/plan_out
    mkdir -p bench/results/plan_out
    i=0
    while [ "$i" -lt "$RUNS" ]; do
        ./build/runstat "$SAMSEP" --dry-run -r "$dir" -o bench/results/plan_out \
            2>&1 >/dev/null | tail -1 |
            sed 's/.*wall_s=\([0-9.]*\) cpu_s=\([0-9.]*\) maxrss_kib=\([0-9]*\) status=\([0-9]*\).*/\1 \2 \3 \4/'
        i=$((i + 1))
    done | sort -n | awk -v runs="$RUNS" '
        $4 != 0 { print "samsep failed" > "/dev/stderr"; exit 1 }
        NR == int((runs + 1) / 2) { print $1, $2, $3 }'
}

printf "%-8s %8s %8s %8s %12s\n" layout files wall_s cpu_s peak_rss_MiB
for layout in flat nested; do
    first=
    for n in $SIZES; do
        make "$layout" "$n"
        set -- $(measure "$layout" "$n")
        printf "%-8s %8d %8.2f %8.2f %12.1f\n" "$layout" "$n" "$1" "$2" "$(echo "$3" | awk '{ print $1 / 1024 }')"
        if [ -z "$first" ]; then
            first=$1
            first_n=$n
        else
            awk -v a="$first" -v b="$1" -v na="$first_n" -v nb="$n" 'BEGIN {
                printf "%-8s %8s  %.1fx the time for %.0fx the files\n", "", "", b / a, nb / na }'
        fi
    done
done
printf "load average: %s\n" "$(cut -d' ' -f1-3 /proc/loadavg)"
