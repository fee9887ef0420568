#!/bin/sh
# Install the Debian 12 packages samsep needs to build, test and benchmark.
# Idempotent: installs only what is missing; runs apt-get only then. Quiet
# unless something fails: apt-get's output goes to build/setup.log (or
# $SAMSEP_SETUP_LOG), and a failure says so with the log's last lines.
set -eu
cd "$(dirname "$0")/.."

PACKAGES="build-essential cmake pkg-config clang libclang-rt-14-dev clang-format
libsndfile1-dev libsoxr-dev libfftw3-dev libcjson-dev libcmocka-dev libopenblas-dev
libavformat-dev libavcodec-dev libswresample-dev libavutil-dev
flac sox ffmpeg python3 python3-numpy xz-utils
libcairo2-dev fonts-dejavu-core
slurm-wlm munge chromium"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -n "$missing" ] || exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
LOG=${SAMSEP_SETUP_LOG:-$(pwd)/build/setup.log}
mkdir -p "$(dirname "$LOG")"
: >"$LOG"

# apt STEP ARGS...: run apt-get into the log; on failure report and stop.
apt() {
    step=$1
    shift
    echo "+ apt-get $*" >>"$LOG"
    if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get "$@" >>"$LOG" 2>&1 </dev/null; then
        echo "setup: apt-get $step failed (packages:$missing); last lines of $LOG:" >&2
        tail -n 25 "$LOG" >&2
        exit 1
    fi
}
apt update update
# shellcheck disable=SC2086
apt install install -y --no-install-recommends $missing
