#!/bin/sh
# SI-SDR improvement of `samsep -e dsp -p speech` on the public evaluation set
# (../shared/eval, or EVAL=path): each case's mix is separated through the
# CLI, and tools/sisdr scores the target against the exact reference. The
# evaluation set is not part of the repository: without it this says so and
# stops.
#
#   sh bench/quality.sh
set -eu
cd "$(dirname "$0")/.."
EVAL=${EVAL:-../shared/eval}
if ! ls "$EVAL"/s[0-9]*/mix.flac >/dev/null 2>&1; then
    echo "bench/quality.sh: needs the evaluation set (folders s01/mix.flac ...) at $EVAL;" \
         "it is not part of the repository: give its folder with EVAL=path" >&2
    exit 2
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target samsep_cli sisdr >/dev/null
IN=bench/results/eval_in
OUT=bench/results/eval_dsp_speech
rm -rf "$IN" "$OUT"
mkdir -p "$IN"
for d in "$EVAL"/s[0-9]*/; do
    c=$(basename "$d")
    ln -s "$(cd "$d" && pwd)/mix.flac" "$IN/$c.flac"
done
./build/samsep -q -e dsp -p speech --format wav --subtype float "$IN"/*.flac -o "$OUT"
./build/sisdr "$EVAL" "$OUT" --cases s
