#!/bin/sh
# Build samsep and separate the bundled example with the default engine.
# Outputs: out/speech_in_noise_target.flac and out/speech_in_noise_residual.flac
set -eu
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" --target samsep_cli >/dev/null
./build/samsep examples/speech_in_noise.flac -o out
echo "outputs are in $(pwd)/out/"
