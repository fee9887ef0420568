#!/bin/sh
# Build samsep with warnings as errors and run the whole suite, then build it
# again with AddressSanitizer + UndefinedBehaviorSanitizer and run it again.
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
