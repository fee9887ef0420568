#!/bin/sh
# SAM-Audio engine on the CPU: speed per 10 s chunk and per stage, achieved
# GFLOP/s against the machine's measured sgemm peak, and peak RSS, with
# random weights at the published `small` size (DiT 1024 x 8 heads x 12
# layers, full DAC-VAE, T5-base). See bench/sam/RESULTS.md.
#
#   sh bench/sam/run.sh
#
# Environment (defaults in brackets):
#   THREADS [2]      worker threads (bench_sam --threads, samsep --threads)
#   CHUNKS [2]       consecutive chunks through sam_separate for the RSS check
#   CLI [1]          also run the samsep CLI (engine path) with runstat:
#                    `small` on an 18 s input (2 chunks of 10 s, overlap 2),
#                    and the tiny model on SHORT_S and LONG_S inputs to show
#                    the engine's memory does not grow with the file
#   SHORT_S [30]  LONG_S [120]
#   BASE [0]         1: also generate (5.5 GB) and time the `base` size
#   SCALING [1]      1: the work units of each stage at `small` and `large`
#                    (counted from the configurations; large's 12 GB of
#                    weights are not written), and one chunk through
#                    sam_separate on 1 thread, on THREADS threads, and on
#                    THREADS threads decoding only the target (what
#                    --residual subtract runs), with wall and CPU seconds
#   SIZE [small]     the preset benchmarked (tiny-check: a 2-minute dry run
#                    of the whole script)
#   ROUNDS [3]       sgemm / DiT-evaluation pairs measured back to back
#   BUILD [build-bench]  CMake build folder (RelWithDebInfo, tests off)
#   SAMREF [the project's tests/data/samref.tar.xz, unpacked into BUILD]
#                    reference files the tiny-check compares against
#
# Generated models go to bench/data/sam-<preset>/ (git-ignored; small is
# 1.7 GB), logs to bench/results/sam/. A run takes about 12 minutes on an
# idle 2-core machine, 20-25 under a load of 4.
set -eu
cd "$(dirname "$0")/../.."
THREADS=${THREADS:-2}
CHUNKS=${CHUNKS:-2}
CLI=${CLI:-1}
SHORT_S=${SHORT_S:-30}
LONG_S=${LONG_S:-120}
BASE=${BASE:-0}
SCALING=${SCALING:-1}
SIZE=${SIZE:-small}
ROUNDS=${ROUNDS:-3}
BUILD=${BUILD:-build-bench}
OUT=bench/results/sam
mkdir -p bench/data "$OUT"
# The tiny-check compares against the reference model's key lists and takes
# its tokenizer from the reference files the project carries
# (tests/data/samref.tar.xz; SAMREF=folder to use another copy).
if [ -n "${SAMREF:-}" ]; then
    REF=$SAMREF
else
    REF=$BUILD/samref
    mkdir -p "$REF"
    archive=$(pwd)/tests/data/samref.tar.xz
    (cd "$REF" && cmake -E tar xf "$archive" \
        full/checkpoint_keys.tsv t5/model.safetensors tokenizer/spiece.model)
fi
SPM=$REF/tokenizer/spiece.model

echo "== machine"
grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'
echo "cores: $(nproc), memory: $(free -g | awk '/Mem:/ {print $2}') GiB"
echo "uptime: $(uptime)"
df -h /work 2>/dev/null | tail -1 || true

echo "== build ($BUILD)"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSAMSEP_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target samsep samsep_cli runstat >/dev/null
CFLAGS_B="-std=c11 -O2 -g -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
  -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L"
# shellcheck disable=SC2086
cc $CFLAGS_B bench/sam/mkweights.c -o "$BUILD/mkweights" -lm
# shellcheck disable=SC2086,SC2046
cc $CFLAGS_B $(pkg-config --cflags openblas libcjson) -I include -I src \
   bench/sam/bench_sam.c "$BUILD/libsamsep.a" \
   $(pkg-config --libs sndfile soxr fftw3f openblas libcjson) -lpthread -lm \
   -o "$BUILD/bench_sam"
MK=$BUILD/mkweights
BS=$BUILD/bench_sam

echo "== tiny-check: the generator against the reference model's key list"
TINY=bench/data/sam-tiny-check
rm -rf "$TINY"
"$MK" tiny-check "$TINY" --spm "$SPM" >/dev/null
"$BS" --keys "$TINY/checkpoint.safetensors" | sort >"$OUT/tiny_keys.txt"
tail -n +2 "$REF/full/checkpoint_keys.tsv" | cut -f1,2 | sort >"$OUT/ref_keys.txt"
if cmp -s "$OUT/tiny_keys.txt" "$OUT/ref_keys.txt"; then
    echo "checkpoint: $(wc -l <"$OUT/ref_keys.txt") keys, names and shapes identical to full/checkpoint_keys.tsv"
else
    echo "checkpoint keys DIFFER from full/checkpoint_keys.tsv:"
    diff "$OUT/tiny_keys.txt" "$OUT/ref_keys.txt" | head -20
    exit 1
