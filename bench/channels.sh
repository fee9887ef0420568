#!/bin/sh
# What --channels keep costs against --channels mono: engines that work in
# mono on a generated 48 kHz stereo 16-bit file. Keep adds the mask stage
# (an STFT of the mono mixture, of the mono target and of each channel at
# the file's rate) and writes twice the samples. Engines:
#   - exec with the C gain worker asking for mono (examples/exec_gain_worker.c,
#     10 s chunks, 1 s overlap): next to no separation work, so the stage's
#     own cost shows whole; on a MINUTES-minute file (default 10);
#   - sam-audio with the tiny reference model the tests unpack
#     (build/tests/samref), when it is there: a real model's chunking and
#     residual; on a SAM_SECONDS-second file (default 60).
# Prints, for each engine and setting, the best of 3 runs: wall seconds,
# x-real-time, CPU seconds and peak RSS (bench/runstat.c), and keep / mono.
#
#   sh bench/channels.sh [MINUTES]
set -eu
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target samsep_cli runstat exec_gain_worker >/dev/null
mkdir -p bench/data bench/results
M=${1:-10}
S=${SAM_SECONDS:-60}
REF=build/tests/samref
out=bench/results/channels_out

gen() { # FILE SECONDS: a tone on the left, pink noise on the right
    [ -f "$1" ] && return 0
    sox -q -n -r 48000 -c 1 -b 16 "$1.l.wav" synth "$2" sine 440 vol 0.5
    sox -R -q -n -r 48000 -c 1 -b 16 "$1.r.wav" synth "$2" pinknoise vol 0.5
    sox -q -M "$1.l.wav" "$1.r.wav" "$1"
    rm -f "$1.l.wav" "$1.r.wav"
}

# best ENGINE-ARGS...: the best of 3 runs as "wall cpu rss_mib"
best() {
    b=""
    for run in 1 2 3; do
        rm -rf "$out"
        stat=$(./build/runstat ./build/samsep -q --log-dir bench/results "$@" -o "$out" \
            2>&1 >/dev/null | tail -1)
        case $stat in *status=0*) ;; *) echo "failed: $stat" >&2; exit 1 ;; esac
        w=$(echo "$stat" | sed 's/.*wall_s=\([0-9.]*\).*/\1/')
        c=$(echo "$stat" | sed 's/.*cpu_s=\([0-9.]*\).*/\1/')
        r=$(echo "$stat" | sed 's/.*maxrss_kib=\([0-9]*\).*/\1/')
        if [ -z "$b" ] || awk -v a="$w" -v b="${b%% *}" 'BEGIN { exit !(a < b) }'; then
            b="$w $c $(awk -v r="$r" 'BEGIN { printf "%.1f", r / 1024 }')"
        fi
    done
    rm -rf "$out"
    echo "$b"
}

row() { # LABEL SECONDS KEEP MONO
    set -- "$1" "$2" $3 $4
    awk -v l="$1" -v s="$2" -v kw="$3" -v kc="$4" -v kr="$5" -v mw="$6" -v mc="$7" -v mr="$8" \
        'BEGIN { printf "%-34s %6d  keep %7.2f s %7.1fx %7.2f cpu %6.1f MiB | mono %7.2f s %7.1fx %7.2f cpu %6.1f MiB | keep/mono %.3f\n",
                 l, s, kw, s / kw, kc, kr, mw, s / mw, mc, mr, kw / mw }'
}

echo "$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg)"
f=bench/data/channels_${M}min_48k_stereo.wav
gen "$f" "$((M * 60))"
w="$PWD/build/exec-gain-worker --mono --gain 0.5 --chunk 10 --overlap 1"
row "exec gain worker (mono), ${M} min" "$((M * 60))" \
    "$(best -e exec --worker "$w" --channels keep "$f")" \
    "$(best -e exec --worker "$w" --channels mono "$f")"
if [ -f "$REF/full/checkpoint.pt" ]; then
    model=bench/data/samref_model
    mkdir -p "$model/t5"
    ln -sf "$PWD/$REF/full/config.json" "$PWD/$REF/full/checkpoint.pt" "$model/"
    ln -sf "$PWD/$REF/t5/config.json" "$PWD/$REF/t5/model.safetensors" \
        "$PWD/$REF/tokenizer/spiece.model" "$model/t5/"
    f=bench/data/channels_${S}s_48k_stereo.wav
    gen "$f" "$S"
    row "sam-audio tiny model, ${S} s" "$S" \
        "$(best -e sam-audio --model "$model" -p tone --channels keep "$f")" \
        "$(best -e sam-audio --model "$model" -p tone --channels mono "$f")"
else
    echo "(no $REF: build the tests for the sam-audio row)"
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
