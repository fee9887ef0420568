#!/bin/sh
# Build samsep with warnings as errors and run the whole suite, then build it
# again with AddressSanitizer + UndefinedBehaviorSanitizer and run it again,
# then run each fuzz target briefly over its seed corpus (clang/libFuzzer).
set -eu
cd "$(dirname "$0")/.."
JOBS=$(nproc 2>/dev/null || echo 2)

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSAMSEP_WERROR=ON
cmake --build build -j "$JOBS"
ctest --test-dir build --output-on-failure -j "$JOBS"

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSAMSEP_WERROR=ON -DSAMSEP_SANITIZE=ON \
      -DCMAKE_C_FLAGS_DEBUG="-O1 -g"
cmake --build build-asan -j "$JOBS"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j "$JOBS"

# Fuzz targets: a short run each over the seeds in fuzz/corpus (new inputs go
# to a scratch folder, never into the tree). FUZZ_SECONDS=0 skips this.
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
if [ "$FUZZ_SECONDS" -gt 0 ]; then
    cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
          -DSAMSEP_FUZZ=ON -DSAMSEP_TESTS=OFF
    scratch=$(mktemp -d)
    for src in fuzz/fuzz_*.c; do
        name=$(basename "$src" .c)
        cmake --build build-fuzz -j "$JOBS" --target "$name"
        mkdir -p "$scratch/$name"
        echo "fuzz: $name for ${FUZZ_SECONDS}s"
        if ! "./build-fuzz/$name" -max_total_time="$FUZZ_SECONDS" -timeout=10 \
                -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$scratch/" \
                "$scratch/$name" "fuzz/corpus/${name#fuzz_}" > "$scratch/$name.log" 2>&1; then
            tail -40 "$scratch/$name.log"
            echo "fuzz: $name FAILED"
            exit 1
        fi
        grep -E "^stat::number_of_executed_units|Done [0-9]+ runs" "$scratch/$name.log" || true
    done
    rm -rf "$scratch"
fi
echo "all tests and fuzz runs passed"