fi
"$BS" --keys "$TINY/t5/model.safetensors" | sort >"$OUT/tiny_t5_keys.txt"
"$BS" --keys "$REF/t5/model.safetensors" | sort >"$OUT/ref_t5_keys.txt"
if cmp -s "$OUT/tiny_t5_keys.txt" "$OUT/ref_t5_keys.txt"; then
    echo "t5: $(wc -l <"$OUT/ref_t5_keys.txt") keys, names and shapes identical to t5/model.safetensors"
else
    echo "t5 keys DIFFER from the reference:"
    diff "$OUT/tiny_t5_keys.txt" "$OUT/ref_t5_keys.txt" | head -20
    exit 1
fi
"$BS" --chunks 1 --seconds 2 --model "$TINY" --threads "$THREADS" >"$OUT/tiny_open.txt" 2>&1 ||
    { echo "tiny-check folder does not run through sam_open/sam_separate:"; tail -5 "$OUT/tiny_open.txt"; exit 1; }
echo "tiny-check folder opens with sam_open and separates 2 s"

echo "== sizes"
for p in small base large; do
    "$MK" $p --count | awk -v p=$p '
        /^params_total/ {t = $2} /^params_transformer/ {d = $2} /^params_codec/ {c = $2}
        /^params_t5/ {x = $2} /^bytes_checkpoint/ {b = $2} /^bytes_t5/ {bt = $2}
        END { printf "%-6s params %.1f M (DiT %.1f M, codec %.1f M, T5 %.1f M); weights %.2f GiB (checkpoint %.2f + t5 %.2f)\n",
              p, t / 1e6, d / 1e6, c / 1e6, x / 1e6, (b + bt) / 2^30, b / 2^30, bt / 2^30 }'
done

SMALL=bench/data/sam-$SIZE
if [ ! -f "$SMALL/checkpoint.safetensors" ] || [ ! -f "$SMALL/t5/model.safetensors" ]; then
    echo "== generating $SMALL"
    "$MK" "$SIZE" "$SMALL" --spm "$SPM"
fi

echo "== sgemm peak ($THREADS threads)   [$(uptime | sed 's/.*load/load/')]"
"$BS" --peak --threads "$THREADS" >"$OUT/peak.txt" 2>"$OUT/peak.err"
cat "$OUT/peak.err"

echo "== $SIZE: one 10 s chunk, stage by stage   [$(uptime | sed 's/.*load/load/')]"
"$BS" --stages --rounds "$ROUNDS" --model "$SMALL" --threads "$THREADS" >"$OUT/stages_main.txt" 2>"$OUT/stages_main.err"
cat "$OUT/stages_main.err"

echo "== $SIZE: $CHUNKS consecutive chunks through sam_separate   [$(uptime | sed 's/.*load/load/')]"
"$BS" --chunks "$CHUNKS" --model "$SMALL" --threads "$THREADS" >"$OUT/chunks_main.txt" 2>"$OUT/chunks_main.err"
cat "$OUT/chunks_main.err"

if [ "$CLI" = 1 ]; then
    echo "== samsep CLI (engine path), runstat"
    IN=bench/data/sam-inputs
    mkdir -p "$IN"
    SRC=examples/speech_in_noise.flac
    for s in 18 "$SHORT_S" "$LONG_S"; do
        [ -f "$IN/in${s}s.wav" ] ||
            sox "$SRC" -b 16 -r 48000 "$IN/in${s}s.wav" remix 1 repeat $((s / 11 + 1)) trim 0 "$s"
    done
    cli() { # model seconds
        o=$OUT/cli_out
        rm -rf "$o"
        st=$("$BUILD/runstat" "$BUILD/samsep" -q -e sam-audio --model "$1" -p "a dog barking" \
             --chunk 10 --overlap 2 --threads "$THREADS" "$IN/in${2}s.wav" -o "$o" 2>&1 >/dev/null | tail -1)
        n_in=$(soxi -s "$IN/in${2}s.wav")
        n_out=$(soxi -s "$o/in${2}s_target.wav" 2>/dev/null || echo missing)
        rm -rf "$o"
        echo "$(basename "$1") ${2}s: $st  (input $n_in samples, target $n_out)   [$(uptime | sed 's/.*load/load/')]"
    }
    cli "$SMALL" 18 | tee "$OUT/cli_main.txt"
    cli "$TINY" "$SHORT_S" | tee "$OUT/cli_tiny_short.txt"
    cli "$TINY" "$LONG_S" | tee "$OUT/cli_tiny_long.txt"
fi

