#!/bin/sh
# Install the Debian 12 packages samsep needs to build, test and benchmark.
# Idempotent: installs only what is missing; runs apt-get only then.
set -eu

PACKAGES="build-essential cmake pkg-config clang libclang-rt-14-dev
libsndfile1-dev libsoxr-dev libfftw3-dev libcjson-dev libcmocka-dev libopenblas-dev
flac sox ffmpeg python3"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "setup: all packages present"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
echo "setup: installing$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