if [ "$SCALING" = 1 ]; then
    echo "== work units per stage (from the configurations)"
    LARGE=bench/data/sam-large
    "$MK" large "$LARGE" --config >/dev/null
    "$BS" --units --model "$SMALL" >"$OUT/units_small.txt" 2>"$OUT/units_small.err"
    "$BS" --units --model "$LARGE" >"$OUT/units_large.txt" 2>"$OUT/units_large.err"
    cat "$OUT/units_small.err" "$OUT/units_large.err"
    for t in 1 "$THREADS" "$THREADS --target-only"; do
        echo "== $SIZE: one chunk through sam_separate, --threads $t   [$(uptime | sed 's/.*load/load/')]"
        # shellcheck disable=SC2086
        "$BS" --chunks 1 --model "$SMALL" --threads $t 2>&1 >/dev/null | grep '^chunk'
    done
fi

if [ "$BASE" = 1 ]; then
    BASED=bench/data/sam-base
    if [ ! -f "$BASED/checkpoint.safetensors" ]; then
        echo "== generating $BASED"
        "$MK" base "$BASED" --spm "$SPM"
    fi
    echo "== base: one 10 s chunk, stage by stage   [$(uptime | sed 's/.*load/load/')]"
    "$BS" --stages --rounds "$ROUNDS" --model "$BASED" --threads "$THREADS" >"$OUT/stages_base.txt" 2>"$OUT/stages_base.err"
    cat "$OUT/stages_base.err"
fi

echo "== summary ($SIZE, $THREADS threads)"
r() { awk -v k="$2" '$1 == "RESULT" && $2 == k {print $3}' "$OUT/$1" | tail -1; }
peak1=$(r peak.txt peak_blas_1t_gflops)
peakn=$(r peak.txt peak_blas_nt_gflops)
peakk=$(r peak.txt peak_kmatmul_nt_gflops)
ditg=$(r stages_main.txt dit_gflops_mean)
ditb=$(r stages_main.txt dit_gflops_best)
ditc=$(r stages_main.txt dit_gflop_per_cpu_s)
wb=$(r stages_main.txt weights_total_bytes)
rss=$(r chunks_main.txt "chunk$((CHUNKS - 1))_maxrss_kib")
{
printf "| stage | time | GFLOP | GFLOP/s |\n|---|---|---|---|\n"
printf "| T5 text encoding (%s tokens) | %s s | | |\n" "$(r stages_main.txt text_tokens)" "$(r stages_main.txt t5_s)"
printf "| codec encode (10 s, 1 row) | %s s | %s | %s |\n" "$(r stages_main.txt encode_s)" "$(r stages_main.txt encode_gflop)" "$(r stages_main.txt encode_gflops)"
printf "| DiT evaluation (mean of %s) | %s s | %s | %s (best %s) |\n" "$(r stages_main.txt dit_nfe)" "$(r stages_main.txt dit_eval_mean_s)" "$(r stages_main.txt dit_eval_gflop)" "$ditg" "$ditb"
printf "| 32 DiT evaluations | %s s | | |\n" "$(r stages_main.txt dit_total_s)"
printf "| codec decode (2 rows) | %s s | %s | %s |\n" "$(r stages_main.txt decode_s)" "$(r stages_main.txt decode_gflop)" "$(r stages_main.txt decode_gflops)"
printf "| **one 10 s chunk** | **%s s** | | |\n" "$(r stages_main.txt chunk_total_s)"
i=0
while [ $i -lt "$CHUNKS" ]; do
    printf "| sam_separate chunk %d | %s s | peak RSS %s MiB | |\n" $i "$(r chunks_main.txt chunk${i}_s)" \
        "$(awk -v k="$(r chunks_main.txt chunk${i}_maxrss_kib)" 'BEGIN {printf "%.0f", k / 1024}')"
    i=$((i + 1))
done
} | tee "$OUT/summary.md"
irm=$(r stages_main.txt interleaved_ratio_mean)
irb=$(r stages_main.txt interleaved_ratio_best)
awk -v p1="$peak1" -v pn="$peakn" -v pk="$peakk" -v d="$ditg" -v db="$ditb" -v dc="$ditc" \
    -v irm="$irm" -v irb="$irb" -v wb="$wb" -v rss="$rss" 'BEGIN {
    peak = pn > pk ? pn : pk
    printf "sgemm 2048^3 peak: %.1f GFLOP/s on 1 thread; %.1f (OpenBLAS) and %.1f (nn_matmul pool) on the threads\n", p1, pn, pk
    printf "DiT evaluation: %.1f GFLOP/s mean, %.1f best = %.0f%% / %.0f%% of that peak\n", d, db, 100 * d / peak, 100 * db / peak
    printf "DiT evaluation vs sgemm measured back to back: %.0f%% mean, %.0f%% best of %s rounds\n", 100 * irm, 100 * irb, "'"$ROUNDS"'"
    printf "DiT: %.1f GFLOP per CPU-second = %.0f%% of the 1-thread peak (load-independent)\n", dc, 100 * dc / p1
    printf "peak RSS %.0f MiB vs weights %.0f MiB + 1 GiB = %.0f MiB: %s\n", rss / 1024, wb / 2^20,
           wb / 2^20 + 1024, (rss * 1024 < wb + 2^30) ? "below" : "ABOVE"
}' | tee -a "$OUT/summary.md"
echo "uptime at the end: $(uptime)"
